"""Areas and levels, sites, site-aware answers on both real catalogues, and a small
synthetic province (the generator and the site filter at a size fit for a test)."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from assistant.sites import BadSite
from store import areas
from store import db as store
from store.importers import ImportFailed, load_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))


# ------------------------------------------------------------------ areas --

def test_area_codes_chain_and_levels():
    assert areas.chain("440106") == ["440000", "440100", "440106"]
    assert areas.chain("440100") == ["440000", "440100"]
    assert areas.chain("440000") == ["440000"]
    assert areas.normalize_code("511602000000") == "511602"
    assert [areas.level_of(c) for c in ("510000", "511600", "511602")] == ["省", "市", "县"]
    assert [areas.normalize_level(v) for v in ("省级", "市级", "区县级", None)] == ["省", "市", "县", None]
    for bad in ("4401", "44010a", "511602001000"):
        with pytest.raises(areas.BadArea):
            areas.normalize_code(bad)
    with pytest.raises(areas.BadArea):
        areas.normalize_level("乡镇级")


def test_department_full_adds_the_area_only_where_the_name_is_relative():
    assert areas.department_full("区公安分局", "511602") == "广安区公安分局"
    assert areas.department_full("省侨联", "440000") == "广东省侨联"
    # already carries its area (or an area above it): unchanged
    for dept, code in (("广州市公安局", "440100"), ("广安区税务局", "511602"),
                       ("国家税务总局广东省税务局", "440000"), ("广州空港经济区管理委员会", "440100")):
        assert areas.department_full(dept, code) == dept
    # not the area's own department: no area is guessed for it
    assert areas.department_full("中国民用航空中南地区管理局", "440000") == "中国民用航空中南地区管理局"
    assert areas.department_full("区公安分局", None) == "区公安分局"
    assert areas.department_local("广州市公安局", "440100") == "市公安局"
    assert areas.department_local("中华人民共和国广州海关", "440100") == "中华人民共和国广州海关"


# -------------------------------------------------------------- importers --

def test_real_catalogues_import_their_areas_levels_and_base_items(sources):
    gd = load_file(sources / "guangdong" / "policy.jsonl", "guangdong", "guangdong").items
    by_level = {}
    for it in gd:
        by_level.setdefault((it["level"], it["area_code"], it["area"]), 0)
        by_level[(it["level"], it["area_code"], it["area"])] += 1
    assert by_level == {("省", "440000", "广东省"): 2024, ("市", "440100", "广州市"): 238}
    assert all(it["base_code"] for it in gd)
    multi = {}
    for it in gd:
        multi.setdefault(it["base_code"], set()).add(it["level"])
    assert sum(1 for levels in multi.values() if len(levels) > 1) == 41  # 三级四同 groups, as the data has
    ga = load_file(sources / "guangan" / "bszl-data.json", "guangan", "guangan").items
    assert {(it["level"], it["area_code"], it["area"]) for it in ga} == {("县", "511602", "广安区")}
    assert all(it["base_code"] and it["code"].startswith(it["base_code"] + "-") for it in ga)


def test_generic_import_reads_area_code_and_level_and_names_a_bad_row(tmp_path):
    good = tmp_path / "list.csv"
    good.write_text("事项编码,事项名称,实施机构,行政区划代码,行使层级\n"
                    "A1,户口登记,区公安分局,440106,区县级\nA2,护照签发,市公安局,440100,\n", encoding="utf-8")
    items = {it["code"]: it for it in load_file(good, "generic", "t").items}
    assert (items["A1"]["area_code"], items["A1"]["level"], items["A1"]["area"]) == ("440106", "县", "天河区")
    assert (items["A2"]["level"], items["A2"]["area"]) == ("市", "广州市")  # level from the code
    bad = tmp_path / "bad.csv"
    bad.write_text("事项编码,事项名称,实施机构,行政区划代码,行使层级\n"
                   "A1,户口登记,区公安分局,4401,县级\nA2,护照签发,市公安局,440100,乡级\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as e:
        load_file(bad, "generic", "t")
    text = str(e.value)
    assert "row 2: 行政区划代码" in text and "row 3: 行使层级" in text


# ---------------------------------------------------- site-aware answers --

def test_a_city_site_answers_with_its_own_implementation_and_names_the_province(assistant):
    a = assistant.ask("弩的购置审批", site="广州市政务服务中心")
    assert a["status"] == "answer" and a["site"]["area_code"] == "440100"
    it = a["item"]
    assert (it["department_full"], it["level"], it["area"]) == ("广州市公安局", "市",
                                                                {"code": "440100", "name": "广州市"})
    assert [o["department_full"] for o in it["other_levels"]] == ["广东省公安厅"]
    assert it["other_levels"][0]["level"] == "省"
    # the same question at the province's hall: the province's implementation, no city items at all
    p = assistant.ask("弩的购置审批", site="广东省政务服务中心")
    assert p["item"]["department_full"] == "广东省公安厅" and p["item"]["other_levels"] == []
    assert all(c["area"]["code"] == "440000" for c in p["candidates"])


def test_a_district_site_by_area_code_sees_its_chain_only(assistant):
    a = assistant.ask("无线电频率使用许可新申请", "guangdong", site="440106")  # 天河区, inside 广州市
    assert a["site"]["name"] == "天河区"
    assert {c["area"]["code"] for c in a["candidates"]} <= {"440000", "440100", "440106"}
    assert a["candidates"][0]["department_full"] == "广州市工业和信息化局"


def test_the_district_catalogue_shows_departments_with_their_area(assistant):
    a = assistant.ask("孩子刚出生怎么上户口", site="广安区政务服务中心")
    assert a["status"] == "answer" and a["catalogue"] == "guangan"
    assert a["item"]["department"] == "区公安分局" and a["item"]["department_full"] == "广安区公安分局"
    assert a["item"]["area"] == {"code": "511602", "name": "广安区"} and a["item"]["level"] == "县"
    assert all(c["department_full"].startswith("广安区") for c in a["candidates"])
    # without a site the answer is the same item: the district catalogue serves only its own area
    assert assistant.ask("孩子刚出生怎么上户口", "guangan")["item"]["code"] == a["item"]["code"]


@pytest.mark.parametrize("site, catalogue", [("月球政务中心", None), ("4401", None), ("511602", "guangdong"),
                                             ("广安区政务服务中心", "guangdong"), ("650000", None)])
def test_a_site_that_cannot_be_used_says_why(assistant, site, catalogue):
    with pytest.raises(BadSite) as e:
        assistant.ask("户口", catalogue, site=site)
    assert " / " in str(e.value)  # Chinese and English


# --------------------------------------------------------------------- API --

@pytest.fixture(scope="module")
def client(settings, assistant):
    with TestClient(create_app(settings, assistant=assistant)) as c:
        yield c


def test_api_sites_ask_and_search_at_a_site(client):
    sites = {s["name"]: s for s in client.get("/api/v1/sites").json()}
    assert sites["广安区政务服务中心"]["area_code"] == "511602" and sites["广州市政务服务中心"]["catalogue"] == "guangdong"
    r = client.post("/api/v1/ask", json={"question": "弩的购置审批", "site": "440100"}).json()
    assert r["item"]["department_full"] == "广州市公安局" and r["session_id"]
    r = client.get("/api/v1/search", params={"q": "弩的购置审批", "catalogue": "guangdong", "level": "省"}).json()
    assert r["candidates"] and {c["level"] for c in r["candidates"]} == {"省"}
    areas_ = client.get("/api/v1/areas", params={"catalogue": "guangdong"}).json()
    assert [(a["code"], a["level"], a["item_count"]) for a in areas_] == [("440000", "省", 2024), ("440100", "市", 238)]


@pytest.mark.parametrize("method, url, payload", [
    ("post", "/api/v1/ask", {"question": "户口", "site": "月球政务中心"}),
    ("post", "/api/v1/ask", {"question": "户口"}),
    ("get", "/api/v1/search?q=户口&site=511602&catalogue=guangdong", None),
    ("get", "/api/v1/search?q=户口&catalogue=guangdong&level=乡", None),
])
def test_api_bad_sites_are_4xx_with_reasons(client, method, url, payload):
    r = client.post(url, json=payload) if method == "post" else client.get(url)
    assert r.status_code == 422 and " / " in r.json()["detail"]


@pytest.mark.parametrize("method, url, payload", [
    ("get", "/api/v1/search?q=户口&site=100000&catalogue=atlantis", None),  # found by schemathesis: was a 500
    ("post", "/api/v1/ask", {"question": "户口", "site": "440100", "catalogue": "atlantis"}),
])
def test_an_unknown_catalogue_with_a_site_is_a_404(client, method, url, payload):
    r = client.post(url, json=payload) if method == "post" else client.get(url)
    assert r.status_code == 404 and "atlantis" in r.json()["detail"]


# ------------------------------------------------------ synthetic province --

def test_a_small_synthetic_province_answers_at_a_site_as_its_own_catalogue(settings, embedder, tmp_path):
    import shutil

    from index.build import build_index
    from index.search import Retriever
    from province import chain_items, districts, synthetic_items

    s = replace(settings, home=tmp_path / "home")
    s.home.mkdir()
    shutil.copy(settings.cache_path, s.cache_path)  # texts repeat the real ones: nothing new to embed
    src = store.open_db(settings.db_path)
    items = synthetic_items(src, cities=2, per_city=2)
    assert len(items) == 2024 + 2 * 238 + 4 * 1135
    site = districts(2, 2)[3][2]  # the second district of the second city (韶关第2区)
    assert {it["area_code"] for it in chain_items(items, site)} == {"440000", "440200", site}
    assert any(it["department"] == "韶关市公安局" for it in items)
    db = store.open_db(s.db_path)
    for name, its in (("prov", items), ("own", chain_items(items, site))):
        store.import_catalogue(db, store.CatalogueData(name=name, title=name, items=its))
        m = build_index(s, db, name, embedder, log=lambda *a: None, progress=False)
    assert m["embedded"] == 0
    prov, own = Retriever.load(s, "prov", embedder, db=db), Retriever.load(s, "own", embedder, db=db)
    assert prov.manifest["texts"] == own.manifest["texts"]  # one text per item, whatever the areas
    for q in ("孩子刚出生怎么上户口", "弩的购置审批", "我想申请低保", "无线电频率使用许可新申请"):
        a = [(c.code, round(c.fused, 6)) for c in prov.search(q, area=site).candidates]
        b = [(c.code, round(c.fused, 6)) for c in own.search(q, area=site).candidates]
        assert a == b, q
        assert {c.area_code for c in prov.search(q, area=site).candidates} <= {"440000", "440200", site}
