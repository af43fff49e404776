"""The published contract: ``/openapi.json`` gives every JSON operation a real response schema,
and the 422 body it declares is the one the API actually sends."""

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from jsonschema import Draft202012Validator

from server import create_app
from settings import Settings
from tests.live import until_ready


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("openapi") / "data")
    with TestClient(create_app(settings)) as c:
        until_ready(c)
        yield c


@pytest.fixture(scope="module")
def spec(client: TestClient) -> dict[str, Any]:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    spec: dict[str, Any] = r.json()
    return spec


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield method.upper(), path, op


def resolved(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        name = schema["$ref"].removeprefix("#/components/schemas/")
        schema = spec["components"]["schemas"][name]
    return schema


def validator(spec: dict[str, Any], schema: dict[str, Any]) -> Draft202012Validator:
    """A validator for one schema of the document, its ``$ref``s resolved within it."""
    return Draft202012Validator({**schema, "components": spec["components"]})


def test_every_json_operation_declares_a_real_success_schema(spec: dict[str, Any]) -> None:
    untyped, checked = [], 0
    for method, path, op in operations(spec):
        ok = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        assert ok, f"{method} {path} declares no success response"
        for code, response in ok.items():
            content = response.get("content", {})
            if code == "204":
                assert not content, f"{method} {path}: 204 with a body"
                continue
            assert content, f"{method} {path} {code}: no media type"
            if "application/json" not in content:
                continue
            checked += 1
            schema = resolved(spec, content["application/json"].get("schema", {}))
            if not schema or schema == {"title": schema.get("title")}:
                untyped.append(f"{method} {path} {code}")
    assert not untyped, f"responses without a schema: {untyped}"
    assert checked >= 35  # the JSON operations of the API, lifecycle actions included


def test_streams_and_forms_declare_their_media_types(spec: dict[str, Any]) -> None:
    chat = spec["paths"]["/api/v1/chat"]["post"]["responses"]["200"]["content"]
    assert "text/event-stream" in chat and "application/json" not in chat
    form = spec["paths"]["/open311/v2/requests.json"]["post"]["requestBody"]["content"]
    assert "service_code" in form["application/x-www-form-urlencoded"]["schema"]["required"]


def test_decision_and_draft_schemas_are_typed(spec: dict[str, Any]) -> None:
    draft = spec["paths"]["/api/v1/dispatch/draft"]["post"]["responses"]["200"]["content"]
    schema = resolved(spec, draft["application/json"]["schema"])
    assert {"category", "lead_department", "deadlines", "legal_basis"} <= set(schema["required"])
    pending = spec["paths"]["/api/v1/events/{event_id}/draft"]["get"]["responses"]["200"]
    schema = resolved(spec, pending["content"]["application/json"]["schema"])
    assert "approval" in schema["required"]
    edit = spec["paths"]["/api/v1/events/{event_id}/edit"]["post"]["requestBody"]["content"]
    body = resolved(spec, edit["application/json"]["schema"])
    assert body["properties"]["level"]["anyOf"][0]["enum"] == ["street", "district", "city"]


def test_the_declared_422_is_the_body_actually_sent(
    client: TestClient, spec: dict[str, Any]
) -> None:
    declared = [
        op["responses"]["422"]["content"]["application/json"]["schema"]
        for _, _, op in operations(spec)
        if "422" in op["responses"]
    ]
    assert len(declared) >= 30
    assert all(s == declared[0] for s in declared)  # one shape for the whole API
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    check = validator(spec, declared[0])
    malformed = [
        client.get("/api/v1/regulations/search", params={"k": "many"}),  # schema: q missing
        client.post(
            "/api/v1/auth/login",
            content=b"{not json",
            headers={"content-type": "application/json"},
        ),
        client.get("/api/v1/regulations/article", params={"title": "x", "article": "abc"}),
        client.get("/open311/v2/requests.json", params={"start_date": "yesterday"}),
    ]
    for r in malformed:
        assert r.status_code == 422, r.text
        body = r.json()
        assert isinstance(body["detail"], str) and body["detail"]
        errors = sorted(check.iter_errors(body), key=str)
        assert not errors, f"{r.request.url}: {body} violates {errors[0].message}"
    first = malformed[0].json()
    assert {"q", "k"} <= {e["loc"][-1] for e in first["errors"]}
    # the same checker refuses FastAPI's default shape, whose detail is a list
    assert not check.is_valid({"detail": [{"loc": ["query", "q"], "msg": "x", "type": "y"}]})
