"""Hybrid retrieval: dense (FAISS, over the item text, the bare item name and
the item's everyday description) + keyword (BM25 over jieba tokens of the
names), fused by weighted reciprocal rank, plus a boost when the question names
an item.

Two numbers per candidate:

* ``fused``: the weighted RRF sum, only good for ordering;
* ``score``: for the top candidate, a calibrated probability in [0, 1] that
  the catalogue covers the question (the asked-for item is among the
  candidates), from a logistic fit on the evaluation dev split (see
  ``eval.run.fit_calibration``); the others get that probability times their
  share of the top fused score. ``not_found`` is decided on the top score.

    >>> r = Retriever.load(settings, "guangan", embedder)     # doctest: +SKIP
    >>> r.search("孩子刚出生怎么上户口").candidates[0].name      # doctest: +SKIP
    '户口登记'
    >>> r.search("弩的购置审批", area="440100").candidates[0].department   # doctest: +SKIP
    '广州市公安局'

Sites: ``area`` (a 行政区划代码) keeps only the items that serve it, those of
the area and the areas above it (``store.areas.chain``); ``level`` (省/市/县)
keeps one level. The indexes hold distinct texts, each mapped to its items by
area, so the filter costs a few dictionary look-ups per hit, whatever the
number of areas; the exact-name check is an Aho–Corasick automaton over the
distinct names, so it does not grow with the catalogue either.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick
import bm25s
import faiss
import numpy as np

from store import areas as area_codes
from wenban.config import Settings

from .build import IndexUnavailable, current_build, verify
from .calibration import CALIBRATION_PATH, FEATURES, Calibration, calibration_path  # noqa: F401 (re-exported)
from .embedder import Embedder
from .local import prefer_own_area
from .text import (Tokenizer, Vocabulary, action_fit, actions, asked_actions, char_pairs, claimed_roles, name_core,
                   name_subject, roles, share_in)


@dataclass
class FusionParams:
    k: int = 60            # RRF constant
    w_dense: float = 1.0   # full item text
    w_name: float = 1.0    # the bare item name
    w_bm25: float = 0.5
    exact_boost: float = 0.02  # ~ a first place in one more list
    action: float = 0.002  # an item doing what the question asks (补办, 注销 …) up, another action down
    depth: int = 50        # how deep each list is read
    exact_shared: bool = True  # an alias found in the question names every candidate whose name holds it
                               # (tuning dev+b3+t1: hit@1 +10 questions, none lost)
    library: float = 0.05  # the item of the nearest curated question (library), when near enough
    library_cosine: float = 0.95  # … near enough: cosine of the two (expanded) questions
    role: float = 0.002    # an item for an organisation / a licensed professional down, unless
                           # the question speaks as one (dev: 0.002 beat 0 and 0.004)
    coverage: float = 0.006  # share of the item name's character pairs found in the (expanded) question;
                           # dev: 0.004–0.008 a plateau (hit@1 guangan .870 → .886, guangdong .879 → .909)
    asked: float = 0.003     # share of the question's own character pairs found in the item name
                           # (dev: 0.002–0.004 a plateau, hit@1 guangan .886 → .902, guangdong .909 → .924)
    w_desc: float = 2.0    # the description view (data/descriptions.tsv), searched with the question's own
                           # words; tuning t4+t1+t2+b3+dev, resolved summed over both catalogues: 0 → 9.38,
                           # 2 → 9.59, 3 → 9.61 with more clarifying (the expanded question: 2 → 9.50)
    cos_desc: float = 0.1  # the description's cosine itself (above the list's lowest), beside its rank:
                           # RRF sees rank 1 and 3 as 0.0005 apart however far the cosines are.
                           # Tuning (dev b3 t1 t2 t4 t5 t6), resolved summed over the 7 splits,
                           # guangan / guangdong: 0 → 6.414 / 6.490, 0.05 → 6.421 / 6.498,
                           # 0.1 → 6.444 / 6.504, 0.2 → 6.446 / 6.456; clarify down 2–4 points


@dataclass
class Candidate:
    code: str
    name: str
    department: str
    type: str | None
    parent_name: str | None
    fused: float
    dense: float | None = None      # best cosine over the two dense lists
    dense_rank: int | None = None   # rank in the full-text list
    name_rank: int | None = None    # rank in the bare-name list
    desc_rank: int | None = None    # rank in the description list
    desc: float | None = None       # cosine of the citizen's own words to the item's description
    bm25: float | None = None
    bm25_rank: int | None = None
    exact: str | None = None        # the item name/alias found in the question
    matched: list[str] = field(default_factory=list)
    score: float = 0.0
    library: str | None = None      # the curated question (library) that points here
    department_full: str | None = None  # the department with its area (广安区公安分局)
    area_code: str | None = None
    area: str | None = None
    level: str | None = None        # 省 / 市 / 县
    base_code: str | None = None    # the basic item its implementations share (三级四同)
    other_levels: list["Candidate"] = field(default_factory=list)  # same base item, other areas

    def public(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name, "department": self.department,
                "department_full": self.department_full or self.department,
                "area": {"code": self.area_code, "name": self.area} if self.area_code else None,
                "level": self.level, "type": self.type, "score": round(self.score, 4)}


@dataclass
class SearchResult:
    question: str
    expanded: str
    tokens: list[str]
    vocabulary: list[tuple[str, list[str]]]
    candidates: list[Candidate]
    timings: dict[str, float]
    library: dict[str, Any] | None = None  # the nearest curated question, with "cosine"
    vector: np.ndarray | None = None  # the question's e5 vector (expanded)
    raw_vector: np.ndarray | None = None  # … of the citizen's own words (the description view's,
                                          # the 诉求 split's, the off-topic test's); None if not embedded


def _read(catalogue: str, path: Path, parse):
    """Read one index file through ``parse``; any failure names the file."""
    try:
        return parse(path)
    except IndexUnavailable:
        raise
    except Exception as e:  # noqa: BLE001 - faiss, JSON and bm25s raise many kinds
        raise IndexUnavailable(catalogue, f"cannot read {path} ({type(e).__name__}: {e}): "
                                          f"run 'wenban index {catalogue}'") from None


def _json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


class Retriever:
    """One catalogue's loaded indexes. Thread-safe for concurrent ``search``."""

    def __init__(self, catalogue: str, build_dir: Path, embedder: Embedder, vocab: Vocabulary | None = None,
                 params: FusionParams | None = None, calibration: Calibration | None = None,
                 cache_dir: Path | None = None):
        """Anything wrong with a file raises ``IndexUnavailable`` naming it."""
        self.catalogue = catalogue
        self.build_dir = build_dir
        self.manifest = _read(catalogue, build_dir / "manifest.json", _json)
        if not isinstance(self.manifest, dict) or "model_id" not in self.manifest:
            raise IndexUnavailable(catalogue, f"{build_dir / 'manifest.json'} is not a build manifest: "
                                              f"run 'wenban index {catalogue}'")
        verify(catalogue, build_dir, self.manifest)
        if self.manifest["model_id"] != embedder.id:
            raise IndexUnavailable(catalogue, f"index {build_dir} was built with {self.manifest['model_id']}, "
                                              f"the loaded model is {embedder.id}: rebuild with 'wenban index'")
        codes = _read(catalogue, build_dir / "codes.json", _json)
        # the items this build indexed: it answers from the version it was built
        # from until the next build, whatever an import did to the store since
        self.items = _read(catalogue, build_dir / "items.json", _json)
        if [it.get("code") for it in self.items] != codes:
            raise IndexUnavailable(catalogue, f"{build_dir / 'items.json'} does not match codes.json: "
                                              f"run 'wenban index {catalogue}'")
        self.by_code = {it["code"]: it for it in self.items}
        self.area_names = area_codes.names_of(self.items)
        docs = _read(catalogue, build_dir / "docs.json", _json)
        if not isinstance(docs, dict) or any(len(docs.get(v) or []) != len(codes)
                                             for v in ("dense", "names", "desc", "bm25")):
            raise IndexUnavailable(catalogue, f"{build_dir / 'docs.json'} does not match codes.json: "
                                              f"run 'wenban index {catalogue}'")
        # per view, per distinct text: {area code: item positions}
        self._groups = {view: self._group(docs[view]) for view in ("dense", "names", "desc", "bm25")}
        self.embedder = embedder
        self.vocab = vocab or Vocabulary.load()
        self.params = params or FusionParams()
        self.calibration = calibration or Calibration.load(
            calibration_path(getattr(embedder, "path", None), existing=True))
        self.dense = _read(catalogue, build_dir / "dense.faiss", lambda p: faiss.read_index(str(p)))
        self.names = _read(catalogue, build_dir / "names.faiss", lambda p: faiss.read_index(str(p)))
        self.desc = _read(catalogue, build_dir / "desc.faiss", lambda p: faiss.read_index(str(p)))
        for what, view, index in (("dense.faiss", "dense", self.dense), ("names.faiss", "names", self.names),
                                  ("desc.faiss", "desc", self.desc)):
            texts = len(self._groups[view])  # rows are distinct texts
            if index.ntotal != texts or index.d != embedder.dim:
                raise IndexUnavailable(catalogue, f"{build_dir / what} holds {index.ntotal} vectors of "
                                                  f"{index.d} dimensions, expected {texts} of {embedder.dim}")
        self.bm25 = _read(catalogue, build_dir / "bm25",
                          lambda p: bm25s.BM25.load(str(p), show_progress=False))
        words = _read(catalogue, build_dir / "words.txt",
                      lambda p: p.read_text(encoding="utf-8").splitlines())
        self.tokenizer = Tokenizer(words, cache_dir=cache_dir)
        self.keyword_vocab = self.bm25.vocab_dict  # the words BM25 knows (item names)
        self._automaton, self._exact_groups = self._name_automaton()
        self._position = {it["code"]: i for i, it in enumerate(self.items)}

    @classmethod
    def load(cls, settings: Settings, catalogue: str, embedder: Embedder, db=None, **kw) -> "Retriever":
        build = current_build(settings, catalogue)
        if build is None:
            raise FileNotFoundError(f"no index for catalogue {catalogue!r}: run 'wenban index {catalogue}'")
        return cls(catalogue, build, embedder, cache_dir=settings.home / "cache", **kw)

    def _group(self, docs: list[int]) -> list[dict[str | None, list[int]]]:
        out: list[dict[str | None, list[int]]] = [{} for _ in range(max(docs, default=-1) + 1)]
        for pos, d in enumerate(docs):
            out[d].setdefault(self.items[pos].get("area_code"), []).append(pos)
        return out

    def _name_automaton(self) -> tuple[Any, list[dict[str | None, list[int]]]]:
        """An Aho–Corasick automaton over the distinct item names, their cores without
        brackets or a closing procedure word (``name_subject``), and aliases (≥ 4
        characters: "证明" is in too many questions), each → its items by area."""
        ids: dict[str, int] = {}
        docs: list[int] = []
        owners: list[int] = []
        for pos, it in enumerate(self.items):
            for n in {it["name"], name_core(it["name"]), name_subject(it["name"]), *(it.get("aliases") or [])}:
                if n and len(n) >= 4:
                    docs.append(ids.setdefault(n, len(ids)))
                    owners.append(pos)
        groups: list[dict[str | None, list[int]]] = [{} for _ in ids]
        for d, pos in zip(docs, owners):
            groups[d].setdefault(self.items[pos].get("area_code"), []).append(pos)
        automaton = ahocorasick.Automaton()
        for n, d in ids.items():
            automaton.add_word(n, (n, d))
        if ids:
            automaton.make_automaton()
        return (automaton if ids else None), groups

    def _members(self, group: dict[str | None, list[int]], chain: list[str] | None,
                 level: str | None) -> list[int]:
        """The items of one distinct text that serve the site (all of them with no site)."""
        if chain is None:
            pos = [p for ps in group.values() for p in ps]
        else:  # items without an area belong to no area in particular: every site sees them
            pos = [p for a in (*chain, None) for p in group.get(a, ())]
        if level:
            pos = [p for p in pos if self.items[p].get("level") == level]
        return pos

    def serves(self, code: str, area: str | None = None, level: str | None = None) -> bool:
        """Whether item ``code`` is one a site of ``area`` (and ``level``) is answered from."""
        it = self.by_code.get(code)
        if it is None:
            return False
        if area and it.get("area_code") and it["area_code"] not in area_codes.chain(area_codes.normalize_code(area)):
            return False
        return not level or it.get("level") == level

    def _expand(self, view: str, hits: list[tuple[int, float]], chain: list[str] | None,
                level: str | None, depth: int) -> list[tuple[int, float, int]]:
        """Hits on distinct texts → (item position, score, rank) for the items that serve
        the site; the first ``depth`` texts that have any, each text one rank."""
        out: list[tuple[int, float, int]] = []
        rank = 0
        for d, score in hits:
            members = self._members(self._groups[view][d], chain, level)
            if members:
                rank += 1
                out += [(p, score, rank) for p in members]
                if rank >= depth:
                    break
        return out

    def exact_names(self, question: str) -> list[tuple[str, int]]:
        """(name, distinct-name id) of the item names in the question, longest first,
        leaving out a name found only inside a longer one already found."""
        if self._automaton is None:
            return []
        found = {value for _, value in self._automaton.iter(question)}
        kept: list[tuple[str, int]] = []
        for name, d in sorted(found, key=lambda x: (-len(x[0]), x[1])):
            if not any(name in n for n, _ in kept):
                kept.append((name, d))
        return kept

    def search(self, question: str, k: int = 10, mode: str = "hybrid",
               area: str | None = None, level: str | None = None, library=None) -> SearchResult:
        """``mode``: hybrid | dense | bm25 (the last two for ``eval --compare``).
        ``area``: a site's 行政区划代码, only items serving it; ``level``: 省 | 市 | 县.
        ``library``: the catalogue's question library (``assistant.library.Library``):
        its synonyms join the vocabulary, its nearest curated question is evidence."""
        p = self.params
        t0 = time.perf_counter()
        chain = area_codes.chain(area_codes.normalize_code(area)) if area else None
        vocab = library.vocabulary if library is not None else self.vocab
        matches = vocab.matches(question)
        expanded = vocab.expand(question, matches)
        qv = raw = None
        depth = p.depth
        # a site sees a part of the texts: read deeper so `depth` of them serve it
        reach = depth if chain is None and level is None else depth * 4
        dense_hits: list[tuple[int, float, int]] = []
        name_hits: list[tuple[int, float, int]] = []
        desc_hits: list[tuple[int, float, int]] = []
        if mode in ("hybrid", "dense"):
            # the description view is searched with the citizen's own words (everyday
            # words meet everyday descriptions); one batch when the vocabulary added terms
            own = bool(p.w_desc) and expanded != question
            both = self.embedder.query([expanded, question] if own else [expanded])
            # raw: the question as written, when it was embedded (it is the expanded one
            # when the vocabulary added nothing; with the view off it is not embedded)
            qv, raw = both[:1], (both[1:] if own else both[:1] if expanded == question else None)
            t1 = time.perf_counter()
            views = [("dense", self.dense, dense_hits, qv), ("names", self.names, name_hits, qv)]
            if p.w_desc:
                views.append(("desc", self.desc, desc_hits, raw))
            for view, index, hits, vec in views:
                D, I = index.search(vec, min(reach, index.ntotal))
                hits += self._expand(view, [(int(i), float(d)) for i, d in zip(I[0], D[0]) if i >= 0],
                                     chain, level, depth)
        else:
            t1 = time.perf_counter()
        tokens = self.tokenizer.tokens(expanded)
        bm25_hits: list[tuple[int, float, int]] = []
        if mode in ("hybrid", "bm25"):
            known = [t for t in tokens if t in self.keyword_vocab]
            if known:
                scores = self.bm25.get_scores(known)
                n = min(reach, len(scores))
                top = np.argpartition(-scores, n - 1)[:n]
                top = top[np.argsort(-scores[top], kind="stable")]
                bm25_hits = self._expand("bm25", [(int(i), float(scores[i])) for i in top if scores[i] > 0],
                                         chain, level, depth)
        t2 = time.perf_counter()

        fused: dict[int, Candidate] = {}

        def cand(i: int) -> Candidate:
            if i not in fused:
                it = self.items[i]
                fused[i] = Candidate(
                    it["code"], it["name"], it["department"], it.get("type"), it.get("parent_name"), 0.0,
                    department_full=area_codes.department_full(it["department"], it.get("area_code"),
                                                               self.area_names),
                    area_code=it.get("area_code"), area=it.get("area"), level=it.get("level"),
                    base_code=it.get("base_code"))
            return fused[i]

        for i, s, rank in dense_hits:
            c = cand(i)
            c.dense, c.dense_rank = s, rank
            c.fused += p.w_dense / (p.k + rank)
        for i, s, rank in name_hits:
            c = cand(i)
            c.dense, c.name_rank = max(s, c.dense or -1.0), rank
            c.fused += p.w_name / (p.k + rank)
        for i, s, rank in desc_hits:
            c = cand(i)
            c.desc, c.desc_rank = s, rank
            c.fused += p.w_desc / (p.k + rank)
        for i, s, rank in bm25_hits:
            c = cand(i)
            c.bm25, c.bm25_rank = s, rank
            c.fused += p.w_bm25 / (p.k + rank)
        if p.cos_desc and desc_hits:
            # above the lowest cosine read, so the fused scores' ratios (the clarify rule)
            # move only by what tells the candidates apart
            floor = min(s for _, s, _ in desc_hits)
            for c in fused.values():
                if c.desc is not None:
                    c.fused += p.cos_desc * (c.desc - floor)
        near = None
        if mode == "hybrid" and library is not None and qv is not None:
            hit = library.nearest(qv[0])
            if hit and hit[1] >= p.library_cosine:
                near = {**hit[0], "cosine": round(hit[1], 4)}
                pos = self._position.get(near["code"])
                if pos is not None and pos in self._members({self.items[pos].get("area_code"): [pos]}, chain, level):
                    c = cand(pos)
                    c.library = near["question"]
                    c.fused += p.library
        if mode == "hybrid":
            found = self.exact_names(question)
            for name, d in found:
                for i in self._members(self._exact_groups[d], chain, level):
                    c = cand(i)
                    if not c.exact:
                        c.exact = name
                        c.fused += p.exact_boost
            if p.exact_shared:
                # an alias (残疾人证) names the whole family whose names hold it, not the one
                # item it was written for; an item's full name (法律援助) names that item only
                full = {self.items[i]["name"] for _, d in found for g in self._exact_groups[d].values() for i in g}
                for name, _ in found:
                    if name in full:
                        continue
                    for c in fused.values():
                        if not c.exact and name in c.name:
                            c.exact = name
                            c.fused += p.exact_boost
            # A question that names no action wants the item itself, not its
            # 补办/注销/变更 variants; one that does wants those. Tuned on dev.
            wanted = asked_actions(question, matches)
            speaks_as = claimed_roles(expanded)
            asked = char_pairs(question)
            for c in fused.values():
                c.fused += p.action * action_fit(actions(c.name), wanted)
                if roles(c.name) - speaks_as:
                    c.fused -= p.role
                # Of one family, the member whose name the question covers, with
                # the fewest words it did not ask for (最低生活保障 over
                # 家庭经济困难儿童…最低生活保障 for "想申请低保").
                c.fused += p.coverage * share_in(char_pairs(c.name), expanded) + p.asked * share_in(asked, c.name)
        token_set = set(tokens)
        ranked = sorted(fused.values(), key=lambda c: -c.fused)
        if chain is not None:
            ranked = prefer_own_area(ranked, chain)
        ranked = ranked[:max(k, 5)]
        for c in ranked:
            name_tokens = set(self.tokenizer.tokens(c.name))
            c.matched = sorted(name_tokens & token_set, key=len, reverse=True)
        if ranked:
            top = self.calibration.probability(Calibration.features(ranked))
            for c in ranked:
                c.score = top * (c.fused / ranked[0].fused)
        t3 = time.perf_counter()
        return SearchResult(question, expanded, tokens, matches, ranked,
                            {"embed": (t1 - t0) * 1000, "search": (t2 - t1) * 1000, "fuse": (t3 - t2) * 1000},
                            library=near, vector=None if qv is None else qv[0],
                            raw_vector=None if raw is None else raw[0])
