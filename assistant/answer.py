"""Grounded answers: every fact comes from the catalogue record, with its code.

    >>> a = Assistant(Settings.from_env())                    # doctest: +SKIP
    >>> a.ask("孩子刚出生怎么上户口", "guangan")["item"]["department"]   # doctest: +SKIP
    '区公安分局'
    >>> a.ask("弩的购置审批", site="广州市政务服务中心")["item"]["department_full"]   # doctest: +SKIP
    '广州市公安局'
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
import time
import unicodedata
from typing import Any

from assistant.clarify import ClarifyParams, build_clarify, close_group
from assistant.dispatch import attach as attach_dispatch, render as render_dispatch
from assistant.library import Libraries
from assistant.sites import BadSite, Site, Sites, resolve_site
from index.embedder import Embedder
from index.build import IndexUnavailable, current_build
from index.search import Candidate, Retriever, SearchResult
from store import areas
from store import db as store
from store.urls import safe_url
from wenban.config import Settings

MAX_QUESTION_CHARS = 500

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


class BadQuestion(ValueError):
    """A question we refuse before searching; the message is in Chinese and English."""


class UnknownCatalogue(LookupError):
    pass


def check_question(question: Any) -> str:
    """The question, whitespace-normalised, or ``BadQuestion`` saying why not."""
    if not isinstance(question, str):
        raise BadQuestion("问题必须是文字 / the question must be text")
    text = re.sub(r"[\t\r\n\u3000 ]+", " ", question).strip()
    if not text:
        raise BadQuestion("问题不能为空 / the question is empty")
    if any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co") and ch not in "\u200d" for ch in text):
        raise BadQuestion("问题含有控制字符 / the question contains control characters")
    if len(text) > MAX_QUESTION_CHARS:
        raise BadQuestion(f"问题过长（{len(text)} 字，最多 {MAX_QUESTION_CHARS} 字）/ "
                          f"the question is {len(text)} characters, at most {MAX_QUESTION_CHARS}")
    if not any(unicodedata.category(ch)[0] in "LN" for ch in text):
        raise BadQuestion("问题只有标点或符号 / the question has only punctuation or symbols")
    return text


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


def not_found_block(catalogue: dict[str, Any], near: list[Candidate]) -> dict[str, Any]:
    enquiry = catalogue.get("enquiry") or {}
    return {
        "message": "目录中没有找到与您的问题相符的事项。",
        "where_to_go": [w for w in (enquiry.get("desk"), enquiry.get("hotline")) if w],
        "did_you_mean": [c.public() for c in near[:3]],
    }


def alternatives(cands: list[Candidate], top: Candidate, n: int = 3) -> list[dict[str, Any]]:
    """The next ``n`` distinct items after the answered one ("您是不是要办"):
    another code and another name (the same name at another department is the
    same need)."""
    out: list[dict[str, Any]] = []
    names = {top.name}
    for c in cands:
        if c.code != top.code and c.name not in names:
            names.add(c.name)
            out.append({"code": c.code, "name": c.name, "department": c.department, "type": c.type})
        if len(out) == n:
            break
    return out


def _put_first(cands: list[Candidate], code: str, retriever: Retriever) -> list[Candidate]:
    """``cands`` with the item ``code`` on top, scored as the top was."""
    rest = [c for c in cands if c.code != code]
    it = next((c for c in cands if c.code == code), None)
    if it is None:
        item = next((x for x in retriever.items if x["code"] == code), None)
        if item is None:  # the item left the catalogue since it was curated
            return cands
        it = Candidate(item["code"], item["name"], item["department"], item.get("type"), item.get("parent_name"),
                       fused=cands[0].fused if cands else 1.0)
    it.score = max(it.score, cands[0].score if cands else 1.0)
    return [it, *rest]


def why_block(res: SearchResult, top: Candidate | None, curated: dict[str, Any] | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "vocabulary": [{"word": w, "terms": t} for w, t in res.vocabulary],
        "tokens": res.tokens,
        "library": ({"question": curated["question"], "code": curated["code"], "exact": True}
                    if curated else {"question": res.library["question"], "code": res.library["code"],
                                     "cosine": res.library["cosine"], "exact": False}
                    if res.library else None),
    }
    if top:
        out.update({"matched_terms": top.matched, "exact_name": top.exact,
                    "dense_rank": top.dense_rank, "dense_cosine": None if top.dense is None else round(top.dense, 4),
                    "bm25_rank": top.bm25_rank, "bm25": None if top.bm25 is None else round(top.bm25, 3)})
    return out


class Assistant:
    """Holds the model and each catalogue's indexes; ``ask`` is safe from many threads."""

    def __init__(self, settings: Settings, embedder: Embedder | None = None, log=print):
        self.settings = settings
        self.log = log
        self.embedder = embedder or Embedder(settings, log=log)
        self._retrievers: dict[str, Retriever] = {}
        # catalogue → (when, error) for an index that failed to load; retried
        # after RETRY_BROKEN_S, not on every question
        self._broken: dict[str, tuple[float, IndexUnavailable]] = {}
        # a build made by another process (`wenban import`, `wenban index`) is
        # noticed within REFRESH_S and loaded in the background, then swapped in
        self._checked: dict[str, float] = {}
        self._tried: set[Path] = set()
        self._lock = threading.Lock()
        self._local = threading.local()  # one SQLite connection per thread
        self.clarify_params = ClarifyParams()
        self.libraries = Libraries(db=lambda: self.db, base=lambda cat: self.retriever(cat).vocab,
                                   embed=self.embedder.query)
        self._meta: dict[str, dict[str, Any]] = {}  # last catalogue rows read, for when the store is down
        # the unanswered log is for citizens' questions; `wenban eval` turns this off for its own
        self.log_unanswered = True
        self.sites = Sites.load()
        self._serving: dict[str, list[str]] = {}  # area code → catalogues serving it

    @property
    def db(self):
        if getattr(self._local, "db", None) is None:
            self._local.db = store.open_db(self.settings.database, busy_ms=self.settings.db_busy_ms)
        return self._local.db

    def catalogue(self, name: str) -> dict[str, Any]:
        try:
            meta = store.get_catalogue(self.db, name)
        except store.StoreUnavailable:
            # the database is down: a catalogue already loaded keeps answering
            if name in self._meta:
                return self._meta[name]
            raise
        if meta is not None:
            self._meta[name] = meta
        if meta is None:
            known = ", ".join(c["name"] for c in store.catalogues(self.db)) or "none"
            raise UnknownCatalogue(f"没有名为 {name!r} 的目录 / unknown catalogue {name!r} (known: {known})")
        return meta

    RETRY_BROKEN_S = 30.0

    def retriever(self, name: str) -> Retriever:
        """The loaded index of ``name``. ``FileNotFoundError`` when it has none,
        ``IndexUnavailable`` (naming the file) when it is damaged."""
        with self._lock:
            r = self._retrievers.get(name)
            if r is None:
                broken = self._broken.get(name)
                if broken and time.monotonic() - broken[0] < self.RETRY_BROKEN_S:
                    raise broken[1]
                self.catalogue(name)
                try:
                    r = self._retrievers[name] = Retriever.load(self.settings, name, self.embedder)
                except IndexUnavailable as e:
                    self._broken[name] = (time.monotonic(), e)
                    raise
                self._broken.pop(name, None)
        self._maybe_refresh(name, r)
        return r

    REFRESH_S = 2.0

    def _maybe_refresh(self, name: str, loaded: Retriever) -> None:
        now = time.monotonic()
        if now - self._checked.get(name, 0.0) < self.REFRESH_S:
            return
        self._checked[name] = now
        build = current_build(self.settings, name)
        if build is None or build == loaded.build_dir or build in self._tried:
            return
        self._tried.add(build)  # one try per build: a damaged new build leaves the old one serving

        def load() -> None:
            try:
                self.reload(name)
            except Exception as e:  # noqa: BLE001 - keep serving the loaded build
                self.log(f"{name}: the new index {build} could not be loaded, the old one serves: {e}")

        threading.Thread(target=load, name=f"wenban-refresh-{name}", daemon=True).start()

    def broken(self) -> dict[str, str]:
        """Catalogues whose index failed to load, with the reason."""
        return {name: e.reason for name, (_, e) in self._broken.items()}

    def reload(self, name: str) -> None:
        """Swap in the current build of ``name``; the old one serves until the new one is loaded."""
        fresh = Retriever.load(self.settings, name, self.embedder)
        with self._lock:
            self._retrievers[name] = fresh
            self._broken.pop(name, None)
            self._serving.clear()

    def card(self, catalogue: str, code: str) -> dict[str, Any]:
        """The item as the serving index knows it (the version its search ranked, so
        the index and the answer never disagree, issue 11, and answers need no store:
        PostgreSQL may be down); the store for a catalogue not loaded.
        ``KeyError`` if neither has it."""
        loaded = self._retrievers.get(catalogue)
        item = loaded.by_code.get(code) if loaded else None
        if item is None:
            item = store.get_item(self.db, catalogue, code)
        if item is None:
            raise KeyError(f"no item {code} in catalogue {catalogue}")
        return item_card(item)

    def site(self, site: str, catalogue: str | None = None) -> Site:
        """A configured site's name or a 行政区划代码 → ``Site`` (``BadSite`` says why not)."""
        found = resolve_site(self.sites, site, catalogue, self._catalogues_serving)
        self.catalogue(found.catalogue)
        if catalogue and found.kind == "area" and catalogue not in self._catalogues_serving(found.area_code):
            raise BadSite(f"目录 {catalogue} 没有为 {found.area_code} 服务的事项 / "
                          f"catalogue {catalogue!r} has no items serving area {found.area_code}")
        return found

    def _catalogues_serving(self, code: str) -> list[str]:
        if code not in self._serving:
            self._serving[code] = store.catalogues_serving(self.db, code)
        return self._serving[code]

    def ask(self, question: str, catalogue: str | None = None, mode: str = "hybrid", clarify: bool = True,
            site: str | None = None, dispatch: bool = True, level: str | None = None) -> dict[str, Any]:
        """One question → one answer dict: status answer | clarify | not_found | dispatch.
        ``clarify=False`` always answers with the top candidate when confident;
        ``dispatch=False`` never routes a 诉求 (the service answer alone).
        ``site`` (a configured site or a 行政区划代码): only the items serving its area;
        the catalogue then defaults to the site's; ``level`` (省 | 市 | 县): only items
        implemented at that level."""
        t0 = time.perf_counter()
        text = check_question(question)
        where = self.site(site, catalogue) if site else None
        catalogue = where.catalogue if where else catalogue
        if not catalogue:
            raise UnknownCatalogue("请指定目录或服务点 / give a catalogue or a site")
        meta = self.catalogue(catalogue)
        retriever = self.retriever(catalogue)
        library = self.libraries.get(catalogue) if mode == "hybrid" else None
        res = retriever.search(text, k=10, mode=mode, area=where.area_code if where else None,
                                  level=level, library=library)
        t1 = time.perf_counter()
        cands = res.candidates
        curated = library.exact(text) if library is not None else None
        if curated and curated["code"]:
            # Staff attached this very question to an item: answer it, first.
            cands = _put_first(cands, curated["code"], retriever)
        top = cands[0] if cands else None
        confident = top is not None and top.score >= retriever.calibration.threshold
        if curated:
            confident = not curated["out_of_scope"]
        group = close_group(cands, self.clarify_params) if confident and clarify and not curated else cands[:1]
        status = "not_found" if not confident else ("clarify" if len(group) > 1 else "answer")
        answer: dict[str, Any] = {
            "status": status,
            "question": text,
            "catalogue": catalogue,
            "score": round(top.score, 4) if top else 0.0,
            "threshold": retriever.calibration.threshold,
            "item": None,
            "candidates": [c.public() for c in cands[:5]],
            "why": why_block(res, top, curated),
            "alternatives": [],
        }
        if where:
            answer["site"] = where.public()
        if status == "answer":
            answer["item"] = self.card(catalogue, top.code)
            answer["alternatives"] = alternatives(cands, top)
            # the same base item at the areas above the site's: named, not answered
            answer["item"]["other_levels"] = [
                {k: v for k, v in c.public().items() if k != "score"} for c in top.other_levels]
        elif status == "clarify":
            answer["clarify"] = build_clarify(group)
        else:
            near = [c for c in cands if c.score >= retriever.calibration.threshold / 2]
            answer["not_found"] = not_found_block(meta, near if not curated else [])
            if curated:
                answer["not_found"]["reason"] = "out_of_scope_curated"
        if dispatch:  # 诉求 are routed to the department that handles them (assistant/dispatch.py)
            try:
                attach_dispatch(answer, self.db, catalogue, text)
            except store.StoreUnavailable:
                pass  # the store is down and no router is loaded yet: the service answer alone
        res.timings["compose"] = (time.perf_counter() - t1) * 1000
        answer["timings_ms"] = {k: round(v, 2) for k, v in res.timings.items()}
        answer["timings_ms"]["total"] = round((time.perf_counter() - t0) * 1000, 2)
        return answer


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
    return "\n".join(lines)
