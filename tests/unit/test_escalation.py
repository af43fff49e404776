"""Escalation keywords count only when the text asserts them."""

from __future__ import annotations

import pytest

from tools.escalation import mentions


@pytest.mark.parametrize(
    ("text", "keyword", "expected"),
    [
        ("电动车撞了行人，有人受伤流血", "受伤", True),
        ("两车轻微剐蹭，无人员受伤", "受伤", False),
        ("没有人员受伤，但车堵了", "受伤", False),
        ("未造成伤亡", "伤亡", False),
        ("先说无人受伤，后来发现司机受伤了", "受伤", True),  # a later occurrence asserts it
        ("几十名工人聚集在工地门口讨薪", "聚集", True),
        ("小区里聚集流浪犬，晚上乱叫", "聚集", False),
        ("楼道里蚊虫聚集", "聚集", False),
    ],
)
def test_mentions(text: str, keyword: str, expected: bool) -> None:
    assert mentions(text, keyword) is expected
