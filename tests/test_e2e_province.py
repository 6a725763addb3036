"""The operator console's area (地区) and level (层级) filter in a real browser, and
``level`` in ``POST /api/v1/ask``: the real server on a loopback port, Debian's
headless Chromium driven by Playwright (as in ``tests/test_e2e.py``).

弩的购置审批 is a 三级四同 item of the guangdong catalogue: implemented by
广东省公安厅 (440000, 省) and by 广州市公安局 (440100, 市).

``WENBAN_SCREENSHOTS=docs/screenshots`` saves ``operator-area.png``.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.test_e2e import (
    CHROMIUM,
    FLAGS,
    free_port,
    no_inline_script,
    outside_requests,
)

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium: make test installs it")

ITEM = "弩的购置审批"


@pytest.fixture(scope="module")
def server(settings):
    # only the server loads the model: one model-loading process at a time
    port = free_port()
    env = {**os.environ, "WENBAN_HOME": str(settings.home), "WENBAN_MODEL": str(settings.model_path)}
    log_path = settings.home / "server-province.log"
    with open(log_path, "w") as log:
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
            raise RuntimeError(log_path.read_text())
        time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("server did not become ready")
    yield base
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="zh-CN")
    pg = ctx.new_page()
    yield pg
    ctx.close()


def rows(page) -> list[list[str]]:
    """The candidates on screen: [name, department, area · level] per row."""
    return page.eval_on_selector_all(
        "#rows tr", "trs => trs.map(tr => [1, 2, 3].map(i => tr.cells[i].innerText.trim()))")


def search(page, question: str) -> list[list[str]]:
    """Type a question and wait until the rows on screen belong to it."""
    page.fill("#q", question)
    return settled(page)


def settled(page) -> list[list[str]]:
    page.wait_for_function("() => !document.querySelector('#rows').classList.contains('stale')"
                           " && document.querySelectorAll('#rows tr').length > 0")
    return rows(page)


def test_console_area_and_level_filter(server, page):
    outside = outside_requests(page, server)
    page.goto(server + "/operator")
    page.wait_for_selector("#cat option[value=guangdong]", state="attached")
    page.select_option("#cat", "guangdong")
    # the datalist offers the configured sites and the catalogue's areas
    # (waited for one by one: the page may fill the catalogue's areas and the sites in either order)
    page.wait_for_selector("#areas option[value='440100']", state="attached")
    page.wait_for_selector("#areas option[value='广州市政务服务中心']", state="attached")

    # the whole catalogue first: the province's implementation is among the candidates
    whole = search(page, ITEM)
    assert any(r[0].startswith(ITEM) and "广东省公安厅" in r[1] for r in whole), whole

    page.fill("#area", "440100")
    page.dispatch_event("#area", "change")
    page.select_option("#level", "市")
    at_city = settled(page)
    assert at_city[0][0].startswith(ITEM) and at_city[0][1] == "广州市公安局", at_city
    assert all(r[2].endswith("· 市") for r in at_city), at_city
    assert all("广州市" in r[2] for r in at_city), at_city
    # Enter opens the first candidate: 广州市's, with its area-qualified department
    page.focus("#q")
    page.keyboard.press("Enter")
    detail = page.wait_for_selector("#detail h3")
    assert detail.inner_text() == ITEM
    assert "广州市公安局" in page.inner_text("#detail") and "广东省公安厅" not in page.inner_text("#detail")
    no_inline_script(page)
    if os.environ.get("WENBAN_SCREENSHOTS"):
        out = Path(os.environ["WENBAN_SCREENSHOTS"])
        out.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(out / "operator-area.png"), full_page=True)

    # 省 at the same area: the province's implementation instead, and nothing of the city's
    page.select_option("#level", "省")
    at_province = settled(page)
    assert at_province[0][0].startswith(ITEM) and at_province[0][1] == "广东省公安厅", at_province
    assert all(r[2] == "广东省 · 省" for r in at_province), at_province
    assert set(map(tuple, at_province)).isdisjoint(map(tuple, at_city))

    # 全部: the city's implementation leads, the province's is folded under it
    page.select_option("#level", "")
    both = settled(page)
    assert both[0][1] == "广州市公安局" and both[0][2] == "广州市 · 市", both

    # a bad area says why, in the status line
    page.fill("#area", "999999")
    page.dispatch_event("#area", "change")
    page.wait_for_function("() => /行政区划|服务/.test(document.querySelector('#status').textContent)")
    assert page.query_selector_all("#rows tr") == []
    assert outside == []


def test_console_site_name_follows_its_catalogue_and_keys_still_work(server, page):
    page.goto(server + "/operator")
    page.wait_for_selector("#cat option[value=guangan]", state="attached")
    page.select_option("#cat", "guangan")
    page.wait_for_selector("#areas option[value='广州市政务服务中心']", state="attached")
    page.fill("#area", "广州市政务服务中心")
    page.dispatch_event("#area", "change")
    assert page.input_value("#cat") == "guangdong"  # the site answers from its own catalogue
    got = search(page, ITEM)
    assert got[0][1] == "广州市公安局", got
    # Alt+digit still switches the catalogue; the area filter then says it does not fit
    page.focus("#q")
    first = page.eval_on_selector("#cat", "s => s.options[0].value")
    page.keyboard.press("Alt+1")
    assert page.input_value("#cat") == first


def test_ask_level(server):
    def ask(level):
        return httpx.post(server + "/api/v1/ask", json={"question": ITEM, "site": "440100", "level": level},
                          timeout=30)

    city, province = ask("市").json(), ask("省").json()
    assert city["status"] == "answer" and city["item"]["department_full"] == "广州市公安局"
    assert province["status"] == "answer" and province["item"]["department_full"] == "广东省公安厅"
    assert all(c["level"] == "省" for c in province["candidates"])
    bad = ask("乡")
    assert bad.status_code == 422 and "level" in bad.text
    schema = httpx.get(server + "/openapi.json").json()["components"]["schemas"]["AskRequest"]
    assert schema["properties"]["level"]["anyOf"][0]["enum"] == ["省", "市", "县"]
