"""``sanji users add --role department`` and ``sanji supervise`` as a user runs them."""

from datetime import timedelta
from pathlib import Path

from domain.lifecycle import Action
from knowledge import Knowledge
from store import EventStore
from tests.integration.test_cli import sanji
from tests.unit.test_oversight import dispatched


def test_department_accounts_take_a_department_code(tmp_path: Path) -> None:
    env = {"SANJI_DATA_DIR": str(tmp_path / "d")}
    out = sanji(
        "users",
        "add",
        "zf",
        "--role",
        "department",
        "--jurisdiction",
        "500103.urban_mgmt",
        env_extra=env,
    )
    assert out.returncode == 0, out.stderr
    assert "部门经办人" in out.stdout and "渝中区城市管理局" in out.stdout
    assert out.stdout.strip().splitlines()[-1].startswith("sjk_")
    wrong = sanji(
        "users", "add", "zf2", "--role", "department", "--jurisdiction", "渝中区", env_extra=env
    )
    assert wrong.returncode != 0 and "部门编码" in wrong.stdout + wrong.stderr
    crossed = sanji(
        "users",
        "add",
        "w",
        "--role",
        "street_officer",
        "--jurisdiction",
        "500103.urban_mgmt",
        env_extra=env,
    )
    assert crossed.returncode != 0 and "部门经办人" in crossed.stdout + crossed.stderr
    listed = sanji("users", "list", env_extra=env)
    assert "渝中区城市管理局" in listed.stdout


def test_supervise_raises_each_overdue_step_once(tmp_path: Path, knowledge: Knowledge) -> None:
    data = tmp_path / "d"
    data.mkdir()
    url = f"sqlite:///{data / 'sanji.db'}"
    store = EventStore.open(url, knowledge.store_rules)
    event_id = dispatched(store, knowledge)
    store.transition(
        event_id, Action.ACCEPT, actor="执法大队", at=store.get_event(event_id).reported_at
    )
    due = store.get_event(event_id).due_at
    store.close()
    assert due is not None
    env = {"SANJI_DATA_DIR": str(data), "SANJI_DATABASE_URL": url}
    at = (due + timedelta(hours=30)).isoformat()
    first = sanji("supervise", "--at", at, env_extra=env)
    assert first.returncode == 0, first.stderr
    assert (
        "超时督办" in first.stdout and "提级督办" in first.stdout and "共发起 2 项" in first.stdout
    )
    again = sanji("supervise", "--at", at, env_extra=env)
    assert again.returncode == 0 and "没有需要新发起的督办" in again.stdout
    bad = sanji("supervise", "--at", "昨天", env_extra=env)
    assert bad.returncode != 0 and "无法识别的时间" in bad.stdout + bad.stderr
