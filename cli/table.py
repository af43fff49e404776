"""The commands of ``sanji`` in one table: the Typer app (``cli.commands``) is registered
from it, and ``sanji --help`` is printed from it without loading Typer."""

from __future__ import annotations

from typing import NamedTuple

HELP = "三级 Sanji：城市运行和治理中心智能体 (city governance command-center agents)"


class Entry(NamedTuple):
    """One command (``target`` is a function) or command group (a ``typer.Typer``)."""

    name: str
    target: str  # "module:attribute"
    help: str
    group: bool = False


COMMANDS: tuple[Entry, ...] = (
    Entry("version", "cli.system:version", "显示版本 (show the version)."),
    Entry(
        "doctor",
        "cli.system:doctor",
        "检查各部分是否可用：配置、知识库、数据库、向量索引、嵌入模型、大模型 (check every part).",
    ),
    Entry("serve", "cli.system:serve", "启动服务（默认：SQLite 嵌入式数据库 + 演示数据）。"),
    Entry(
        "train",
        "cli.data:train",
        "训练离线分类器并设为当前版本（模型文件按训练数据版本保存在数据目录 models/ 下）；--feedback 从退单裁定和审核修改中学习改派。",
    ),
    Entry("search", "cli.regulations:search", "检索法规条文，给出可引用的法规名称和条号。"),
    Entry(
        "triage",
        "cli.cases:triage",
        "受理事件并起草派单（事件会登记入库，派单等待审核）；--file 逐行批量受理 JSONL。",
    ),
    Entry(
        "review",
        "cli.review:review_app",
        "复盘：一件事件（sanji review 编号）或一个时段（sanji review period）。",
        group=True,
    ),
    Entry("chat", "cli.cases:chat", "在终端里向值班助手提问（输入 exit 退出）。"),
    Entry("demo", "cli.data:demo_app", "演示数据 (demo data)", group=True),
    Entry("knowledge", "cli.system:knowledge_app", "知识库文件 (knowledge files)", group=True),
    Entry("import", "cli.data:import_app", "导入数据 (import data)", group=True),
    Entry("index", "cli.regulations:index_app", "法规索引 (regulation index)", group=True),
    Entry("eval", "cli.evals:eval_app", "评测 (evaluation)", group=True),
    Entry("users", "cli.users:users_app", "账号与密钥 (officers and API keys)", group=True),
    Entry(
        "supervise",
        "cli.oversight:supervise",
        "检查超时工单并按时限规则自动督办（每件工单每一级只督办一次）。",
    ),
    Entry(
        "alarms",
        "cli.alarms:alarms_app",
        "感知告警：从 MQTT/NATS 接收读数、模拟一天的读数 (sensor and AI-video alarms)",
        group=True,
    ),
)


def fast_help() -> str:
    """``sanji --help`` without loading Typer: usage, every command with its help."""
    width = max(len(e.name) for e in COMMANDS) + 2
    lines = [
        "用法 Usage: sanji [OPTIONS] COMMAND [ARGS]...",
        "",
        f"  {HELP}",
        "",
        "选项 Options:",
        f"  {'--help':<{width}}显示本帮助 (show this message and exit).",
        "",
        "命令 Commands:",
        *(f"  {e.name:<{width}}{e.help}" for e in COMMANDS),
        "",
        "每个命令的参数：sanji COMMAND --help",
    ]
    return "\n".join(lines) + "\n"
