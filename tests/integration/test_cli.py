"""The ``sanji`` command as a user runs it: a real subprocess."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

from knowledge.base import DATA_DIR

ROOT = Path(__file__).resolve().parents[2]


def sanji(
    *args: str, env_extra: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANJI_")}
    env.update(env_extra or {})
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-m", "cli", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd or ROOT,
        timeout=900,  # a safety net, not a speed check: a loaded machine is slow
    )


def test_version() -> None:
    out = sanji("version")
    assert out.returncode == 0 and out.stdout.startswith("sanji ")


def test_help_and_version_load_nothing_heavy() -> None:
    """The command answers ``--help`` and ``version`` without importing the server, the
    agents' graph, the vector store or the classifier (they cost seconds to import)."""
    probe = (
        "import sys, cli; "
        "heavy = ('fastapi', 'langgraph', 'chromadb', 'sklearn', 'numpy', 'pydantic_settings', "
        "'server', 'agents'); "
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, cwd=ROOT, timeout=900
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ""
    helped = sanji("--help").stdout
    assert "三级 Sanji" in helped and "triage" in helped and "users" in helped


def test_doctor_reports_every_part(tmp_path: Path) -> None:
    out = sanji("doctor", env_extra={"SANJI_DATA_DIR": str(tmp_path / "d")})
    assert out.returncode == 0, out.stderr
    for part in ("知识库", "数据库", "法规索引", "重排模型", "嵌入模型", "大模型"):
        assert part in out.stdout
    assert "离线引擎" in out.stdout and "384 维" in out.stdout


def test_doctor_fails_on_an_unreachable_llm(tmp_path: Path) -> None:
    out = sanji(
        "doctor",
        env_extra={
            "SANJI_DATA_DIR": str(tmp_path / "d"),
            "SANJI_LLM_BASE_URL": "http://127.0.0.1:9/v1",
        },
    )
    assert out.returncode == 1
    assert "失败" in out.stdout and "回退到离线引擎" in out.stdout


def test_knowledge_check_reports_a_broken_file_precisely(tmp_path: Path) -> None:
    ok = sanji("knowledge", "check")
    assert ok.returncode == 0 and "校验通过" in ok.stdout
    broken = tmp_path / "k"
    shutil.copytree(DATA_DIR, broken)
    path = broken / "departments.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "levels: [city, district]", "levels: [city, distrct]", 1
        ),
        encoding="utf-8",
    )
    out = sanji("knowledge", "check", str(broken))
    assert out.returncode == 1
    assert "departments.yaml:" in out.stderr and "错误" in out.stderr


def test_demo_load_twice_adds_nothing_the_second_time(tmp_path: Path) -> None:
    env = {"SANJI_DATA_DIR": str(tmp_path / "d")}
    first = sanji("demo", "load", "--count", "60", env_extra=env)
    assert first.returncode == 0 and "新增 60 件" in first.stdout, first.stderr
    second = sanji("demo", "load", "--count", "60", env_extra=env)
    assert "新增 0 件" in second.stdout and "跳过 60 件" in second.stdout


def test_train_triage_and_review_from_the_command_line(tmp_path: Path, prepared_data: Path) -> None:
    import csv
    import json

    from agents.classifier import load_builtin

    shutil.copytree(prepared_data, tmp_path / "d")  # the built-in index, built once per run
    env = {"SANJI_DATA_DIR": str(tmp_path / "d")}
    texts, labels = load_builtin()
    data = tmp_path / "train.csv"
    with data.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["标题", "内容", "小类"])
        writer.writerows(("", t, y) for t, y in zip(texts, labels, strict=True))
    trained = sanji(
        "train",
        "--dataset",
        str(data),
        "--text-col",
        "标题",
        "--text-col",
        "内容",
        "--label-col",
        "小类",
        env_extra=env,
    )
    assert trained.returncode == 0, trained.stderr
    assert f"{len(texts)} 条样本" in trained.stdout

    out = sanji(
        "triage",
        "楼道里有很浓的天然气味道，燃气报警器一直在响",
        "--district",
        "渝中区",
        "--address",
        "解放碑街道民权路28号",
        "--json",
        env_extra=env,
    )
    assert out.returncode == 0, out.stderr
    view = json.loads(out.stdout)
    assert view["category"]["code"] == "WU03" and view["urgency"] == "critical"
    assert view["lead_department"]["name"] == "重庆燃气集团股份有限公司"
    assert view["legal_basis"] and all(
        {"title", "article", "text"} <= set(x) for x in view["legal_basis"]
    )
    assert {t["agent"] for t in view["trace"]} == {"intake", "routing", "policy", "planner"}

    # the draft waits for approval in the durable checkpointer, as one made over the API
    from agents.runtime import build_services
    from settings import Settings

    with build_services(Settings(data_dir=tmp_path / "d")) as built:
        waiting = built.dispatcher.pending(view["event_id"])
    assert waiting is not None and waiting["approval"]["created_by"] == "cli"
    assert waiting["lead_department"]["name"] == view["lead_department"]["name"]

    shown = sanji("review", str(view["event_id"]), env_extra=env)
    assert shown.returncode == 0 and "复盘" in shown.stdout and "未办结" in shown.stdout
    missing = sanji("review", "99999", env_extra=env)
    assert missing.returncode == 1 and "不存在" in missing.stderr


def test_users_and_the_terminal_chat(tmp_path: Path) -> None:
    env = {"SANJI_DATA_DIR": str(tmp_path / "d")}
    out = sanji(
        "users",
        "add",
        "wang",
        "--role",
        "street_officer",
        "--jurisdiction",
        "渝中区",
        env_extra=env,
    )
    assert out.returncode == 1 and "街道" in out.stderr  # a street officer needs a street
    out = sanji(
        "users", "add", "wang", "--role", "street_officer", "--jurisdiction", "解放碑街道",
        "--name", "王立", env_extra=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    key = out.stdout.strip().splitlines()[-1]
    assert key.startswith("sjk_") and len(key) > 40
    listed = sanji("users", "list", env_extra=env)
    assert "wang" in listed.stdout and "解放碑街道" in listed.stdout
    again = sanji(
        "users", "add", "wang", "--role", "city_officer", "--jurisdiction", "重庆市", env_extra=env
    )
    assert again.returncode == 1 and "已存在" in again.stderr
    chat = sanji("chat", "--as", "wang", "-m", "你能做什么", env_extra=env)
    assert chat.returncode == 0, chat.stderr
    assert "超时" in chat.stdout and "起草派单" in chat.stdout
    nobody = sanji("chat", "--as", "li", "-m", "你好", env_extra=env)
    assert nobody.returncode == 1 and "没有可用的账号" in nobody.stderr
    assert sanji("users", "disable", "wang", env_extra=env).returncode == 0
    assert sanji("chat", "--as", "wang", "-m", "你好", env_extra=env).returncode == 1


def test_train_with_unlabelled_texts_for_the_topics(tmp_path: Path) -> None:
    """``sanji train --unlabelled``: texts without labels (a centre's past reports) shape the
    classifier's topics; a file without the text column is refused with its columns named."""
    import csv
    import json

    from agents.classifier import load_builtin

    texts, labels = load_builtin()
    keep = sorted(set(labels))[:4]
    rows = [(t, y) for t, y in zip(texts, labels, strict=True) if y in keep]
    data, pool, wrong = tmp_path / "train.csv", tmp_path / "pool.csv", tmp_path / "wrong.csv"
    with data.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([("内容", "小类"), *rows])
    with pool.open("w", encoding="utf-8", newline="") as fh:
        past = [f"第{i}号反映：小区门口夜市烧烤油烟很大，呛得开不了窗" for i in range(30)]
        csv.writer(fh).writerows([("内容",), *((t,) for t in past)])
    with wrong.open("w", encoding="utf-8", newline="") as fh:
        csv.writer(fh).writerows([("正文",), ("路灯不亮",)])
    env = {"SANJI_DATA_DIR": str(tmp_path / "d")}
    common = ("train", "--dataset", str(data), "--text-col", "内容", "--label-col", "小类")
    trained = sanji(*common, "--unlabelled", str(pool), env_extra=env)
    assert trained.returncode == 0, trained.stderr
    assert f"{len(rows)} 条样本" in trained.stdout and "另用 30 条无标注文本" in trained.stdout
    models = tmp_path / "d" / "models"
    version = (models / "classifier-current.txt").read_text(encoding="utf-8").strip()
    meta = json.loads((models / f"classifier-{version}.json").read_text(encoding="utf-8"))
    assert meta["unlabelled"] == 30 and meta["examples"] == len(rows)
    refused = sanji(*common, "--unlabelled", str(wrong), env_extra=env)
    assert refused.returncode != 0
    assert "wrong.csv 中没有正文列 内容" in refused.stderr + refused.stdout
