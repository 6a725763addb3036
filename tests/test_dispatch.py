"""Dispatch catalogue and work-order imports (good and broken files), department
types, routing and its command-centre fallback, place/time extraction. No model."""

from __future__ import annotations

import json
import sqlite3

import openpyxl
import pytest

from assistant.dispatch import Router, attach, handled_by
from assistant.intent import grieves, intent_of, meaning_may_decide
from assistant.workorder import extract
from store import dispatch as ds
from store.db import CatalogueData, import_catalogue, open_db
from store.importers import ImportFailed

HEAD = "一级分类,二级分类,三级分类,主体责任单位,配合单位,层级,说明,常见说法\n"


@pytest.fixture
def db():
    """A store with two small catalogues: one with a 综合执法 bureau, one without."""
    d = open_db(":memory:")
    depts = ["区生态环境局", "区综合执法局", "区住建局", "区人社局", "区市监局", "区公安分局"]
    import_catalogue(d, CatalogueData(name="hall", title="演示", enquiry={"hotline": "12345政务服务便民热线"},
                                      items=[{"code": str(i), "name": f"事项{i}", "department": n}
                                             for i, n in enumerate(depts)]))
    import_catalogue(d, CatalogueData(name="nocity", title="无城管", enquiry={"hotline": "12345政务服务便民热线"},
                                      items=[{"code": "1", "name": "事项", "department": "广东省生态环境厅"},
                                             {"code": "2", "name": "事项", "department": "广东省特种设备检测研究院"}]))
    ds.ensure_schema(d)
    return d



def test_new_request_categories_are_led_by_their_duty_type():
    # 三定 duties: traffic facilities and surveillance are the police's (交警, 雪亮工程),
    # finding a missing person too; rough sleepers are 民政's (救助管理站)
    lead = {r["l3"]: r["lead"] for r in ds.default_categories()}
    assert lead["交通安全设施"] == "公安"
    assert lead["治安防控与监控"] == "公安"
    assert lead["走失人员与寻人"] == "公安"
    assert lead["流浪乞讨人员救助"] == "民政"
    assert lead["充电设施"] == "发展改革"  # energy, 充电基础设施

def write(tmp_path, name, text, encoding="utf-8"):
    p = tmp_path / name
    p.write_text(text, encoding=encoding)
    return p


def test_department_types_from_real_names():
    assert ds.type_of("区生态环境局") == "生态环境"
    assert ds.type_of("区人社局") == "人社"
    assert ds.type_of("广州市住房和城乡建设局") == "住建"
    assert ds.type_of("区教科体局") == "教育"
    assert ds.type_of("A3区洋湖街道") == "街道"
    assert ds.type_of("区委统战部") is None
    assert ds.type_of("区退役军人事务局") == "退役军人"
    assert ds.type_of("广东省林业局") == "林业"


def test_departments_by_type_skips_institutes_and_honours_overrides(db):
    assert ds.departments_by_type(db, "nocity") == {"生态环境": ["广东省生态环境厅"]}
    ds.set_override(db, "nocity", "广东省特种设备检测研究院", "市场监管")
    assert ds.departments_by_type(db, "nocity")["市场监管"] == ["广东省特种设备检测研究院"]
    with pytest.raises(ValueError, match="unknown department type"):
        ds.set_override(db, "nocity", "某局", "火星局")


def test_the_default_catalogue_is_complete_and_every_lead_is_a_known_type():
    rows = ds.default_categories()
    assert len(rows) >= 60
    assert {r["l1"] for r in rows} >= {"城乡建设", "环境保护", "劳动和社会保障", "交通运输"}
    assert all(r["lead"] in ds.department_types() for r in rows)
    assert all(r["phrasings"] for r in rows)


def test_default_phrasings_are_many_short_and_state_a_problem():
    """Each category is matched by its closest phrasing, so each needs many, and a
    phrasing that only asks for a service ("补缴社保") would pull service questions
    into 诉求: every one with a service cue must also state a problem or a delay."""
    from assistant.intent import GRIEVANCE, complaint_cues, service_cues
    rows = ds.default_categories()
    assert all(len(r["phrasings"]) >= 8 for r in rows), [r["l3"] for r in rows if len(r["phrasings"]) < 8]
    phrasings = [p for r in rows for p in r["phrasings"]]
    assert all(2 <= len(p) <= 20 for p in phrasings), [p for p in phrasings if not 2 <= len(p) <= 20]
    asks = [p for p in phrasings if service_cues(p) and not (complaint_cues(p) or GRIEVANCE.search(p))]
    assert not asks, asks


@pytest.mark.parametrize("question, l3", [
    ("饭店吃饭商家不给开发票", "发票与税收"),
    ("接到冒充客服的电话被骗了五千", "电信网络诈骗"),
    ("保险公司拒赔还推来推去", "银行与保险服务"),
    ("公司一直不给员工交公积金", "住房公积金"),
    ("小区门口共享单车乱停乱放", "共享单车与电动车"),
    ("后山有落石，房后山体开裂", "地质灾害隐患"),
    ("有人在山上乱砍树毁林开荒", "林地与野生动物"),
    # requests and suggestions for something public (建议…/请…/希望…/能不能…), written here
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
def test_matters_added_to_the_default_catalogue_are_found_without_the_model(db, question, l3):
    assert Router(db, "hall", threshold=0.0, use_history=False).route(question)["category"][2] == l3


@pytest.mark.parametrize("question, lead", [
    ("楼下餐馆油烟扰民", "区生态环境局"),
    ("老板拖欠工资三个月了", "区人社局"),
    ("小区物业乱收费", "区住建局"),
    ("买到过期食品", "区市监局"),
    ("路边小摊贩占道经营", "区综合执法局"),
    ("这条小巷晚上黑漆漆的想装灯", "区综合执法局"),
    ("十字路口太危险了麻烦装个信号灯", "区公安分局"),
    ("路口那个监控探头好久都不亮了", "区公安分局"),
    ("我们六楼老房子盼着加装电梯", "区住建局"),
    ("我们街道附近想要一个公共厕所", "区综合执法局"),
])
def test_everyday_complaints_go_to_the_catalogues_own_department(db, question, lead):
    r = Router(db, "hall", threshold=0.0).route(question)
    assert r["suggested_lead"]["department"] == lead
    assert r["lead"]["department"] == lead and not r["to_command_centre"]


def test_a_department_the_catalogue_lacks_goes_to_the_command_centre(db):
    r = Router(db, "nocity", threshold=0.0).route("路边小摊贩占道经营")
    assert r["to_command_centre"] and r["suggested_lead"] is None
    assert r["lead"] == {"department": "12345政务服务便民热线", "type": "指挥中心"}
    assert any("首问负责" in w for w in r["why"])
    # support only from the catalogue's own departments: none of these exist here
    assert all(s["department"] in ("广东省生态环境厅",) for s in r["support"])


def test_low_confidence_goes_to_the_command_centre_and_says_so(db):
    r = Router(db, "hall", threshold=0.99).route("小区物业乱收费")
    assert r["to_command_centre"] and r["lead"]["type"] == "指挥中心"
    assert r["suggested_lead"]["department"] == "区住建局"
    assert any("把握不足" in w for w in r["why"])


def test_a_hall_imports_its_own_catalogue_versioned(db, tmp_path):
    p = write(tmp_path, "duty.csv", HEAD + "市容,犬只,遛狗不牵绳,公安,综合执法,街道乡镇,,遛狗不拴绳；狗咬人\n"
              "市容,噪声,广场舞,区公安分局,,区县,,广场舞太吵\n")
    rows = ds.load_categories(p)
    assert rows[1]["lead"] == "公安"  # a department name is read as its type
    first = ds.import_categories(db, "hall", rows)
    assert first["version"] == 1 and not first["unchanged"]
    assert ds.import_categories(db, "hall", rows)["unchanged"]
    assert len(ds.categories(db, "hall")) == 2
    assert len(ds.categories(db, "nocity")) == len(ds.default_categories())  # others keep the default
    r = Router(db, "hall", threshold=0.0).route("晚上遛狗不拴绳吓到小孩")
    assert r["category"] == ["市容", "犬只", "遛狗不牵绳"] and r["lead"]["department"] == "区公安分局"


def test_a_broken_catalogue_lists_every_problem_and_writes_nothing(db, tmp_path):
    p = write(tmp_path, "bad.csv", HEAD + ",物业,收费,住建,,区县,,\n"
              "城建,物业,收费,火星局,,区县,,\n"
              "城建,物业,收费2,住建,月球局,全国,,\n"
              "城建,物业,收费2,住建,,区县,,\n")
    with pytest.raises(ImportFailed) as e:
        ds.load_categories(p)
    text = str(e.value)
    assert "row 2: 一级分类: empty" in text
    assert "row 3: 主体责任单位" in text and "火星局" in text
    assert "row 4: 配合单位" in text and "row 4: 层级" in text
    assert "row 5: 三级分类" in text and "repeats row 4" in text
    assert ds.version(db, "hall", "categories") == 0
    with pytest.raises(ImportFailed, match="主体责任单位: required column is missing"):
        ds.load_categories(write(tmp_path, "nolead.csv", "一级分类,二级分类\n城建,物业\n"))
    with pytest.raises(ImportFailed, match="unknown format"):
        ds.load_categories(write(tmp_path, "x.pdf", "%PDF"))


def test_categories_from_xlsx_and_gbk_csv(tmp_path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEAD.strip().split(","))
    ws.append(["城建", "路灯", "路灯不亮", "综合执法", "街道", "区县", "", "路灯坏了"])
    wb.save(tmp_path / "d.xlsx")
    assert ds.load_categories(tmp_path / "d.xlsx")[0]["support"] == ["街道"]
    gbk = write(tmp_path, "g.csv", HEAD + "城建,路灯,路灯不亮,综合执法,,区县,,路灯坏了\n", encoding="gbk")
    assert ds.load_categories(gbk)[0]["l3"] == "路灯不亮"


def test_work_orders_import_masked_and_teach_the_router(db, tmp_path):
    lines = ["诉求内容,处理部门,日期"]
    for i in range(6):
        lines.append(f"小区门口菜市场臭气熏天第{i}次，电话1381234567{i},区生态环境局,2023/5/{i + 1} 9:00")
        lines.append(f"公司不签合同还扣押金第{i}次,区人社局,2023-06-0{i + 1}")
    rows = ds.load_history(write(tmp_path, "h.csv", "\n".join(lines) + "\n"))
    assert rows[0]["type"] == "生态环境" and rows[0]["date"] == "2023-05-01T09:00:00"
    result = ds.import_history(db, "hall", rows, mask=lambda t: t.replace("13812345670", "138****5670"))
    assert result["rows"] == 12 and result["version"] == 1
    assert "138****5670" in ds.history(db, "hall")[0]["text"]
    router = Router(db, "hall", threshold=0.0)
    assert router.history is not None
    assert router.type_ranking("菜市场臭气熏天")[0][0] == "生态环境"
    assert any("历史工单" in w for w in router.route("菜市场臭气熏天")["why"])


def test_broken_work_orders_are_refused_with_rows(db, tmp_path):
    p = write(tmp_path, "h.csv", "诉求内容,处理部门,日期\n路灯坏了,,2023-01-01\n,区住建局,2023-01-02\n"
              "噪音,区公安分局,昨天\n")
    with pytest.raises(ImportFailed) as e:
        ds.load_history(p)
    text = str(e.value)
    assert "row 2: 处理部门: empty" in text and "row 3: 诉求内容: empty" in text
    assert "row 4: 日期" in text and "昨天" in text
    with pytest.raises(ImportFailed, match="日期: required column"):
        ds.load_history(write(tmp_path, "n.csv", "内容,处理部门\n路灯坏了,区住建局\n"))
    assert ds.history(db, "hall") == []


def test_corrections_teach_the_router(db):
    before = Router(db, "hall", threshold=0.0).route("楼梯间放满了旧家具")
    target = ["公共安全", "消防安全", "消防隐患"]
    assert before["category"] != target
    for _ in range(3):
        ds.add_correction(db, "hall", "楼梯间放满了旧家具", target)
    assert Router(db, "hall", threshold=0.0).route("楼梯间放满了旧家具")["category"] == target


def test_attach_turns_a_complaint_into_a_dispatch_answer(db):
    answer = {"status": "not_found", "candidates": [], "not_found": {"message": "x"}, "item": None}
    attach(answer, db, "hall", "工地半夜施工太吵，我的电话13812345678")
    assert answer["status"] == "dispatch" and answer["intent"] == "complaint"
    d = answer["dispatch"]
    assert d["category"] == ["环境保护", "噪声污染", "建筑施工噪声"] and d["lead"]["department"] in ("区生态环境局", "12345政务服务便民热线")
    assert "13812345678" not in json.dumps(d, ensure_ascii=False) and "138****5678" in d["summary"]
    assert "not_found" not in answer and d["how_to_raise"] and d["prepare"]


def test_attach_keeps_the_service_card_when_the_item_handles_the_matter(db):
    item = {"code": "X1", "name": "消费纠纷调解", "department": "区市场监管局"}
    answer = {"status": "answer", "candidates": [item], "item": dict(item)}
    attach(answer, db, "hall", "我要投诉商家，消费纠纷调解怎么申请")
    assert answer["intent"] == "both" and answer["status"] == "answer"
    assert answer["item"]["name"] == "消费纠纷调解" and answer["dispatch"]["lead"]["department"]


def test_an_expired_document_is_a_renewal_and_expired_food_a_complaint():
    assert intent_of("身份证过期了要换新的", True, 0.3) == "service"
    assert intent_of("驾照快到期了", True, 0.3) == "service"
    assert intent_of("超市卖过期牛奶", True, 0.3) == "complaint"


def test_a_damaged_document_is_a_replacement_and_a_broken_lamp_a_complaint():
    assert intent_of("身份证坏了能在这里换吗", True, 0.3) == "service"
    assert intent_of("社保卡芯片坏了刷不出来", True, 0.3) == "service"
    assert intent_of("小区路灯坏了", True, 0.3) == "complaint"


def test_intent_split():
    assert intent_of("老板拖欠工资", False, 0.5) == "complaint"
    assert intent_of("我想申请低保", True, 0.3) == "service"
    assert intent_of("我要投诉商家卖假货，怎么申请", True, 0.3, "消费者投诉受理") == "both"
    assert intent_of("今天天气怎么样", False, 0.02) == "out_of_scope"


@pytest.mark.parametrize("text", ["停水了也不提前通知", "药店卖假药", "小区电梯经常坏，还困过人", "养猪场臭气熏天",
                                  "快递丢了快递公司不赔", "酒吧音响吵到凌晨", "公司不给员工交社保", "超市不明码标价"])
def test_a_problem_stated_plainly_is_a_complaint_even_when_the_service_search_is_confident(text):
    assert intent_of(text, True, 0.3) == "complaint"


def test_plain_problem_words_leave_service_questions_alone():
    assert intent_of("驾驶证丢了", True, 0.3) == "service"  # a replacement to apply for
    assert intent_of("特困人员救助供养", True, 0.3) == "service"  # 特困 is no lift that traps people
    assert intent_of("想做个能强制执行的公证", True, 0.3) == "service"
    assert intent_of("居住证申请了半个月还没通知，查进度", True, 0.3) == "service"
    # a complaint of a service's delay keeps the service card and carries the dispatch block
    assert intent_of("申请低保一直没批下来", True, 0.3, "最低生活保障审批") == "both"


@pytest.mark.parametrize("text", ["演出经纪干不下去了，赔了好多钱，个人经纪人备案证明要注销",  # a need stated
                                  "去年关联交易没报同期资料被税局催了，个人的同期资料报告点补报",  # 粤 点 = 怎么
                                  "想开发无人岛搞旅游，项目论证找谁咨询", "野猪把我家番薯地拱烂了，政府赔不赔"])
def test_a_trouble_told_before_a_service_need_is_no_complaint(text):
    assert intent_of(text, True, 0.3) == "service"


def test_a_dispute_item_that_settles_the_matter_makes_it_both():
    assert intent_of("邻村占了我们的山林，权属吵了几年了", True, 0.3, "林木林地权属争议调处") == "both"
    assert intent_of("邻村占了我们的山林，权属吵了几年了", True, 0.3, "林权登记") == "complaint"


STORY = "我开大巴跑乡镇线，前几天车停路边被人撬了，驾驶室的东西全偷了，道路运输证也没了，去哪里补一个"


def test_a_long_story_that_closes_with_a_service_need_is_the_service_with_the_dispatch_block():
    assert intent_of(STORY, True, 0.3, "道路运输证补发", service_score=0.9) == "both"
    # not when the service search is unsure, nor when the story is nearer a 诉求 in meaning
    assert intent_of(STORY, True, 0.3, "道路运输证补发", service_score=0.6) == "complaint"
    assert intent_of(STORY, True, 0.3, "道路运输证补发", service_score=0.9, closer_to_dispatch=0.01) == "complaint"
    # a story that closes on the problem itself stays a complaint, however sure the search
    told = "我开大巴跑乡镇线，前几天车停路边被人撬了，驾驶室的东西全偷了，道路运输证也没了，希望派出所尽快破案"
    assert intent_of(told, True, 0.3, "道路运输证补发", service_score=0.95) == "complaint"
    # nor a story past STORY_CHARS characters
    assert intent_of("我开大巴跑乡镇线已经十几年了" * 8 + "，去哪里补一个", True, 0.3, "道路运输证补发", service_score=0.9) == "complaint"


@pytest.mark.parametrize("text", ["对面那栋楼每天晚上都有人在楼顶唱歌喝酒，一直闹到凌晨一两点钟",  # tells, asks nothing
                                  "老板说我签的合同里写了不交社保，这样合法吗", "装修的时候把邻居家墙弄裂了，邻居要我赔，这事谁管",
                                  "镇上这几天停了三天水", "街口有家黑诊所在给人输液", "有人往河里倒废料",
                                  "希望有关部门管一下夜市的噪音", "能不能派人把路口的树枝修一下",
                                  "人行道上的井盖被人掀了", "出租屋里有人聚赌", "借给朋友的钱他不还，报警有用吗",
                                  "商场的扶梯合格证过期半年了", "车被人刮了，对方不认账怎么办", "奶茶店门口的音箱从早放到晚"])
def test_a_statement_a_dispute_a_plain_report_or_a_request_is_a_complaint(text):
    assert intent_of(text, True, 0.3) == "complaint"


@pytest.mark.parametrize("text", ["以前当兵户口注销了，现在回来了想把户口恢复一下",  # a long statement of a wish
                                  "身份证掉了补办找谁", "被猫抓了，哪里能打狂犬疫苗", "开餐馆的排污许可找谁审批",
                                  "单位搞个大型焰火燃放活动", "春节想在门口卖烟花", "我的车被人套牌了",
                                  "希望能查一下我这些年的养老保险缴费记录",
                                  "退休后要去外地和子女一起生活，医保异地就医怎么备案"])
def test_a_long_question_with_a_wish_or_an_ask_stays_a_service(text):
    assert intent_of(text, True, 0.3) == "service"


@pytest.mark.parametrize("text", ["养老金申请交了两个月还没到账", "办营业执照两个窗口推来推去", "办残疾证跑了五趟每次都说缺材料",
                                  "婚姻登记网上预约总是约不上", "高龄津贴今年少发了三个月", "窗口工作人员态度恶劣"])
def test_a_grievance_about_a_service_keeps_its_card_and_carries_a_dispatch(text):
    assert grieves(text)
    assert intent_of(text, True, 0.3, "某某事项") == "both"
    assert intent_of(text, False, 0.3) == "complaint"


@pytest.mark.parametrize("text", ["身份证还没办下来，能开个临时证明吗", "社保卡坏了刷不了，换一张新的",
                                  "居住证还没消息，在哪里查进度", "低保怎么申请"])
def test_a_service_asked_for_in_its_situation_is_no_grievance(text):
    assert not grieves(text)


def test_a_grievance_the_categories_cannot_place_goes_to_the_items_department():
    item = {"name": "失业保险金申领", "department": "区人力资源和社会保障局", "department_full": "某区人力资源和社会保障局"}
    router = Router.__new__(Router)
    router.full = {}
    centre = {"department": "12345", "type": ds.COMMAND_CENTRE_TYPE}

    def block(to_centre):
        return {"lead": centre if to_centre else {"department": "区医保局", "type": "医保"}, "to_command_centre": to_centre,
                "support": [{"department": "区人力资源和社会保障局", "type": "人社"}], "why": ["把握不足，由指挥中心分拨"],
                "types": [{"type": "医保", "score": 0.4}, {"type": "人社", "score": 0.3}]}

    unsure = block(True)
    handled_by(unsure, router, {"item": item, "candidates": [item]})
    assert unsure["lead"] == {"department": "区人力资源和社会保障局", "department_full": "某区人力资源和社会保障局", "type": "人社"}
    assert not unsure["to_command_centre"] and unsure["types"][0]["type"] == "人社" and unsure["support"] == []
    assert "失业保险金申领" in unsure["why"][-1] and not any("指挥中心" in w for w in unsure["why"])
    sure = block(False)  # the categories placed it: their lead stays
    handled_by(sure, router, {"item": item, "candidates": [item]})
    assert sure["lead"]["department"] == "区医保局"
    unknown = block(True)  # a department of no known type: the centre routes it
    other = dict(item, department="区某某中心")
    handled_by(unknown, router, {"item": other, "candidates": [other]})
    assert unknown["to_command_centre"] and unknown["lead"] == centre


@pytest.mark.parametrize("text", ["请求在路口装个红绿灯", "希望街道能建个公共厕所", "能不能多开几个办事窗口",
                                  "请派人来清理一下河道", "路中间有个大坑", "网吧让未成年人进去上网",
                                  "有人半夜在河边偷偷倒垃圾", "药店把保健品说成药卖", "请修一下村口的桥",
                                  "能不能在学校门口设个斑马线", "老板把我们的社保停缴了", "村里的账目不公开"])
def test_a_request_or_a_plain_hazard_is_a_诉求(text):
    from assistant.intent import complaint_cues
    assert complaint_cues(text)
    assert intent_of(text, False, 0.3) == "complaint"


@pytest.mark.parametrize("text", ["早上好，吃饭了没", "邻居家装修的风格好看吗", "景区国庆人多不多", "电脑老是死机是啥子原因",
                                  "隔壁装修用的什么地板好看"])
def test_small_talk_near_a_phrasing_is_no_诉求(text):
    # close in words to 装修噪声 or 景区 categories, but asking nothing of anyone
    assert intent_of(text, False, 0.5) == "out_of_scope"
    assert not meaning_may_decide(text)


@pytest.mark.parametrize("text", ["请问身份证怎么办理", "下岗好几年找不到工作能享受困难人员政策吗",
                                  "居住证办了一个月还没好，能查进度吗", "我想申请三年的居住证"])
def test_asking_for_a_service_is_no_request_or_grievance(text):
    from assistant.intent import complaint_cues
    assert not complaint_cues(text)


@pytest.mark.parametrize("text", ["开发商不给办房产证", "公司辞退我不给补偿", "银行乱收手续费", "培训机构收了钱跑了不退费",
                                  "楼上邻居天天往下扔垃圾"])
def test_another_partys_wrong_is_a_complaint_even_in_a_services_words(text):
    # "both" (the service card with the dispatch block) where it is a service refused: 不给办
    assert intent_of(text, True, 0.3) in ("complaint", "both")
    assert intent_of(text, False, 0.3) == "complaint"


def test_another_partys_wrong_as_the_occasion_of_a_service_stays_a_service():
    assert intent_of("公司辞退我了，能领失业金吗", True, 0.3) == "service"
    assert intent_of("单位不交社保，我个人怎么办理参保", True, 0.3) == "service"
    assert intent_of("公司注销怎么办理", True, 0.3) == "service"  # a business, but no wrong


def test_asking_for_a_fact_is_no_complaint():
    assert intent_of("快递寄到重庆要多少钱", False, 0.25) == "out_of_scope"
    assert intent_of("地铁末班车几点", False, 0.25) == "out_of_scope"
    assert not meaning_may_decide("淘宝买的东西怎么退货")
    assert meaning_may_decide("附近工地晚上还在打桩")  # a place, not a question
    assert intent_of("假肢用坏了要更换", True, 0.3) == "service"  # a device to replace (辅具配置)


def test_place_and_time_are_extracted_and_numbers_never_are():
    x = extract("洋湖街道阳光社区3栋楼下饭店每天晚上10点后油烟扰民")
    assert x["place"]["street"] == "洋湖街道" and x["place"]["community"] == "阳光社区"
    assert x["place"]["building"] == "3栋" and "晚上10点后" in x["time"]
    assert extract("A3区潇楚南路一直没修好")["place"]["road"] == "潇楚南路"


def test_store_schema_is_plain_sqlite(tmp_path):
    d = open_db(tmp_path / "w.db")
    ds.ensure_schema(d)
    names = {r[0] for r in sqlite3.connect(tmp_path / "w.db").execute("select name from sqlite_master")}
    assert {"dispatch_categories", "dispatch_history", "dispatch_corrections", "dispatch_type_overrides"} <= names


def test_a_ministrys_regional_office_is_not_the_local_lead():
    d = open_db(":memory:")
    names = ["自然资源部南海局", "广东省自然资源厅", "广州市规划和自然资源局"]
    import_catalogue(d, CatalogueData(name="prov", title="省", items=[{"code": str(i), "name": f"事项{i}",
                                                                     "department": n} for i, n in enumerate(names)]))
    ds.ensure_schema(d)
    assert ds.departments_by_type(d, "prov")["自然资源"] == ["广州市规划和自然资源局", "广东省自然资源厅", "自然资源部南海局"]


def test_a_question_much_closer_to_a_dispatch_category_than_to_any_item_is_a_complaint():
    from assistant.intent import CLOSER_BY, NEAR_DISPATCH, intent_of

    near = NEAR_DISPATCH + 0.02
    # no cue word either way: the service answer alone would keep it a service question
    text = "楼道里的灯一直黑着"
    assert intent_of(text, True, 0.1, "某服务事项") == "service"
    assert intent_of(text, True, 0.1, "某服务事项", closer_to_dispatch=CLOSER_BY + 0.01, dispatch_cosine=near) == "complaint"
    assert intent_of(text, True, 0.1, "某服务事项", closer_to_dispatch=CLOSER_BY - 0.01, dispatch_cosine=near) == "service"
    # closer, but not near any category at all
    assert intent_of(text, True, 0.1, "某服务事项", closer_to_dispatch=0.2, dispatch_cosine=NEAR_DISPATCH - 0.05) == "service"
    # an explicit ask for how to apply, a document to renew, the weather: not a complaint
    assert intent_of("怎么申请路灯安装许可", True, 0.1, "路灯许可", closer_to_dispatch=0.2, dispatch_cosine=near) == "service"
    assert intent_of("身份证过期了", True, 0.1, "身份证换领", closer_to_dispatch=0.2, dispatch_cosine=near) == "service"
    assert intent_of("明天会下雨吗", False, 0.1, None, closer_to_dispatch=0.2, dispatch_cosine=near) != "complaint"
    # the item handles complaints: its card with the dispatch block
    assert intent_of("商家不给退款", True, 0.1, "消费纠纷调解", closer_to_dispatch=0.2, dispatch_cosine=near) == "both"


def test_the_dense_matcher_scores_a_vector_already_computed():
    import numpy as np

    from assistant.dispatch_score import DenseMatcher

    m = DenseMatcher.__new__(DenseMatcher)
    m.vectors = np.array([[1.0, 0.0], [0.6, 0.8]])
    assert m.best(np.array([0.0, 1.0])) == pytest.approx(0.8)


def test_meaning_decides_only_where_no_service_cue_stands_alone():
    from assistant.intent import meaning_may_decide

    assert meaning_may_decide("楼道里的灯一直黑着")
    assert meaning_may_decide("申请低保一直没批下来")  # a complaint cue beside the service cue
    for text in ("我想申请低保", "怎么办理营业执照", "身份证过期了", "明天会下雨吗"):
        assert not meaning_may_decide(text), text


def test_dialect_words_are_read_in_mandarin_beside_the_citizens_own():
    from assistant.intent import ASKS_HOW, complaint_cues, meaning_may_decide, plain, service_cues

    assert plain("点样申请") == "怎样申请" and plain("咋个办") == "怎么办" and plain("怎么办") == "怎么办"
    # the weather asked in dialect is still the weather, not a 诉求 close in meaning
    assert not meaning_may_decide("今天下午会不会落雨哦")
    assert not meaning_may_decide("明天会不会下雨")
    # an ask for how to apply, in Cantonese or Sichuanese, keeps a long story a service question
    assert not ASKS_HOW.search("点样申请") and not meaning_may_decide("野猪拱了我的番薯，听讲有补偿，点样申请")
    assert service_cues("咋个申请") == ("申请",)
    # a Cantonese cue the rules name in its own words still counts
    assert "唔俾" in complaint_cues("房东唔俾退押金")


def test_a_short_question_with_no_problem_cue_is_not_a_complaint_by_meaning():
    from assistant.intent import asks_briefly, complaint_cues, meaning_may_decide

    for text in ("附近有没得修电瓶车的", "坐动车去重庆北要多久", "菜市场的牛肉多少钱一斤"):
        assert asks_briefly(text) and not meaning_may_decide(text), text
    # numbers (十几条) and a closing 没有 are no question; a long account is no brief question
    assert not asks_briefly("三楼那户养了十几条狗")
    assert not asks_briefly("早上学校门口接送的车把整条路都堵死了，一个交警都没有")
    assert meaning_may_decide("楼道里的灯一直黑着")  # no question at all: meaning may decide
    assert meaning_may_decide("路灯坏了怎么没人修")  # a problem cue: meaning may decide


def test_building_work_is_a_complaint_only_as_a_nuisance():
    from assistant.intent import complaint_cues

    assert not complaint_cues("想查一个施工员证是不是真的")
    assert not complaint_cues("工地旁边有棵古树，施工前要报保护方案")
    assert complaint_cues("隔壁工地夜间施工到凌晨")
    assert not complaint_cues("想查下这家施工单位有没有资质")  # asks whether it has one
    assert complaint_cues("这家施工队没有资质")


def test_a_notarisation_or_a_look_up_is_a_service_even_beside_a_problem():
    from assistant.intent import intent_of, service_cues

    assert "公证" in service_cues("网上买到假货，想公证保全购物过程做证据")
    assert service_cues("想查下这个证是不是真的")
    assert intent_of("网上买到假货，想公证保全购物过程做证据", True, 0.1) == "service"
    assert intent_of("网上买到假货，商家不退钱", True, 0.3) == "complaint"


def test_an_expanded_complaint_is_routed_with_the_searchs_own_words_vector(assistant, monkeypatch):
    """The 诉求 split compares the question as written with the dispatch phrasings; the
    service search embedded exactly that beside the expanded question, so routing
    embeds nothing more (one model call per question, not two)."""
    question = "小区门口有人摆摊占道"
    res = assistant.retriever("guangan").search(question)
    assert res.expanded != question and res.raw_vector is not None  # the vocabulary added terms
    assistant.ask(question, "guangan")  # the dispatch router loaded and warm
    from assistant import dispatch

    router = dispatch.router_for(assistant.db, "guangan", embedder=assistant.embedder, cache=assistant.embedding_cache())
    calls, seen = [], []
    query, best = assistant.embedder.query, router.dense.best
    monkeypatch.setattr(assistant.embedder, "query", lambda texts: calls.append(list(texts)) or query(texts))
    monkeypatch.setattr(router.dense, "best", lambda v: seen.append(v) or best(v))
    answer = assistant.ask(question, "guangan")
    assert answer["status"] == "dispatch" and answer["dispatch"]["lead"]
    assert calls == [[res.expanded, question]]
    assert len(seen) == 1 and float(seen[0] @ res.raw_vector) > 0.9999
