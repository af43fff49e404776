"""The officers' chat assistant: ``assistant`` (the LangGraph agent and its stream), ``intents``
(the Chinese question parser, with ``owner_terms`` for ownership questions), ``replies`` (the
offline engine's answers), ``ownership`` (who owns a matter or an event, decided as the drafts
decide; ``ownership_model`` the answer, ``ownership_text`` its words, ``ownership_check`` the
check of a model's answer against it), ``toolloop`` (the LLM engine's tool-calling loop) and
``state`` (what they share). Nothing here imports upwards: state <- intents, replies, toolloop
<- assistant."""

from agents.chat.assistant import ChatAssistant

__all__ = ["ChatAssistant"]
