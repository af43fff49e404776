"""Officers and their credentials. Passwords are kept as scrypt hashes; API keys and session
tokens are random 256-bit strings kept as SHA-256 hashes (a fast hash is enough for secrets
that cannot be guessed). A secret is shown once, when it is issued."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from domain.access import Role
from store.db import Database
from store.errors import Conflict, NotFound

Kind = Literal["api_key", "session"]
PREFIX = {"api_key": "sjk_", "session": "sjs_"}
SCRYPT = {"n": 2**14, "r": 8, "p": 1}


@dataclass(frozen=True)
class User:
    id: int
    username: str
    display_name: str
    role: Role
    jurisdiction: str
    disabled: bool
    has_password: bool


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **SCRYPT)
    b64 = base64.b64encode
    return f"scrypt${SCRYPT['n']}${SCRYPT['r']}${SCRYPT['p']}${b64(salt).decode()}${b64(digest).decode()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    got = hashlib.scrypt(
        password.encode(),
        salt=base64.b64decode(salt),
        dklen=32,
        n=int(n),
        r=int(r),
        p=int(p),
    )
    return hmac.compare_digest(got, base64.b64decode(digest))


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Users:
    """Users and credentials over the store's database."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def add(
        self,
        username: str,
        *,
        role: Role,
        jurisdiction: str,
        now: datetime,
        display_name: str | None = None,
        password: str | None = None,
    ) -> User:
        if self.find(username) is not None:
            raise Conflict(f"用户名 {username} 已存在")
        self.db.insert(
            "INSERT INTO users (username, display_name, role, jurisdiction, password_hash, "
            "disabled, created_at) VALUES (?, ?, ?, ?, ?, 0, ?)",
            (
                username,
                display_name or username,
                role.value,
                jurisdiction,
                hash_password(password) if password else None,
                self.db.ts(now),
            ),
        )
        user = self.find(username)
        assert user is not None
        return user

    def find(self, username: str) -> User | None:
        row = self.db.fetchone("SELECT * FROM users WHERE username = ?", (username,))
        return self._user(row) if row else None

    def all(self) -> list[User]:
        return [self._user(r) for r in self.db.fetchall("SELECT * FROM users ORDER BY id")]

    @staticmethod
    def _user(row: dict[str, Any]) -> User:
        return User(
            id=int(row["id"]),
            username=row["username"],
            display_name=row["display_name"],
            role=Role(row["role"]),
            jurisdiction=row["jurisdiction"],
            disabled=bool(row["disabled"]),
            has_password=row["password_hash"] is not None,
        )

    def set_disabled(self, username: str, disabled: bool) -> None:
        user = self.find(username)
        if user is None:
            raise NotFound(f"用户 {username} 不存在")
        with self.db.transaction():
            self.db.execute("UPDATE users SET disabled = ? WHERE id = ?", (int(disabled), user.id))
            if disabled:
                self.db.execute("UPDATE credentials SET revoked = 1 WHERE user_id = ?", (user.id,))

    def check_password(self, username: str, password: str) -> User | None:
        """The user when the password is right and the account enabled, else None."""
        row = self.db.fetchone("SELECT * FROM users WHERE username = ?", (username,))
        if row is None or row["password_hash"] is None or row["disabled"]:
            hash_password("timing")  # the same work whether or not the user exists
            return None
        return self._user(row) if verify_password(password, row["password_hash"]) else None

    def issue(
        self, user_id: int, kind: Kind, *, now: datetime, ttl: timedelta | None = None
    ) -> str:
        """A new secret for the user; only its hash is kept."""
        token = PREFIX[kind] + secrets.token_urlsafe(32)
        self.db.insert(
            "INSERT INTO credentials (user_id, kind, prefix, token_hash, created_at, expires_at, "
            "revoked) VALUES (?, ?, ?, ?, ?, ?, 0)",
            (
                user_id,
                kind,
                token[:10],
                token_hash(token),
                self.db.ts(now),
                self.db.ts(now + ttl) if ttl else None,
            ),
        )
        return token

    def resolve(self, token: str, *, now: datetime) -> User | None:
        """The enabled user a live secret belongs to, else None."""
        row = self.db.fetchone(
            "SELECT u.*, c.expires_at AS expires_at FROM credentials c "
            "JOIN users u ON u.id = c.user_id WHERE c.token_hash = ? AND c.revoked = 0",
            (token_hash(token),),
        )
        if row is None or row["disabled"]:
            return None
        expires = self.db.read_ts(row["expires_at"])
        if expires is not None and expires <= now:
            return None
        return self._user(row)

    def revoke(self, token: str) -> bool:
        cur = self.db.execute(
            "UPDATE credentials SET revoked = 1 WHERE token_hash = ?", (token_hash(token),)
        )
        return bool(cur.rowcount)
