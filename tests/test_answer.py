"""Answers are grounded in the catalogue record; bad input is refused clearly."""

from __future__ import annotations

import pytest

from assistant.answer import BadQuestion, UnknownCatalogue, check_question
from assistant.card import GENERAL_STEPS, GUIDE_FIELDS, item_card, render_card
from store import db as store


def test_a_citizen_question_finds_the_item_and_its_department(assistant):
    a = assistant.ask("孩子刚出生怎么上户口", "guangan")
    assert a["status"] == "answer"
    assert a["item"]["department"] == "区公安分局"
    assert "户口登记" in [c["name"] for c in a["candidates"][:3]]


def test_every_fact_in_the_answer_is_the_catalogue_record(assistant):
    a = assistant.ask("执业药师首次注册要交什么材料", "guangdong")
    assert a["status"] == "answer"
    it = a["item"]
    record = store.get_item(assistant.db, "guangdong", it["code"])
    for f in GUIDE_FIELDS:
        if f == "steps" and it["steps_general"]:
            continue
        assert it[f] == record[f], f
    assert it["department"] == record["department"] and it["name"] == record["name"]
    assert it["materials"] and it["phone"]
    assert set(it["missing"]) == {f for f in GUIDE_FIELDS if not it[f]}


def test_missing_fields_stay_missing_and_general_steps_are_labelled(assistant):
    a = assistant.ask("办狗证要去哪里", "guangan")
    it = a["item"]
    assert it["name"] == "犬类准养证核发"
    # guangan lists names, departments and links only: nothing else may appear
    for f in ("materials", "place", "phone", "time_limit_legal", "fee"):
        assert it[f] is None and f in it["missing"]
    assert it["url"].startswith("http")
    card = render_card(a)
    assert "目录中未登记该信息" in card and it["url"] in card


@pytest.mark.parametrize("type_, general", [("行政许可", True), ("行政确认", False), ("公共服务", False)])
def test_general_procedure_only_where_a_statute_sets_one(type_, general):
    card = item_card({"code": "X", "name": "某事项", "type": type_, "department": "某局"})
    assert card["steps_general"] is general
    assert card["steps"] == (GENERAL_STEPS[type_] if general else None)
    own = item_card({"code": "X", "name": "某事项", "type": type_, "department": "某局", "steps": ["网上申请", "窗口领证"]})
    assert own["steps"] == ["网上申请", "窗口领证"] and own["steps_general"] is False


@pytest.mark.parametrize("question", ["今天天气怎么样", "给我讲个笑话", "附近有什么好吃的火锅"])
def test_out_of_scope_is_not_found_with_where_to_go(assistant, question):
    a = assistant.ask(question, "guangan")
    assert a["status"] == "not_found" and a["item"] is None
    assert any("12345" in w for w in a["not_found"]["where_to_go"])
    assert len(a["candidates"]) >= 5  # present for every status
    assert a["score"] < a["threshold"]


@pytest.mark.parametrize("question", ["你好，在吗", "早上好，吃饭了没", "你是不是机器人", "你好聪明"])
def test_small_talk_is_not_found_however_close_its_words(assistant, question):
    from assistant.intent import asks_no_service

    assert asks_no_service(question)
    a = assistant.ask(question, "guangan", dispatch=False)
    assert a["status"] == "not_found"
    # close enough in words to have been answered: said why it was not
    assert a["score"] < a["threshold"] or a["not_found"]["reason"] == "no_service_asked"


# a fact may be a service's own (its fee, hours, place) or a lookup item's: the search decides
@pytest.mark.parametrize("question", ["补办身份证要多少钱", "社保卡在哪里办", "路灯坏了几天了没人修", "办证大厅周六几点开门",
                                      "物业费一般多少钱一平", "哪家医院能做入职体检", "您好，港澳通行证签注", "你好，护照"])
def test_a_fee_a_place_or_a_problem_is_still_asked_of_the_catalogue(question):
    from assistant.intent import asks_no_service

    assert not asks_no_service(question)


def test_answer_shape(assistant):
    a = assistant.ask("身份证丢了怎么办", "guangan")
    assert {"status", "item", "candidates", "why", "score", "timings_ms"} <= set(a)
    assert len(a["candidates"]) >= 5
    assert all({"code", "name", "department", "score"} <= set(c) for c in a["candidates"])
    scores = [c["score"] for c in a["candidates"]]
    assert scores == sorted(scores, reverse=True) and 0 <= scores[-1] <= scores[0] <= 1
    assert {"embed", "search", "fuse", "compose", "total"} <= set(a["timings_ms"])
    assert a["why"]["vocabulary"] or a["why"]["matched_terms"]
    # the description view's evidence is shown with the others (the question as written)
    seen = assistant.ask("社保卡找回来了想解挂", "guangan")
    assert seen["candidates"][0]["name"] == "社会保障卡解挂"
    assert seen["why"]["desc_rank"] == 1 and 0.8 < seen["why"]["desc_cosine"] <= 1.0


@pytest.mark.parametrize("bad, why", [
    ("", "empty"), ("   \n ", "empty"), ("？？？！！", "punctuation"), ("😀😀", "punctuation"),
    ("怎么办" * 200, "500"), ("户口\x00登记", "control"), (None, "text"),
])
def test_bad_questions_are_refused_with_a_reason(bad, why):
    with pytest.raises(BadQuestion, match=why):
        check_question(bad)


def test_unknown_catalogue(assistant):
    with pytest.raises(UnknownCatalogue, match="guangan"):
        assistant.ask("户口", "atlantis")


def test_a_dead_heat_between_two_needs_is_asked_about_not_guessed():
    from assistant.clarify import ClarifyParams, close_group
    from index.search import Candidate

    def cand(code, name, fused, dense):
        return Candidate(code, name, "区人社局", None, None, fused, dense=dense)

    # two needs of the same department, far apart in cosine, level in the fusion
    top, tied = cand("A", "城乡居民基本养老保险待遇申领", 0.04160, 0.920), cand("B", "城乡居民参保登记", 0.04155, 0.910)
    far = cand("C", "创业担保贷款申请", 0.0380, 0.910)
    assert [c.code for c in close_group([top, tied, far], ClarifyParams())][:2] == ["A", "B"]
    assert [c.code for c in close_group([top, tied, far], ClarifyParams(tie=1.0))] == ["A"]
    # a clear winner stays an answer
    assert [c.code for c in close_group([top, far], ClarifyParams())] == ["A"]


def test_an_opinion_with_no_word_of_the_administration_asks_no_service():
    from assistant.intent import asks_opinion

    for text in ("装修公司哪家靠谱", "买新房还是二手房好", "想做点小生意，做啥子赚钱", "去澳门坐船定坐车好"):
        assert asks_opinion(text), text
    # a consultation about a service, or a complaint, is not an idle opinion
    for text in ("交职工社保还是居民社保好", "哪家医院能办出生医学证明", "装修公司乱收费，哪家部门管"):
        assert not asks_opinion(text), text
