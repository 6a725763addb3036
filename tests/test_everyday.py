"""The everyday-message check (eval/everyday.py): the set loads and a routed answer
is judged against the lead type, with the command centre right only where the
catalogue lacks the type. No model."""

from __future__ import annotations

import json

import pytest

from eval import everyday


def test_the_dev_set_loads_and_names_known_types():
    from store import dispatch as ds

    rows = everyday.load()
    assert len(rows) >= 40
    assert {r["type"] for r in rows} <= set(ds.department_types())


def test_a_row_without_type_is_refused_with_its_line(tmp_path):
    p = tmp_path / "set.jsonl"
    p.write_text(json.dumps({"text": "路灯坏了", "type": "综合执法"}, ensure_ascii=False) + "\n"
                 + json.dumps({"text": "井盖丢了"}, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        everyday.load(p)


def _answer(lead_type, centre, suggested=None):
    lead = {"department": "12345", "type": "指挥中心"} if centre else {"department": "区X局", "type": lead_type}
    return {"status": "dispatch", "dispatch": {"lead": lead, "to_command_centre": centre, "confidence": 0.6,
                                               "suggested_lead": {"type": suggested or lead_type},
                                               "types": [{"type": suggested or lead_type}]}}


def test_judging_a_routed_answer():
    assert everyday.judge(_answer("人社", False), "人社", has_type=True)["right"]
    assert not everyday.judge(_answer("人社", True), "人社", has_type=True)["right"]  # centre though the dept exists
    assert everyday.judge(_answer("综合执法", True), "综合执法", has_type=False)["right"]  # no such dept: centre
    wrong = everyday.judge(_answer("公安", False), "人社", has_type=True)
    assert not wrong["right"] and not wrong["type_at1"]
    assert not everyday.judge({"status": "answer", "candidates": []}, "人社", has_type=True)["dispatched"]
