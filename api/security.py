"""Who is calling. Accepted credentials, all checked against hashes in the store:
``Authorization: Bearer <token>``, ``X-API-Key: <key>``, HTTP Basic with the key as the
password (what Open311 clients that only take a base URL can send), and, on Open311 routes,
the ``api_key`` parameter the GeoReport spec defines."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from fastapi import Request

from domain.access import Principal
from knowledge import Knowledge
from store import EventStore
from store.users import Users
from tools.scope import principal_for

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="sanji"'}


def credential(request: Request, api_key: str | None = None) -> str | None:
    """The token or key the request carries, if any."""
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scheme.lower() == "basic" and value.strip():
        try:
            _, _, password = base64.b64decode(value.strip()).decode().partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return password or None
    key = request.headers.get("x-api-key")
    if key:
        return key.strip()
    return api_key or None


def identify(
    request: Request, store: EventStore, knowledge: Knowledge, api_key: str | None = None
) -> tuple[str | None, Principal | None]:
    """The credential the request carries and the caller it belongs to (None when there is
    none, or it is not valid). ``api_key``: a key the route reads from its own parameters
    (Open311 clients send ``api_key`` in the query or the form), used when no header carries
    one. Sets ``request.state.principal`` for logging and metrics."""
    token = credential(request, api_key)
    user = Users(store.db).resolve(token, now=datetime.now(UTC)) if token else None
    if user is None:
        return token, None
    principal = principal_for(knowledge, user)
    request.state.principal = principal
    return token, principal
