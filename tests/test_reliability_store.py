"""Issue 11, the store: concurrent writers, a full disk, retention, masking.

Real threads and real processes against one SQLite file; a full disk is
simulated at the store boundary (the error SQLite raises) and, when this
process may mount one, on a real 1 MiB tmpfs.
"""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
import subprocess
import threading
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from assistant.privacy import mask
from store import db as store

SESSION = "0123456789abcdef0123456789abcdef"


# ------------------------------------------------------- concurrent writes --

def _writer(path: str, kind: str, n: int, errors: list, lock: threading.Lock) -> None:
    db = store.open_db(path)
    for i in range(n):
        try:
            if kind == "feedback":
                store.add_feedback(db, SESSION, f"code-{i}", i % 2 == 0, "评论", "guangan")
            else:
                assert store.log_unanswered(db, "guangan", "not_found", f"问题{i}", [], SESSION)
        except Exception as e:  # noqa: BLE001 - every failure is what this test counts
            with lock:
                errors.append(repr(e))
    db.close()


def test_16_feedback_and_8_question_writers_in_threads_lose_nothing(tmp_path):
    path = str(tmp_path / "w.db")
    store.open_db(path).close()
    errors: list[str] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=_writer, args=(path, "feedback", 60, errors, lock)) for _ in range(16)]
    threads += [threading.Thread(target=_writer, args=(path, "unanswered", 60, errors, lock)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    db = store.open_db(path)
    assert db["feedback"].count == 16 * 60 and db["unanswered"].count == 8 * 60


def _process_writer(path: str, kind: str, n: int, q) -> None:
    errors: list[str] = []
    _writer(path, kind, n, errors, threading.Lock())
    q.put(errors)


def test_writers_in_separate_processes_queue_instead_of_failing(tmp_path):
    path = str(tmp_path / "p.db")
    store.open_db(path).close()
    ctx = multiprocessing.get_context("fork")
    q = ctx.Queue()
    procs = [ctx.Process(target=_process_writer, args=(path, kind, 80, q))
             for kind in ("feedback", "feedback", "feedback", "unanswered")]
    for p in procs:
        p.start()
    errors = [e for _ in procs for e in q.get(timeout=120)]
    for p in procs:
        p.join(timeout=30)
    assert errors == []
    db = store.open_db(path)
    assert db["feedback"].count == 240 and db["unanswered"].count == 80


def test_the_api_answers_every_concurrent_feedback_and_not_found(rel_client):
    """Through the HTTP layer, 8 threads posting feedback and 4 asking questions
    the catalogue lacks (each logged): no 500."""
    codes: list[int] = []
    lock = threading.Lock()

    # feedback must name a live session and an item it was given (issue 11, contract)
    a = rel_client.post("/api/v1/ask", json={"question": "孩子刚出生怎么上户口", "catalogue": "guangan"}).json()
    sid, code = a["session_id"], (a["item"] or a["candidates"][0])["code"]

    def post(i: int) -> None:
        for j in range(15):
            r = rel_client.post("/api/v1/feedback", json={"session_id": sid, "answer_code": code,
                                                          "helpful": False, "comment": f"没用 {i}-{j}"})
            with lock:
                codes.append(r.status_code)

    def ask(i: int) -> None:
        for _ in range(5):
            r = rel_client.post("/api/v1/ask", json={"question": "今天天气怎么样", "catalogue": "guangan"})
            with lock:
                codes.append(r.status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(8)]
    threads += [threading.Thread(target=ask, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert len(codes) == 8 * 15 + 4 * 5
    assert set(codes) <= {200, 201}, sorted(set(codes))


# ---------------------------------------------------------------- full disk --

def _disk_full(*args, **kwargs):
    raise sqlite3.OperationalError("database or disk is full")


def test_full_disk_feedback_is_a_clear_503_and_questions_are_still_answered(rel_client, monkeypatch):
    db = rel_client.app.state.ctx.assistant().db
    a = rel_client.post("/api/v1/ask", json={"question": "孩子刚出生怎么上户口", "catalogue": "guangan"}).json()
    before_fb, before_q = db["feedback"].count, db["unanswered"].count
    failures = store.log_failure_count()
    monkeypatch.setattr("sqlite_utils.db.Table.insert", _disk_full)

    r = rel_client.post("/api/v1/feedback", json={"session_id": a["session_id"], "catalogue": "guangan",
                                                  "answer_code": a["item"]["code"], "helpful": True})
    assert r.status_code == 503
    assert "反馈未能保存" in r.json()["detail"] and "could not be saved" in r.json()["detail"]
    r = rel_client.post("/api/v1/ask", json={"question": "推荐一部好看的电影", "catalogue": "guangan"})
    assert r.status_code == 200 and r.json()["status"] == "not_found"
    assert store.log_failure_count() == failures + 1

    monkeypatch.undo()
    assert (db["feedback"].count, db["unanswered"].count) == (before_fb, before_q)  # nothing half-written


def test_a_real_full_filesystem(tmp_path, settings):
    """The same on a real 1 MiB tmpfs, when this process may mount one (root, outside CI sandboxes)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)],
                      capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        db = store.open_db(mnt / "wenban.db")
        stored = 0
        with pytest.raises(store.StoreUnavailable, match="full"):
            for i in range(100_000):
                store.add_feedback(db, SESSION, "x", False, "很长的意见" * 200, "guangan")
                stored += 1
        assert db["feedback"].count == stored  # the failed one left nothing behind
        assert store.log_unanswered(db, "guangan", "not_found", "问题" * 200, []) is False
        db.close()
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


# ---------------------------------------------------------------- retention --

def test_old_questions_and_comments_are_deleted_at_start(tmp_settings, embedder):
    from assistant.answer import Assistant

    settings = replace(tmp_settings, retention_days=30)
    db = store.open_db(settings.db_path)
    old = (datetime.now(timezone.utc) - timedelta(days=31)).isoformat(timespec="seconds")
    db["unanswered"].insert({"at": old, "catalogue": "x", "kind": "not_found", "question": "旧问题",
                             "candidates": "[]", "session_id": None})
    db["feedback"].insert({"at": old, "session_id": SESSION, "catalogue": "x", "answer_code": "1",
                           "helpful": 0, "comment": "旧意见"})
    store.log_unanswered(db, "x", "not_found", "新问题", [])
    with TestClient(create_app(settings, assistant=Assistant(settings, embedder=embedder, log=lambda *a: None))):
        pass  # startup enforces retention
    assert [r["question"] for r in db.query("select question from unanswered")] == ["新问题"]
    assert db["feedback"].count == 0
    assert store.purge_older_than(db, 0) == 0  # 0 keeps everything


# ------------------------------------------------------------------ masking --

@pytest.mark.parametrize("text, gone", [
    ("卡号6222021234567890123", "6222021234567890123"),
    ("卡号 6222 0212 3456 7890", "0212 3456"),
    ("卡号6222-0212-3456-7890", "0212-3456"),
    ("手机+8613812345678", "13812345678"),
    ("手机 +86 138 1234 5678", "1234 5678"),
    ("手机138-1234-5678", "1234-5678"),
    ("身份证 511602 19900101 1234", "19900101"),
    ("身份证511602-19900101-123X", "19900101"),
    ("邮箱 zhang.san@example.com", "zhang.san"),
    ("护照号E12345678", "12345678"),
    ("护照号EA1234567", "1234567"),
])
def test_every_kind_of_personal_number_is_masked(text, gone):
    assert gone not in mask(text)


def test_item_codes_and_ordinary_numbers_stay(settings):
    for keep in ("事项编码512B0371900000-511602000000-000-11511301008778255F-1-00",
                 "114400000069401674244010901400406", "12345热线", "2024年3月1日", "第3窗口"):
        assert mask(keep) == keep


def test_masked_in_the_stored_log_the_feedback_and_the_access_log(rel_client, caplog):
    import logging

    secret = "卡号6222021234567890123 手机+86 138 1234 5678 邮箱 li.si@example.com 护照E12345678"
    with caplog.at_level(logging.INFO, logger="wenban.access"):
        rel_client.post("/api/v1/ask", json={"question": "推荐一部电影 " + secret, "catalogue": "guangan"})
        rel_client.post("/api/v1/feedback", json={"session_id": SESSION, "answer_code": "x",
                                                  "helpful": False, "comment": secret})
        rel_client.get("/api/v1/search", params={"q": secret, "catalogue": "guangan"})
        rel_client.get("/api/v1/qr", params={"data": "https://a.gov.cn/?tel=13812345678"})
        rel_client.get(f"/api/v1/items/{'6222021234567890123'}")
    db = rel_client.app.state.ctx.assistant().db
    stored = " ".join(r["question"] for r in store.unanswered(db, limit=5))
    stored += " ".join(r["comment"] or "" for r in store.feedback(db, limit=5))
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name == "wenban.access")
    for text in (stored, logged):
        for raw in ("6222021234567890123", "1234 5678", "li.si@", "E12345678", "13812345678"):
            assert raw not in text, (raw, text)
    assert "/api/v1/search" in logged and "/api/v1/qr" in logged


@pytest.fixture(scope="module")
def rel_client(settings, embedder, tmp_path_factory):
    """The app over its own copy of the home (what it logs stays here)."""
    from assistant.answer import Assistant

    home = tmp_path_factory.mktemp("rel-store")
    shutil.copy(settings.db_path, home / "wenban.db")
    shutil.copytree(settings.index_dir, home / "indexes")
    s = replace(settings, home=home)
    with TestClient(create_app(s, assistant=Assistant(s, embedder=embedder, log=lambda *a: None))) as c:
        yield c
