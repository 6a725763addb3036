"""The question library at question time: staff-curated questions and synonyms.

A curated question is strong evidence: the nearest one (by the same query
embedding the search makes) boosts its item in the fusion, and an exact repeat
is answered directly (or, if marked out of scope, said to be not found).
Synonyms are added to the catalogue's vocabulary.

Several servers share one database, so each notices a change by reading the
catalogue's library version from the store, at most once a second
(``check_every``), and reloads only then; vectors of questions it has embedded
before are kept.

    >>> libs = Libraries(assistant)                       # doctest: +SKIP
    >>> lib = libs.get("guangan")                         # doctest: +SKIP
    >>> lib.exact("结婚证弄丢了怎么办")["code"]              # doctest: +SKIP
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from index.text import Vocabulary
from store import library as store_lib
from store.db import StoreUnavailable


@dataclass
class Library:
    """One catalogue's library, ready for search: rows, their vectors, the vocabulary."""

    catalogue: str
    version: int
    rows: list[dict[str, Any]]
    vocabulary: Vocabulary
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    _by_norm: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_norm = {r["norm"]: r for r in self.rows}

    @classmethod
    def build(cls, catalogue: str, version: int, questions: list[dict[str, Any]], synonyms: list[dict[str, Any]],
              base: Vocabulary, embed: Callable[[list[str]], np.ndarray],
              cache: dict[str, np.ndarray] | None = None) -> "Library":
        """``embed`` turns query texts into normalized vectors; ``cache`` (text →
        vector) spares re-embedding questions seen before."""
        more: dict[str, list[str]] = {}
        for s in synonyms:
            more.setdefault(s["everyday"], []).append(s["official"])
        vocab = base.with_entries(more) if more else base
        rows = [dict(q, norm=q.get("norm") or store_lib.normalise(q["question"])) for q in questions]
        # The search embeds the question as expanded by the vocabulary; so do we.
        texts = [vocab.expand(r["question"]) for r in rows]
        cache = cache if cache is not None else {}
        todo = [t for t in dict.fromkeys(texts) if t not in cache]
        if todo:
            for t, v in zip(todo, embed(todo)):
                cache[t] = np.asarray(v, dtype=np.float32)
        vectors = np.stack([cache[t] for t in texts]) if texts else np.zeros((0, 0), dtype=np.float32)
        return cls(catalogue, version, rows, vocab, vectors)

    def exact(self, question: str) -> dict[str, Any] | None:
        """The curated row for this very question (spaces and punctuation aside)."""
        return self._by_norm.get(store_lib.normalise(question))

    def nearest(self, qv: np.ndarray) -> tuple[dict[str, Any], float] | None:
        """The curated question nearest to the query vector, with its cosine."""
        if not self.rows:
            return None
        sims = self.vectors @ np.asarray(qv, dtype=np.float32).reshape(-1)
        i = int(np.argmax(sims))
        return self.rows[i], float(sims[i])


class Libraries:
    """Each catalogue's ``Library``, reloaded when the store's version moves."""

    def __init__(self, db: Callable[[], Any], base: Callable[[str], Vocabulary],
                 embed: Callable[[list[str]], np.ndarray], check_every: float = 1.0):
        self._db = db            # a function: this thread's store connection
        self._base = base        # catalogue → its base vocabulary
        self._embed = embed
        self.check_every = check_every
        self._libs: dict[str, Library] = {}
        self._checked: dict[str, float] = {}
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()
        self._schema = False

    def get(self, catalogue: str) -> Library:
        now = time.monotonic()
        lib = self._libs.get(catalogue)
        if lib is not None and now - self._checked.get(catalogue, 0.0) < self.check_every:
            return lib
        try:
            db = self._db()
            if not self._schema:
                store_lib.ensure_schema(db)
                self._schema = True
            v = store_lib.version(db, catalogue)
        except StoreUnavailable:
            # the shared store is down: keep answering with what we had (or none)
            return lib if lib is not None else Library.build(catalogue, -1, [], [], self._base(catalogue),
                                                              self._embed)
        self._checked[catalogue] = now
        if lib is not None and lib.version == v:
            return lib
        with self._lock:
            lib = self._libs.get(catalogue)
            if lib is None or lib.version != v:
                try:
                    rows, syns = store_lib.questions(db, catalogue), store_lib.synonyms(db, catalogue)
                except StoreUnavailable:
                    return lib if lib is not None else Library.build(catalogue, -1, [], [], self._base(catalogue),
                                                                      self._embed)
                lib = Library.build(catalogue, v, rows, syns, self._base(catalogue), self._embed, self._cache)
                self._libs[catalogue] = lib
        return lib

    def put(self, lib: Library) -> None:
        """Use ``lib`` for its catalogue until the store's version moves (the
        paraphrase experiment curates a library in memory this way)."""
        with self._lock:
            self._libs[lib.catalogue] = lib
            self._checked[lib.catalogue] = float("inf")

    def drop(self, catalogue: str) -> None:
        with self._lock:
            self._libs.pop(catalogue, None)
            self._checked.pop(catalogue, None)
