"""The question library: store and audit, use at question time, other servers
noticing a change, the admin API, CSV export/import and the CLI."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from assistant.answer import Assistant
from store import library as lib
from store.db import open_db
from wenban.config import REPO_ROOT

MARRIAGE = "补领结婚证"


def code_of(assistant, catalogue: str, name: str) -> str:
    return next(it["code"] for it in assistant.retriever(catalogue).items if it["name"] == name)


def test_store_audits_every_change_and_bumps_the_version(tmp_path):
    db = lib.open_db(tmp_path / "l.db")
    assert lib.version(db, "c") == 0
    lib.add_question(db, "c", "结婚证弄丢了怎么办？", code="X1", who="qa1")
    lib.add_question(db, "c", "结婚证 弄丢了怎么办", code="X2", who="qa2")  # the same question: replaces
    lib.add_synonym(db, "c", "扯证", "结婚登记", who="qa1")
    assert lib.version(db, "c") == 3 and lib.version(db, "other") == 0
    assert [(q["code"], q["who"]) for q in lib.questions(db, "c")] == [("X2", "qa2")]
    trail = lib.audit(db, "c")
    assert [(a["who"], a["action"]) for a in trail] == [("qa1", "synonym"), ("qa2", "question"), ("qa1", "question")]
    assert trail[0]["what"] == {"everyday": "扯证", "official": "结婚登记"} and all(a["at"] for a in trail)


@pytest.mark.parametrize("kw, needle", [
    ({"question": "  ", "code": "X"}, "question"),
    ({"question": "问", "code": None}, "code / out_of_scope"),
    ({"question": "问", "code": "X", "out_of_scope": True}, "code / out_of_scope"),
    ({"question": "问", "code": "NOPE", "known_codes": {"X"}}, "NOPE"),
    ({"question": "？？", "code": "X"}, "punctuation"),
])
def test_store_refuses_bad_attachments(tmp_path, kw, needle):
    db = lib.open_db(tmp_path / "l.db")
    with pytest.raises(lib.LibraryError, match=needle):
        lib.add_question(db, "c", **kw)
    assert lib.version(db, "c") == 0


def test_csv_round_trip_and_row_errors(tmp_path):
    db = lib.open_db(tmp_path / "a.db")
    lib.add_question(db, "c", "砍自家门口的树要批吗", code="T1", who="qa1")
    lib.add_question(db, "c", "今天吃什么", out_of_scope=True, who="qa1")
    lib.add_synonym(db, "c", "扯证", "结婚登记", who="qa1")
    text = lib.export_csv(db, "c")
    other = lib.open_db(tmp_path / "b.db")
    assert lib.import_csv(other, "c", text, who="qa2") == {"questions": 2, "synonyms": 1}
    assert [(q["question"], q["code"], q["out_of_scope"]) for q in lib.questions(other, "c")] == \
        [("砍自家门口的树要批吗", "T1", 0), ("今天吃什么", None, 1)]
    bad = text + "question,没有编码的问题,,,,,,\nwhat,,,,,,,\n"
    with pytest.raises(lib.LibraryError) as e:
        lib.import_csv(other, "c", bad, who="qa2")
    assert "row 5: code / out_of_scope" in str(e.value) and "row 6: kind" in str(e.value)
    assert len(lib.questions(other, "c")) == 2  # nothing written


def test_an_exact_repeat_is_answered_with_the_curated_item(assistant):
    q = "我老婆那本红本本找不着了咋整"
    before = assistant.ask(q, "guangan")
    code = code_of(assistant, "guangan", MARRIAGE)
    lib.add_question(assistant.db, "guangan", q, code=code, who="test")
    assistant.libraries.drop("guangan")
    after = assistant.ask(q + "？", "guangan")
    assert after["status"] == "answer" and after["item"]["code"] == code
    assert after["why"]["library"] == {"question": q, "code": code, "exact": True}
    assert before["why"]["library"] is None
    assert after["alternatives"] and all(a["code"] != code for a in after["alternatives"])


def test_a_near_question_is_strong_evidence(assistant):
    code = code_of(assistant, "guangan", MARRIAGE)
    lib.add_question(assistant.db, "guangan", "结婚的那个证件找不到了怎么重新弄一本", code=code, who="test")
    assistant.libraries.drop("guangan")
    a = assistant.ask("结婚的证件找不到了怎么重新弄", "guangan")
    assert a["why"]["library"]["code"] == code and a["why"]["library"]["exact"] is False
    assert a["candidates"][0]["code"] == code


def test_an_out_of_scope_mark_says_not_found(assistant):
    q = "区政府食堂今天中午吃什么菜"
    lib.add_question(assistant.db, "guangan", q, out_of_scope=True, who="test")
    assistant.libraries.drop("guangan")
    a = assistant.ask(q, "guangan")
    assert a["status"] == "not_found" and a["not_found"]["reason"] == "out_of_scope_curated"


def test_another_server_notices_a_change_through_the_store(settings, embedder):
    """Two assistants on one database stand for two replicas: a synonym added
    through one takes effect on the other's next question, with no rebuild."""
    one = Assistant(settings, embedder=embedder, log=lambda *a: None)
    two = Assistant(settings, embedder=embedder, log=lambda *a: None)
    two.libraries.check_every = 0.0
    q = "我家孩子想读那种会打架的学校"
    assert "武术" not in two.ask(q, "guangdong")["why"]["tokens"]
    lib.add_synonym(one.db, "guangdong", "打架的学校", "武术学校", who="test")
    assert "武术学校" in two.ask(q, "guangdong")["why"]["vocabulary"][0]["terms"]


AUTH = {"Authorization": "Bearer s3cret", "X-Wenban-User": "qa-wang"}


@pytest.fixture(scope="module")
def admin(settings, assistant):
    with TestClient(create_app(replace(settings, admin_token="s3cret"), assistant=assistant)) as c:
        yield c


def test_api_attach_synonym_and_list(admin, assistant):
    code = code_of(assistant, "guangan", "残疾人证新办")
    r = admin.post("/api/v1/admin/library/questions", headers=AUTH,
                   json={"catalogue": "guangan", "question": "腿脚不好想办个本子领补助", "code": code})
    assert r.status_code == 201 and r.json()["code"] == code and r.json()["who"] == "qa-wang"
    a = admin.post("/api/v1/ask", json={"question": "腿脚不好想办个本子领补助", "catalogue": "guangan"}).json()
    assert a["status"] == "answer" and a["item"]["code"] == code  # the very next question
    r = admin.post("/api/v1/admin/library/synonyms", headers=AUTH,
                   json={"catalogue": "guangan", "everyday": "红本本", "official": "结婚证", "who": "质检员小李"})
    assert r.status_code == 201 and r.json()["official"] == "结婚证"
    listing = admin.get("/api/v1/admin/library?catalogue=guangan", headers=AUTH).json()
    assert any(q["question"] == "腿脚不好想办个本子领补助" for q in listing["questions"])
    assert any(s["everyday"] == "红本本" for s in listing["synonyms"])
    assert listing["audit"][0]["who"] == "质检员小李" and listing["version"] >= 2


@pytest.mark.parametrize("path, body, status, needle", [
    ("questions", {"catalogue": "guangan", "question": "问", "code": "NOPE"}, 422, "NOPE"),
    ("questions", {"catalogue": "guangan", "question": "问"}, 422, "out_of_scope"),
    ("questions", {"catalogue": "guangan", "question": "问", "out_of_scope": True, "unanswered_id": 987654}, 422,
     "unanswered_id"),
    ("questions", {"catalogue": "nope", "question": "问", "out_of_scope": True}, 404, "nope"),
    ("synonyms", {"catalogue": "guangan", "everyday": "", "official": "结婚登记"}, 422, "everyday"),
])
def test_api_bad_input_is_4xx_with_reasons(admin, path, body, status, needle):
    r = admin.post(f"/api/v1/admin/library/{path}", headers=AUTH, json=body)
    assert r.status_code == status and needle in r.json()["detail"]


def test_api_library_needs_the_token(admin):
    assert admin.get("/api/v1/admin/library?catalogue=guangan").status_code == 401


def run(settings, *args):
    env = {"WENBAN_HOME": str(settings.home), "WENBAN_MODEL": str(settings.model_path), "PATH": "/usr/bin:/bin",
           "PYTHONPATH": str(REPO_ROOT)}
    return subprocess.run([sys.executable, "-m", "wenban.cli", *args], capture_output=True, text=True,
                          env=env, cwd=REPO_ROOT, timeout=120)


def test_cli_synonym_attach_export_import(settings, assistant, tmp_path):
    code = code_of(assistant, "guangan", MARRIAGE)
    r = run(settings, "library", "synonym", "guangan", "领红本", "结婚登记", "--who", "cli-test")
    assert r.returncode == 0 and "领红本 → 结婚登记" in r.stdout
    r = run(settings, "library", "attach", "guangan", "红本本丢了去哪补", "--code", code, "--who", "cli-test")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "lib.csv"
    assert run(settings, "library", "export", "guangan", "-o", str(out)).returncode == 0
    assert "红本本丢了去哪补" in out.read_text(encoding="utf-8") and "领红本" in out.read_text(encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text("kind,question,code\nquestion,某问题,NOPE\n", encoding="utf-8")
    r = run(settings, "library", "import", "guangan", str(bad))
    assert r.returncode == 2 and "row 2: code" in r.stderr
    r = run(settings, "library", "import", "guangan", str(out))
    assert r.returncode == 0 and "questions" in r.stdout
    db = open_db(settings.db_path)
    assert any(a["who"] == "cli-test" for a in lib.audit(db, "guangan"))
    r = run(settings, "library", "attach", "guangan", "某问题", "--code", "NOPE")
    assert r.returncode == 2 and "NOPE" in r.stderr


def test_the_library_tables_live_in_the_store(settings):
    con = sqlite3.connect(settings.db_path)
    lib.ensure_schema(lib.open_db(settings.db_path))
    names = {r[0] for r in con.execute("select name from sqlite_master where type = 'table'")}
    assert {"library_questions", "library_synonyms", "library_audit", "library_versions"} <= names


def test_a_curated_item_the_level_does_not_offer_leaves_the_answer_to_search(assistant):
    r = assistant.retriever("guangdong")
    provincial = next(it for it in r.items if it["name"] == "弩的购置审批" and it.get("level") == "省")
    q = "想买一把弩当运动器材要先批吗"
    lib.add_question(assistant.db, "guangdong", q, code=provincial["code"], who="test")
    assistant.libraries.drop("guangdong")
    assert assistant.ask(q, "guangdong", level="省")["item"]["code"] == provincial["code"]
    city = assistant.ask(q, "guangdong", level="市")
    assert city["why"]["library"] is None or not city["why"]["library"]["exact"]
    shown = [city["item"]] if city.get("item") else city["candidates"]
    assert provincial["code"] not in [c["code"] for c in shown]
