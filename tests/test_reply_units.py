"""The handling unit read from a government reply (the department labels of the
dispatch evaluation). Replies written here from the usual forms of 12345 replies."""

from __future__ import annotations

import pytest

from eval.reply_units import reply_type


@pytest.mark.parametrize("reply, want", [
    # the signature before the closing date wins over units named earlier
    ("网友您好！您反映的问题已收悉。和平社区反映的情况经核实属实，已整改。感谢您的支持！某县城市管理和行政执法局2019年5月6日",
     "综合执法"),
    # "经X调查", "已转X", "X高度重视"
    ("网友您好！经区人社局调查核实，该公司已于5月补发工资。", "人社"),
    ("您的留言已收悉。关于您反映的问题，已转市教育局调查处理。", "教育"),
    ("您好！收到留言后，区市场监督管理局高度重视，立即派员到现场检查。", "市场监管"),
    # the place named before the handler is not the handler
    ("您好！该饭店位于东风街道幸福社区，经区生态环境局执法人员现场检测，油烟超标，已责令整改。", "生态环境"),
    # a unit to contact, a companion, an alternative: not the handler
    ("您好！我局执法队员已联系幸福社区工作人员一同到场。感谢您对城管工作的支持！", "综合执法"),
    # a township speaking of itself
    ("网友：您好！对于您反映的问题，我镇高度重视，安排工作人员到村里调查。", "街道"),
    # informal names: 交警部门, a detachment on traffic, a bus company's 我司
    ("您好！近年来交警部门加大了违停查处力度。", "公安"),
    ("您好！我支队高度重视，对该路口闯红灯等交通违法行为开展了整治。", "公安"),
    ("尊敬的乘客：您好！我司已调整32路公交车的发车间隔。", "交通运输"),
])
def test_the_handler_is_the_unit_spoken_of_as_handling(reply, want):
    assert reply_type(reply)[0] == want


@pytest.mark.parametrize("reply", [
    "网友您好！具体请咨询市人社局，电话0000-00000000。",                 # a unit to contact only
    "网友：您好！留言已收悉。",                                            # no unit at all
    "您好！我行人力资源部经理负责经办，经核实不存在强制加班。",             # a bank's own office
    "您好！您反映的问题已转有关部门调查处理。",                            # "有关部门" is no type
])
def test_no_handler_named_gives_none(reply):
    assert reply_type(reply) == (None, None)


def test_the_unit_is_returned_as_named_without_the_words_before_it():
    assert reply_type("网友您好！经A6区园林局现场核实调查，绿化已整改。") == ("综合执法", "A6区园林局")
