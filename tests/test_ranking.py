"""Ranking features on the served catalogues: who the question speaks as, and
how much of an item name it covers. Each test compares against the same
retriever with the feature off, so it fails if the feature stops working."""

from __future__ import annotations

from dataclasses import replace

import pytest

from index.search import Retriever


def rank_of(retriever: Retriever, question: str, fragment: str) -> int:
    """The first candidate whose name holds ``fragment``; 99 when none of the top 20 does."""
    names = [c.name for c in retriever.search(question, k=20).candidates]
    return next((i for i, n in enumerate(names) if fragment in n), 99)


@pytest.fixture(scope="module")
def guangdong(assistant):
    return assistant.retriever("guangdong")


def test_a_variant_for_foreigners_follows_the_everyday_one_unless_asked(guangdong):
    plain = "学车拿小型汽车驾驶证怎么申领"
    assert rank_of(guangdong, plain, "大陆居民申领小型汽车") < rank_of(guangdong, plain, "外国人申领小型汽车")
    foreign = "外国人在广州申领小型汽车驾驶证"
    assert rank_of(guangdong, foreign, "外国人申领小型汽车") < rank_of(guangdong, foreign, "大陆居民申领小型汽车")


@pytest.mark.parametrize("question, wanted", [("经济困难怎么申请低保", "最低生活保障"),
                                              ("残疾证怎么申请办理", "残疾人证新办")])
def test_the_member_whose_name_the_question_covers_comes_first(assistant, question, wanted):
    r = assistant.retriever("guangan")
    original = r.params
    try:
        # the description view alone also finds these: off here, to see the shares at work
        r.params = replace(original, coverage=0.0, asked=0.0, w_desc=0.0)
        off = r.search(question).candidates
        r.params = replace(original, w_desc=0.0)
        on = r.search(question).candidates
    finally:
        r.params = original
    assert off[0].name != wanted  # without the shares a longer sibling wins
    assert on[0].name == wanted


def test_an_item_named_without_its_procedure_word_counts_as_named(assistant):
    """"有没有创业补贴" names 创业补贴申请; "无犯罪记录公证" names 无犯罪记录公证指引."""
    r = assistant.retriever("guangan")
    top = r.search("第一次创业开了个公司，有没有创业补贴").candidates
    assert top[0].name == "创业补贴申请" and top[0].exact == "创业补贴"
    assert [n for n, _ in r.exact_names("住院伙食补助费申领要什么")] == ["住院伙食补助费申领"]


def test_a_measure_word_does_not_hide_a_vocabulary_word(assistant):
    r = assistant.retriever("guangan")
    res = r.search("想在小区门口摆个早餐摊，能申请吗")
    assert "摆摊" in [w for w, _ in res.vocabulary]
    assert rank_of(r, "想在小区门口摆个早餐摊，能申请吗", "临时便民服务摊点") < 3


@pytest.mark.parametrize("question, wanted", [("残疾人证从外省迁入广东", "残疾人证》迁入"),
                                              ("残疾人证到期换领", "残疾人证》换领")])
def test_an_alias_names_the_whole_family_so_the_asked_member_can_win(guangdong, question, wanted):
    # "残疾人证" is an alias of the 新办证申请 item only; it names 迁入 and 换领 as much
    original = guangdong.params
    try:
        guangdong.params = replace(original, exact_shared=False)
        off = rank_of(guangdong, question, wanted)
    finally:
        guangdong.params = original
    assert off > 0 and rank_of(guangdong, question, wanted) == 0


def test_a_full_item_name_names_that_item_only(guangdong):
    # 法律援助 is an item's whole name: 法律援助律师执业许可 gets no share of it
    c = guangdong.search("请不起律师能申请法律援助吗").candidates
    assert c[0].name == "法律援助" and all(x.exact != "法律援助" for x in c if x.name != "法律援助")


@pytest.mark.parametrize("question, wanted", [("残疾证上是四级，现在病重了想重新评个等级", "残疾类别/等级变更"),
                                              ("社保卡密码想改一个，原来的我记得", "社会保障卡密码修改")])
def test_the_description_cosine_itself_tells_close_siblings_apart(assistant, question, wanted):
    """By rank alone (RRF) the description view barely separates near neighbours; its
    cosine, added above the list's lowest, lets the item described by the question win."""
    r = assistant.retriever("guangan")
    original = r.params
    try:
        r.params = replace(original, cos_desc=0.0)
        off = r.search(question).candidates
    finally:
        r.params = original
    on = r.search(question).candidates
    assert off[0].name != wanted and on[0].name == wanted
    beaten = next(c for c in on if c.code == off[0].code)
    assert on[0].desc > beaten.desc  # won on the description's cosine
