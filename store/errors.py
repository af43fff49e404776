"""Errors of the event store: infrastructure failures (down, busy) and refusals."""

from __future__ import annotations

from domain.errors import SanjiError


class StoreError(SanjiError):
    """The database is unreachable or refused an operation (infrastructure: HTTP 503)."""


class Busy(StoreError):
    """The database stayed locked by another writer (a bulk import) past the wait allowed:
    nothing was written; try again after ``retry_after`` seconds (HTTP 503 with Retry-After)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Unstorable(SanjiError, ValueError):
    """A value holds text the database cannot store (NUL, a lone surrogate) that no earlier
    check caught: nothing was written (HTTP 422)."""


class NotFound(SanjiError, LookupError):
    """No such event or order (or not visible in the caller's scope)."""


class Conflict(SanjiError):
    """Someone else changed the record first (optimistic concurrency)."""


class ImportFailed(SanjiError, ValueError):
    """A whole import file is unusable: missing, unreadable, wrong encoding, unknown columns."""
