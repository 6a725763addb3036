"""eval/messages.py: scoring 诉求 routing on everyday messages against a catalogue's departments."""

import json

import pytest

from eval.messages import load_messages, score_messages


def _answer(types, lead, centre=False, category=("环境保护", "噪声", "")):
    return {"status": "dispatch", "dispatch": {
        "types": [{"type": t, "score": 0.5} for t in types], "lead": {"type": lead},
        "to_command_centre": centre, "category": list(category)}}


def test_lead_is_right_only_for_a_gold_type_or_the_centre_when_the_catalogue_lacks_it():
    rows = [{"id": "1", "message": "油烟", "types": ["生态环境"], "level1": "环境保护"},
            {"id": "2", "message": "占道", "types": ["综合执法"], "level1": None},
            {"id": "3", "message": "欠薪", "types": ["人社"], "level1": "劳动和社会保障"},
            {"id": "4", "message": "路灯", "types": ["住建"], "level1": None}]
    answers = [_answer(["生态环境", "公安"], "生态环境"),
               _answer(["综合执法"], "指挥中心", centre=True),   # catalogue has no 综合执法: right
               _answer(["住建", "人社"], "住建"),                 # wrong type at 1, right at 3
               _answer(["住建"], "指挥中心", centre=True)]        # the catalogue has 住建: wrong
    r = score_messages(rows, answers, have_types={"生态环境", "人社", "住建"})
    assert r["messages"] == 4 and r["dispatched"] == 1.0
    assert r["lead_right"] == 0.5 and r["to_command_centre"] == 0.5
    assert r["type_at_1"] == 0.75 and r["type_at_3"] == 1.0
    assert r["level1_rows"] == 2 and r["level1_accuracy"] == 0.5
    assert [f["id"] for f in r["failures"]] == ["3", "4"]


def test_a_service_card_or_not_found_is_not_a_dispatch():
    rows = [{"id": "1", "message": "油烟", "types": ["生态环境"]}, {"id": "2", "message": "天气", "types": ["公安"]}]
    answers = [{"status": "answer", "item": {}}, {"status": "not_found"}]
    r = score_messages(rows, answers, have_types={"生态环境"})
    assert r["dispatched"] == 0.0 and r["service_card"] == 0.5 and r["not_found"] == 0.5 and r["lead_right"] == 0.0


def test_a_row_without_a_type_is_an_error_naming_its_line(tmp_path):
    f = tmp_path / "m.jsonl"
    f.write_text(json.dumps({"id": "1", "message": "油烟", "types": ["生态环境"]}, ensure_ascii=False) + "\n"
                 + json.dumps({"id": "2", "message": "噪音", "types": []}, ensure_ascii=False) + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match="line 2"):
        load_messages(f)
    f.write_text('{"id": "1", "message": "油烟", "types": ["生态环境"]}\n{"id": "2", "mess\n', encoding="utf-8")
    with pytest.raises(ValueError, match="line 2: not JSON"):
        load_messages(f)


@pytest.mark.parametrize("name", ["heldout", "dev", "b9"])
def test_both_sets_load_and_name_known_types(name):
    from eval.messages import SETS
    from store import dispatch as ds

    rows = load_messages(SETS[name])
    assert len(rows) >= 40
    assert {t for r in rows for t in r["types"]} <= set(ds.department_types())
    assert all(r["message"] for r in rows)


def test_the_threshold_is_the_lowest_whose_bands_above_are_right_half_the_time():
    from eval.messages import choose_threshold

    pairs = [(0.9, True), (0.5, True), (0.45, False), (0.44, False), (0.41, True), (0.3, False)]
    threshold, bands = choose_threshold(pairs)
    assert threshold == 0.45  # the band 0.40–0.50 is right 1 time in 3: it stops there
    assert bands[-1] == {"from": 0.40, "right": 0.333, "n": 3}
    assert choose_threshold([(0.9, True), (0.3, True), (0.21, True)])[0] == 0.20  # right all the way down
    assert choose_threshold([(0.95, False), (0.3, True)])[0] == 0.60  # the top band wrong: the highest threshold
    assert choose_threshold(pairs, least=0.3)[0] < 0.45


def test_calibrate_writes_the_fitted_threshold_and_what_it_was_fitted_on(assistant, tmp_path, monkeypatch, capsys):
    import argparse

    import assistant.dispatch as dispatch
    from wenban.dispatch_cli import _calibrate

    target = tmp_path / "calibration.json"
    monkeypatch.setattr(dispatch, "CALIBRATION", target)
    rows = [{"message": "楼下饭店油烟太大，熏得开不了窗", "types": ["生态环境"]},
            {"message": "老板拖欠工资三个月了", "types": ["人社"]},
            {"message": "小区路灯坏了一个月没人修", "types": ["综合执法", "住建"]}]
    path = tmp_path / "mine.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    args = argparse.Namespace(set=str(path), catalogue=["guangan"])
    assert _calibrate(assistant, args) == 0
    written = json.loads(target.read_text(encoding="utf-8"))
    assert 0.20 <= written["threshold"] <= 0.60 and str(path) in written["fitted_on"]
    assert "confidence 0.60–1.00" in capsys.readouterr().out


def test_calibrate_refuses_a_held_out_set(tmp_path, monkeypatch, capsys):
    import argparse

    import assistant.dispatch as dispatch
    from wenban.dispatch_cli import _calibrate

    target = tmp_path / "calibration.json"
    monkeypatch.setattr(dispatch, "CALIBRATION", target)
    for sets in ("heldout", "t2,b7", "b6", "b9"):
        assert _calibrate(None, argparse.Namespace(set=sets, catalogue=None)) == 2
        assert "held out" in capsys.readouterr().err
    assert not target.exists()
