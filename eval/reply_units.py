"""The unit that handled a citizen's message, read from the government's reply:
the department-type labels of the routing evaluation (``eval/dispatch.py``).

A reply names many units: the handler, but also the place where it happened
(a 社区 or 街道), units merely mentioned (a 派出所 the property company called), units
the citizen is advised to contact ("请致电区教育局"). The handler is told apart by
how the reply speaks of it, strongest first:

1. the signature: a unit at the very end, or just before the closing date;
2. handling words around it: "经X调查", "交由X办理", "已转X", "X高度重视",
   "X回复如下", "X立即组织…", and a township speaking of itself ("我镇", "我街道");
3. a reply in the first person ("我局", "我支队", "我司") that thanks the citizen
   for supporting its own line of work ("感谢您对城管工作的支持"), or says which
   service it runs (a bus company: "我司…公交");
4. otherwise the first unit named in the first 200 characters, except units named
   as a place ("位于", "涉及", "属于"), one to contact ("联系", "致电", "咨询"), an
   alternative ("或"), or a community/village (a place far more often than a handler).

    >>> reply_type("网友您好！经A6区园林局现场核实调查，绿化已整改。")
    ('综合执法', 'A6区园林局')
    >>> reply_type("您好！用地涉及德山街道永丰社区，经市生态环境局调查，该厂已关停。")
    ('生态环境', '市生态环境局')
    >>> reply_type("您好，您反映的问题我镇已派人处理。感谢来信！")
    ('街道', '我镇')
"""

from __future__ import annotations

import re

from store import dispatch as ds

# Words that name a unit in replies, beyond the department-type keywords
# (former and informal names: 城管, 交警, 派出所, 国土 …). 园林 and 路灯 follow the
# dispatch catalogue, where 园林绿化 and 路灯 are led by 综合执法.
REPLY_WORDS = {
    "综合执法": ("城管", "城市管理", "执法大队", "执法局", "园林", "环卫", "环境卫生", "路灯"),
    "公安": ("交警", "派出所", "公安", "交通警察"),
    "住建": ("住房", "房屋", "房产", "住建", "建设局", "建委", "城建", "物业", "燃气"),
    "街道": ("社区", "居委会", "村委会", "镇人民政府", "乡人民政府", "街道", "镇政府", "乡政府"),
    "自然资源": ("国土", "规划", "不动产"), "生态环境": ("环保", "环境保护", "生态环境"),
    "卫生健康": ("卫生", "卫计", "卫健", "医院", "疾控"), "人社": ("人力资源", "人社", "社保", "劳动保障", "就业"),
    "教育": ("教育", "学校", "中学", "小学", "学院", "大学", "职院"), "市场监管": ("市场监", "工商", "质监", "食品药品", "食药"),
    "交通运输": ("交通运输", "交通局", "运管", "道路运输", "公交", "公路", "地铁", "轨道", "治超"),
    "水务": ("水务", "水利", "供水", "自来水"),
    "医保": ("医保", "医疗保障"), "民政": ("民政",), "农业农村": ("农业", "农村", "畜牧"), "发展改革": ("发改", "发展和改革", "物价", "电力"),
    "文旅": ("文化", "旅游", "文旅"), "应急管理": ("应急", "安监", "安全生产监督"), "税务": ("税务",), "商务": ("商务",),
    "林业": ("林业",), "残联": ("残联", "残疾人联合会"), "政务服务": ("政务服务", "行政审批"), "消防": ("消防",),
}
_UNIT = re.compile(r"[\u4e00-\u9fa5A-Za-z0-9]{1,16}?(?:局|厅|委员会|委|办公室|街道办事处|街道|人民政府|镇政府|乡政府|"
                   r"中心|公司|大队|支队|分局|管委会|管理处|派出所|社区|学校|中学|小学|医院|集团|部门|职院)")
# A township or street speaking of itself, or named as doing something.
_SELF_LOCAL = re.compile(r"我(镇|乡|街道|街|办事处)(?!长|上)")
_LOCAL_ACTS = re.compile(r"(?:我|[\u4e00-\u9fa5]{2,3})(?:镇|乡)(?:党委|政府|人民政府|党委政府)*"
                         r"(?:高度重视|已|立即|及时|组织|安排|派)")
# Words just before a unit's name: the closest one says how the unit is spoken of,
# a handler ("经X调查", "交由X办理", "已转X") or not (a place "位于/涉及X", a contact
# "联系/致电X", an alternative "或X", a companion "与/配合X").
_CUES = re.compile(r"(?P<handler>经(?!开|济|营|费|过|常)|交由|转交|转至|转由|转到|已转|责成|要求|安排|委托|交给|由(?!于))|"
                   r"(?P<other>位于|涉及|属于|隶属|所在|辖区|范围|联系|致电|拨打|咨询|请到|可到|前往|到|向|或|让|对|包括|与|和|及|"
                   r"亦可|可在|配合|陪同|协助|报告|上报|投诉|反映|举报|之间|附近|旁边|对面)")
# Handling words right after the unit.
_AFTER = re.compile(r"^(高度重视|回复如下|答复如下|现回复|现答复|现将|调查|核实|核查|现场|立即|迅速|及时|组织|派|已|对此|"
                    r"收到|接到|办理|处理|执法|针对|根据|认真)")
_PLACE_ONLY = re.compile(r"(社区|村|居委会|村委会)$")
_DATE_END = re.compile(r"(\d{4}[年.\-]\d{1,2}[月.\-]\d{1,2}日?|[〇零一二三四五六七八九十]{4}年.{1,3}月.{1,3}日)$")
# The replying unit in the first person, and what its thanks say its work is.
_SELF = re.compile(r"我(局|委|中心|支队|大队|司|公司|院|校|厅|办)")
_THANKS = re.compile(r"(?:感谢|谢谢)(?:您|你|广大网友|网友)?(?:对|关注)([\u4e00-\u9fa5A-Za-z0-9]{1,14}?)(?:工作|事业|事务|管理|行业)")
# Services a company replying as "我司" runs.
_COMPANY = {"交通运输": ("公交", "地铁", "轨道", "客运"), "水务": ("供水", "自来水"), "住建": ("燃气", "天然气")}


def _type(unit: str) -> str | None:
    if re.search(r"[市区县]人民政府$|银行|部经理", unit):  # a government as a whole, a bank, a company's own office
        return None
    return ds.type_of(unit) or next((k for k, ws in REPLY_WORDS.items() for w in ws if w in unit), None)


def _units(text: str, offset: int = 0):
    """(start, end, unit, type) of every unit of a known type named in ``text``."""
    for m in _UNIT.finditer(text):
        t = _type(m.group(0))
        if t:
            yield m.start() + offset, m.end() + offset, m.group(0), t


def _signature(reply: str) -> tuple[str, str] | None:
    """A unit signing the reply: at the very end or right before the closing date."""
    tail = _DATE_END.sub("", reply.rstrip("。.！! "))[-30:]
    found = [(u, t) for s, e, u, t in _units(tail) if e == len(tail)]
    if not found:
        return None
    unit, t = found[-1]
    # the match's loose start may run into the sentence before: keep what follows the last stop
    return t, re.split(r"[。！!，,：:；;）)]", unit)[-1] or unit


def _core(unit: str, t: str) -> str:
    """The unit's own name: the shortest ending of the match of the same type (the
    match's start is loose: "已转市人力资源和社会保障局" → "人力资源和社会保障局")."""
    for i in range(len(unit) - 1, -1, -1):
        if _type(unit[i:]) == t:
            return unit[i:]
    return unit


def _name(unit: str, t: str) -> str:
    """The unit as named: the match after the last cue word before its own name."""
    core = _core(unit, t)
    cues = list(_CUES.finditer(unit[: len(unit) - len(core)]))
    return unit[cues[-1].end():] if cues else unit


def _spoken_of(text: str, s: int, unit: str, t: str) -> str | None:
    """"handler", "other" or None: the cue closest before the unit's own name."""
    core = _core(unit, t)
    cues = list(_CUES.finditer(text[max(0, s - 4):s] + unit[: len(unit) - len(core)]))
    return cues[-1].lastgroup if cues else None


def _handled(text: str, head: str) -> tuple[str, str] | None:
    """The first unit named with handling words around it."""
    for s, e, unit, t in _units(head):
        cue = _spoken_of(text, s, unit, t)
        if cue == "handler" or (cue is None and _AFTER.search(text[e:e + 6])):
            return t, _name(unit, t)
    return None


def _self_named(reply: str) -> tuple[str, str] | None:
    """A first-person reply whose thanks or services name its line of work."""
    m = _SELF.search(reply)
    if not m:
        return None
    if m.group(1) in ("司", "公司"):
        t = next((k for k, ws in _COMPANY.items() for w in ws if w in reply), None)
        return (t, m.group(0)) if t else None
    if m.group(1) in ("支队", "大队") and re.search(r"交警|交通警察|交通事故|交管|交通管理|驾驶|闯红灯|违停", reply):
        return "公安", m.group(0)  # a traffic-police detachment, whatever its thanks say
    thanks = _THANKS.search(reply)
    t = _line_type(thanks) if thanks else None
    if t:
        return t, m.group(0) + "（" + thanks.group(1) + "）"
    return None


def _line_type(thanks: re.Match) -> str | None:
    """The type of the line of work thanked for: 交通管理 is the traffic police's."""
    line = thanks.group(1)
    if re.search(r"交警|交管", line) or (line.endswith("交通") and thanks.group(0).endswith("管理")):
        return "公安"
    t = _type(line + "局") or next((k for k, ws in REPLY_WORDS.items() for w in ws if w in line), None)
    return t if t != "街道" else None


def _thanked(reply: str) -> tuple[str, str] | None:
    """Thanks for supporting a line of work, with no unit named ("感谢网友对市场监管工作的支持")."""
    thanks = _THANKS.search(reply)
    t = _line_type(thanks) if thanks else None
    return (t, thanks.group(1)) if t else None


def _first_named(head: str) -> tuple[str, str] | None:
    for s, e, unit, t in _units(head):
        if _spoken_of(head, s, unit, t) == "other" or _PLACE_ONLY.search(unit):
            continue
        return t, _name(unit, t)
    return None


def reply_type(reply: str) -> tuple[str | None, str | None]:
    """(department type, the unit as named) of the unit that handled the message, by
    the rules in the module's docstring; (None, None) when the reply names none."""
    text = re.sub(r"\s+", "", reply)
    head = text[:200]
    found = _signature(text)
    if found:
        return found
    acts = _LOCAL_ACTS.search(text[:400])  # "我镇高度重视", "茶亭镇已于…安排"
    if acts:
        named = re.match(r".*?(?:镇|乡)", acts.group(0)).group(0)
        return "街道", named[named.index("我"):] if "我" in named else named
    found = _handled(text, head)
    if found:
        return found
    local = _SELF_LOCAL.search(text[:400])
    if local:
        return "街道", local.group(0)
    return _self_named(text) or _first_named(head) or _thanked(text) or (None, None)
