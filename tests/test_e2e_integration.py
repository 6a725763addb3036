# ruff: noqa: F811 - the fixtures are imported from test_e2e
"""Browser tests for page features whose backend other helpers build (alternatives,
都不是, dispatch, department_full, sites). The lead runs these after merging; on the
pages branch alone they fail where the backend field is absent.

    python -m pytest tests/test_e2e_integration.py
"""

from __future__ import annotations

import httpx

from tests.test_e2e import TOKEN, browser, kiosk_ask, page, server, to_answer  # noqa: F401 - fixtures

COMPLAINT = "我家楼下的烧烤店每天半夜还很吵，油烟也大"


def test_alternatives_come_from_the_answer(server, page):
    a = httpx.post(server + "/api/v1/ask", json={"question": "执业药师首次注册怎么办", "catalogue": "guangdong"}).json()
    assert 2 <= len(a["alternatives"]) <= 3
    kiosk_ask(page, server, "guangdong", "执业药师首次注册怎么办")
    page.wait_for_selector("#alternatives .alt")
    shown = page.eval_on_selector_all("#alternatives .alt", "bs => bs.map(b => b.firstChild.textContent.trim())")
    assert shown == [x["name"] for x in a["alternatives"]]


def test_none_of_these_on_a_clarify(server, page):
    kiosk_ask(page, server, "guangdong", "我想考驾照")
    page.wait_for_selector("#clarify")
    page.click("#none-of-these")
    nf = page.wait_for_selector("#notfound")
    assert page.query_selector("#nf-browse") and "12345" in nf.inner_text()
    q = httpx.get(server + "/api/v1/admin/quality", headers={"Authorization": f"Bearer {TOKEN}"}).json()
    assert any(u["question"] == "我想考驾照" for u in q["unanswered"])


def test_department_with_its_district(server, page):
    kiosk_ask(page, server, "guangan", "孩子刚出生怎么上户口")
    to_answer(page)
    assert page.inner_text("#dept") == "广安区公安分局"


def test_a_complaint_gets_its_own_card(server, page):
    kiosk_ask(page, server, "guangan", COMPLAINT)
    card = page.wait_for_selector("#dispatch")
    text = card.inner_text()
    assert "负责处理" in text and "12345" in text and "请准备好" in text


def test_a_complaint_with_its_own_item_shows_the_item_and_who_handles_it(server, page):
    q = "老板拖欠工资申请劳动仲裁"
    a = httpx.post(server + "/api/v1/ask", json={"question": q, "catalogue": "guangan"}).json()
    assert a["intent"] == "both" and a["status"] == "answer" and a["dispatch"]
    kiosk_ask(page, server, "guangan", q)
    page.wait_for_selector("#answer")
    assert a["item"]["name"] in page.inner_text("#answer")
    assert a["dispatch"]["lead"]["department"] in page.inner_text("#also-raise")


def test_operator_dispatch_view_and_correction(server, page):
    page.goto(server + "/operator")
    page.wait_for_selector("#cat option[value=guangan]", state="attached")
    page.select_option("#cat", "guangan")
    page.focus("#q")
    page.keyboard.type(COMPLAINT)
    page.wait_for_selector("#rows tr")
    page.keyboard.press("Control+d")
    page.wait_for_selector("#d-category")
    assert page.inner_text("#summary").strip()
    page.wait_for_selector("#fix-category option", state="attached")
    page.fill("#fix-token", TOKEN)
    page.click("#fix-send")
    page.wait_for_selector("#fix-result:has-text('已记录更正')")


def test_site_locked_kiosk_sends_its_site(server, page):
    sites = httpx.get(server + "/api/v1/sites").json()
    name = (sites[0] if isinstance(sites, list) else sites["sites"][0])["name"]
    sent = []
    page.on("request", lambda r: sent.append(r.post_data) if r.url.endswith("/api/v1/ask") else None)
    page.goto(server + f"/?site={name}")
    page.wait_for_selector("#chips .chip")
    page.fill("#q", "结婚登记")
    page.click("button[type=submit]")
    page.wait_for_selector("#answer, #clarify, #notfound")
    assert any(f'"site":"{name}"' in (d or "") for d in sent)
