"""Areas (行政区划) and levels (省/市/县): what a site serves and how a department is named.

A 行政区划代码 has six digits, two each for province, city and county
(440000 广东省, 440100 广州市, 440106 天河区); the twelve-digit form adds
township and village (511602000000 is 广安区 itself). An item implemented at an
area serves that area and everything inside it, so a site at 440106 is served
by the items of 440000, 440100 and 440106: ``chain("440106")``.

Names come from the catalogue (guangdong's AREA_CODE_TEXT) or from ``NAMES``,
a small table of the areas the shipped catalogues cover; nothing is guessed.

    >>> chain("440106")
    ['440000', '440100', '440106']
    >>> level_of("440100"), area_name("440100")
    ('市', '广州市')
    >>> department_full("区公安分局", "511602"), department_full("广州市公安局", "440100")
    ('广安区公安分局', '广州市公安局')
    >>> department_local("广州市公安局", "440100", {"440100": "广州市"})
    '市公安局'
    >>> department_local("广州空港经济区管理委员会", "440100")
    '市空港经济区管理委员会'
"""

from __future__ import annotations

import re

# 行政区划代码 of the areas the shipped catalogues and sites name (GB/T 2260).
NAMES: dict[str, str] = {
    "440000": "广东省", "440100": "广州市",
    "440103": "荔湾区", "440104": "越秀区", "440105": "海珠区", "440106": "天河区",
    "440111": "白云区", "440112": "黄埔区", "440113": "番禺区", "440114": "花都区",
    "440115": "南沙区", "440117": "从化区", "440118": "增城区",
    "510000": "四川省", "511600": "广安市", "511602": "广安区",
}
LEVELS = ("省", "市", "县")
# How catalogues spell a level → 省/市/县 (a district, 区, is a county-level area).
LEVEL_SPELLINGS = {
    "省": "省", "省级": "省", "省本级": "省",
    "市": "市", "市级": "市", "地市级": "市", "市本级": "市",
    "县": "县", "县级": "县", "区县级": "县", "县区级": "县", "区级": "县", "区": "县", "县（区）级": "县",
}
_CODE = re.compile(r"^\d{6}(\d{6})?$")


class BadArea(ValueError):
    """An area code or level that cannot be read; the message says which and why."""


def normalize_code(code: str | int | None) -> str | None:
    """A 6- or 12-digit code → the 6-digit county-level code; None stays None.

    >>> normalize_code("511602000000")
    '511602'
    """
    if code is None:
        return None
    text = str(code).strip()
    if not text:
        return None
    if not _CODE.match(text):
        raise BadArea(f"'{text}' is not a 行政区划代码 (6 or 12 digits)")
    if len(text) == 12 and text[6:] != "000000":
        raise BadArea(f"'{text}' names a township or village; items are implemented by counties and above")
    return text[:6]


def normalize_level(level: str | None) -> str | None:
    """'省级' → '省', '区县级' → '县'; None stays None; anything else is ``BadArea``."""
    if level is None:
        return None
    text = str(level).strip()
    if not text:
        return None
    if text not in LEVEL_SPELLINGS:
        raise BadArea(f"unknown level '{text}' (one of 省级、市级、县级/区县级)")
    return LEVEL_SPELLINGS[text]


def level_of(code: str) -> str:
    """The level an area code is at: '省', '市' or '县'."""
    if code[2:] == "0000":
        return "省"
    return "市" if code[4:] == "00" else "县"


def chain(code: str) -> list[str]:
    """The area and the areas above it, province first: the areas whose items serve ``code``."""
    out = [code[:2] + "0000", code[:4] + "00", code]
    return list(dict.fromkeys(out))


def area_name(code: str | None, known: dict[str, str] | None = None) -> str | None:
    """The area's own name ('广州市'), from ``known`` (names the catalogue gave) or ``NAMES``."""
    if code is None:
        return None
    return (known or {}).get(code) or NAMES.get(code)


def name_from_text(code: str, text: str | None) -> str | None:
    """The area's own name out of a catalogue's full place text: ('440100', '广东省广州市') → '广州市'.
    None when the text does not end in a name of the code's level."""
    if not text:
        return None
    text = text.strip()
    parent = NAMES.get(code[:2] + "0000") if level_of(code) != "省" else None
    if parent and text.startswith(parent) and len(text) > len(parent):
        text = text[len(parent):]
    return text or None


def _stem(name: str) -> str:
    """'广州市' → '广州', '广安区' → '广安' (a name is often written without its suffix)."""
    return name[:-1] if len(name) >= 3 and name[-1] in "省市区县州旗" else name


def department_full(department: str | None, code: str | None, known: dict[str, str] | None = None) -> str | None:
    """The department with its area: "区公安分局" at 511602 → "广安区公安分局".

    Unchanged when the name already carries an area of its chain (广州市公安局,
    国家税务总局广东省税务局, 广州空港经济区管理委员会) or when it does not begin
    with the level word (区/县/市/省) that the area would replace: a name like
    "中国民用航空中南地区管理局" is not the area's own department, so no area is added.
    """
    if not department or not code:
        return department
    dept = department.strip()
    names = [area_name(c, known) for c in chain(code)]
    if any(n and (n in dept or _stem(n) in dept) for n in names):
        return dept
    own = area_name(code, known)
    if own and dept[:1] in "区县市省" and own.endswith(dept[0]):
        return own + dept[1:]
    # "区…" at a county named …县 or "市…" at a county-level city: still the county's own
    if own and level_of(code) == "县" and dept[:1] in "区县":
        return own + dept[1:]
    return dept


def department_local(department: str | None, code: str | None, known: dict[str, str] | None = None) -> str | None:
    """The department as its own area says it, the area's name back to its level word:
    "广州市公安局" at 440100 → "市公安局", "天河区公安分局" → "区公安分局". The same item
    implemented by each city's bureau then has one text, embedded once (三级四同)."""
    own = area_name(code, known)
    if not department or not own:
        return department
    for prefix in (own, _stem(own)):  # 广州市公安局, 广州空港经济区管理委员会
        if len(prefix) >= 2 and department.startswith(prefix) and len(department) > len(prefix):
            return own[-1] + department[len(prefix):]
    return department


def names_of(items) -> dict[str, str]:
    """{area_code: area name} as a catalogue's items give them."""
    return {it["area_code"]: it["area"] for it in items if it.get("area_code") and it.get("area")}
