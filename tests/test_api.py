"""The HTTP API skeleton over the same assistant."""

from __future__ import annotations

import re

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
    item = client.get(f"/api/v1/items/{a['item']['code']}", params={"catalogue": "guangan"}).json()
    assert item["name"] == "最低生活保障"
    assert client.get("/api/v1/items/nope", params={"catalogue": "guangan"}).status_code == 404
    page = client.get("/")
    assert page.status_code == 200 and "问办" in page.text
    for path in ("/", "/operator", "/quality"):  # no file from outside the machine (no CDN)
        html = client.get(path).text
        assert "http://" not in html and "https://" not in html
        refs = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert refs and all(r.startswith("/static/") for r in refs)  # page files served here
        assert "<script>" not in html and " on" + "click=" not in html  # CSP script-src 'self' holds
        for ref in refs:
            assert client.get(ref).status_code == 200, ref


# ------------------------------------------------------------ browse, items --

def test_departments_and_browsing_the_public_list(client):
    depts = client.get("/api/v1/catalogues/guangan/departments").json()
    assert {"name": "区公安分局", "item_count": 44} in depts
    assert sum(d["item_count"] for d in depts) == 1135
    page = client.get("/api/v1/catalogues/guangan/items", params={"q": "身份证", "department": "区公安分局"}).json()
    assert page["total"] >= 4 and all("身份证" in i["name"] for i in page["items"])
    licences = client.get("/api/v1/catalogues/guangan/items", params={"type": "行政许可", "page": 2}).json()
    assert licences["page"] == 2 and all(i["type"] == "行政许可" for i in licences["items"])
    assert client.get("/api/v1/catalogues/atlantis/items").status_code == 404
    assert client.get("/api/v1/catalogues/guangan/items", params={"page": 0}).status_code == 422


def test_item_by_code_with_the_spoken_answer(client):
    page = client.get("/api/v1/catalogues/guangdong/items", params={"q": "执业药师首次注册"}).json()
    code = page["items"][0]["code"]
    it = client.get(f"/api/v1/items/{code}").json()
    assert it["catalogue"] == "guangdong" and it["name"] == "执业药师首次注册"
    assert it["spoken"].startswith("您好，您咨询的“执业药师首次注册”由广东省药品监督管理局办理")
    assert it["place"] in it["spoken"] and "官方办事指南" in it["spoken"]
    r = client.get("/api/v1/items/no-such-code")
    assert r.status_code == 404 and "no item" in r.json()["detail"] and "没有该事项" in r.json()["detail"]


def test_operator_search(client):
    r = client.get("/api/v1/search", params={"q": "身份证丢了", "catalogue": "guangan", "k": 8}).json()
    assert r["in_scope"] and len(r["candidates"]) == 8
    assert client.get("/api/v1/search", params={"q": "？？", "catalogue": "guangan"}).status_code == 422


def test_feedback(client):
    a = client.post("/api/v1/ask", json={"question": "我想申请低保", "catalogue": "guangan"}).json()
    r = client.post("/api/v1/feedback", json={"session_id": a["session_id"], "answer_code": a["item"]["code"],
                                               "helpful": False, "comment": "电话13812345678打不通"})
    assert r.status_code == 201
    assert client.post("/api/v1/feedback", json={"session_id": "x", "answer_code": "1", "helpful": True}).status_code == 422
    assert client.post("/api/v1/feedback", json={"session_id": a["session_id"]}).status_code == 422


def test_qr_is_made_here(client):
    r = client.get("/api/v1/qr", params={"data": "http://www.sczwfw.gov.cn/"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg")
    assert b"<svg" in r.content
    assert client.get("/api/v1/qr", params={"data": "x" * 1001}).status_code == 422


def test_errors_say_why_in_chinese_and_english(client):
    r = client.post("/api/v1/ask", json={"question": "", "catalogue": "guangan"})
    assert r.status_code == 422 and "问题不能为空" in r.json()["detail"] and "empty" in r.json()["detail"]
    r = client.post("/api/v1/ask", json={"question": "户" * 1001, "catalogue": "guangan"})
    assert r.status_code == 422 and "请求参数有误" in r.json()["detail"]


# --------------------------------------------------------------------- admin --

def test_admin_routes_are_off_without_a_token(client):
    r = client.post("/api/v1/admin/catalogues/x/reindex")
    assert r.status_code == 404 and "WENBAN_ADMIN_TOKEN" in r.json()["detail"]


@pytest.fixture(scope="module")
def admin(settings, assistant):
    from dataclasses import replace

    with TestClient(create_app(replace(settings, admin_token="s3cret"), assistant=assistant)) as c:
        yield c


AUTH = {"Authorization": "Bearer s3cret"}
CSV = "事项编码,事项名称,实施机构,事项类型,申请材料\nH1,老年人优待证办理,区民政局,公共服务,身份证；照片\n"


def test_admin_needs_the_right_token(admin):
    assert admin.post("/api/v1/admin/catalogues/hall/reindex").status_code == 401
    assert admin.post("/api/v1/admin/catalogues/hall/reindex", headers={"Authorization": "Bearer no"}).status_code == 401


def test_admin_import_reports_rows_and_writes_nothing_on_error(admin):
    bad = CSV + "H2,,区民政局,公共服务,\nH1,重复,区民政局,公共服务,\n"
    r = admin.post("/api/v1/admin/catalogues/hall/import", headers=AUTH, files={"file": ("list.csv", bad.encode())})
    assert r.status_code == 422
    errors = r.json()["errors"]
    assert {(e["row"], e["field"]) for e in errors} == {(3, "事项名称"), (4, "事项编码")}
    assert admin.get("/api/v1/catalogues/hall/departments").status_code == 404  # nothing written
    r = admin.post("/api/v1/admin/catalogues/hall/import", headers=AUTH, files={"file": ("list.csv", CSV.encode())},
                   data={"title": "测试大厅"})
    assert r.status_code == 200 and r.json()["added"] == ["H1"]
    assert r.json()["index"]["status"] == "built"  # a changed import is indexed in the same request
    r = admin.post("/api/v1/ask", json={"question": "老年人优待证怎么办", "catalogue": "hall"})
    assert r.status_code == 200 and r.json()["candidates"][0]["code"] == "H1"


def test_admin_upload_limit(admin, monkeypatch):
    import api.admin_catalogues as app_mod

    monkeypatch.setattr(app_mod, "MAX_IMPORT_BYTES", 100)
    r = admin.post("/api/v1/admin/catalogues/hall/import", headers=AUTH,
                   files={"file": ("list.csv", (CSV * 10).encode())})
    assert r.status_code == 413


def test_reindex_under_load_keeps_answering(admin):
    import threading

    admin.post("/api/v1/admin/catalogues/hall/import", headers=AUTH, files={"file": ("list.csv", CSV.encode())})
    statuses, done = [], threading.Event()

    def load():
        while not done.is_set():
            statuses.append(admin.post("/api/v1/ask", json={"question": "身份证丢了怎么办",
                                                            "catalogue": "guangan"}).status_code)

    worker = threading.Thread(target=load)
    worker.start()
    try:
        r = admin.post("/api/v1/admin/catalogues/guangan/reindex", headers=AUTH)
    finally:
        done.set()
        worker.join()
    assert r.status_code == 200 and r.json()["item_count"] == 1135
    assert statuses and set(statuses) == {200}
    r = admin.post("/api/v1/admin/catalogues/hall/reindex", headers=AUTH)
    assert r.status_code == 200
    a = admin.post("/api/v1/ask", json={"question": "老年人优待证怎么办", "catalogue": "hall"}).json()
    assert a["status"] == "answer" and a["item"]["code"] == "H1"


def test_a_failed_reindex_leaves_the_old_index_serving(admin, monkeypatch):
    import index.build as build_mod

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(build_mod.faiss, "write_index", broken)
    r = admin.post("/api/v1/admin/catalogues/guangan/reindex", headers=AUTH)
    assert r.status_code == 500 and "旧索引继续服务" in r.json()["detail"]
    a = admin.post("/api/v1/ask", json={"question": "我想申请低保", "catalogue": "guangan"})
    assert a.status_code == 200 and a.json()["item"]["name"] == "最低生活保障"


def test_quality_data(admin):
    admin.post("/api/v1/ask", json={"question": "怎么做红烧肉", "catalogue": "guangan"})
    q = admin.get("/api/v1/admin/quality", headers=AUTH).json()
    assert any(u["question"] == "怎么做红烧肉" and u["count"] >= 1 for u in q["unanswered"])
    assert "not_helpful" in q


def test_request_log_masks_numbers(client, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="wenban.access"):
        client.get("/api/v1/search", params={"q": "身份证511602199001011234丢了，电话13812345678", "catalogue": "guangan"})
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "wenban.access")
    assert "/api/v1/search" in logged
    assert "511602199001011234" not in logged and "13812345678" not in logged
