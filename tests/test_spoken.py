"""The operator's 口径 (``spoken_answer``): read aloud naturally, only what the record holds."""

from assistant.card import spoken_answer

FULL = {
    "name": "执业药师首次注册", "department": "广东省药品监督管理局", "place": "广州市东风东路753号。",
    "office_hours": "周一至周五 9:00-12:00", "materials": [{"name": "申请表"}, {"name": "身份证明"}, {"name": "照片"},
                                                          {"name": "学历证明"}, {"name": "健康证明"}],
    "time_limit_promised": "5个工作日", "time_limit_legal": "20个工作日", "fee": "不收费", "phone": "020-37886901",
    "complaint_phone": "020-87612331", "url": "http://bsxt.gdbs.gov.cn/x?approveSeq=1",
}


def test_materials_are_counted_and_every_field_is_read():
    s = spoken_answer(FULL)
    assert "需要带五样材料：申请表、身份证明、照片、学历证明、健康证明" in s
    for part in ("办公时间是周一至周五 9:00-12:00", "承诺办结时限是5个工作日", "收费：不收费",
                 "咨询电话020-37886901", "投诉电话020-87612331", "办理地点在广州市东风东路753号"):
        assert part in s


def test_no_urls_and_no_stray_punctuation():
    s = spoken_answer({**FULL, "conditions": "见 http://a.b/c", "phone": "020-1、020-2。"})
    assert "http" not in s and "gdbs" not in s
    assert "。。" not in s and "。，" not in s and "、。" not in s and "，。" not in s
    assert s.endswith("详细要求以官方办事指南为准。")


def test_missing_fields_are_left_out_not_invented():
    s = spoken_answer({"name": "安全评价报告的备案", "department": "区交通运输局", "url": None})
    assert s == "您好，您咨询的“安全评价报告的备案”由区交通运输局办理。详细要求请到办事窗口确认。"
    assert "材料" not in s and "电话" not in s


def test_department_with_its_area_when_known():
    s = spoken_answer({"name": "户口登记", "department": "区公安分局", "department_full": "广安区公安分局"})
    assert "由广安区公安分局办理" in s
