"""Accounts and credentials: hashed secrets, expiry, revocation, roles bound to levels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from domain.access import Role
from knowledge import Knowledge
from store import Conflict, EventStore
from store.users import Users, hash_password, token_hash, verify_password
from tools.scope import check_role_jurisdiction, jurisdiction_code, principal_for

NOW = datetime(2026, 11, 28, 9, 0, tzinfo=UTC)


def test_passwords_are_salted_scrypt_hashes() -> None:
    a, b = hash_password("春森路123"), hash_password("春森路123")
    assert a != b and a.startswith("scrypt$") and "春森路" not in a
    assert verify_password("春森路123", a) and not verify_password("春森路124", a)
    assert not verify_password("x", "md5$abc")


def test_secrets_are_stored_hashed_and_resolve_until_revoked(
    store: EventStore, knowledge: Knowledge
) -> None:
    users = Users(store.db)
    user = users.add(
        "jfb", role=Role.STREET, jurisdiction=jurisdiction_code(knowledge, "解放碑街道"), now=NOW
    )
    key = users.issue(user.id, "api_key", now=NOW)
    stored = store.db.fetchall("SELECT token_hash, prefix FROM credentials")
    assert stored == [{"token_hash": token_hash(key), "prefix": key[:10]}]
    assert key not in str(stored[0]["token_hash"])
    assert users.resolve(key, now=NOW) == users.find("jfb")
    assert users.resolve(key + "x", now=NOW) is None
    session = users.issue(user.id, "session", now=NOW, ttl=timedelta(hours=12))
    assert users.resolve(session, now=NOW + timedelta(hours=11)) is not None
    assert users.resolve(session, now=NOW + timedelta(hours=12)) is None  # expired
    assert users.revoke(key) and users.resolve(key, now=NOW) is None
    with pytest.raises(Conflict):
        users.add("jfb", role=Role.STREET, jurisdiction=user.jurisdiction, now=NOW)


def test_disabling_an_account_revokes_everything(store: EventStore, knowledge: Knowledge) -> None:
    users = Users(store.db)
    user = users.add("c", role=Role.CITY, jurisdiction=knowledge.city.code, now=NOW, password="pw")
    key = users.issue(user.id, "api_key", now=NOW)
    assert users.check_password("c", "pw") is not None
    users.set_disabled("c", True)
    assert users.resolve(key, now=NOW) is None and users.check_password("c", "pw") is None
    users.set_disabled("c", False)
    assert users.resolve(key, now=NOW) is None  # revoked keys stay revoked


def test_roles_are_bound_to_a_level_and_give_a_scope(knowledge: Knowledge) -> None:
    street, district = (jurisdiction_code(knowledge, n) for n in ("解放碑街道", "渝中区"))
    check_role_jurisdiction(knowledge, Role.STREET, street)
    check_role_jurisdiction(knowledge, Role.INTEGRATION, street)
    with pytest.raises(ValueError, match="街道"):
        check_role_jurisdiction(knowledge, Role.STREET, district)
    with pytest.raises(ValueError, match="全市"):
        check_role_jurisdiction(knowledge, Role.CITY, district)
    with pytest.raises(KeyError):
        jurisdiction_code(knowledge, "火星区")
    from store.users import User

    p = principal_for(knowledge, User(1, "y", "y", Role.DISTRICT, district, False, False))
    assert p.scope.districts == (district,) and not p.scope.everything
    assert p.reveals_personal and p.role.supervises
    assert not Role.CITY.reveals_personal and not Role.INTEGRATION.acts
