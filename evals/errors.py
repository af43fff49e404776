"""Errors of the evaluation harness."""

from __future__ import annotations

from domain.errors import SanjiError


class DatasetError(SanjiError, ValueError):
    """A dataset, join or label map that cannot be used; the message says where and why."""
