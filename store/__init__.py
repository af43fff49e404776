"""The event store: schema, migrations, SQLite and PostgreSQL, audit log."""

from store.db import Database, StoreError, connect
from store.errors import Conflict, NotFound
from store.events import EventStore

__all__ = ["Conflict", "Database", "EventStore", "NotFound", "StoreError", "connect"]
