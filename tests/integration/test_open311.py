"""Open311 GeoReport v2 with real clients nobody here wrote: ``georeport`` (reads; it takes a
base URL only, so it authenticates with the key as the HTTP Basic password inside that URL)
and ``civicbot`` (writes: form-encoded POST with ``api_key``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from civicbot import Endpoint, HttpError, HttpTransport, Open311Client
from civicbot.http import RateLimiter
from georeport import GeoReport

from knowledge import Knowledge
from tests.live import Live, backend_live


@pytest.fixture(scope="module")
def live(
    tmp_path_factory: pytest.TempPathFactory, prepared_data: Path, knowledge: Knowledge
) -> Iterator[Live]:
    with backend_live(
        tmp_path_factory.mktemp("open311"), prepared_data, knowledge, events=120
    ) as server:
        yield server


def reader(live: Live, username: str) -> GeoReport:
    base = live.url.replace("http://", f"http://open311:{live.keys[username]}@")
    return GeoReport(f"{base}/open311/v2", jurisdiction=None)


def writer(live: Live, username: str) -> tuple[Open311Client, str]:
    endpoint = Endpoint(id="sanji", name="Sanji", base_url=f"{live.url}/open311/v2", write=True)
    client = Open311Client(
        endpoint,
        transport=HttpTransport(rate_limiter=RateLimiter(min_interval=0)),
        jurisdiction_id=None,
    )
    return client, live.keys[username]


def test_services_come_from_the_taxonomy(live: Live, knowledge: Knowledge) -> None:
    services = GeoReport(f"{live.url}/open311/v2").get_service_list()
    assert len(services) == len(knowledge.subtypes)
    noise = next(s for s in services if s["service_code"] == "EN02")
    assert noise["service_name"] == knowledge.subtypes["EN02"].name
    assert noise["group"] == knowledge.categories["EN"].name
    definition = GeoReport(f"{live.url}/open311/v2").get_service_definition("EN02")
    assert definition["service_code"] == "EN02"


def test_post_with_civicbot_then_read_back_with_georeport(live: Live, knowledge: Knowledge) -> None:
    client, key = writer(live, "hotline")
    posted = client.create_request(
        "CA01",
        dry_run=False,
        confirm="SEND",
        api_key=key,
        lat=29.5575,
        lng=106.5770,
        description="解放碑八一路有流动摊贩占道经营，晚上人多时堵住行人通道",
        first_name="小明",
        last_name="王",
        phone="13812345678",
        email="wang@example.com",
    )
    request_id = posted.response[0]["service_request_id"]
    assert posted.response[0]["service_notice"]
    # the city integration reads it back; it is open and not yet dispatched
    got = reader(live, "hotline").get_service_request(request_id)
    assert got["service_request_id"] == request_id
    assert got["status"] == "open" and got["status_notes"].startswith("受理")
    assert got["agency_responsible"] is None
    assert "13812345678" not in str(got)  # integrations never get personal data back
    # an officer triages and approves: the request now names the agency responsible
    with live.client("city") as city:
        assert city.post(f"/api/v1/events/{request_id}/triage").status_code == 200
        assert city.post(f"/api/v1/events/{request_id}/approve").status_code == 200
        lead = city.get(f"/api/v1/events/{request_id}").json()["event"]["lead_department"]
    got = reader(live, "hotline").get_service_request(request_id)
    assert got["status_notes"].startswith("派遣") and got["agency_responsible"]
    assert got["agency_responsible"] == knowledge.departments[lead].name


def test_closed_requests_map_to_closed(live: Live) -> None:
    closed = reader(live, "city").get_service_requests(status="closed")
    opened = reader(live, "city").get_service_requests(status="open")
    assert closed and opened
    assert {r["status"] for r in closed} == {"closed"}
    assert {r["status_notes"][:2] for r in closed} <= {"办结", "回访", "归档"}
    assert not {r["service_request_id"] for r in closed} & {r["service_request_id"] for r in opened}


def test_reading_requests_needs_a_key_and_applies_the_scope(
    live: Live, knowledge: Knowledge
) -> None:
    with pytest.raises(Exception) as refused:
        GeoReport(f"{live.url}/open311/v2").get_service_requests()
    assert "401" in str(refused.value)
    everything = reader(live, "city").get_service_requests()
    district = reader(live, "yuzhong_feed").get_service_requests()
    assert 0 < len(district) < len(everything)
    ids = {r["service_request_id"] for r in district}
    outside = next(r for r in everything if r["service_request_id"] not in ids)
    with pytest.raises(Exception) as hidden:
        reader(live, "yuzhong_feed").get_service_request(outside["service_request_id"])
    assert "404" in str(hidden.value)
    # asking by id list returns only what the scope covers
    both = f"{outside['service_request_id']},{next(iter(ids))}"
    listed = reader(live, "yuzhong_feed").get_service_requests(service_request_id=both)
    assert [r["service_request_id"] for r in listed] == [next(iter(ids))]


def test_posting_without_a_valid_key_or_service_is_refused(live: Live) -> None:
    client, _ = writer(live, "hotline")
    with pytest.raises(HttpError) as no_key:
        client.create_request(
            "CA01", dry_run=False, confirm="SEND", api_key="sjk_forged", lat=29.55, lng=106.57
        )
    assert no_key.value.status == 401
    with httpx.Client(base_url=live.url) as raw:
        r = raw.post(
            "/open311/v2/requests.json",
            data={"api_key": live.keys["hotline"], "service_code": "XX99", "lat": "29.5"},
        )
        assert r.status_code == 404 and r.json()[0]["code"] == 404
        r = raw.post(
            "/open311/v2/requests.json",
            data={"api_key": live.keys["hotline"], "service_code": "CA01"},
        )
        assert r.status_code == 400 and "address_string" in r.json()[0]["description"]


def test_long_descriptions_are_kept_whole(live: Live) -> None:
    text = "龙湖时代天街地下车库漏水严重。" * 2000  # 30,000 characters
    with httpx.Client(base_url=live.url) as raw:
        r = raw.post(
            "/open311/v2/requests.json",
            data={
                "api_key": live.keys["hotline"],
                "service_code": "CA01",
                "description": text,
                "address_string": "渝中区大坪",
            },
        )
        assert r.status_code == 201
        request_id = r.json()[0]["service_request_id"]
    with live.client("city") as city:
        event = city.get(f"/api/v1/events/{request_id}").json()["event"]
        assert len(event["attributes"]["full_text"]) == len(text)
