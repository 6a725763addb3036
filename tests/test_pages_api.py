"""The pages' own routes (api/pages_api.py): static files, offline docs, settings,
browsing, and the quality page's actions."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from api.app import create_app

AUTH = {"Authorization": "Bearer pages-token"}


@pytest.fixture(scope="module")
def app(settings, assistant):
    s = replace(settings, admin_token="pages-token", hall_name="广安区政务服务中心", timezone="Nowhere/Atlantis",
                kiosk_catalogue="guangan")
    with TestClient(create_app(s, assistant=assistant)) as c:
        yield c


def test_static_files_and_offline_docs(app):
    assert app.get("/static/kiosk.js").headers["content-type"].startswith("text/javascript")
    for bad in ("/static/../app.py", "/static/app.py", "/static/nope.js", "/static/docs/nope.js"):
        assert app.get(bad).status_code == 404, bad
    docs = app.get("/docs").text
    assert "cdn" not in docs and "/static/docs/swagger-ui-bundle.js" in docs and "<script>" not in docs
    assert app.get("/static/docs/swagger-ui-bundle.js").status_code == 200
    redoc = app.get("/redoc")
    assert "/static/docs/redoc.standalone.js" in redoc.text and "img-src 'self'" in redoc.headers["content-security-policy"]


def test_config_names_the_hall_and_falls_back_to_a_real_time_zone(app):
    c = app.get("/api/v1/pages/config").json()
    assert c == {"hall_name": "广安区政务服务中心", "timezone": "Asia/Shanghai", "kiosk_catalogue": "guangan",
                 "idle_seconds": 120}


def test_browse_by_who_applies(app):
    people = app.get("/api/v1/pages/browse", params={"catalogue": "guangdong", "audience": "个人"}).json()
    firms = app.get("/api/v1/pages/browse", params={"catalogue": "guangdong", "audience": "法人"}).json()
    assert 0 < firms["total"] < people["total"] <= 2262 and len(people["items"]) == 20
    none = app.get("/api/v1/pages/browse", params={"catalogue": "guangan", "audience": "个人"}).json()
    assert none["total"] == 0 and "没有登记办理对象" in none["message"]
    assert app.get("/api/v1/pages/browse", params={"catalogue": "guangan", "audience": "外星人"}).status_code == 422
    assert app.get("/api/v1/pages/browse", params={"catalogue": "nope"}).status_code == 404


def test_unanswered_per_catalogue_mark_handled_and_export(app):
    for cat in ("guangan", "guangdong"):
        a = app.post("/api/v1/ask", json={"question": "推荐一部好看的电视剧", "catalogue": cat}).json()
        assert a["status"] == "not_found"
    rows = [u for u in app.get("/api/v1/admin/quality", headers=AUTH).json()["unanswered"]
            if u["question"] == "推荐一部好看的电视剧"]
    assert sorted(u["catalogue"] for u in rows) == ["guangan", "guangdong"]  # not merged across catalogues
    gan = next(u for u in rows if u["catalogue"] == "guangan")
    r = app.post("/api/v1/admin/quality/handled", json={"kind": "unanswered", "ids": gan["ids"]}, headers=AUTH)
    assert r.status_code == 200
    left = app.get("/api/v1/admin/quality", headers=AUTH).json()["unanswered"]
    assert [u["catalogue"] for u in left if u["question"] == "推荐一部好看的电视剧"] == ["guangdong"]
    csv = app.get("/api/v1/admin/quality/export", params={"kind": "unanswered"}, headers=AUTH)
    assert csv.headers["content-type"].startswith("text/csv") and "推荐一部好看的电视剧" in csv.text
    bad = app.post("/api/v1/admin/quality/handled", json={"kind": "unanswered", "ids": [10**9]}, headers=AUTH)
    assert bad.status_code == 404 and "没有这些记录" in bad.json()["detail"]
    assert app.post("/api/v1/admin/quality/handled", json={"kind": "x", "ids": [1]}, headers=AUTH).status_code == 422
    assert app.get("/api/v1/admin/quality/export").status_code == 401


def test_not_helpful_rows_carry_question_and_item(app):
    a = app.post("/api/v1/ask", json={"question": "执业药师首次注册怎么办", "catalogue": "guangdong"}).json()
    app.post("/api/v1/feedback", json={"session_id": a["session_id"], "answer_code": a["item"]["code"], "helpful": False,
                                       "catalogue": "guangdong", "comment": "电话13812345678打不通",
                                       "question": "执业药师首次注册怎么办"})
    row = app.get("/api/v1/admin/quality", headers=AUTH).json()["not_helpful"][0]
    assert row["question"] == "执业药师首次注册怎么办" and row["item_name"] == "执业药师首次注册"
    assert "13812345678" not in row["comment"]


def test_run_an_evaluation_with_progress(app):
    r = app.post("/api/v1/admin/evaluations", json={"catalogue": "guangdong"}, headers=AUTH)
    assert r.status_code == 202 and r.json()["state"] == "running"
    assert app.post("/api/v1/admin/evaluations", json={}, headers=AUTH).status_code in (202, 409)
    deadline = time.time() + 300
    while (p := app.get("/api/v1/admin/evaluations", headers=AUTH).json())["state"] == "running":
        assert time.time() < deadline
        time.sleep(0.5)
    assert p["state"] == "done" and p["done"] == p["total"] > 0
    assert app.get("/api/v1/admin/quality", headers=AUTH).json()["eval"]["reports"]
