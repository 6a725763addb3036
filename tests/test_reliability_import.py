"""Issue 11, imports: zip bombs, capped error reports, script links, and an
import that removes items with or without a reindex after it."""

from __future__ import annotations

import csv
import io
import json
import shutil
import zipfile
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from assistant.answer import Assistant
from assistant.card import item_card
from store import db as store
from store.importers import ImportFailed, Limits, load_file
from wenban.config import Settings

AUTH = {"Authorization": "Bearer s3cret"}
HEADER = ["事项编码", "事项名称", "实施机构", "办事指南链接"]


def write_csv(path, rows):
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([HEADER, *rows])
    return path


def xlsx_bomb(path, rows: int):
    """A small XLSX whose sheet unpacks to ``rows`` rows (each missing its name
    and department), the way a 564 KB file holds a million rows."""
    import openpyxl

    wb = openpyxl.Workbook()
    wb.active.append(HEADER)
    wb.save(path)
    cells = "".join(f'<c r="{c}1" t="inlineStr"><is><t>{h}</t></is></c>' for c, h in zip("ABCD", HEADER))
    body = [f'<row r="1">{cells}</row>']
    body += ['<row><c t="inlineStr"><is><t>X</t></is></c></row>'] * rows
    sheet = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
             '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             + "".join(body) + "</sheetData></worksheet>")
    with zipfile.ZipFile(path) as z:
        parts = {i.filename: z.read(i.filename) for i in z.infolist()}
    parts["xl/worksheets/sheet1.xml"] = sheet.encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in parts.items():
            z.writestr(name, data)
    return path


# ----------------------------------------------------------------- zip bomb --

def test_settings_have_sane_import_limits():
    s = Settings.from_env({})
    assert 10_000 <= s.import_max_rows <= 1_000_000 and 16 <= s.import_max_unzipped_mb <= 1024
    assert 10 <= s.import_max_errors <= 1000 and s.retention_days == 180
    s = Settings.from_env({"WENBAN_IMPORT_MAX_ROWS": "5", "WENBAN_RETENTION_DAYS": "0"})
    assert (s.import_max_rows, s.retention_days) == (5, 0)


def test_an_xlsx_with_too_many_rows_stops_at_the_cap(tmp_path):
    path = xlsx_bomb(tmp_path / "bomb.xlsx", 200_000)
    assert path.stat().st_size < 600_000
    with pytest.raises(ImportFailed) as e:
        load_file(path, "generic", "bomb", Limits(max_rows=1_000))
    assert "more than 1000 rows" in str(e.value) and e.value.total == 1


def test_an_xlsx_that_unpacks_too_far_is_refused_before_reading(tmp_path):
    path = xlsx_bomb(tmp_path / "bomb.xlsx", 200_000)
    with pytest.raises(ImportFailed, match=r"unpacks to \d+ MiB, over the 1 MiB limit"):
        load_file(path, "generic", "bomb", Limits(max_unzipped_bytes=1 << 20))


def test_the_error_report_is_capped_in_the_api_and_the_cli(admin, tmp_path, monkeypatch, capsys):
    path = write_csv(tmp_path / "bad.csv", [[f"C{i}", "", ""] for i in range(500)])
    r = admin.post("/api/v1/admin/catalogues/badlist/import", headers=AUTH,
                   files={"file": ("bad.csv", path.read_bytes(), "text/csv")})
    assert r.status_code == 422
    body = r.json()
    assert body["error_count"] == 1000 and body["shown"] == len(body["errors"]) == 100
    assert len(r.content) < 30_000

    from wenban import cli

    monkeypatch.setenv("WENBAN_HOME", str(tmp_path / "home"))
    assert cli.main(["import", "badlist", str(path)]) == 2
    err = capsys.readouterr().err
    assert "(1000 problem(s))" in err and "… and 900 more" in err and err.count("row ") <= 101


def test_the_admin_import_refuses_a_bomb_with_a_short_report(admin, tmp_path):
    path = xlsx_bomb(tmp_path / "bomb.xlsx", 200_000)
    r = admin.post("/api/v1/admin/catalogues/bomb/import", headers=AUTH,
                   files={"file": ("bomb.xlsx", path.read_bytes(), "application/octet-stream")})
    assert r.status_code == 422 and r.json()["error_count"] == 1
    assert "more than 1000 rows" in r.json()["errors"][0]["reason"]
    assert not list(admin.app.state.ctx.settings.uploads_dir.iterdir())  # the upload is gone


# ----------------------------------------------------------- script links --

SCRIPTS = ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "  javascript:alert(1)", "java\nscript:alert(1)",
           "&#106;avascript:alert(1)", "java&#x09;script:alert(1)", "data:text/html,<script>", "//evil.example"]


def test_every_importer_refuses_a_non_http_link(tmp_path):
    path = write_csv(tmp_path / "list.csv", [[f"C{i}", f"事项{i}", "区民政局", u] for i, u in enumerate(SCRIPTS)]
                     + [["OK1", "好事项", "区民政局", " https://www.gdzwfw.gov.cn/a "]])
    with pytest.raises(ImportFailed) as e:
        load_file(path, "generic", "x")
    # one error a script row (rows count physical lines: "java\nscript" spans two), none for the good one
    assert len(e.value.errors) == len(SCRIPTS) and {err.field for err in e.value.errors} == {"办事指南链接"}
    assert e.value.errors[0].row == 2 and e.value.errors[-1].row == len(SCRIPTS) + 2
    assert all("not an http(s) link" in err.reason for err in e.value.errors)

    jsonl = tmp_path / "gd.jsonl"
    jsonl.write_text(json.dumps({"TASK_CODE": "1", "TASK_NAME": "事项", "DEPT_NAME": "局",
                                 "URL": "javascript:alert(1)"}, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(ImportFailed, match="URL: not an http"):
        load_file(jsonl, "guangdong", "gd")

    ga = tmp_path / "ga.json"
    ga.write_text(json.dumps([{"department": "区民政局", "items": [{"main_item": "未分类", "sub_items": [
        {"name": "事项", "link": "javascript:location='?itemCode=1'"}]}]}], ensure_ascii=False), encoding="utf-8")
    with pytest.raises(ImportFailed, match="link: not an http"):
        load_file(ga, "guangan", "ga")


def test_a_stored_script_link_is_dropped_from_the_card_and_listed_missing():
    db = store.open_db(":memory:")
    store.import_catalogue(db, store.CatalogueData(name="x", title="x", items=[
        {"code": "1", "name": "事项", "department": "局", "url": "java\nscript:alert(1)"},
        {"code": "2", "name": "事项二", "department": "局", "url": "https://www.gdzwfw.gov.cn/a"}]))
    bad, good = item_card(store.get_item(db, "x", "1")), item_card(store.get_item(db, "x", "2"))
    assert bad["url"] is None and "url" in bad["missing"]
    assert good["url"] == "https://www.gdzwfw.gov.cn/a" and "url" not in good["missing"]


@pytest.mark.parametrize("data, code", [
    ("javascript:alert(1)", 422), ("JAVASCRIPT:alert(1)", 422), ("java\nscript:alert(1)", 422),
    ("&#106;avascript:alert(1)", 422), ("hello", 422), ("https://a.gov.cn/" + "办事指南" * 240, 422),
    ("https://www.gdzwfw.gov.cn/a?b=1", 200),
])
def test_qr_encodes_only_http_links_and_never_500s(admin, data, code):
    r = admin.get("/api/v1/qr", params={"data": data})
    assert r.status_code == code, r.text
    if code == 422:
        assert " / " in r.json()["detail"]


# ---------------------------------------------- import that removes items --

def test_removing_items_without_a_reindex_answers_from_the_indexed_version(home, embedder):
    settings, db = home
    client = TestClient(create_app(settings, assistant=Assistant(settings, embedder=embedder, log=lambda *a: None)))
    with client:
        items = store.items(db, "guangan")
        names = ["犬类准养证核发", "最低生活保障", "户口登记", "居民身份证申领", "结婚登记"]
        asked = [client.post("/api/v1/ask", json={"question": n, "catalogue": "guangan"}).json() for n in names]
        answered = {a["item"]["code"] for a in asked if a["status"] == "answer"}
        assert len(answered) >= 3
        # what `wenban import --no-index` does: the store loses those items, the index does not move
        kept = [it for it in items if it["code"] not in answered]
        assert store.import_catalogue(db, store.CatalogueData(name="guangan", title="t", items=kept)).removed
        for n in names:
            r = client.post("/api/v1/ask", json={"question": n, "catalogue": "guangan"})
            assert r.status_code == 200, r.text
    # a restart in that state serves
    with TestClient(create_app(settings, assistant=Assistant(settings, embedder=embedder, log=lambda *a: None))) as c:
        assert "guangan" in c.get("/readyz").json()["catalogues"]
        for n in names:
            assert c.post("/api/v1/ask", json={"question": n, "catalogue": "guangan"}).status_code == 200


def test_the_admin_import_rebuilds_the_index_after_a_change(admin, tmp_path):
    items = store.items(store.open_db(admin.app.state.ctx.settings.db_path), "guangan")[:40]
    rows = [[it["code"], it["name"], it["department"], it["url"]] for it in items]
    first = admin.post("/api/v1/admin/catalogues/demo/import", headers=AUTH,
                       files={"file": ("v1.csv", _csv_bytes(rows), "text/csv")}).json()
    assert first["version"] == 1 and first["index"]["status"] == "built"
    gone = items[0]
    assert admin.post("/api/v1/ask", json={"question": gone["name"], "catalogue": "demo"}).json()["item"]["code"] \
        == gone["code"]
    second = admin.post("/api/v1/admin/catalogues/demo/import", headers=AUTH,
                        files={"file": ("v2.csv", _csv_bytes(rows[1:]), "text/csv")}).json()
    assert second["removed"] == [gone["code"]] and second["index"]["item_count"] == 39
    r = admin.post("/api/v1/ask", json={"question": gone["name"], "catalogue": "demo"})
    assert r.status_code == 200
    assert gone["code"] not in [c["code"] for c in r.json()["candidates"]]
    unchanged = admin.post("/api/v1/admin/catalogues/demo/import", headers=AUTH,
                           files={"file": ("v2.csv", _csv_bytes(rows[1:]), "text/csv")}).json()
    assert "index" not in unchanged  # nothing changed, nothing rebuilt


def _csv_bytes(rows) -> bytes:
    buf = io.StringIO()
    csv.writer(buf).writerows([HEADER, *rows])
    return buf.getvalue().encode()


# ------------------------------------------------------------------ homes --

@pytest.fixture
def home(settings, tmp_path):
    """A copy of the served home (store, indexes, embedding cache)."""
    h = tmp_path / "home"
    h.mkdir()
    shutil.copy(settings.db_path, h / "wenban.db")
    shutil.copy(settings.cache_path, h / "embedding-cache.db")
    shutil.copytree(settings.index_dir, h / "indexes")
    s = replace(settings, home=h)
    return s, store.open_db(s.db_path)


@pytest.fixture(scope="module")
def admin(settings, embedder, tmp_path_factory):
    h = tmp_path_factory.mktemp("rel-import")
    shutil.copy(settings.db_path, h / "wenban.db")
    shutil.copy(settings.cache_path, h / "embedding-cache.db")
    shutil.copytree(settings.index_dir, h / "indexes")
    s = replace(settings, home=h, admin_token="s3cret", import_max_rows=1_000)
    with TestClient(create_app(s, assistant=Assistant(s, embedder=embedder, log=lambda *a: None))) as c:
        yield c


def test_wenban_import_rebuilds_the_index_after_a_change(home, monkeypatch, tmp_path, capsys):
    from index.build import current_build, read_manifest
    from wenban import cli

    settings, db = home
    items = store.items(db, "guangan")[:30]
    path = tmp_path / "demo.csv"
    path.write_bytes(_csv_bytes([[it["code"], it["name"], it["department"], it["url"]] for it in items]))
    monkeypatch.setenv("WENBAN_HOME", str(settings.home))
    monkeypatch.setenv("WENBAN_MODEL", str(settings.model_path))
    assert cli.main(["import", "demo", str(path)]) == 0
    assert current_build(settings, "demo") is not None
    assert read_manifest(settings, "demo")["item_count"] == 30
    capsys.readouterr()
    assert cli.main(["import", "demo", str(path)]) == 0  # unchanged: nothing rebuilt
    assert "unchanged" in capsys.readouterr().out
