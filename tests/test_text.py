"""Vocabulary matching, action and role features: no model needed."""

from __future__ import annotations

from index.text import (
    Vocabulary,
    actions,
    asked_actions,
    char_pairs,
    claimed_roles,
    name_subject,
    roles,
    share_in,
)


def test_a_vocabulary_word_matches_with_words_in_between():
    v = Vocabulary({"结婚证丢": ["补领结婚证"], "上户口": ["户口登记"], "低保": ["最低生活保障"]})
    assert [w for w, _ in v.matches("结婚证弄丢了怎么办")] == ["结婚证丢"]
    assert [w for w, _ in v.matches("结婚证丢了")] == ["结婚证丢"]
    # no gap across a clause break, none longer than three characters
    assert v.matches("结婚证，我丢了") == [] and v.matches("结婚证放在家里丢") == []
    # a one-character head never opens a gap: "上海户口" is not "上户口"
    assert v.matches("上海户口迁移") == []
    assert "补领结婚证" in v.expand("结婚证不小心丢了")


def test_synonyms_extend_a_copy():
    v = Vocabulary({"低保": ["最低生活保障"]})
    w = v.with_entries({"红本本": ["结婚证"], "低保": ["低收入家庭"]})
    assert w.entries["低保"] == ["最低生活保障", "低收入家庭"] and "红本本" not in v.entries
    assert "结婚证" in w.expand("红本本丢了")


def test_the_shipped_vocabulary_knows_everyday_words():
    v = Vocabulary.load()
    for q, term in [("想砍几棵树", "林木采伐许可"), ("河里挖沙要批吗", "河道采砂许可"),
                    ("孤寡老人有补助吗", "特困人员救助供养"), ("饭店员工要办健康证", "从业人员预防性体检"),
                    ("我的结婚证弄丢了", "补领结婚证"), ("父母坐牢孩子没人管", "事实无人抚养儿童认定"),
                    ("在国外领养老金要开在世证明", "生存公证"), ("外地孩子在这里上学", "进城务工人员随迁子女"),
                    ("开个宠物医院", "动物诊疗许可"), ("家里装电怎么申请", "低压居民报装")]:
        assert term in v.expand(q), q


def test_the_shipped_vocabulary_stays_quiet_on_everyday_chat():
    """Bare place nouns and words inside longer words fire on questions no item
    answers: "加油站" in "附近的加油站在哪", "领养" in "领养老金"."""
    v = Vocabulary.load()
    for q in ["附近的加油站在哪", "游泳馆几点开门", "明天会下雨吗", "农民非常困难"]:
        assert v.matches(q) == [], q
    assert "收养子女登记" not in v.expand("每个月领养老金要认证吗")
    assert "收养子女登记" in v.expand("想领养一个孩子")


def test_actions_and_roles():
    assert actions("参保人员参保信息查询") == {"query"} and actions("学生资助政策咨询") == {"consult"}
    assert roles("参保单位参保信息查询") == {"organisation"} and roles("公证员执业许可") == {"professional"}
    assert roles("参保人员参保信息查询") == set()
    assert claimed_roles("我们单位要查参保信息") == {"organisation"} and claimed_roles("我想查医保") == set()
    # moving in and moving out are two different items of one family
    assert actions("残疾人证迁入") == {"move_in"} and actions("残疾人证迁出") == {"move_out"}
    assert actions("社会保障卡解挂") == {"unlock"} and actions("户口迁移") == set()
    # a pause, its end and a closing are three different items
    assert actions("烟草专卖零售许可证停业") == {"suspend"} and actions("烟草专卖零售许可证恢复营业") == {"resume"}
    assert actions("烟草专卖零售许可证歇业") == {"cancel"}


def test_actions_asked_in_everyday_words():
    from index.text import action_fit

    said = {"修车铺搬了地方，维修经营备案要改地址不": {"change"}, "宠物医院换了负责人": {"change"},
            "许可证下个月满期，想接着用": {"renew"}, "拖拉机驾驶证要转到外省去": {"move_out"},
            "停业了几个月，重新开门卖烟": {"resume"}, "药店要装修，协议要暂停": {"suspend"},
            "申请了临时救助，想查下批了没": {"query"}, "营运证用旧了，字都看不清，要换个新的": {"renew"}}
    for question, kinds in said.items():
        assert asked_actions(question, []) == kinds, question
    # a move to a named place is a move in where the catalogue is: no direction guessed
    assert asked_actions("户口迁到广州", []) == set()
    assert asked_actions("孩子刚出生怎么上户口", []) == set()
    assert asked_actions("开个饭店，食品经营许可要办吗", []) == set()  # whether to apply, no query
    # a first grant counts against another action only; beside another action it is that one
    assert action_fit({"new"}, set()) == 0 and action_fit({"new"}, {"change"}) == -1
    assert action_fit({"new", "query"}, {"new"}) == -1 and action_fit({"change"}, {"change"}) == 1
    assert action_fit({"renew", "query"}, {"renew"}) == -1  # 换发…进度查询 is a query


def test_a_two_character_verb_and_object_may_be_split():
    v = Vocabulary({"砍树": ["林木采伐许可"], "社保": ["社会保险"], "离婚": ["离婚登记"]})
    assert [w for w, _ in v.matches("想砍几棵树")] == ["砍树"]
    assert [w for w, _ in v.matches("我们离了婚")] == ["离婚"]
    assert v.matches("社区保洁") == []  # not a verb: no gap


def test_a_measure_word_after_a_one_character_verb_does_not_block_a_match():
    v = Vocabulary({"开店": ["个体工商户设立登记"], "办健康证": ["从业人员预防性体检"], "摆摊": ["便民服务摊点"],
                    "开超市": ["食品经营许可"]})
    assert [w for w, _ in v.matches("想开个店")] == ["开店"]
    assert [w for w, _ in v.matches("在街上开个小店")] == ["开店"]
    assert [w for w, _ in v.matches("想办个健康证")] == ["办健康证"]
    assert [w for w, _ in v.matches("小区门口摆个早餐摊")] == ["摆摊"]
    assert [w for w, _ in v.matches("开家超市")] == ["开超市"]
    # no measure word, no gap for 开: "开锁店" is no "开店", "开了三年的超市" no "开超市"
    assert v.matches("开锁店在哪") == [] and v.matches("开了三年的超市") == []


def test_a_two_character_word_must_start_a_word_of_the_question():
    v = Vocabulary({"领养": ["收养子女登记"], "民非": ["民办非企业单位"], "挖沙": ["河道采砂许可"]})
    assert v.matches("每月领养老金") == [] and v.matches("农民非常辛苦") == []
    assert [w for w, _ in v.matches("想领养个孩子")] == ["领养"]
    assert [w for w, _ in v.matches("想在河里挖沙子卖")] == ["挖沙"]  # a verb's object may run on
    # inside one longer word is fine: "发票" in "专用发票", "退休" in "提前退休"
    w = Vocabulary({"发票": ["发票领用"], "退休": ["退休"]})
    assert [x for x, _ in w.matches("增值税专用发票怎么领")] == ["发票"]
    assert [x for x, _ in w.matches("想办提前退休")] == ["退休"]


def test_actions_come_from_the_question_and_its_action_words_not_from_catalogue_names():
    v = Vocabulary({"丢了": ["遗失", "补办"], "社保卡坏": ["社会保障卡补领、换领、换发"]})
    assert asked_actions("身份证丢了", v.matches("身份证丢了")) == {"lost"}
    assert asked_actions("社保卡坏了", v.matches("社保卡坏了")) == set()
    assert asked_actions("营业执照注销", []) == {"cancel"}


def test_group_variants_and_character_pair_shares():
    assert roles("机动车驾驶证初次申领(外国人申领小型汽车准驾车型)") == {"group"}
    assert roles("机动车驾驶证初次申领(大陆居民申领小型汽车准驾车型)") == set()
    assert claimed_roles("我是外国人想考驾照") == {"group"} and claimed_roles("我想考驾照") == set()
    assert share_in(char_pairs("最低生活保障"), "申请最低生活保障") == 1.0
    assert 0 < share_in(char_pairs("家庭经济困难儿童最低生活保障"), "申请最低生活保障") < 1
    assert share_in(set(), "任何") == 0.0


def test_every_vocabulary_term_is_in_an_item_name_of_a_shipped_catalogue(settings):
    """A catalogue term no item name (or parent name) holds expands a question to
    nothing; each term must occur in a name of guangan or guangdong."""
    from store import db as store

    db = store.open_db(settings.db_path)
    names = "\n".join(n for cat in ("guangan", "guangdong") for it in store.search_items(db, cat)
                      for n in (it["name"], it.get("parent_name")) if n)
    assert names, "the prepared store holds neither catalogue"
    v = Vocabulary.load()
    missing = [(w, t) for w, terms in v.entries.items() for t in terms if t not in names]
    assert not missing, f"terms in no item name: {missing}"
    # and a term no name holds would be reported
    assert "住房公积金" not in names


def test_name_subject_drops_a_closing_procedure_word():
    assert name_subject("创业补贴申请") == "创业补贴" and name_subject("无犯罪记录公证指引") == "无犯罪记录公证"
    assert name_subject("户口登记（包括注销）") == "户口登记"
