"""Learning the level-1 class from past work orders (``assistant.dispatch_history``):
the types stand for classes, the router weighs the categories with it, and
histories it cannot learn from leave routing zero-shot. No model."""

from __future__ import annotations

import pytest

from assistant import dispatch_history as dh
from assistant.dispatch import Router
from store import dispatch as ds
from store.db import CatalogueData, import_catalogue, open_db
from store.importers import ImportFailed

HEAD = "一级分类,二级分类,三级分类,主体责任单位,配合单位,层级,说明,常见说法\n"
CATS = HEAD + ("城乡建设,物业管理,物业服务,住建,街道,区县,物业公司服务不到位,物业不管事；小区保安不负责\n"
               "劳动和社会保障,劳动关系,拖欠工资,人社,,区县,用人单位拖欠工资,老板拖欠工资；工资不发\n"
               "民政,基层治理,社区事务,街道,,街道乡镇,社区和村里的事务,社区不作为\n")


@pytest.fixture
def db(tmp_path):
    d = open_db(":memory:")
    import_catalogue(d, CatalogueData(name="hall", title="演示", enquiry={"hotline": "12345"},
                                      items=[{"code": str(i), "name": f"事项{i}", "department": n}
                                             for i, n in enumerate(["区住建局", "区人社局", "A街道办事处"])]))
    ds.ensure_schema(d)
    p = tmp_path / "c.csv"
    p.write_text(CATS, encoding="utf-8")
    ds.import_categories(d, "hall", ds.load_categories(p))
    return d


def orders(n: int) -> list[dict]:
    """Past work orders: guards' complaints went to the housing bureau, wages to 人社,
    and the street handled a bit of everything."""
    out = []
    for i in range(n):
        out.append({"text": f"小区{i}栋保安夜里睡觉不巡逻，门岗没人", "department": "区住建局", "date": f"2020-01-{i % 28 + 1:02d}"})
        out.append({"text": f"工厂{i}号车间拖欠三个月工资", "department": "区人社局", "date": f"2020-02-{i % 28 + 1:02d}"})
        out.append({"text": f"第{i}小区保安和工资的事情", "department": "A街道办事处", "date": f"2020-03-{i % 28 + 1:02d}"})
    return [o | {"type": ds.type_of(o["department"])} for o in out]


def test_types_stand_for_the_classes_they_lead():
    m = dh.level1_of_types(ds.default_categories())
    assert m["人社"] == "劳动和社会保障" and m["住建"] == "城乡建设" and m["教育"] == "教育文体"
    assert "街道" not in m and "公安" not in m  # the street handles everything; 公安 leads public order and traffic


def test_history_teaches_the_class_where_the_catalogue_words_mislead(db):
    text = "夜里门岗没人巡逻还照拿工资"  # 工资 draws the zero-shot match to wage arrears
    zero = Router(db, "hall", threshold=0.0)
    assert zero.level1 is None and zero.route(text)["category"][0] == "劳动和社会保障"
    ds.import_history(db, "hall", orders(400))
    learned = Router(db, "hall", threshold=0.0)
    assert learned.level1 is not None and learned.level1.orders == 800  # the street's orders label nothing
    r = learned.level1.ratios(text)
    assert set(r) == {"城乡建设", "劳动和社会保障"} and r["城乡建设"] > r["劳动和社会保障"]
    i = [row["l2"] for row in learned.rows].index("物业管理")
    assert learned.weights(text)[i] > zero.weights(text)[i] / zero.weights(text).sum()
    assert learned.route(text)["category"][0] == "城乡建设"
    assert learned.route("工厂拖欠工资")["category"][0] == "劳动和社会保障"


def test_a_short_history_weighs_less():
    rows = ds.default_categories()
    small = dh.train(orders(20), rows)
    big = dh.train(orders(400), rows)
    l1 = ["城乡建设", "劳动和社会保障"]
    assert abs(small.bonus("保安睡觉", l1)).max() < abs(big.bonus("保安睡觉", l1)).max()


def test_histories_that_name_no_class_leave_routing_zero_shot(db, tmp_path):
    only_street = [o for o in orders(30) if o["type"] == "街道"]
    ds.import_history(db, "hall", only_street)
    router = Router(db, "hall", threshold=0.0)
    assert router.level1 is None and router.history is None  # one type: nothing to tell apart
    assert router.route("老板拖欠工资")["category"][0] == "劳动和社会保障"
    # a department of no known type imports (the CLI says how to map it) and teaches nothing
    p = tmp_path / "h.csv"
    p.write_text("诉求内容,处理部门,日期\n" + "".join(f"门口乱停车{i},某某协调小组,2020-01-0{i + 1}\n" for i in range(5)),
                 encoding="utf-8")
    rows = ds.load_history(p)
    assert {r["type"] for r in rows} == {None}
    ds.import_history(db, "hall", rows)
    assert Router(db, "hall", threshold=0.0).level1 is None


def test_a_broken_history_file_says_which_row_and_keeps_the_learned_class(db, tmp_path):
    ds.import_history(db, "hall", orders(400))
    p = tmp_path / "h.csv"
    p.write_text("诉求内容,处理部门,日期\n保安不巡逻,区住建局,2020-13-45\n,区人社局,2020-01-01\n", encoding="utf-8")
    with pytest.raises(ImportFailed) as e:
        ds.load_history(p)
    assert "row 2: 日期" in str(e.value) and "2020-13-45" in str(e.value) and "row 3: 诉求内容: empty" in str(e.value)
    assert Router(db, "hall", threshold=0.0).level1.orders == 800  # nothing was replaced


def test_the_class_evaluation_leaves_out_labelled_messages_and_cuts_history_by_time(db):
    from eval.dispatch import HISTORY_CUTS, category_history_report

    labelled = [{"id": 1, "text": "夜里门岗没人巡逻还照拿工资", "label": "城乡建设", "date": "2020-06-01T00:00:00"},
                {"id": 2, "text": "工厂拖欠工资", "label": "劳动和社会保障", "date": "2021-06-01T00:00:00"}]
    replied = [{"id": 100 + i, "text": o["text"], "type": o["type"], "unit": o["department"], "date": o["date"]}
               for i, o in enumerate(orders(400))]  # dated 2020-01 … 2020-03
    replied += [{"id": 1, "text": "同一编号的留言", "type": "住建", "unit": "区住建局", "date": "2019-01-01T00:00:00"},
                {"id": 9, "text": "工厂拖欠工资", "type": "人社", "unit": "区人社局", "date": "2019-01-01T00:00:00"}]
    out = category_history_report(db, "hall", labelled, replied, "all")
    assert out["typed_replied"] == 1202 and out["overlap_left_out"] == 2
    assert out["all"]["history_median"] == 1200 and out["all"]["accuracy"] == 1.0
    assert out["before_split"]["history_min"] == 1200  # all orders predate the first message
    # the 2020 message gets only orders from before 2020 (none: the 2019 ones were left out), the 2021 one all
    assert out["before_each"]["history_min"] == 0 and out["before_each"]["history_max"] == 1200
    assert set(HISTORY_CUTS) <= set(out) and ds.history(db, "hall") == []  # the scratch history is emptied
