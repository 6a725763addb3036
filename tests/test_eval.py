"""Evaluation sets and scoring."""

from __future__ import annotations

import pytest

from eval.run import fit_calibration, load_paraphrases, load_set, score
from index.search import Calibration


@pytest.mark.parametrize("catalogue, at_least", [("guangan", 150), ("guangdong", 80)])
def test_sets_are_large_enough_and_hold_a_part_out(catalogue, at_least):
    rows = load_set(catalogue)
    inscope = [r for r in rows if r["expect"] == "answer"]
    assert len(inscope) >= at_least
    assert all(r["gold"] and r["departments"] for r in inscope)
    assert any(r["expect"] == "not_found" for r in rows)
    # the first batch holds out about a third (by a hash of the id); later batches are held out whole
    first = [r for r in rows if "-b2-" not in r["id"] and "-b3-" not in r["id"]]
    assert 0.25 <= sum(r["split"] == "heldout" for r in first) / len(first) <= 0.5
    later = [r for r in rows if r not in first]
    assert later and all(r["split"] == "heldout" for r in later)
    assert len({r["id"] for r in rows}) == len(rows)


def test_questions_are_not_copies_of_item_names(assistant):
    from store import db as store

    for catalogue in ("guangan", "guangdong"):
        names = {i["name"] for i in store.items(assistant.db, catalogue)}
        copies = [r["question"] for r in load_set(catalogue) if r["question"] in names]
        assert copies == []


@pytest.mark.parametrize("catalogue", ["guangan", "guangdong"])
def test_paraphrase_pairs_say_one_need_two_ways_and_are_not_eval_questions(catalogue, settings):
    import sqlite3

    pairs = load_paraphrases(catalogue)
    assert len(pairs) >= 30 and len({p["id"] for p in pairs}) == len(pairs)
    asked = {r["question"] for r in load_set(catalogue)}
    with sqlite3.connect(settings.db_path) as db:
        known = {code: dept for code, dept in db.execute(
            "select code, department from items where catalogue = ?", (catalogue,))}
    for p in pairs:
        assert p["a"].strip() and p["b"].strip() and p["a"] != p["b"], p["id"]
        assert p["a"] not in asked and p["b"] not in asked, p["id"]
        assert p["gold"] and all(code in known for code in p["gold"]), p["id"]
        assert {known[code] for code in p["gold"]} <= set(p["departments"]), p["id"]


def _result(expect, gold, got, status, dept_ok=True):
    return {"row": {"id": "x", "question": "q", "expect": expect, "gold": gold, "gold_names": [],
                    "departments": ["D"] if expect == "answer" else []},
            "answer": {"status": status, "score": 0.5, "timings_ms": {"total": 10.0},
                       "candidates": [{"code": c, "name": c, "department": "D" if dept_ok else "E"} for c in got]},
            "rank": next((i + 1 for i, c in enumerate(got) if c in gold), None),
            "final": got[0] if status == "answer" else None,
            "top_department": "D" if dept_ok else "E"}


def test_score_counts_what_it_says():
    results = [
        _result("answer", ["a"], ["a", "b", "c"], "answer"),
        _result("answer", ["c"], ["a", "b", "c"], "answer"),
        _result("answer", ["z"], ["a", "b", "c"], "not_found", dept_ok=False),
        _result("not_found", [], ["a"], "not_found"),
        _result("not_found", [], ["a"], "answer"),
    ]
    s = score(results, "t", "dev", "hybrid")
    assert s["item_hit@1"] == pytest.approx(1 / 3) and s["item_hit@3"] == pytest.approx(2 / 3)
    assert s["mrr"] == pytest.approx((1 + 1 / 3) / 3)
    assert s["department@1"] == pytest.approx(2 / 3)
    assert s["not_found_recall"] == 0.5 and s["not_found_precision"] == 0.5
    assert s["in_scope_wrongly_not_found"] == pytest.approx(1 / 3)
    assert s["answered_directly_right"] == pytest.approx(1 / 3) and s["clarify_rate"] == 0
    assert len(s["failures"]) == 3


def test_calibration_is_fitted_on_dev_and_separates(assistant):
    cal = fit_calibration(assistant, ["guangan"], split="dev")
    assert 0 < cal.threshold < 1 and "dev" in cal.fitted_on
    high = cal.probability({"dense": 0.93, "bm25": 2.5, "exact": 1.0})
    low = cal.probability({"dense": 0.85, "bm25": 0.0, "exact": 0.0})
    assert high > cal.threshold > low
    assert isinstance(Calibration.load(), Calibration)


def test_dialogue_eval_and_the_written_reports(assistant, tmp_path):
    from assistant.dialogue import Dialogue
    from eval.report import write_reports
    from eval.run import evaluate, evaluate_dialogues, load_dialogues

    convs = load_dialogues("guangdong")
    assert len(convs) >= 10 and all(2 <= len(c["turns"]) <= 5 for c in convs)
    d = evaluate_dialogues(Dialogue(assistant), "guangdong")
    assert d["conversations"] == len(convs) and d["follow_up_turns"] >= 20
    assert 0 <= d["follow_up_accuracy"] <= 1
    report = evaluate(assistant, "guangdong", split="heldout")
    assert 0 <= report["clarify_rate"] <= 1 and report["accuracy_after_clarify"] >= report["answered_directly_right"]
    depts = report["departments"]
    assert sum(t["questions"] for t in depts) == report["in_scope"]
    paths = write_reports([report], [d], tmp_path)
    names = {p.name for p in paths}
    assert {"report.json", "report.md", "guangdong-departments.png"} <= names
    assert (tmp_path / "guangdong-departments.png").read_bytes()[:4] == b"\x89PNG"
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "clarify_rate" in md and depts[0]["department"] in md and "follow-up accuracy" in md
