"""Requests and suggestions to provide, add, repair or arrange something public
(建议…/请…/希望…/能不能…) reach the category that leads the matter. No model:
TF-IDF over the dispatch catalogue's phrasings. The sentences are written here,
not copied from ``data/dispatch/categories.csv``."""

from __future__ import annotations

import pytest

from assistant.dispatch import Router
from store import dispatch as ds
from store.db import CatalogueData, import_catalogue, open_db


@pytest.fixture
def db():
    """A store with one small catalogue that has a 综合执法 bureau (as in tests/test_dispatch.py)."""
    d = open_db(":memory:")
    depts = ["区生态环境局", "区综合执法局", "区住建局", "区人社局", "区市监局", "区公安分局"]
    import_catalogue(d, CatalogueData(name="hall", title="演示", enquiry={"hotline": "12345政务服务便民热线"},
                                      items=[{"code": str(i), "name": f"事项{i}", "department": n}
                                             for i, n in enumerate(depts)]))
    ds.ensure_schema(d)
    return d


@pytest.mark.parametrize("question, l3", [
    ("我们街道附近想要一个公共厕所", "环境卫生与垃圾"),
    ("十字路口太危险了麻烦装个信号灯", "交通安全设施"),
    ("小学门前车速太快能否装减速带", "交通安全设施"),
    ("山路急转弯看不到对面来车想装面镜子", "交通安全设施"),
    ("盼望在小区门口增设一个公交车站", "公交线路与服务"),
    ("村里到镇上没有公交车希望通一趟", "公交线路与服务"),
    ("村里的泥巴路盼望早日硬化", "公路与桥梁"),
    ("社区能否开个老年人食堂", "养老服务"),
    ("村头最好能安装几个摄像头", "治安防控与监控"),
    ("我奶奶出门后找不到了请帮帮忙", "走失人员与寻人"),
    ("我们六楼老房子盼着加装电梯", "老旧小区改造"),
    ("河道边上没有护栏容易掉下去", "河堤与水利设施"),
    ("农田的灌溉渠垮了请派人来修", "河堤与水利设施"),
    ("小区想建个电动车充电的地方", "充电设施"),
    ("楼下有个流浪汉大冬天睡在外面", "流浪乞讨人员救助"),
    ("村里喝水还靠井水想通自来水", "供水"),
    ("小区旁边空地想建个健身广场", "文化体育设施与活动"),
    ("停车太难了希望附近多规划车位", "停车管理"),
])
def test_a_request_for_something_public_finds_its_category(db, question, l3):
    assert Router(db, "hall", threshold=0.0, use_history=False).route(question)["category"][2] == l3


@pytest.mark.parametrize("question, lead", [
    ("这条小巷晚上黑漆漆的想装灯", "区综合执法局"),
    ("十字路口太危险了麻烦装个信号灯", "区公安分局"),
    ("路口那个监控探头好久都不亮了", "区公安分局"),
    ("我们六楼老房子盼着加装电梯", "区住建局"),
    ("我们街道附近想要一个公共厕所", "区综合执法局"),
])
def test_a_request_goes_to_the_catalogues_own_lead(db, question, lead):
    r = Router(db, "hall", threshold=0.0).route(question)
    assert r["suggested_lead"]["department"] == lead
    assert r["lead"]["department"] == lead and not r["to_command_centre"]


def test_new_request_categories_are_led_by_their_duty_type():
    # 三定 duties: traffic facilities and surveillance are the police's (交警, 雪亮工程),
    # finding a missing person too; rough sleepers are 民政's (救助管理站)
    lead = {r["l3"]: r["lead"] for r in ds.default_categories()}
    assert lead["交通安全设施"] == "公安"
    assert lead["治安防控与监控"] == "公安"
    assert lead["走失人员与寻人"] == "公安"
    assert lead["流浪乞讨人员救助"] == "民政"
    assert lead["充电设施"] == "发展改革"  # energy, 充电基础设施
