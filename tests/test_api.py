"""The HTTP API skeleton over the same assistant."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from api.app import create_app


@pytest.fixture(scope="module")
def client(settings, assistant):
    with TestClient(create_app(settings, assistant=assistant)) as c:
        yield c


def test_health_and_ready(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and {"guangan", "guangdong"} <= set(ready["catalogues"])


def test_ask_returns_the_cli_json(client):
    r = client.post("/api/v1/ask", json={"question": "孩子刚出生怎么上户口", "catalogue": "guangan"})
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "answer" and body["item"]["department"] == "区公安分局"


def test_a_conversation_goes_through_the_same_endpoint(client):
    r = client.post("/api/v1/ask", json={"question": "我想考驾照", "catalogue": "guangdong"}).json()
    assert r["status"] == "clarify"
    r = client.post("/api/v1/ask", json={"question": "1", "catalogue": "guangdong",
                                         "session_id": r["session_id"]}).json()
    assert r["status"] == "answer"
    r = client.post("/api/v1/ask", json={"question": "要带什么材料", "catalogue": "guangdong",
                                         "session_id": r["session_id"]}).json()
    assert r["status"] == "follow_up" and r["follow_up"]["field"] == "materials"


@pytest.mark.parametrize("payload, code", [
    ({"question": "户口", "catalogue": "guangan", "session_id": "not-a-session"}, 422),
    ({"question": "", "catalogue": "guangan"}, 422),
    ({"question": "？？", "catalogue": "guangan"}, 422),
    ({"question": "户口", "catalogue": "atlantis"}, 404),
    ({"catalogue": "guangan"}, 422),
])
def test_bad_input_is_a_4xx_never_a_500(client, payload, code):
    r = client.post("/api/v1/ask", json=payload)
    assert r.status_code == code


def test_catalogues_items_and_kiosk_page(client):
    cats = {c["name"]: c for c in client.get("/api/v1/catalogues").json()}
    assert cats["guangan"]["item_count"] == 1135 and "Apache" in cats["guangan"]["licence"]
    a = client.post("/api/v1/ask", json={"question": "我想申请低保", "catalogue": "guangan"}).json()
    item = client.get(f"/api/v1/items/guangan/{a['item']['code']}").json()
    assert item["name"] == "最低生活保障"
    assert client.get("/api/v1/items/guangan/nope").status_code == 404
    page = client.get("/")
    assert page.status_code == 200 and "问办" in page.text and "http" not in page.text.split("<script>")[0]
