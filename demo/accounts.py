"""Demo officer accounts, so that a fresh ``make run`` has someone to sign in as. Passwords
are random per installation, written once to ``<data_dir>/demo-accounts.txt`` (mode 600) and
printed when the server starts."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime
from pathlib import Path

from domain.access import Role
from knowledge import Knowledge
from store.db import Database
from store.users import Users
from tools.scope import jurisdiction_code

#: username, display name, role, jurisdiction name (a department account: its department's name)
ACCOUNTS = [
    ("jiefangbei", "解放碑街道值班员", Role.STREET, "解放碑街道"),
    ("yuzhong", "渝中区指挥中心值班员", Role.DISTRICT, "渝中区"),
    ("jiangbei", "江北区指挥中心值班员", Role.DISTRICT, "江北区"),
    ("city", "市运行和治理中心值班员", Role.CITY, "重庆市"),
    ("admin", "系统管理员", Role.ADMIN, "重庆市"),
    (
        "jfb_zhifa",
        "解放碑街道综合行政执法大队经办人",
        Role.DEPARTMENT,
        "500103003.street_enforcement",
    ),
    ("jfb_jiedao", "解放碑街道办事处经办人", Role.DEPARTMENT, "500103003.street_office"),
    ("yz_chengguan", "渝中区城市管理局经办人", Role.DEPARTMENT, "500103.urban_mgmt"),
]


def ensure_demo_accounts(db: Database, k: Knowledge, data_dir: Path) -> list[str]:
    """Create the demo accounts that do not exist yet; return the lines of the accounts file."""
    users = Users(db)
    path = data_dir / "demo-accounts.txt"
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    added = []
    for username, name, role, place in ACCOUNTS:
        if users.find(username) is not None:
            continue
        password = secrets.token_urlsafe(9)
        users.add(
            username,
            role=role,
            jurisdiction=jurisdiction_code(k, place),
            display_name=name,
            password=password,
            now=datetime.now(UTC),
        )
        added.append(f"{username}\t{password}\t{role.zh}\t{place}")
    if added:
        lines += added
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        os.chmod(path, 0o600)
    return lines
