"""The three pages in a real browser: the real server on a loopback port, driven
through Debian's headless Chromium by Playwright.

``WENBAN_SCREENSHOTS=docs/screenshots`` also saves the README's screenshots.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
TOKEN = "e2e-admin-token"
# The flags this machine's closed network needs (see the machine notes).
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium: make test installs it")


# an image has arrived and decoded (waited for, not checked once: the server may be busy)
LOADED = "sel => { const i = document.querySelector(sel); return !!i && i.complete && i.naturalWidth > 0; }"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(settings, assistant):
    from assistant.dialogue import Dialogue
    from eval.report import write_reports
    from eval.run import evaluate, evaluate_dialogues

    # a small eval report for the quality page to show
    report = evaluate(assistant, "guangdong", split="heldout")
    write_reports([report], [evaluate_dialogues(Dialogue(assistant), "guangdong")],
                  settings.home / "eval" / "latest")
    port = free_port()
    env = {**os.environ, "WENBAN_HOME": str(settings.home), "WENBAN_MODEL": str(settings.model_path),
           "WENBAN_ADMIN_TOKEN": TOKEN}
    log = open(settings.home / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "wenban.cli", "serve", "--port", str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise RuntimeError((settings.home / "server.log").read_text())
        time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("server did not become ready")
    yield base
    proc.terminate()
    proc.wait(timeout=20)
    log.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    ctx.grant_permissions(["clipboard-read", "clipboard-write"])
    pg = ctx.new_page()
    yield pg
    ctx.close()


def shot(page, name: str) -> None:
    out = os.environ.get("WENBAN_SCREENSHOTS")
    if out:
        Path(out).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(out) / f"{name}.png"), full_page=True)


def choose_catalogue(page, name: str) -> None:
    page.wait_for_selector(f"#cat option[value={name}]", state="attached")
    page.select_option("#cat", name)


def kiosk_ask(page, server: str, catalogue: str, question: str) -> None:
    page.goto(server + "/")
    choose_catalogue(page, catalogue)
    page.fill("#q", question)
    page.click("button[type=submit]")


def test_kiosk_answer_card_with_qr_and_feedback(server, page):
    kiosk_ask(page, server, "guangdong", "执业药师首次注册怎么办")
    card = page.wait_for_selector("#answer")
    text = card.inner_text()
    assert "执业药师首次注册" in text and "广东省药品监督管理局" in text
    assert "《执业药师首次注册申请表》" in text  # the materials checklist
    page.wait_for_function(LOADED, arg=".qr img", timeout=15000)
    assert float(page.eval_on_selector("body", "b => parseFloat(getComputedStyle(b).fontSize)")) >= 20
    shot(page, "kiosk")
    page.click("#unhelpful")
    page.wait_for_selector("#thanks:has-text('谢谢')")
    q = httpx.get(server + "/api/v1/admin/quality", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert any(f["catalogue"] == "guangdong" for f in q["not_helpful"])


def test_kiosk_clarify_by_tapping_then_follow_up(server, page):
    kiosk_ask(page, server, "guangdong", "我想考驾照")
    page.wait_for_selector("#clarify")
    options = page.query_selector_all("#clarify .option")
    assert 2 <= len(options) <= 6
    assert all(o.bounding_box()["height"] >= 48 for o in options)  # touch targets
    options[0].click()
    card = page.wait_for_selector("#answer")
    assert "机动车驾驶证初次申领" in card.inner_text()
    page.fill("#q", "要带什么材料")
    page.click("button[type=submit]")
    follow = page.wait_for_selector("#followup")
    assert "申请材料" in follow.inner_text()


def test_kiosk_not_found_says_where_to_go(server, page):
    kiosk_ask(page, server, "guangan", "推荐一部好看的电影，我电话13812345678")
    nf = page.wait_for_selector("#notfound")
    assert "12345" in nf.inner_text()


def test_operator_keyboard_flow_and_copy(server, page):
    page.goto(server + "/operator")
    choose_catalogue(page, "guangan")
    page.focus("#q")
    page.keyboard.type("身份证丢了怎么办")
    page.wait_for_selector("#rows tr")
    rows = page.query_selector_all("#rows tr")
    assert len(rows) >= 5
    page.keyboard.press("ArrowDown")
    assert page.get_attribute("#rows tr:nth-child(2)", "class") == "sel"
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Enter")
    detail = page.wait_for_selector("#spoken")
    spoken = detail.inner_text()
    assert spoken.startswith("您好，您咨询的") and "区公安分局" in spoken
    shot(page, "operator")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#copied:has-text('已复制')")
    assert page.evaluate("navigator.clipboard.readText()") == spoken


def test_quality_page_needs_the_token(server, page):
    httpx.post(server + "/api/v1/ask", json={"question": "推荐一部好看的电影，我电话13812345678", "catalogue": "guangan"})
    page.goto(server + "/quality")
    page.fill("#token", "wrong")
    page.click("#login button")
    page.wait_for_selector("#err:has-text('admin token required')")
    assert page.query_selector("#metrics") is None
    page.fill("#token", TOKEN)
    page.click("#login button")
    page.wait_for_selector("#metrics")
    assert "department@1" in page.inner_text("#metrics")
    page.wait_for_function(LOADED, arg="img", timeout=15000)  # the per-department chart
    unanswered = page.inner_text("#unanswered")
    assert "推荐一部好看的电影" in unanswered and "13812345678" not in unanswered  # masked
    shot(page, "quality")
