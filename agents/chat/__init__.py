"""The officers' chat assistant: ``assistant`` (the LangGraph agent and its stream), ``intents``
(the Chinese question parser), ``replies`` (the offline engine's answers), ``toolloop`` (the
LLM engine's tool-calling loop) and ``state`` (what they share). Nothing here imports upwards:
state <- intents, replies, toolloop <- assistant."""

from agents.chat.assistant import ChatAssistant

__all__ = ["ChatAssistant"]
