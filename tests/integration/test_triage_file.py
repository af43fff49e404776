"""``sanji triage --file``: a real subprocess over a copy of the prepared data folder, reading a
JSONL file or stdin, one JSON result or error per line, never stopping on a bad line."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

GOOD = {"text": "楼道里有很浓的天然气味道", "district": "渝中区", "address": "解放碑街道民权路28号"}
WEB = {"text": "小区门口占道经营，烧烤摊油烟很大", "source": "web", "address": "江北区观音桥"}


def _batch(data: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SANJI_")}
    env.update(SANJI_DATA_DIR=str(data), COLUMNS="200")
    return subprocess.run(
        [sys.executable, "-m", "cli", "triage", *args],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=ROOT,
        timeout=900,  # a safety net, not a speed check
    )


def _results(out: bytes) -> list[dict]:
    return [json.loads(line) for line in out.decode("utf-8").splitlines()]


def test_a_file_of_events_gives_one_result_per_line_and_goes_on_past_bad_lines(
    tmp_path: Path, prepared_data: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(prepared_data, data)
    lines = [
        json.dumps(GOOD, ensure_ascii=False).encode(),
        b'{"text": "unterminated',  # malformed JSON
        b"",  # blank: not an event
        '{"text": "路灯坏了'.encode("gbk") + b'"}',  # not UTF-8
        json.dumps(WEB, ensure_ascii=False).encode(),
        b'{"text": "\xe8\xb7\xaf\xe7\x81\xaf", "source": "fax"}',
        b"[1, 2]",
    ]
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join(lines) + b"\n")

    out = _batch(data, "--file", str(events))

    assert out.returncode == 1, out.stderr.decode()  # some lines failed, all were tried
    results = _results(out.stdout)
    assert [r["line"] for r in results] == [1, 2, 4, 5, 6, 7]
    by_line = {r["line"]: r for r in results}
    for n in (1, 5):  # drafted, with the same fields as ``sanji triage --json``
        draft = by_line[n]
        assert "error" not in draft
        assert draft["event_id"] >= 1 and draft["lead_department"]["name"]
        assert {"category", "level", "urgency", "deadlines", "legal_basis", "trace"} <= set(draft)
    assert by_line[1]["category"]["code"] == "WU03"  # gas leak
    assert by_line[1]["event_id"] != by_line[5]["event_id"]
    assert "JSON" in by_line[2]["error"]
    assert "UTF-8" in by_line[4]["error"]
    assert "source" in by_line[6]["error"] and "hotline" in by_line[6]["error"]
    assert "JSON 对象" in by_line[7]["error"]
    summary = out.stderr.decode("utf-8")
    assert "共 6 行" in summary and "成功 2" in summary and "失败 4" in summary
    assert "件/秒" in summary


def test_events_on_stdin(tmp_path: Path, prepared_data: Path) -> None:
    data = tmp_path / "data"
    shutil.copytree(prepared_data, data)
    feed = "\n".join(json.dumps(x, ensure_ascii=False) for x in (GOOD, WEB)).encode()

    out = _batch(data, "--file", "-", stdin=b"\xef\xbb\xbf" + feed)  # with a BOM, as Excel saves

    assert out.returncode == 0, out.stderr.decode()
    results = _results(out.stdout)
    assert [r["line"] for r in results] == [1, 2]
    assert all("error" not in r and r["event_id"] for r in results)
    assert "成功 2，失败 0" in out.stderr.decode("utf-8")


def test_file_mode_refuses_a_text_argument_too(tmp_path: Path) -> None:
    out = _batch(tmp_path / "data", "一件事", "--file", "-", stdin=b"")
    assert out.returncode == 1
    assert "不要再写事件文本" in out.stderr.decode("utf-8")
