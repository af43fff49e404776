"""Errors of the event store. ``StoreError`` (infrastructure) lives in store.db."""

from __future__ import annotations


class NotFound(LookupError):
    """No such event or order (or not visible in the caller's scope)."""


class Conflict(RuntimeError):
    """Someone else changed the record first (optimistic concurrency)."""
