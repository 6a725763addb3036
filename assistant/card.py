"""What a citizen reads: the item card from a record, the 口径 an operator reads out,
and the short card for the terminal. Only what the record holds; a missing field
is said to be missing.

    >>> item_card({"code": "1", "name": "结婚登记", "department": "区民政局"})["missing"][:2]
    ['materials', 'conditions']
"""

from __future__ import annotations

import re
from typing import Any

from store import areas
from store.urls import safe_url

# Only 行政许可 has one procedure set by statute (行政许可法, chapter 4); other
# types have none in common, so nothing general is offered for them.
GENERAL_STEPS = {
    "行政许可": ["申请", "受理", "审查", "决定", "送达"],
}
GENERAL_STEPS_BASIS = "《中华人民共和国行政许可法》第四章规定的一般程序"

GUIDE_FIELDS = [
    "materials", "conditions", "steps", "time_limit_legal", "time_limit_promised", "fee",
    "place", "office_hours", "phone", "complaint_phone", "url", "online", "online_booking",
    "platform", "courier", "visits", "legal_basis", "result",
]
FIELD_LABELS = {
    "materials": "申请材料", "conditions": "受理条件", "steps": "办理流程",
    "time_limit_legal": "法定时限", "time_limit_promised": "承诺时限", "fee": "收费",
    "place": "办理地点", "office_hours": "办公时间", "phone": "咨询电话",
    "complaint_phone": "投诉电话", "url": "官方办事指南", "online": "网上办理",
    "online_booking": "网上预约", "platform": "办理平台", "courier": "快递送达",
    "visits": "到现场次数", "legal_basis": "设定依据", "result": "办理结果",
    "department": "办理部门",
}
NOT_IN_CATALOGUE = "目录中未登记该信息"


def material_text(m: dict[str, Any]) -> str:
    """One material as a person reads it: "户口簿（原件）"."""
    return m["name"] + (f"（{m['note']}）" if m.get("note") else "")


def general_steps_note(item: dict[str, Any]) -> str:
    """The label that says the steps are the statute's general procedure, or ""."""
    return f"（一般流程，依据{item['steps_basis']}）" if item.get("steps_general") else ""


def item_card(item: dict[str, Any]) -> dict[str, Any]:
    """The item with every guide field the catalogue has; ``missing`` names the rest.
    Steps the catalogue lacks may be the statutory general procedure, labelled so.
    A stored link that is not http(s) (a ``javascript:`` link from some older
    import) is dropped and listed as missing: it would run in the kiosk."""
    out = {k: item.get(k) for k in ("code", "name", "type", "department", "parent_name", "variant",
                                      "level", "co_departments", "service_object")}
    code = item.get("area_code")
    known = {code: item["area"]} if code and item.get("area") else None
    out["department_full"] = areas.department_full(item.get("department"), code, known)
    out["area"] = {"code": code, "name": areas.area_name(code, known)} if code else None
    for f in GUIDE_FIELDS:
        out[f] = item.get(f)
    out["url"] = safe_url(out["url"]) if out["url"] else None
    out["steps_general"] = False
    if not out["steps"] and item.get("type") in GENERAL_STEPS:
        out["steps"] = GENERAL_STEPS[item["type"]]
        out["steps_general"] = True
        out["steps_basis"] = GENERAL_STEPS_BASIS
    out["missing"] = [f for f in GUIDE_FIELDS if not out.get(f)]
    return out


CN_DIGITS = "零一两三四五六七八九十"


def _count_words(n: int) -> str:
    """A count as it is said: 2 → "两", 5 → "五", 12 → "十二"; 20 and more stay digits."""
    if n <= 10:
        return CN_DIGITS[n]
    if n < 20:
        return "十" + CN_DIGITS[n - 10]
    return str(n)


def _clean(text: str) -> str:
    """A record's text as it is read aloud: no URLs, no trailing or doubled punctuation."""
    text = re.sub(r"https?://\S+", "", str(text))
    text = re.sub(r"\s+", " ", text).strip()
    text = re.sub(r"([，。；、,.;:：])\1+", r"\1", text)
    return text.strip(" ，。；、,.;:：")


def spoken_answer(item: dict[str, Any]) -> str:
    """The 口径 an operator reads out: only what the record holds, materials counted,
    no URLs or stray punctuation; the rest sent to the official guide.

    >>> spoken_answer({"name": "结婚登记", "department": "区民政局", "materials": [{"name": "户口簿"},
    ...     {"name": "身份证"}], "fee": "不收费。", "url": "http://x"})
    '您好，您咨询的“结婚登记”由区民政局办理。需要带两样材料：户口簿、身份证。收费：不收费。详细要求以官方办事指南为准。'
    """
    dept = item.get("department_full") or item["department"]
    sentences = [f"您好，您咨询的“{_clean(item['name'])}”由{_clean(dept)}办理"]
    if item.get("place"):
        sentences.append(f"办理地点在{_clean(item['place'])}")
    if item.get("office_hours"):
        sentences.append(f"办公时间是{_clean(item['office_hours'])}")
    mats = [_clean(m["name"]) for m in item.get("materials") or [] if _clean(m["name"])]
    if mats:
        sentences.append(f"需要带{_count_words(len(mats))}样材料：" + "、".join(mats))
    limit = item.get("time_limit_promised") or item.get("time_limit_legal")
    if limit:
        sentences.append(("承诺" if item.get("time_limit_promised") else "法定") + f"办结时限是{_clean(limit)}")
    if item.get("fee"):
        sentences.append(f"收费：{_clean(item['fee'])}")
    if item.get("phone"):
        sentences.append(f"咨询电话{_clean(item['phone'])}")
    if item.get("complaint_phone"):
        sentences.append(f"投诉电话{_clean(item['complaint_phone'])}")
    sentences.append("详细要求以官方办事指南为准" if item.get("url") else "详细要求请到办事窗口确认")
    return "。".join(s for s in sentences if s) + "。"


def render_card(answer: dict[str, Any]) -> str:
    """A short readable card in Chinese for the terminal."""
    lines: list[str] = []
    if answer["status"] == "dispatch":
        return render_dispatch(answer)
    if answer["status"] == "clarify":
        cl = answer["clarify"]
        lines.append(cl["prompt"])
        lines += [f"  {i}. {o['label']}（{o['department']}）" for i, o in enumerate(cl["options"], start=1)]
        lines.append("请回复序号或直接说明，例如“1”或“我是……”。")
        return "\n".join(lines)
    if answer["status"] == "not_found":
        nf = answer["not_found"]
        lines.append(nf["message"])
        if nf["where_to_go"]:
            lines.append("建议咨询：" + "，或".join(nf["where_to_go"]))
        if nf["did_you_mean"]:
            lines.append("您是不是要找：")
            lines += [f"  · {c['name']}（{c['department']}，编码 {c['code']}）" for c in nf["did_you_mean"]]
        return "\n".join(lines)
    it = answer["item"]
    lines.append(f"【{it['name']}】 {it.get('type') or ''}  编码 {it['code']}")
    lines.append(f"办理部门：{it['department']}")
    for f in ("place", "office_hours", "phone"):
        lines.append(f"{FIELD_LABELS[f]}：{it.get(f) or NOT_IN_CATALOGUE}")
    if it.get("materials"):
        lines.append("申请材料：")
        lines += [f"  {i}. {material_text(m)}" for i, m in enumerate(it["materials"], start=1)]
    else:
        lines.append(f"申请材料：{NOT_IN_CATALOGUE}，请以官方办事指南为准")
    if it.get("steps"):
        lines.append(f"办理流程{general_steps_note(it)}：" + " → ".join(it["steps"]))
    else:
        lines.append(f"办理流程：{NOT_IN_CATALOGUE}")
    limits = [f"{FIELD_LABELS[f]} {it[f]}" for f in ("time_limit_legal", "time_limit_promised") if it.get(f)]
    lines.append("办理时限：" + ("；".join(limits) if limits else NOT_IN_CATALOGUE))
    if it.get("url"):
        lines.append(f"官方办事指南：{it['url']}")
    others = answer["candidates"][1:4]
    if others:
        lines.append("其他可能的事项：" + "；".join(f"{c['name']}（{c['department']}）" for c in others))
    if answer.get("dispatch"):  # intent "both": the matter can also be raised as a 诉求
        lead = answer["dispatch"]["lead"]["department"]
        lines.append(f"如要反映问题：{lead}" + ("（由指挥中心分拨）" if answer["dispatch"]["to_command_centre"] else "负责处理"))
    return "\n".join(lines)


def render_dispatch(answer: dict[str, Any]) -> str:
    """A dispatched 诉求 as a short card for the terminal."""
    d = answer["dispatch"]
    lines = [f"【诉求】{d['summary']}", "分类：" + " / ".join(c for c in d["category"] if c)]
    if d["to_command_centre"]:
        lines.append(f"承办：{d['lead']['department']}（由指挥中心分拨）")
        if d.get("suggested_lead"):
            lines.append(f"可能的承办部门：{d['suggested_lead']['department']}")
    else:
        lines.append(f"承办部门：{d['lead']['department']}（主体责任）")
    if d["support"]:
        lines.append("配合部门：" + "、".join(s["department"] for s in d["support"]))
    lines.append(f"处置层级：{d['level']}　把握：{d['confidence']:.2f}")
    lines += ["怎么反映：" + "；".join(d["how_to_raise"]), "请准备：" + "；".join(d["prepare"])]
    if answer.get("item"):
        lines.append(f"相关办事事项：{answer['item']['name']}（{answer['item']['department']}）")
    return "\n".join(lines)
