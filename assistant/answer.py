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
import time
import unicodedata
from pathlib import Path
from typing import Any

from assistant.card import item_card
from assistant.clarify import ClarifyParams, build_clarify, close_group
from assistant.dispatch import attach as attach_dispatch
from assistant.intent import asks_no_service, asks_opinion, complaint_cues
from assistant.offtopic import OffTopic
from assistant.library import Libraries
from assistant.sites import BadSite, Site, Sites, resolve_site
from index.build import IndexUnavailable, current_build
from index.embedder import Embedder, EmbeddingCache
from index.search import Candidate, Retriever, SearchResult
from store import db as store
from wenban.config import Settings

MAX_QUESTION_CHARS = 500

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
        item = retriever.by_code.get(code)
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
                    "desc_rank": top.desc_rank, "desc_cosine": None if top.desc is None else round(top.desc, 4),
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
        # A server's Watcher (api/watch.py) follows the store and swaps builds itself
        # and turns this off, so one process never runs two reload mechanisms.
        self.auto_refresh = True
        self._cache: EmbeddingCache | None = None
        self._lock = threading.Lock()
        self._local = threading.local()  # one SQLite connection per thread
        self.clarify_params = ClarifyParams()
        self.libraries = Libraries(db=lambda: self.db, base=lambda cat: self.retriever(cat).vocab,
                                   embed=self.embedder.query)
        self._meta: dict[str, dict[str, Any]] = {}  # last catalogue rows read, for when the store is down
        # the unanswered log is for citizens' questions; `wenban eval` turns this off for its own
        self.log_unanswered = True
        self.sites = Sites.load()
        self._offtopic: OffTopic | None = None
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
        if self.auto_refresh:
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

    def offtopic(self) -> OffTopic:
        """The everyday messages no office handles (``assistant/offtopic.py``), embedded once."""
        if self._offtopic is None:
            self._offtopic = OffTopic.load(self.embedder)
        return self._offtopic

    def _off_dispatch(self, catalogue: str, vector, kind: str) -> str | None:
        """``kind`` when the question is also nearer to the everyday message than to any
        dispatch category's phrasing by ``offtopic.MARGIN``, else None."""
        from assistant.dispatch import router_for

        try:
            router = router_for(self.db, catalogue, embedder=self.embedder, cache=self.embedding_cache())
        except store.StoreUnavailable:
            return None  # no categories to compare with: the search alone decides
        if router.dense is None:
            return kind
        return self.offtopic().off(vector, router.dense.best(vector))

    def embedding_cache(self) -> EmbeddingCache:
        """The passage-vector cache (the dispatch categories' vectors are kept there too)."""
        if self._cache is None:
            self._cache = EmbeddingCache(self.settings.cache_path)
        return self._cache

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
        if curated and curated["code"] and not retriever.serves(curated["code"], where.area_code if where else None,
                                                                level):
            curated = None  # attached to an item this site or level does not offer: search decides
        if curated and curated["code"]:
            # Staff attached this very question to an item: answer it, first.
            cands = _put_first(cands, curated["code"], retriever)
        top = cands[0] if cands else None
        confident = top is not None and top.score >= retriever.calibration.threshold
        idle = confident and not curated and not top.exact and (asks_no_service(text) or asks_opinion(text))
        # nearer in meaning to an everyday message (a price, a recipe, small talk) than to
        # any item, with no problem in it to report: no item answers it, no office takes it
        off = (None if curated or (top is not None and top.exact) or res.raw_vector is None or complaint_cues(text)
               else self.offtopic().off(res.raw_vector, max(top.desc or 0.0, top.dense or 0.0) if top else 0.0))
        if off and dispatch:  # … nor than to a 诉求's phrasing ("饭店吃出虫子" is near 美食 too)
            off = self._off_dispatch(catalogue, res.raw_vector, off)
        if idle or off:
            confident = False  # small talk: no item answers it
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
            elif idle:
                answer["not_found"]["reason"] = "no_service_asked"
            elif off:
                answer["not_found"]["reason"] = "off_topic"
                answer["not_found"]["kind"] = off
        if dispatch:  # 诉求 are routed to the department that handles them (assistant/dispatch.py)
            try:
                attach_dispatch(answer, self.db, catalogue, text, embedder=self.embedder,
                                cache=self.embedding_cache(), vector=res.raw_vector)
            except store.StoreUnavailable:
                pass  # the store is down and no router is loaded yet: the service answer alone
        res.timings["compose"] = (time.perf_counter() - t1) * 1000
        answer["timings_ms"] = {k: round(v, 2) for k, v in res.timings.items()}
        answer["timings_ms"]["total"] = round((time.perf_counter() - t0) * 1000, 2)
        return answer
