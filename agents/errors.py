"""Errors of the agents: the model failed (down, or answering nothing usable), or an agent
refused a request it cannot carry out."""

from __future__ import annotations

from domain.errors import SanjiError


class LLMFailed(SanjiError):
    """No usable answer from the model; the caller falls back to its offline engine."""


class LLMUnavailable(LLMFailed):
    """The endpoint is down: refused connection, timeout, HTTP error after retries."""


class LLMBadAnswer(LLMFailed):
    """The endpoint answered, twice, with something unusable: not JSON, wrong fields, or facts
    the knowledge does not hold."""


class LLMUnusable(LLMFailed):
    """The model failed or its answer cites what no tool returned."""


class TrainingError(SanjiError, ValueError):
    """Training data that cannot be used (too few examples, unknown labels)."""


# -- refusals of the dispatcher ------------------------------------------------------


class DecisionInvalid(SanjiError, ValueError):
    """The officer's decision cannot be applied; ``errors`` says why, in Chinese."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("；".join(errors))


class NothingPending(SanjiError, LookupError):
    """No draft of this event waits for a decision."""


class NotTriageable(SanjiError, ValueError):
    """The event has moved past triage (dispatched, in progress, closed…)."""
