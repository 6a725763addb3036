"""Place and time from a message, for the work order (工单), with personal
numbers masked.

    >>> extract("洋湖街道阳光社区3栋楼下饭店每天晚上10点后油烟扰民，电话13812345678")
    {'place': {'street': '洋湖街道', 'community': '阳光社区', 'estate': None, 'building': '3栋', 'road': None}, 'time': ['每天', '晚上10点后']}
"""

from __future__ import annotations

import re
from typing import Any

_PLACE = {
    "street": re.compile(r"[\u4e00-\u9fa5A-Za-z0-9]{1,8}?(?:街道|镇|乡)(?![长办政府])"),
    "community": re.compile(r"[\u4e00-\u9fa5A-Za-z0-9]{1,8}?(?:社区|村(?!民|委|干部|务))"),
    "estate": re.compile(r"[\u4e00-\u9fa5A-Za-z0-9]{1,10}?(?:小区|花园|公寓|家园|大厦|广场|苑|府)(?![^\s，。]{0,2}业主)"),
    "building": re.compile(r"[0-9一二三四五六七八九十A-Za-z]+(?:栋|号楼|幢|单元|楼\d*号)"),
    "road": re.compile(r"[\u4e00-\u9fa5A-Za-z0-9]{1,8}?(?:路|大道|街(?!道)|巷)(?:\d+号)?(?![口灯边上])"),
}
_TIME = re.compile(
    r"\d{4}年\d{1,2}月(?:\d{1,2}[日号])?|\d{1,2}月\d{1,2}[日号]|(?:今天|昨天|前天|昨晚|今晚|最近|近期|每天|每晚|天天|周末|"
    r"长期|多年|已经\d+[天个年月]+)|(?:凌晨|早上|上午|中午|下午|晚上|夜间|半夜|深夜)(?:\d{1,2}[点时](?:\d{1,2}分?)?(?:以后|后|前|左右)?)?")
_LEAD = re.compile(r"^(?:我们|我|在|位于|住在|家住|反映|投诉|举报|关于|的)+")


def _first(rx: re.Pattern, text: str) -> str | None:
    m = rx.search(text)
    if not m:
        return None
    # the part after the last 市/区/县 ("A3区潇楚南路" → "潇楚南路"), lead-in words dropped
    found = re.split(r"[市区县]", _LEAD.sub("", m.group(0)))[-1]
    return found if len(found) >= 2 else m.group(0)


def extract(text: str) -> dict[str, Any]:
    """{place: {street, community, building, road, estate}, time: [..]}; None where absent."""
    place: dict[str, str | None] = {}
    rest = text
    for k, rx in _PLACE.items():  # each found part is taken out before the next looks
        place[k] = _first(rx, rest)
        if place[k]:
            rest = rest.replace(place[k], "，", 1)
    times = list(dict.fromkeys(m.group(0) for m in _TIME.finditer(text)))[:4]
    return {"place": place, "time": times}
