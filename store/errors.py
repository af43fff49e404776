"""Errors of the event store: one infrastructure failure and three refusals."""

from __future__ import annotations

from domain.errors import SanjiError


class StoreError(SanjiError):
    """The database is unreachable or refused an operation (infrastructure: HTTP 503)."""


class NotFound(SanjiError, LookupError):
    """No such event or order (or not visible in the caller's scope)."""


class Conflict(SanjiError):
    """Someone else changed the record first (optimistic concurrency)."""


class ImportFailed(SanjiError, ValueError):
    """A whole import file is unusable: missing, unreadable, wrong encoding, unknown columns."""
