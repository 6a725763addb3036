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


def new_page(browser, width: int = 1280, height: int = 900):
    ctx = browser.new_context(viewport={"width": width, "height": height}, locale="zh-CN")
    ctx.grant_permissions(["clipboard-read", "clipboard-write"])
    return ctx, ctx.new_page()


def outside_requests(page, base: str) -> list[str]:
    """Record (and refuse) every request that leaves the server under test."""
    seen: list[str] = []

    def check(route):
        if route.request.url.startswith(base) or route.request.url.startswith(("data:", "blob:")):
            route.continue_()
        else:
            seen.append(route.request.url)
            route.abort()

    page.route("**/*", check)
    return seen


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



def to_answer(page):
    """Wait for the answer; on a clarifying question, tap its first option."""
    page.wait_for_selector("#answer, #clarify")
    if page.query_selector("#clarify"):
        page.click("#clarify .pick >> nth=0")
    return page.wait_for_selector("#answer")


def no_inline_script(page) -> None:
    # the security helper's CSP is script-src 'self': no inline script, no on* handlers
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0
    assert page.evaluate("[...document.querySelectorAll('*')].some(e => [...e.attributes].some(a => a.name.startsWith('on')))") is False


# ------------------------------------------------------------------ kiosk --
def test_kiosk_answer_card_with_qr_and_feedback(server, page):
    kiosk_ask(page, server, "guangdong", "执业药师首次注册怎么办")
    card = page.wait_for_selector("#answer")
    text = card.inner_text()
    assert "执业药师首次注册" in text and "广东省药品监督管理局" in text
    assert "《执业药师首次注册申请表》" in text  # the materials checklist
    for label in ("办理对象", "受理条件", "到现场次数", "网上预约", "快递送达", "投诉电话"):
        assert label in text, label
    # plain words: no item code, no raw URL, no "not in catalogue" wall
    assert "11440000" not in text and "http" not in text and text.count("目录没有登记") <= 1
    assert page.query_selector("#answer a.tel[href^='tel:']") is not None
    page.wait_for_function(LOADED, arg=".qr img", timeout=15000)
    assert float(page.eval_on_selector("body", "b => parseFloat(getComputedStyle(b).fontSize)")) >= 20
    no_inline_script(page)
    shot(page, "kiosk")
    page.click("#unhelpful")
    assert page.is_disabled("#helpful") and page.is_disabled("#unhelpful")  # one vote per answer
    page.fill("#comment", "材料写得不清楚")
    page.click("#send-comment")
    page.wait_for_selector("#thanks:has-text('谢谢')")
    q = httpx.get(server + "/api/v1/admin/quality", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    row = next(f for f in q["not_helpful"] if f["comment"] == "材料写得不清楚")
    assert row["catalogue"] == "guangdong" and row["item_name"] == "执业药师首次注册"
    assert row["question"] == "执业药师首次注册怎么办"


@pytest.mark.parametrize("size", [(390, 844), (1080, 1920), (1920, 1080)], ids=["phone", "portrait", "landscape"])
def test_kiosk_fits_every_screen(server, browser, size):
    ctx, page = new_page(browser, *size)
    try:
        kiosk_ask(page, server, "guangdong", "执业药师首次注册怎么办")
        page.wait_for_selector("#answer")
        page.wait_for_function(LOADED, arg=".qr img", timeout=15000)
        page.wait_for_timeout(600)  # the smooth scroll to the answer
        width = size[0]
        assert page.evaluate("document.documentElement.scrollWidth") <= width  # no sideways scrolling
        for sel in ("button[type=submit]", ".qr img", "#helpful", "#unhelpful", "#print"):
            box = page.eval_on_selector(sel, "e => { const r = e.getBoundingClientRect(); return [r.left, r.right, r.height]; }")
            assert box[0] >= 0 and box[1] <= width, sel
        assert page.eval_on_selector("header h1", "e => e.getBoundingClientRect().height") < 80  # one line
        # feedback buttons keep their words on one line
        assert page.eval_on_selector("#unhelpful", "e => e.getBoundingClientRect().height") < 70
        # the answer was brought into view
        assert page.eval_on_selector("#answer", "e => e.getBoundingClientRect().top") < size[1] / 2
        name = {390: "phone", 1080: "portrait", 1920: "landscape"}[width]
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, f"kiosk-{name}")
    finally:
        ctx.close()


def test_kiosk_never_navigates_away(server, browser):
    ctx, page = new_page(browser, 1080, 1920)
    try:
        outside = outside_requests(page, server)
        page.goto(server + "/?kiosk=1&catalogue=guangan")
        page.wait_for_selector("#chips .chip")
        assert page.is_hidden("#cat-box") and page.eval_on_selector("#cat", "s => s.value") == "guangan"
        page.fill("#q", "安全评价报告以及落实情况的备案")
        page.click("button[type=submit]")
        card = to_answer(page)
        # guangan records hold a name, a department and a link: said kindly, the QR is the main action
        assert page.query_selector("#sparse") and page.query_selector(".qr.main img")
        assert card.query_selector("a[href^='http']") is None  # on a kiosk the link is the QR code
        assert "广安区" in page.inner_text("#dept")  # the department with its district
        start = page.url
        page.click(".qr img")
        page.wait_for_timeout(300)
        assert page.url == start and not outside
        shot(page, "kiosk-sparse")
    finally:
        ctx.close()


def test_kiosk_guide_link_opens_elsewhere(server, page):
    kiosk_ask(page, server, "guangdong", "执业药师首次注册怎么办")
    page.wait_for_selector("#answer")
    assert page.get_attribute("#guide-link", "target") == "_blank"
    assert "noopener" in page.get_attribute("#guide-link", "rel")


def test_kiosk_errors_in_chinese_with_retry(server, page):
    page.goto(server + "/")
    choose_catalogue(page, "guangdong")
    page.click("button[type=submit]")  # nothing typed
    assert page.inner_text("#hint") == "请先说出或输入您要办的事"
    page.fill("#q", "！！！")
    page.click("button[type=submit]")
    page.wait_for_selector("#hint:has-text('问题只有标点或符号')")
    assert "only" not in page.inner_text("#hint")  # Chinese only on the pages
    page.route("**/api/v1/ask", lambda route: route.fulfill(status=503, body='{"detail": "x / y"}'))
    page.fill("#q", "我想考驾照")
    page.click("button[type=submit]")
    err = page.wait_for_selector("#error")
    assert "系统暂时忙" in err.inner_text()
    page.unroute("**/api/v1/ask")
    page.route("**/api/v1/ask", lambda route: route.abort())
    page.click("#retry")
    page.wait_for_selector("#error:has-text('网络连接中断')")
    page.unroute("**/api/v1/ask")
    page.click("#retry")
    page.wait_for_selector("#clarify, #answer")


def test_kiosk_clarify_by_tapping_then_follow_up(server, page):
    kiosk_ask(page, server, "guangdong", "我想考驾照")
    page.wait_for_selector("#clarify")
    options = page.query_selector_all("#clarify .pick")
    assert 2 <= len(options) <= 6
    assert page.query_selector("#clarify #none-of-these")  # a way out of every clarify
    assert all(o.bounding_box()["height"] >= 48 for o in options)  # touch targets
    shot(page, "kiosk-clarify")
    options[0].click()
    card = page.wait_for_selector("#answer")
    assert "机动车驾驶证初次申领" in card.inner_text()
    page.fill("#q", "要带什么材料")
    page.click("button[type=submit]")
    follow = page.wait_for_selector("#followup")
    assert "申请材料" in follow.inner_text()


def test_kiosk_alternatives_under_an_answer(server, page):
    kiosk_ask(page, server, "guangdong", "执业药师首次注册怎么办")
    page.wait_for_selector("#answer")
    alts = page.query_selector_all("#alternatives .alt")
    assert 1 <= len(alts) <= 3
    name = alts[0].evaluate("e => e.firstChild.textContent.trim()")
    alts[0].click()
    page.wait_for_selector(f"#answer h2:has-text('{name}')")


def test_kiosk_browse_without_typing(server, page):
    page.goto(server + "/?catalogue=guangdong")
    page.wait_for_selector("#chips .chip")
    page.click("#by-dept")
    page.wait_for_selector("#departments button")
    dept = page.inner_text("#departments button >> nth=0 >> span >> nth=0")
    page.click("#departments button >> nth=0")
    page.wait_for_selector("#items button[data-i]")
    assert dept in page.inner_text("#items button[data-i] >> nth=0")
    page.click("#items button[data-i] >> nth=0")
    assert dept in page.wait_for_selector("#answer").inner_text()
    page.click("#by-person")
    page.wait_for_selector("#items:has-text('个人办事') button[data-i]")


def test_kiosk_not_found_says_where_to_go(server, page):
    kiosk_ask(page, server, "guangan", "推荐一部好看的电影，我电话13812345678")
    nf = page.wait_for_selector("#notfound")
    assert "12345" in nf.inner_text()
    page.click("#nf-browse")
    page.wait_for_selector("#departments button")


def test_kiosk_print_view_has_hall_and_date(server, page):
    kiosk_ask(page, server, "guangdong", "执业药师首次注册怎么办")
    page.wait_for_selector("#answer")
    page.evaluate("window.print = () => {}")  # no dialog in a headless test
    page.click("#print")
    page.emulate_media(media="print")
    head = page.inner_text("#print-head")
    assert "政务服务大厅" in head and "打印日期" in head and "年" in head
    assert page.is_hidden("#helpful") and page.is_visible("#answer .checklist")


# --------------------------------------------------------------- operator --
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
    assert spoken.startswith("您好，您咨询的") and "区公安分局" in spoken and "http" not in spoken
    no_inline_script(page)
    shot(page, "operator")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#copied:has-text('已复制')")
    assert page.evaluate("navigator.clipboard.readText()") == spoken


def test_operator_race_copies_the_new_query(server, page):
    page.goto(server + "/operator")
    choose_catalogue(page, "guangdong")
    page.focus("#q")
    page.keyboard.type("执业药师首次注册")
    page.wait_for_selector("#rows tr")
    page.keyboard.press("Enter")
    page.wait_for_selector("#spoken")
    old = page.inner_text("#spoken")
    # a new search, then Enter and Ctrl+Enter at once, before any result can arrive
    page.fill("#q", "")
    page.keyboard.type("去香港旅游要办通行证")
    page.keyboard.press("Enter")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#copied:has-text('已复制')", timeout=20000)
    copied = page.evaluate("navigator.clipboard.readText()")
    top = httpx.get(server + "/api/v1/search", params={"q": "去香港旅游要办通行证", "catalogue": "guangdong"}).json()
    assert copied != old and f"“{top['candidates'][0]['name']}”" in copied
    assert page.inner_text("#spoken") == copied


def test_operator_not_found_compare_and_catalogue_keys(server, page):
    page.goto(server + "/operator")
    choose_catalogue(page, "guangdong")
    page.focus("#q")
    page.keyboard.type("今天天气怎么样")
    page.wait_for_selector("#status .warn")
    assert page.query_selector("#rows tr.sel") is None  # nothing stays highlighted
    page.fill("#q", "")
    page.keyboard.type("执业药师注册")
    page.wait_for_selector("#rows tr.sel")
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Shift+Enter")
    page.wait_for_selector("#compare-table")
    # a function, not a bare expression: Playwright eval()s an expression on every poll, which the pages' CSP (no unsafe-eval) refuses once the first check is false
    page.wait_for_function("() => document.querySelectorAll('#compare-table tr:first-child th').length === 3")
    shot(page, "operator-compare")
    page.keyboard.press("Alt+1")
    page.wait_for_function("() => document.getElementById('cat').selectedIndex === 0")
    assert page.is_hidden("#compare")


# ---------------------------------------------------------------- quality --
def test_quality_page_needs_the_token(server, page):
    httpx.post(server + "/api/v1/ask", json={"question": "推荐一部好看的电影，我电话13812345678", "catalogue": "guangan"})
    page.goto(server + "/quality")
    page.fill("#token", "wrong")
    page.click("#login button")
    page.wait_for_selector("#err:has-text('管理口令不对')")
    assert page.query_selector("#metrics") is None
    page.fill("#token", TOKEN)
    page.click("#login button")
    page.wait_for_selector("#metrics")
    assert "首选部门正确率" in page.inner_text("#metrics")
    unanswered = page.inner_text("#unanswered")
    assert "推荐一部好看的电影" in unanswered and "13812345678" not in unanswered  # masked
    no_inline_script(page)
    shot(page, "quality")


def test_quality_in_chinese_per_catalogue_with_actions(server, page):
    for q, cat in (("帮我订一张机票", "guangan"), ("帮我订一张机票", "guangdong")):
        httpx.post(server + "/api/v1/ask", json={"question": q, "catalogue": cat})
    page.goto(server + "/quality")
    page.fill("#token", TOKEN)
    page.click("#login button")
    page.wait_for_selector("#metrics")
    body = page.inner_text("#out")
    assert "D1" not in body and "department@1" not in body and "accuracy" not in body
    assert "评测时间" in body and "Asia/Shanghai" in body
    assert page.query_selector(".bars .bar-row .name")  # the chart names departments
    # the same question in two catalogues is two rows, one under each
    assert {h.get_attribute("data-catalogue") for h in page.query_selector_all(".un-cat")} >= {"guangan", "guangdong"}
    row = page.locator("table.unanswered[data-catalogue=guangan] tr:has-text('帮我订一张机票')")
    row.locator(".handle").click()
    page.wait_for_selector("table.unanswered[data-catalogue=guangan] tr.handled")
    q = httpx.get(server + "/api/v1/admin/quality", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert not any(u["question"] == "帮我订一张机票" and u["catalogue"] == "guangan" for u in q["unanswered"])
    assert any(u["question"] == "帮我订一张机票" and u["catalogue"] == "guangdong" for u in q["unanswered"])
    csv = httpx.get(server + "/api/v1/admin/quality/export", params={"kind": "unanswered"},
                    headers={"Authorization": f"Bearer {TOKEN}"})
    assert csv.status_code == 200 and "帮我订一张机票" in csv.text and csv.text.startswith("\ufeff目录")
    with page.expect_download() as dl:
        page.click(".export[data-kind=feedback]")
    assert dl.value.suggested_filename == "wenban-feedback.csv"
    # an evaluation from the page, with progress
    page.select_option("#run-cat", "guangdong")
    page.click("#run-eval")
    page.wait_for_selector("#run-status:has-text('评测完成')", timeout=240000)
    page.wait_for_selector("#metrics")
    page.click("#logout")
    assert page.is_visible("#token") and page.query_selector("#metrics") is None


# ------------------------------------------------------------------- docs --
@pytest.mark.parametrize("path,ready", [("/docs", ".swagger-ui .info .title"), ("/redoc", "h1:has-text('wenban')")])
def test_api_docs_render_offline(server, page, path, ready):
    outside = outside_requests(page, server)
    page.goto(server + path)
    assert "wenban" in page.wait_for_selector(ready, timeout=30000).inner_text()
    assert not outside
    assert page.evaluate("document.querySelectorAll('script:not([src])').length") == 0


@pytest.mark.parametrize("path,ready", [("/", "#chips .chip"), ("/operator", "#cat option"), ("/quality", "#login")])
def test_pages_work_under_a_strict_script_policy(server, page, path, ready):
    """The security helper's CSP (script-src 'self') must not break any page."""
    violations: list[str] = []
    page.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)

    def with_csp(route):
        resp = route.fetch()
        route.fulfill(response=resp, headers={**resp.headers, "content-security-policy": "script-src 'self'"})

    page.route(server + path, with_csp)
    page.goto(server + path)
    page.wait_for_selector(ready, state="attached")
    if path == "/":
        choose_catalogue(page, "guangdong")
        page.fill("#q", "执业药师首次注册怎么办")
        page.click("button[type=submit]")
        page.wait_for_selector("#answer")
    assert not violations
