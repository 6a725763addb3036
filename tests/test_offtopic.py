"""Everyday messages no office handles (assistant/offtopic.py): the file, the margin, the answer."""

from __future__ import annotations

import numpy as np
import pytest

from assistant.offtopic import MARGIN, PATH, OffTopic, load_rows


def test_the_shipped_file_is_sound():
    rows = load_rows(PATH)
    kinds = {k for k, _ in rows}
    assert len(rows) >= 250 and len(kinds) >= 25
    assert len({t for _, t in rows}) == len(rows)  # no message twice


def test_a_malformed_line_is_named(tmp_path):
    p = tmp_path / "oos.tsv"
    p.write_text("# comment\n天气\t明天下雨吗\n只有一列\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"oos.tsv:3: expected 'kind<TAB>message'"):
        load_rows(p)
    assert load_rows(tmp_path / "missing.tsv") == []


def test_off_only_when_nearer_than_the_item_by_the_margin():
    v = np.array([[1.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    off = OffTopic([("天气", "明天下雨吗"), ("美食", "哪家火锅好吃")], v)
    q = np.array([0.96, 0.28], dtype=np.float32)  # cosine 0.96 to 天气
    assert off.nearest(q) == (pytest.approx(0.96), "天气")
    assert off.off(q, item_cosine=0.96 - MARGIN - 0.001) == "天气"
    assert off.off(q, item_cosine=0.96 - MARGIN + 0.001) is None
    assert off.off(None, 0.5) is None and OffTopic([], np.zeros((0, 2))).off(q, 0.0) is None


def test_a_choice_of_a_private_service_is_not_found_however_sure_the_search(assistant):
    # the search alone is sure of 机动车驾驶证初次申领 (score above the threshold)
    a = assistant.ask("学车选哪个驾校过得快", "guangdong")
    assert a["score"] >= a["threshold"]
    assert a["status"] == "not_found" and a["intent"] == "out_of_scope" and "dispatch" not in a
    assert a["not_found"]["reason"] == "off_topic" and a["not_found"]["kind"]


@pytest.mark.parametrize("question,status", [("孩子刚出生怎么上户口", "answer"), ("饭店吃出虫子", "dispatch")])
def test_services_and_complaints_are_left_alone(assistant, question, status):
    a = assistant.ask(question, "guangan")
    assert a["status"] == status
    assert (a.get("not_found") or {}).get("reason") != "off_topic"
