"""Routing a 诉求 (complaint, report, request for help, suggestion) to the
department that handles it.

The evidence:

* the dispatch catalogue (``store.dispatch.categories``): each category's names,
  description, everyday phrasings and operators' corrections, matched to the
  message by TF-IDF over character 2–3-grams (no training: zero-shot);
* with the assistant's embedder, a dense match of the message to the same
  categories (``dispatch_score``), fused with the TF-IDF scores;
* a hall's past work orders (``wenban dispatch history import``): a linear
  classifier over character 1–3-grams, trained on import (seconds on 2 cores),
  predicting the handling department's type; and one predicting the level-1
  class, learned through the types (``dispatch_history``), that weighs the
  categories before one is chosen.

The department types become the catalogue's own departments (``departments_by_type``);
a type the catalogue lacks, or a confidence under the threshold, goes to the
command centre (12345, 首问负责). Nothing is invented: names come from the catalogue.

    >>> r = Router(db, "guangan")                                # doctest: +SKIP
    >>> r.route("楼下饭店油烟太大")["lead"]                          # doctest: +SKIP
    {'department': '区生态环境局', 'type': '生态环境'}
"""

from __future__ import annotations

import json
import re
import secrets
import threading
import time
from functools import lru_cache
from typing import Any

from collections import Counter

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from assistant import dispatch_history as dh
from assistant import dispatch_score as dsc
from assistant.privacy import mask
from assistant.workorder import extract
from store import areas
from store import dispatch as ds
from store.db import StoreUnavailable
from wenban.config import DATA_DIR

CALIBRATION = DATA_DIR / "dispatch" / "calibration.json"
DEFAULT_THRESHOLD = 0.35


def features(ngrams: tuple[int, int] = (2, 3)) -> TfidfVectorizer:
    """Character n-grams: robust to jieba's splits of place names and slang."""
    return TfidfVectorizer(analyzer="char", ngram_range=ngrams, sublinear_tf=True, min_df=1)


# Contact details say nothing about the matter ("手机138…" is no 通信 complaint).
_CONTACT = re.compile(r"(?:我的)?(?:手机号?码?|电话号?码?|联系电话|联系方式|身份证号?码?)?[:：是为]?\s*[\dXx*\-－]{5,}")


def clean_text(text: str) -> str:
    """The message as matched: contact details and spaces removed."""
    return re.sub(r"\s+", "", _CONTACT.sub("", text))


def load_threshold() -> float:
    if CALIBRATION.exists():
        return float(json.loads(CALIBRATION.read_text(encoding="utf-8"))["threshold"])
    return DEFAULT_THRESHOLD


class HistoryModel:
    """Department type from past work orders: a linear SVM on TF-IDF (the usual
    strong baseline for short-text classification; trains in seconds), its margins
    calibrated into probabilities (sigmoid fitted on 3-fold predictions; one SVM at
    predict time, ~2 ms): on the earlier half (dev) @3 0.775 → 0.806 against a
    softmax of the margins. Types with fewer than
    ``dh.MIN_ORDERS`` orders are left out (the folds need some of each)."""

    def __init__(self, texts: list[str], types: list[str]):
        counts = Counter(types)
        keep = [i for i, t in enumerate(types) if counts[t] >= dh.MIN_ORDERS]
        if len({types[i] for i in keep}) < 2:
            raise ValueError("past work orders name fewer than two department types often enough")
        # 1–3-grams: single characters (楼, 路, 校) help on the earlier half (dev): @1 0.417 → 0.428
        self.vec, self.clf = dh.fit_text_classifier([clean_text(texts[i]) for i in keep], [types[i] for i in keep])

    def predict(self, text: str) -> list[tuple[str, float]]:
        p = self.clf.predict_proba(self.vec.transform([clean_text(text)]))[0]
        order = np.argsort(-p)
        return [(self.clf.classes_[i], float(p[i])) for i in order]


@lru_cache(maxsize=4096)  # the category weights and the type ranking both ask
def named_types(text: str) -> tuple[str, ...]:
    """The department types whose offices or overseen institutions ``text`` names
    (``dispatch_score.named_types`` with the shipped ``常见叫法``)."""
    return tuple(sorted(dsc.named_types(text, ds.everyday_names())))


def _where(db) -> str:
    """The store's file or URL (one cache entry per store, whichever thread's connection)."""
    if getattr(db, "engine", "sqlite") == "postgresql":
        return db.url
    path = db.execute("PRAGMA database_list").fetchone()[2]
    if path:
        return path
    # an in-memory store: a token of its own (an id() is reused once the connection is freed,
    # and a new store would get the old one's models)
    if getattr(db, "_wenban_cache_token", None) is None:
        db._wenban_cache_token = secrets.token_hex(8)
    return f"memory:{db._wenban_cache_token}"


_HISTORY: dict[tuple[str, str, int], HistoryModel | None] = {}


def history_model(db, catalogue: str) -> HistoryModel | None:
    """The classifier of ``catalogue``'s past work orders, trained once per history
    version (tens of seconds for thousands of orders), not per correction."""
    key = (_where(db), catalogue, ds.version(db, catalogue, "history"))
    if key not in _HISTORY:
        if len(_HISTORY) >= 8:  # old versions: bounded
            _HISTORY.pop(next(iter(_HISTORY)))
        past = [h for h in ds.history(db, catalogue) if h["type"]]
        try:
            _HISTORY[key] = HistoryModel([h["text"] for h in past], [h["type"] for h in past])
        except ValueError:
            _HISTORY[key] = None
    return _HISTORY[key]


_LEVEL1: dict[tuple[str, str, int, int], dh.Level1Model | None] = {}


def level1_model(db, catalogue: str, rows: list[dict[str, Any]]) -> dh.Level1Model | None:
    """The level-1 class model of ``catalogue``'s past work orders, trained once per
    history and dispatch-catalogue version (the catalogue says which type leads which class)."""
    key = (_where(db), catalogue, ds.version(db, catalogue, "history"), ds.version(db, catalogue, "categories"))
    if key not in _LEVEL1:
        if len(_LEVEL1) >= 8:  # old versions: bounded
            _LEVEL1.pop(next(iter(_LEVEL1)))
        _LEVEL1[key] = dh.train(ds.history(db, catalogue), rows, clean_text)
    return _LEVEL1[key]


class Router:
    """One catalogue's router; rebuild (``Router(db, name)``) after an import."""

    def __init__(self, db, catalogue: str, threshold: float | None = None, use_history: bool = True,
                 embedder=None, cache=None):
        """``embedder`` (the assistant's ``Embedder``) adds the dense match of
        ``dispatch_score``; without one, routing is TF-IDF only. ``cache``: an
        ``EmbeddingCache`` for the category prototypes."""
        self.catalogue = catalogue
        self.rows = ds.categories(db, catalogue)
        self.threshold = load_threshold() if threshold is None else threshold
        docs = [self._doc(r) for r in self.rows]
        for c in ds.corrections(db, catalogue):  # operators' choices teach the router
            i = self._index(c["category"])
            if i is not None:
                docs[i] += "。" + c["question"]
        self.vec = features()
        self.matrix = self.vec.fit_transform(docs)
        self.dense = dsc.DenseMatcher(embedder, self.rows, cache) if embedder is not None and self.rows else None
        self.by_type = ds.departments_by_type(db, catalogue)
        # each department with its area, as the item cards say it (区人社局 → 广安区人社局)
        self.full = {r["department"]: areas.department_full(r["department"], r["code"],
                                                            {r["code"]: r["area"]} if r["code"] and r["area"] else None)
                     for r in db.query("select department, min(area_code) as code, min(area) as area from items "
                                       "where catalogue = ? and department is not null group by department",
                                       [catalogue])}
        self.history = history_model(db, catalogue) if use_history else None
        self.level1 = level1_model(db, catalogue, self.rows) if use_history else None
        self.l1s = [r["l1"] for r in self.rows]
        self.leads = [r["lead"] for r in self.rows]
        self.party_weight, self.party_share = dsc.PARTY_WEIGHT, dsc.PARTY_SHARE
        meta = db["catalogues"].get(catalogue) if db["catalogues"].count_where("name = ?", [catalogue]) else None
        enquiry = json.loads(meta["enquiry"]) if meta and meta.get("enquiry") else {}
        self.command_centre = enquiry.get("hotline") or None

    @staticmethod
    def _doc(r: dict[str, Any]) -> str:
        names = " ".join(x for x in (r["l1"], r["l2"], r["l3"]) if x)
        return "。".join([names, r["description"], *r["phrasings"], *r["phrasings"]])

    def _index(self, category: list[str]) -> int | None:
        want = [c for c in category if c]
        for i, r in enumerate(self.rows):
            if [x for x in (r["l1"], r["l2"], r["l3"]) if x][: len(want)] == want:
                return i
        return None

    # ------------------------------------------------------------ scoring --
    def category_scores(self, text: str) -> np.ndarray:
        """Cosine of the message to every category document."""
        q = self.vec.transform([clean_text(text)])
        return (self.matrix @ q.T).toarray().ravel()

    def weights(self, text: str, scores: np.ndarray | None = None, vector: np.ndarray | None = None) -> np.ndarray:
        """One non-negative weight per category, higher = closer: TF-IDF cosines, or
        with an embedder or history the shares of the fused scores (TF-IDF, dense,
        the level-1 class learned from past work orders, and the department the
        message names: ``named_types``). ``vector``: the dense
        query vector, when the caller has it (``DenseMatcher.scores``)."""
        scores = self.category_scores(text) if scores is None else scores
        named = named_types(text) if self.party_weight else ()
        if self.dense is None and self.level1 is None and not named:
            return scores
        fused = dsc.fuse(scores, self.dense.scores(text, vector) if self.dense is not None else None)
        if self.level1 is not None:
            fused = fused + self.level1.bonus(text, self.l1s)
        if named:
            fused = fused + self.party_weight * np.isin(self.leads, list(named))
        return dsc.shares(fused)

    def type_ranking(self, text: str, scores: np.ndarray | None = None,
                     weights: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Department types, best first, with a confidence in [0, 1]: the history
        classifier's probability where there is history, else the category's share;
        the street's type gains when the message names its street or community (属地)."""
        weights = self.weights(text, scores) if weights is None else weights
        ranked: dict[str, float] = {}
        order = np.argsort(-weights)[:5]
        total = float(weights[order].sum()) or 1.0
        for i in order:
            r = self.rows[i]
            share = float(weights[i]) / total
            ranked[r["lead"]] = ranked.get(r["lead"], 0.0) + share
            for s in r["support"]:
                ranked.setdefault(s, 0.0)
                ranked[s] += share * 0.1
        if self.history is not None:
            hist = dict(self.history.predict(text))
            ranked = {t: 0.7 * hist.get(t, 0.0) + 0.3 * ranked.get(t, 0.0) for t in set(hist) | set(ranked)}
        for t in named_types(text) if self.party_share else ():
            ranked[t] = ranked.get(t, 0.0) + self.party_share
        if dsc.names_place(extract(mask(text))["place"]):
            bonus = dsc.PLACE_BONUS if self.history is None else dsc.PLACE_BONUS_WITH_HISTORY
            ranked[dsc.LOCAL_TYPE] = ranked.get(dsc.LOCAL_TYPE, 0.0) + bonus
        total = sum(ranked.values()) or 1.0
        return sorted(((t, v / total) for t, v in ranked.items()), key=lambda kv: -kv[1])

    # ------------------------------------------------------------ routing --
    def department(self, type_: str) -> dict[str, str] | None:
        names = self.by_type.get(type_)
        return {"department": names[0], "department_full": self.full.get(names[0]) or names[0],
                "type": type_} if names else None

    def centre(self) -> dict[str, str]:
        return {"department": self.command_centre or "12345", "type": ds.COMMAND_CENTRE_TYPE}

    def route(self, text: str, scores: np.ndarray | None = None, vector: np.ndarray | None = None) -> dict[str, Any]:
        """The ``dispatch`` block of an answer (without ``extracted``/``summary``);
        ``scores`` (``category_scores``) and the dense query ``vector`` when already computed."""
        scores = self.category_scores(text) if scores is None else scores
        weights = self.weights(text, scores, vector)
        best = int(np.argmax(weights))
        row = self.rows[best]
        types = self.type_ranking(text, scores, weights)
        lead_type, conf = types[0] if types else (row["lead"], 0.0)
        # the category's own lead when it agrees with the ranking, so category and lead match
        lead = self.department(lead_type)
        low = conf < self.threshold or float(scores[best]) == 0.0
        why = [f"分类“{'/'.join(x for x in (row['l1'], row['l2'], row['l3']) if x)}”相似度 {scores[best]:.2f}"]
        if self.dense is not None:
            why.append("结合语义相似度")
        if self.history is not None:
            why.append("参考本中心历史工单的承办部门")
        if self.level1 is not None:
            why.append("分类参考历史工单（按承办部门推知的一级分类）")
        if lead_type == dsc.LOCAL_TYPE:
            why.append("留言写明了所在街道或社区，按属地管理由属地街道（乡镇）处理")
        if lead is None:
            why.append(f"本目录没有“{lead_type}”类部门，按首问负责转指挥中心分拨")
        elif low:
            why.append(f"把握不足（{conf:.2f} < {self.threshold:.2f}），由指挥中心分拨")
        to_centre = lead is None or low
        support = []
        for t in row["support"]:
            d = self.department(t)
            if d and d not in support and d != lead and t != lead_type:
                support.append(d)
        return {
            "category": [row["l1"], row["l2"], row["l3"]],
            "lead": self.centre() if to_centre else lead,
            "suggested_lead": lead,
            "support": support[:3],
            "level": row["level"],
            "confidence": round(conf, 3),
            "to_command_centre": to_centre,
            "types": [{"type": t, "score": round(s, 3)} for t, s in types[:5]],
            "why": why,
            "how_to_raise": self.how_to_raise(),
            "prepare": ["事情发生的具体地点（街道、小区、楼栋）", "发生的时间和持续情况",
                        "现场照片、视频或票据等证据（如有）", "您的联系方式，便于承办部门回复"],
        }

    def how_to_raise(self) -> list[str]:
        out = []
        if self.command_centre:
            out.append(f"拨打{self.command_centre}反映，由话务员登记工单并派发承办部门")
        out.append("也可直接向承办部门反映，或到所在街道（乡镇）便民服务中心登记")
        return out


_ROUTERS: dict[tuple[str, str, int, int, int], Router] = {}
_LOCK = threading.Lock()


_RECENT: dict[tuple[str, str], tuple[float, int, Router]] = {}  # (store, catalogue) → (checked at, writes, router)
_SCHEMA_READY: set[str] = set()
CHECK_EVERY = 2.0  # seconds: versions are read at most this often per catalogue, not on every question


def router_for(db, catalogue: str, embedder=None, cache=None) -> Router:
    """A cached router, rebuilt when the dispatch catalogue, history or corrections change.
    The versions are looked at every ``CHECK_EVERY`` seconds; with the store down the last
    router keeps routing. ``embedder`` (``assistant.embedder``) adds the dense match;
    ``cache`` (an ``EmbeddingCache``) keeps its category vectors across restarts."""
    where = _where(db) + ("+dense" if embedder is not None else "")
    now = time.monotonic()
    recent = _RECENT.get((where, catalogue))
    if recent and now - recent[0] < CHECK_EVERY and recent[1] == ds.changes:
        return recent[2]
    try:
        if where not in _SCHEMA_READY:
            ds.ensure_schema(db)
            _SCHEMA_READY.add(where)
        n_corr = db.execute("select count(*) from dispatch_corrections where catalogue = ?",
                            [catalogue]).fetchone()[0]
        key = (where, catalogue, ds.version(db, catalogue, "categories"), ds.version(db, catalogue, "history"),
               n_corr)
    except StoreUnavailable:
        if recent:
            return recent[2]
        raise
    with _LOCK:
        r = _ROUTERS.get(key)
    if r is None:
        r = Router(db, catalogue, embedder=embedder, cache=cache)
        with _LOCK:
            for k in [k for k in _ROUTERS if k[:2] == key[:2]]:
                del _ROUTERS[k]
            _ROUTERS[key] = r
    _RECENT[(where, catalogue)] = (now, ds.changes, r)
    return r


def summary(text: str, limit: int = 60) -> str:
    """The message, masked, shortened for a work order's title."""
    s = mask(re.sub(r"\s+", " ", text).strip())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def attach(answer: dict[str, Any], db, catalogue: str, text: str, embedder=None, cache=None,
           vector: np.ndarray | None = None) -> dict[str, Any]:
    """Tell the question apart (``intent``) and, for a 诉求, route it: a complaint's
    status becomes "dispatch" with a ``dispatch`` block; for "both" the service answer
    stays (status answer/clarify) and carries the block too. Called by ``Assistant.ask``
    with its embedder, so routing adds the dense match; the intent split itself uses
    TF-IDF and how much closer the question is in meaning to a dispatch category than
    to the best item: with ``vector``, the service search's embedding of the question as
    written (``SearchResult.raw_vector``), else one more embedding, and only where it
    may decide."""
    from assistant.intent import grieves, intent_of, meaning_may_decide
    from assistant.workorder import extract

    if (answer.get("not_found") or {}).get("reason") == "off_topic":
        answer["intent"] = "out_of_scope"  # an everyday message with no problem in it (answer.py)
        return answer
    router = router_for(db, catalogue, embedder=embedder, cache=cache)
    scores = router.category_scores(text)
    confident = answer["status"] in ("answer", "clarify")
    top_name = answer["candidates"][0]["name"] if answer["candidates"] else None
    closer = near = query = None  # query: the dense router's own query vector, if computed here
    why = answer.get("why") or {}
    if router.dense is not None and why.get("dense_cosine") is not None and meaning_may_decide(text):
        # the service search's vector of the citizen's own words (not the expanded
        # question: catalogue words added to it would pull it toward the items)
        if vector is None or len(text) > dsc.QUERY_CHARS:
            vector = query = router.dense.embedder.query([text[:dsc.QUERY_CHARS]])[0]
        else:
            query = vector  # the service search embedded this very text
        near = router.dense.best(vector)
        closer = near - why["dense_cosine"]
    top_score = answer["candidates"][0].get("score") if confident and answer["candidates"] else None
    intent = intent_of(text, confident, float(scores.max()) if len(scores) else 0.0, top_name if confident else None,
                       closer_to_dispatch=closer, dispatch_cosine=near, service_score=top_score)
    answer["intent"] = intent
    if intent in ("complaint", "both"):
        block = router.route(text, scores, query)
        block["extracted"] = extract(mask(text))
        block["summary"] = summary(text)
        answer["dispatch"] = block
        if intent == "both" and grieves(text):
            handled_by(block, router, answer)
        if intent == "complaint":
            answer["status"] = "dispatch"
            answer["item"] = None
            answer.pop("clarify", None)
            answer.pop("not_found", None)
        # "both": the catalogue has an item that handles this very matter (消费纠纷调解,
        # 劳动人事争议仲裁申请): its card (or the clarify) is the answer, the dispatch
        # block rides along for the operator and for the card's "反映" lines
    return answer


def handled_by(block: dict[str, Any], router: "Router", answer: dict[str, Any]) -> None:
    """A complaint about how a service is handled ("失业金三个月还没发下来") that the
    categories cannot place (it would go to the command centre) goes to the department
    that implements the item, as its record names it: that department answers for its
    own window. Only a department of a known type: an unknown one stays with the centre.
    On the tuning messages (t2 and dev, README *诉求*) this put the right lead on 43 of
    47 such guangan messages and 29 of 41 guangdong ones (the categories alone: 29, 19)."""
    item = answer.get("item") or (answer["candidates"][0] if answer.get("candidates") else None)
    name = item.get("department") if item else None
    type_ = ds.type_of(name)
    if not block["to_command_centre"] or not type_:
        return
    lead = {"department": name, "department_full": item.get("department_full") or router.full.get(name) or name,
            "type": type_}
    block["support"] = [s for s in block["support"] if s["department"] != name][:3]
    # the ranking shown to the operator starts with the lead's type
    block["types"] = ([t for t in block["types"] if t["type"] == type_] or [{"type": type_, "score": 0.0}]) + [
        t for t in block["types"] if t["type"] != type_]
    block.update(lead=lead, suggested_lead=lead, to_command_centre=False)
    block["why"] = [w for w in block["why"] if "指挥中心" not in w] + [
        f"反映的是“{item['name']}”的办理情况，由实施部门{name}负责答复"]
