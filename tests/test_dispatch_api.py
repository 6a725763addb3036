"""诉求 through `wenban ask` and the HTTP API, on both real catalogues (loads the model)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from wenban.config import REPO_ROOT

TOKEN = "test-token-dispatch"


@pytest.fixture(scope="module")
def client(settings, assistant):
    with TestClient(create_app(replace(settings, admin_token=TOKEN), assistant=assistant)) as c:
        yield c


ADMIN = {"Authorization": f"Bearer {TOKEN}"}


@pytest.mark.parametrize("catalogue", ["guangan", "guangdong"])
def test_a_complaint_is_dispatched_with_every_field(client, catalogue):
    r = client.post("/api/v1/ask", json={"question": "老板拖欠我们三个月工资不发", "catalogue": catalogue}).json()
    assert r["status"] == "dispatch" and r["intent"] == "complaint"
    d = r["dispatch"]
    assert d["category"][0] == "劳动和社会保障"
    for key in ("lead", "support", "level", "confidence", "why", "how_to_raise", "prepare", "extracted", "summary",
                "to_command_centre"):
        assert key in d
    lead = d["lead"]["department"]
    from store.db import department_counts
    names = {x["name"] for x in department_counts(client.app.state.ctx.assistant().db, catalogue)}
    assert lead in names or lead == "12345政务服务便民热线"
    assert all(s["department"] in names for s in d["support"])
    assert "candidates" in r


def test_a_service_question_is_still_a_service(client):
    r = client.post("/api/v1/ask", json={"question": "孩子刚出生怎么上户口", "catalogue": "guangan"}).json()
    assert r["status"] == "answer" and r["intent"] == "service" and "dispatch" not in r


def test_guangdong_has_no_city_management_bureau_so_the_command_centre_takes_it(client):
    r = client.post("/api/v1/ask", json={"question": "路边小摊贩占道经营堵塞人行道", "catalogue": "guangdong"}).json()
    assert r["status"] == "dispatch"
    assert r["dispatch"]["lead"] == {"department": "12345政务服务便民热线", "type": "指挥中心"}
    assert r["dispatch"]["to_command_centre"] is True


def test_categories_route_and_corrections(client):
    tree = client.get("/api/v1/dispatch/categories", params={"catalogue": "guangan"}).json()["tree"]
    assert any(n["name"] == "城乡建设" for n in tree)
    assert client.get("/api/v1/dispatch/categories", params={"catalogue": "atlantis"}).status_code == 404
    r = client.post("/api/v1/dispatch/route", json={"question": "楼上邻居半夜唱歌太吵", "catalogue": "guangan"})
    assert r.status_code == 200 and r.json()["dispatch"]["category"][2] == "社会生活噪声"
    body = {"catalogue": "guangan", "question": "楼道里堆满杂物，电话13812345678", "category": ["公共安全", "消防安全"]}
    assert client.post("/api/v1/admin/dispatch/corrections", json=body).status_code in (401, 404)
    r = client.post("/api/v1/admin/dispatch/corrections", json=body, headers=ADMIN)
    assert r.status_code == 201 and r.json()["question"] == "楼道里堆满杂物，电话138****5678"
    bad = client.post("/api/v1/admin/dispatch/corrections", json={**body, "category": ["火星"]}, headers=ADMIN)
    assert bad.status_code == 422 and "火星" in bad.json()["detail"] and "/" in bad.json()["detail"]
    listed = client.get("/api/v1/admin/dispatch/corrections", params={"catalogue": "guangan"}, headers=ADMIN).json()
    assert listed[-1]["category"] == ["公共安全", "消防安全"]


def test_admin_imports_report_row_errors_as_422(client):
    bad = "一级分类,主体责任单位\n城建,火星局\n".encode()
    r = client.post("/api/v1/admin/dispatch/guangan/categories", headers=ADMIN,
                    files={"file": ("duty.csv", io.BytesIO(bad), "text/csv")})
    assert r.status_code == 422 and r.json()["errors"][0]["row"] == 2
    r = client.post("/api/v1/admin/dispatch/guangan/history", headers=ADMIN,
                    files={"file": ("h.csv", io.BytesIO("内容,处理部门,日期\n路灯坏了,区住建局,不知道\n".encode()), "text/csv")})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "日期"
    uploads = client.app.state.ctx.settings.uploads_dir  # read there (swept after a crash), then gone
    assert uploads.is_dir() and not list(uploads.glob("upload-*"))


def test_cli_ask_json_dispatches(settings):
    env = {"WENBAN_HOME": str(settings.home), "PYTHONPATH": str(REPO_ROOT), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-m", "wenban.cli", "ask", "楼下饭店油烟太大严重扰民", "-c", "guangan",
                          "--json"], capture_output=True, text=True, env=env, cwd=REPO_ROOT, timeout=300)
    assert out.returncode == 0, out.stderr
    a = json.loads(out.stdout)
    assert a["status"] == "dispatch" and a["dispatch"]["category"][2] == "餐饮油烟"
    assert a["dispatch"]["lead"]["department"] in ("区生态环境局", "12345政务服务便民热线")


def test_the_department_is_named_with_its_area_as_on_the_item_cards(client):
    r = client.post("/api/v1/dispatch/route", json={"question": "老板拖欠我们三个月工资不发", "catalogue": "guangan"}).json()
    lead = r["dispatch"]["suggested_lead"]
    assert lead["type"] == "人社" and lead["department"] == "区人社局"
    assert lead["department_full"] == "广安区人社局"
