"""Validation errors in plain Chinese, for the API's 422 answers and the CLI's file mode."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FIELD_ZH = {
    "text": "正文",
    "title": "标题",
    "source": "来源",
    "external_id": "外部编号",
    "reported_at": "上报时间",
    "address": "地址",
    "lat": "纬度",
    "lon": "经度",
    "reason": "原因",
    "reason_code": "原因代码",
    "satisfaction": "满意度",
    "hours": "小时数",
    "items": "列表",
    "limit": "条数",
    "offset": "偏移",
    "message": "消息",
    "thread_id": "会话编号",
    "attributes": "附加信息",
    "reporter_name": "报告人姓名",
    "reporter_phone": "报告人电话",
    "category": "大类",
    "subtype": "小类",
    "username": "用户名",
    "password": "密码",
    "message_id": "消息编号",
    "device_id": "设备编号",
    "observed_at": "观测时间",
    "metrics": "指标",
    "detection": "识别结果",
    "label": "识别标签",
    "confidence": "置信度",
    "image_ref": "图片地址",
}


def _name(key: str, keys: bool) -> str:
    zh = FIELD_ZH.get(key)
    if zh is None:
        return key
    return f"{zh}（{key}）" if keys else zh


def validation_message(error: Mapping[str, Any], *, keys: bool = False) -> str:
    """One pydantic error in plain Chinese, the field by its Chinese name (``keys``: with the
    JSON key beside it, for people who write the file, 「来源（source）」)."""
    loc = [str(x) for x in error.get("loc", ()) if x not in ("body", "query", "path")]
    field = ".".join(_name(x, keys) for x in loc) or "请求"
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "missing":
        return f"缺少{field}"
    if kind == "json_invalid":
        return f"请求正文不是合法的 JSON（{ctx.get('error', '')}）"
    if kind == "string_unicode":
        return f"{field}含有无法保存的字符（孤立的代理项，不是有效的 Unicode 字符）"
    if kind == "string_too_short":
        return f"{field}不能为空"
    if kind == "string_too_long":
        return f"{field}超过最大长度 {ctx.get('max_length')} 字"
    if kind in ("greater_than_equal", "greater_than"):
        return f"{field}应不小于 {ctx.get('ge', ctx.get('gt'))}"
    if kind in ("less_than_equal", "less_than"):
        return f"{field}应不大于 {ctx.get('le', ctx.get('lt'))}"
    if kind in ("int_parsing", "int_type", "int_from_float"):
        return f"{field}应为整数"
    if kind in ("float_parsing", "float_type"):
        return f"{field}应为数字"
    if kind in ("datetime_parsing", "datetime_type", "datetime_from_date_parsing"):
        return f"{field}应为 ISO 8601 时间，如 2026-11-28T09:30:00+08:00"
    if kind == "enum" or kind == "literal_error":
        return f"{field}应为以下之一：{ctx.get('expected', '')}"
    if kind == "value_error":
        return f"{field}：{str(error.get('msg', '')).removeprefix('Value error, ')}"
    if kind == "extra_forbidden":
        return f"不认识的字段 {field}"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return f"{field}应为 JSON 对象"
    if kind in ("list_type",):
        return f"{field}应为列表"
    if kind == "too_long":
        return f"{field}最多 {ctx.get('max_length')} 项"
    return f"{field}：{error.get('msg', '')}"
