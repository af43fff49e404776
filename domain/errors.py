"""The root of every error Sanji raises on purpose, and the domain's own.

Each layer keeps its errors in one module (``domain.errors``, ``store.errors``,
``knowledge.errors``, ``agents.errors``, ``evals.errors``), all under ``SanjiError``, so a caller
can tell Sanji's refusals from bugs and from the standard library's exceptions. Three meanings
are kept apart by the class, not by the message: bad input (the caller may correct and retry),
a refusal or a failed step (the caller adapts), infrastructure down (nothing is lost; try later).
"""

from __future__ import annotations


class SanjiError(Exception):
    """Base of every error Sanji raises deliberately."""


class OutOfScope(SanjiError):
    """The caller's role or jurisdiction does not cover what was asked (HTTP 403)."""
