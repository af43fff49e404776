"""Officers, roles, jurisdictions and API keys."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from cli.common import console, fail, get_settings

users_app = typer.Typer(help="账号与密钥 (officers and API keys)", no_args_is_help=True)


def _users() -> tuple[Any, Any, Any]:
    from agents.runtime import open_store
    from knowledge import default_knowledge
    from store.users import Users

    k = default_knowledge()
    store = open_store(get_settings(), k)
    return store, Users(store.db), k


@users_app.command("add")
def users_add(
    username: Annotated[str, typer.Argument(help="用户名（字母、数字）")],
    role: Annotated[
        str,
        typer.Option(
            help="角色：street_officer / district_officer / city_officer / admin / integration"
            " / department（部门经办人，--jurisdiction 为部门编码，如 500103.urban_mgmt）"
        ),
    ],
    jurisdiction: Annotated[
        str, typer.Option(help="辖区名称或编码，如 解放碑街道、渝中区；部门账号为部门编码或名称")
    ],
    name: Annotated[str | None, typer.Option(help="显示名")] = None,
    password: Annotated[
        bool, typer.Option("--password/--no-password", help="同时设置登录密码（交互输入）")
    ] = False,
) -> None:
    """新增账号，并签发一个 API Key（只显示这一次）。"""
    from domain.access import Role
    from store import Conflict
    from tools.scope import check_role_jurisdiction, jurisdiction_code, jurisdiction_name

    try:
        r = Role(role)
    except ValueError:
        fail(f"未知的角色「{role}」，可选：{', '.join(x.value for x in Role)}")
    if not username.replace("_", "").replace("-", "").isalnum() or len(username) > 64:
        fail("用户名只能包含字母、数字、下划线和连字符，最长 64 个字符")
    store, users, k = _users()
    try:
        code = jurisdiction_code(k, jurisdiction)
        check_role_jurisdiction(k, r, code)
        secret = (
            typer.prompt("密码", hide_input=True, confirmation_prompt=True) if password else None
        )
        user = users.add(
            username,
            role=r,
            jurisdiction=code,
            display_name=name,
            password=secret,
            now=datetime.now(UTC),
        )
        key = users.issue(user.id, "api_key", now=datetime.now(UTC))
    except (KeyError, ValueError, Conflict) as exc:
        fail(str(exc).strip("'\""))
    finally:
        store.close()
    console.print(
        f"已新增账号 {username}（{r.zh}，{jurisdiction_name(k, code)}）。API Key（请妥善保存，只显示这一次）："
    )
    print(key)


@users_app.command("key")
def users_key(username: Annotated[str, typer.Argument(help="用户名")]) -> None:
    """为账号签发新的 API Key（只显示这一次）。"""
    store, users, _ = _users()
    try:
        user = users.find(username)
        if user is None:
            fail(f"没有账号 {username}")
        key = users.issue(user.id, "api_key", now=datetime.now(UTC))
    finally:
        store.close()
    print(key)


@users_app.command("disable")
def users_disable(username: Annotated[str, typer.Argument(help="用户名")]) -> None:
    """停用账号并吊销它的全部密钥和会话。"""
    from store import NotFound

    store, users, _ = _users()
    try:
        users.set_disabled(username, True)
    except NotFound as exc:
        fail(str(exc))
    finally:
        store.close()
    console.print(f"已停用 {username}，其密钥和会话已全部吊销。")


@users_app.command("list")
def users_list() -> None:
    """列出全部账号。"""
    from rich.table import Table

    store, users, k = _users()
    try:
        rows = users.all()
    finally:
        store.close()
    table = Table("用户名", "显示名", "角色", "辖区", "状态")
    for u in rows:
        place = (
            k.jurisdictions[u.jurisdiction].name
            if u.jurisdiction in k.jurisdictions
            else k.departments[u.jurisdiction].name
            if u.jurisdiction in k.departments
            else u.jurisdiction
        )
        table.add_row(
            u.username, u.display_name, u.role.zh, place, "停用" if u.disabled else "正常"
        )
    console.print(table)
