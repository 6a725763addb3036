"""The HTTP service under hostile input, load and brute force (issue 11, API side).

Each test reproduces one reported defect: body sizes, uploads before the token,
security headers, starved probes, rate limits and lockout, the audit trail, and
the drift between the OpenAPI document and what the server does.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import replace

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.audit import identity
from api.security import client_address

TOKEN = "s3cret"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
CSV = "事项编码,事项名称,实施机构,事项类型\nH1,老年人优待证办理,区民政局,公共服务\n"


def app_client(settings, assistant, **changes):
    return TestClient(create_app(replace(settings, **changes), assistant=assistant),
                      client=("10.0.0.5", 50000))


@pytest.fixture(scope="module")
def client(settings, assistant):
    with app_client(settings, assistant, admin_token=TOKEN) as c:
        yield c


# ------------------------------------------------------------ 4. body size --

def test_a_big_json_body_is_refused_before_parsing(client):
    body = b'{"question": "' + b"x" * 100_000 + b'", "catalogue": "guangan"}'
    r = client.post("/api/v1/ask", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413
    assert "请求体过大" in r.json()["detail"] and "request body over" in r.json()["detail"]


def test_a_chunked_body_without_length_is_cut_off(client):
    def chunks():  # no Content-Length: the count must stop it
        yield b'{"question": "'
        for _ in range(100):
            yield b"x" * 1024
        yield b'", "catalogue": "guangan"}'

    r = client.post("/api/v1/ask", content=chunks(), headers={"content-type": "application/json"})
    assert r.status_code == 413 and "请求体过大" in r.json()["detail"]


def test_a_normal_question_still_fits(client):
    r = client.post("/api/v1/ask", json={"question": "我想申请低保", "catalogue": "guangan"})
    assert r.status_code == 200 and r.json()["item"]["name"] == "最低生活保障"


# -------------------------------------------- 5. token before the upload --

def test_an_upload_with_a_wrong_token_is_never_read(client, monkeypatch):
    import starlette.formparsers as fp

    parsed = []
    real = fp.MultiPartParser.parse

    async def spy(self):
        parsed.append(1)
        return await real(self)

    monkeypatch.setattr(fp.MultiPartParser, "parse", spy)
    files = {"file": ("list.csv", CSV.encode() * 1000)}
    r = client.post("/api/v1/admin/catalogues/sechall/import", files=files, headers={"Authorization": "Bearer no"})
    assert r.status_code == 401 and not parsed
    r = client.post("/api/v1/admin/catalogues/sechall/import", files={"file": ("list.csv", CSV.encode())},
                    headers=AUTH)
    assert r.status_code == 200 and parsed  # the right token: read and imported


def test_an_upload_over_the_import_cap_is_refused_unread(client, monkeypatch):
    import api.security as sec

    monkeypatch.setattr(sec, "MAX_IMPORT_BYTES", 1000)
    r = client.post("/api/v1/admin/catalogues/sechall/import", files={"file": ("list.csv", b"x" * 200_000)},
                    headers=AUTH)
    assert r.status_code == 413 and "request body over" in r.json()["detail"]


# ------------------------------------------------------- 7. security headers --

@pytest.mark.parametrize("path", ["/", "/operator", "/healthz", "/api/v1/catalogues", "/no-such-page"])
def test_security_headers_on_every_response(client, path):
    r = client.get(path)
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
    assert "base-uri 'none'" in csp and "form-action 'self'" in csp and "img-src 'self' data:" in csp
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY" and r.headers["referrer-policy"] == "no-referrer"


def test_docs_get_their_own_csp(client):
    r = client.get("/docs")
    assert r.status_code == 200 and "'unsafe-inline'" in r.headers["content-security-policy"].split("script-src")[1]
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


# ------------------------------------------------- 9. probes and the queue --

def test_probes_answer_while_questions_fill_the_queue(settings, assistant, monkeypatch):
    """One question runs, one waits, the third is told to retry; probes still answer."""
    from assistant.dialogue import Dialogue

    release, started = threading.Event(), threading.Event()
    real = Dialogue.turn

    def slow(self, *a, **k):
        started.set()
        release.wait(30)
        return real(self, *a, **k)

    monkeypatch.setattr(Dialogue, "turn", slow)
    with app_client(settings, assistant, ask_workers=1, ask_queue=1) as c:
        results: list[int] = []
        ask = lambda: results.append(c.post("/api/v1/ask", json={"question": "低保", "catalogue": "guangan"}).status_code)
        threads = [threading.Thread(target=ask) for _ in range(2)]
        try:
            threads[0].start()
            assert started.wait(30)
            threads[1].start()
            for _ in range(300):  # until the server counts the second one as waiting
                if c.app.state.admission.inside == 2:
                    break
                time.sleep(0.01)
            busy = c.post("/api/v1/ask", json={"question": "低保", "catalogue": "guangan"})
            assert busy.status_code == 503 and busy.headers["retry-after"] == "1"
            assert "系统繁忙" in busy.json()["detail"] and "busy" in busy.json()["detail"]
            assert c.get("/healthz").status_code == 200 and c.get("/readyz").status_code == 200
        finally:
            release.set()
            for t in threads:
                t.join(60)
    assert results == [200, 200]


# --------------------------------------------------- 10. rate limit, lockout --

def test_public_routes_are_rate_limited_per_client(settings, assistant):
    with app_client(settings, assistant, rate_limit="3/minute") as c:
        codes = [c.get("/api/v1/catalogues").status_code for _ in range(4)]
        assert codes == [200, 200, 200, 429]
        r = c.get("/api/v1/catalogues")
        assert int(r.headers["retry-after"]) >= 1 and "请求过于频繁" in r.json()["detail"]
        assert c.get("/healthz").status_code == 200  # probes and pages are not limited
        # a forged X-Forwarded-For from an untrusted peer changes nothing
        assert c.get("/api/v1/catalogues", headers={"X-Forwarded-For": "1.2.3.4"}).status_code == 429


def test_the_forwarded_address_counts_only_behind_a_trusted_proxy():
    scope = {"client": ("10.0.0.1", 1), "headers": [(b"x-forwarded-for", b"6.6.6.6, 203.0.113.9")]}
    assert client_address(scope) == "10.0.0.1"  # nothing trusted by default
    assert client_address(scope, ("10.0.0.0/8",)) == "203.0.113.9"  # the hop the proxy saw
    assert client_address(scope, ("10.0.0.0/8", "203.0.113.9")) == "6.6.6.6"
    assert client_address({**scope, "client": ("192.0.2.1", 1)}, ("10.0.0.0/8",)) == "192.0.2.1"


def test_wrong_admin_tokens_lock_the_client_out(settings, assistant):
    with app_client(settings, assistant, admin_token=TOKEN, admin_max_failures=3) as c:
        for _ in range(3):
            assert c.get("/api/v1/admin/quality", headers={"Authorization": "Bearer guess"}).status_code == 401
        r = c.get("/api/v1/admin/quality", headers=AUTH)  # even the right token, while locked out
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 1
        with TestClient(c.app, client=("10.0.0.6", 1)) as other:  # another client is not locked out
            assert other.get("/api/v1/admin/quality", headers=AUTH).status_code == 200


def test_the_bearer_prefix_is_required(client):
    assert client.get("/api/v1/admin/audit", headers={"Authorization": TOKEN}).status_code == 401
    assert client.get("/api/v1/admin/audit", headers={"Authorization": "bearer " + TOKEN}).status_code == 200


# ----------------------------------------------------------- 10. audit trail --

def test_admin_actions_and_failures_are_audited_and_exported(settings, assistant):
    with app_client(settings, assistant, admin_token=TOKEN) as c:
        start = c.get("/api/v1/admin/audit", headers=AUTH).json()
        since = start[-1]["at"]
        c.post("/api/v1/admin/catalogues/sechall/import", files={"file": ("l.csv", CSV.encode())},
               headers={"Authorization": "Bearer wrong"})
        c.post("/api/v1/admin/catalogues/sechall/import", files={"file": ("l.csv", CSV.encode())}, headers=AUTH)
        rows = c.get("/api/v1/admin/audit", params={"since": since}, headers=AUTH).json()
        mine = [r for r in rows if r["action"] == "POST /api/v1/admin/catalogues/sechall/import"]
        assert [(r["result"], r["status"], r["actor"]) for r in mine][-2:] == [
            ("auth_failed", 401, identity("wrong")), ("ok", 200, identity(TOKEN))]
        assert all(r["client"] == "10.0.0.5" and r["target"] == "sechall" and r["at"] for r in mine)
        csv = c.get("/api/v1/admin/audit", params={"since": since, "format": "csv"}, headers=AUTH)
        assert csv.headers["content-type"].startswith("text/csv")
        assert csv.text.splitlines()[0] == "id,at,actor,client,action,target,result,status,detail"
        assert "auth_failed" in csv.text and TOKEN not in csv.text
        assert c.get("/api/v1/admin/audit", params={"since": "yesterday"}, headers=AUTH).status_code == 422


def test_the_audit_log_refuses_updates_and_deletes(settings, assistant):
    with app_client(settings, assistant, admin_token=TOKEN) as c:
        c.get("/api/v1/admin/audit", headers={"Authorization": "Bearer x"})
    conn = sqlite3.connect(settings.db_path)
    try:
        for sql in ("update audit_log set result = 'ok'", "delete from audit_log"):
            with pytest.raises(sqlite3.DatabaseError, match="append-only"):
                conn.execute(sql)
    finally:
        conn.close()


def test_wenban_audit_export(settings, capsys, monkeypatch):
    from store import audit
    from store import db as store
    from wenban import cli

    audit.record(store.open_db(settings.db_path), actor=None, client="10.9.9.9", action="GET /api/v1/admin/x",
                 result="auth_failed", status=401)
    monkeypatch.setenv("WENBAN_HOME", str(settings.home))
    assert cli.main(["audit", "export", "--format", "csv", "--since", "2000-01-01"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("id,at,actor,client,action") and "10.9.9.9" in out and "auth_failed" in out
    assert cli.main(["audit", "export", "--format", "json", "--since", "2999-01-01"]) == 0
    assert capsys.readouterr().out.strip() == "[]"
    assert cli.main(["audit", "export", "--since", "yesterday"]) == 2


def test_access_log_has_client_admin_and_500s(client, caplog, monkeypatch):
    import logging

    from store import db as store

    def broken(*a, **k):
        raise RuntimeError("disk gone")

    with caplog.at_level(logging.INFO, logger="wenban.access"):
        client.get("/api/v1/admin/audit", headers=AUTH)
        monkeypatch.setattr(store, "department_counts", broken)
        r = client.get("/api/v1/catalogues/guangan/departments")
    assert r.status_code == 500 and "服务器内部错误" in r.json()["detail"]
    assert r.headers["x-frame-options"] == "DENY"
    lines = [rec.getMessage() for rec in caplog.records if rec.name == "wenban.access"]
    assert any("10.0.0.5 GET /api/v1/admin/audit 200" in ln and f"admin={identity(TOKEN)}" in ln for ln in lines)
    assert any("10.0.0.5 GET /api/v1/catalogues/guangan/departments 500" in ln for ln in lines)


# --------------------------------------------------------- 16. contract drift --

def test_feedback_is_strict(client):
    a = client.post("/api/v1/ask", json={"question": "我想申请低保", "catalogue": "guangan"}).json()
    ok = {"session_id": a["session_id"], "answer_code": a["item"]["code"], "catalogue": "guangan"}
    for helpful in (0, 1, "yes", "true", None):
        assert client.post("/api/v1/feedback", json={**ok, "helpful": helpful}).status_code == 422
    assert client.post("/api/v1/feedback", json={**ok, "session_id": "0" * 32, "helpful": True}).status_code == 404
    assert client.post("/api/v1/feedback", json={**ok, "answer_code": "nope", "helpful": True}).status_code == 404
    assert client.post("/api/v1/feedback", json={**ok, "catalogue": "atlantis", "helpful": True}).status_code == 404
    assert client.post("/api/v1/feedback", json={**ok, "helpful": True}).status_code == 201


def test_stock_errors_are_bilingual(client):
    r = client.get("/no/such/route")
    assert r.status_code == 404 and r.json()["detail"].startswith("没有该地址") and "Not Found" in r.json()["detail"]
    r = client.put("/api/v1/ask", json={})
    assert r.status_code == 405 and "不支持该请求方法" in r.json()["detail"] and "POST" in r.headers["allow"]
    r = client.post("/api/v1/ask", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "请求参数有误" in r.json()["detail"]


def test_the_openapi_document_tells_the_truth(client):
    doc = client.get("/openapi.json").json()
    ask = doc["paths"]["/api/v1/ask"]["post"]
    schema = doc["components"]["schemas"]
    assert schema["AskRequest"]["properties"]["question"]["maxLength"] == 500
    assert client.post("/api/v1/ask", json={"question": "户" * 501, "catalogue": "guangan"}).status_code == 422
    assert schema["FeedbackRequest"]["properties"]["helpful"]["type"] == "boolean"
    for code in ("404", "413", "422", "429", "503"):
        ref = ask["responses"][code]["content"]["application/json"]["schema"]["$ref"]
        assert ref.endswith("/ErrorBody")
    assert schema["ErrorBody"]["properties"]["detail"]["type"] == "string"
    assert "HTTPValidationError" not in schema
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            assert any(c.startswith("4") for c in op["responses"]), (method, path)
            if path.startswith("/api/v1/admin/"):
                assert {"401", "429"} <= set(op["responses"]), (method, path)
