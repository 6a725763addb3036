"""When to ask instead of answer, and what to ask.

A kiosk user rarely names the exact item: "我想考驾照" matches a dozen 情形
variants. When the top candidates are too close to call, one short question
with 2–6 tappable options beats a guess. Labels come from what differs between
the candidates' names (the part in brackets, the action), else the department.

    >>> labels(["户口登记", "户口注销", "户口恢复"])
    ['登记', '注销', '恢复']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from index.search import Candidate

_CN_NUM = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6}


@dataclass
class ClarifyParams:
    """Tuned on the dev split (``wenban eval --split dev``): the highest accuracy
    after one clarifying turn with a clarify rate ≤ 0.25 (README, Dialogue)."""

    ratio: float = 0.955        # close: fused score ≥ ratio × the top's … (dev+b3: 0.96 with tie 0.995
                                # beat 0.95 alone; with the description cosine in the fusion, tuning
                                # splits: 0.96 resolved 6.444 / 6.504 at clarify .140 / .196, 0.955
                                # 6.455 / 6.525 at .149 / .211, 0.95 6.462 / 6.525 at .164 / .226)
    family_gap: float = 0.003   # … and cosine within this of the top's, for a variant of it
    cosine_gap: float = 0.003   # … or within this, for an item of another department
    any_gap: float = 0.0        # … or within this, for any other item (distinct needs, not only siblings)
    tie: float = 0.995          # … or fused score ≥ tie × the top's, whatever the cosine: a dead heat
                                # of two needs is asked about, not guessed (1.0: off)
    stem: int = 4               # names sharing this many leading characters are one family
    max_options: int = 5
    fill: int = 4               # a clarify offers at least this many options, the next candidates
                                # (dev resolved guangan .967 → .976 at 3 and 4, .984 at 5; 4 reads easier)


def same_family(a: Candidate, b: Candidate, stem: int) -> bool:
    """Variants of one item: same parent, same name (other department), or a
    shared stem ("户口登记" / "户口注销", "…驾驶证初次申领(外国人…)" / "(大陆居民…)")."""
    if a.parent_name and a.parent_name == b.parent_name:
        return True
    n = 0
    while n < min(len(a.name), len(b.name)) and a.name[n] == b.name[n]:
        n += 1
    return n >= stem or a.name == b.name


def close_group(cands: list[Candidate], p: ClarifyParams) -> list[Candidate]:
    """The top candidate and those too close to it to call; just the top when it
    clearly wins. Close means: near in fused score, and either a variant of the
    top item, or an item of another department nearly as similar to the question.
    A question that names one item outright is answered directly."""
    if not cands:
        return []
    top = cands[0]
    if top.exact and not any(c.exact for c in cands[1:p.max_options]):
        return [top]
    group = [top]
    for c in cands[1:]:
        if len(group) == p.max_options or c.fused < p.ratio * top.fused:
            break
        gap = top.dense - c.dense if c.dense is not None and top.dense is not None else float("inf")
        if any(c.name == g.name and c.department == g.department for g in group):
            continue  # the same need twice is no choice
        if (same_family(top, c, p.stem) and gap <= p.family_gap) or \
                (c.department != top.department and gap <= p.cosine_gap) or gap <= p.any_gap or \
                c.fused >= p.tie * top.fused:
            group.append(c)
    if 1 < len(group) < p.fill:
        # Asking anyway: the next distinct needs cost the citizen nothing and
        # often hold the item when the close ones are all of the wrong family.
        for c in cands[1:]:
            if len(group) == p.fill:
                break
            if not any(c.code == g.code or (c.name == g.name and c.department == g.department) for g in group):
                group.append(c)
    return group


def _common_prefix(names: list[str]) -> str:
    first, last = min(names), max(names)
    i = 0
    while i < len(first) and i < len(last) and first[i] == last[i]:
        i += 1
    return first[:i]


def _common_suffix(names: list[str]) -> str:
    return _common_prefix([n[::-1] for n in names])[::-1]


_OPEN, _CLOSE = "（(《【「", "）)》】」"
_PUNCT = "、，,；;：: "


def _trim(label: str) -> str:
    """Drop punctuation at the ends and brackets left unbalanced by cutting."""
    label = label.rstrip(_OPEN + _PUNCT).lstrip(_CLOSE + _PUNCT)
    if label[:1] in _OPEN and label[-1:] in _CLOSE and not any(ch in _OPEN for ch in label[1:-1]):
        label = label[1:-1]
    if label[:1] in _OPEN and not any(ch in _CLOSE for ch in label):
        label = label[1:]
    if label[-1:] in _CLOSE and not any(ch in _OPEN for ch in label):
        label = label[:-1]
    depth, cut = 0, None  # "…初次申领(大陆居民申领" → "…初次申领"
    for i, ch in enumerate(label):
        if ch in _OPEN:
            depth, cut = depth + 1, cut if depth else i
        elif ch in _CLOSE and depth:
            depth -= 1
            cut = cut if depth else None
    if cut is not None and cut > 0:
        label = label[:cut]
    return label.strip(_PUNCT)


def labels(names: list[str], departments: list[str] | None = None) -> list[str]:
    """Short, distinct option labels: what differs between the names. The shared
    stem is cut; a shared ending only when it starts at a bracket or punctuation,
    so that no word is cut in half ("摩托车准驾车型" stays whole)."""
    pre = _common_prefix(names)
    suf = _common_suffix(names)
    while suf and suf[0] not in _OPEN + _CLOSE + _PUNCT:
        suf = suf[1:]
    out = []
    for n in names:
        mid = n[len(pre):len(n) - len(suf)] if len(pre) + len(suf) < len(n) else n[len(pre):]
        mid = _trim(mid)
        out.append(mid if len(mid) >= 2 else n)
    if len(set(out)) < len(out) and departments and len(set(departments)) == len(departments):
        out = list(departments)
    if len(set(out)) < len(out):
        out = list(names)
    return out


def build_clarify(group: list[Candidate]) -> dict[str, Any]:
    names = [c.name for c in group]
    depts = [c.department for c in group]
    same_names = len(set(names)) == 1
    labs = list(depts) if same_names else labels(names, depts)
    stem = _trim(_common_prefix(names))
    if same_names:
        prompt = f"「{names[0]}」由不同部门办理，请问您属于哪个部门的办理范围？"
    elif len(set(depts)) > 1 and len(stem) < 2:
        prompt = "请问您要办理的是以下哪一项？"
    elif len(stem) >= 2:
        prompt = f"请问您要办理的「{stem}」是哪一种？"
    else:
        prompt = "请问您要办理的是以下哪一项？"
    options = [{"label": lab, "code": c.code, "name": c.name, "department": c.department}
               for lab, c in zip(labs, group)]
    # Every clarify has a way out: the client sends this text as the next turn.
    return {"prompt": prompt, "options": options, "none_of_these": {"label": "都不是", "reply": "都不是"}}


def _lcs_len(a: str, b: str) -> int:
    """Length of the longest common substring (short strings: the plain DP is fine)."""
    best = 0
    prev = [0] * (len(b) + 1)
    for ca in a:
        cur = [0] * (len(b) + 1)
        for j, cb in enumerate(b, start=1):
            if ca == cb:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


_FILLER = re.compile(r"[我是的要办想选那个这个第就吧呢啊呀了，。！？,.!? ]")


def choose(reply: str, options: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The options a reply picks: by number ("2", "第二个"), by label, or by words
    ("我是外国人"). One option = resolved; several = ask again among them; none =
    the reply was not an answer to the question (treat it as a new question)."""
    text = reply.strip()
    m = re.fullmatch(r"(?:选|第)?\s*([1-9]|[一二两三四五六])\s*(?:个|项|种)?", text)
    if m:
        n = int(m.group(1)) if m.group(1).isdigit() else _CN_NUM[m.group(1)]
        return [options[n - 1]] if 1 <= n <= len(options) else []
    exact = [o for o in options if o["label"] == text or o["name"] == text]
    if exact:
        return exact
    core = _FILLER.sub("", text)
    if len(core) < 2:
        return []
    scores = [max(_lcs_len(core, o["label"]), _lcs_len(core, o["department"])) for o in options]
    best = max(scores)
    if best < 2:
        return []
    return [o for o, s in zip(options, scores) if s == best]
