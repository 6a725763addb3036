"""Everyday messages no office handles: a question nearer in meaning to one of them
than to any catalogue item is out of scope, whatever words it shares with the
catalogue ("驾校学个C照一般要好多钱" is a market price, not 机动车驾驶员培训备案).

``data/out_of_scope.tsv`` (``kind<TAB>message``) holds about 300 of them in 31 kinds
(small talk, prices, shopping, travel, health tips, recipes, games …), written from
general knowledge of daily life, never from evaluation questions.

    >>> off = OffTopic.load(embedder)
    >>> off.nearest(embedder.query(["周末去哪里爬山好"])[0])   # doctest: +SKIP
    (0.93, '旅游景点和门票')
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from index.text import tab_rows
from wenban.config import DATA_DIR

PATH = DATA_DIR / "out_of_scope.tsv"
# How much nearer (e5 cosine, question to question) a question must be to an everyday
# message than to the best item (the larger of its description and text cosines).
# On the tuning splits, at 0.01 none of 2,164 in-scope questions crossed it and 10 of the
# 17 out-of-scope ones the search still answered did; at 0.00 12, at −0.01 15 in-scope
# ones too (README *The tenth session*).
MARGIN = 0.01

_VECTORS: dict[tuple[str, str], np.ndarray] = {}  # per (model, file content): embedded once


def load_rows(path: Path = PATH) -> list[tuple[str, str]]:
    """(kind, message) rows; a malformed line names its number."""
    if not path.exists():
        return []
    rows = []
    for n, kind, sep, text in tab_rows(path):
        if not sep or not kind.strip() or not text.strip():
            raise ValueError(f"{path}:{n}: expected 'kind<TAB>message'")
        rows.append((kind.strip(), text.strip()))
    return rows


class OffTopic:
    """The everyday messages as e5 query vectors (a question is compared with questions)."""

    def __init__(self, rows: list[tuple[str, str]], vectors: np.ndarray):
        self.rows, self.vectors = rows, vectors

    @classmethod
    def load(cls, embedder, path: Path = PATH) -> "OffTopic":
        rows = load_rows(path)
        texts = [t for _, t in rows]
        key = (str(getattr(embedder, "id", id(embedder))), hashlib.sha256("\n".join(texts).encode()).hexdigest())
        if key not in _VECTORS:
            _VECTORS[key] = embedder.query(texts) if texts else np.zeros((0, 1), dtype=np.float32)
        return cls(rows, _VECTORS[key])

    def nearest(self, vector: np.ndarray | None) -> tuple[float, str | None]:
        """(cosine, kind) of the everyday message nearest to a question's e5 query vector."""
        if vector is None or not self.rows:
            return -1.0, None
        sims = self.vectors @ vector
        i = int(sims.argmax())
        return float(sims[i]), self.rows[i][0]

    def off(self, vector: np.ndarray | None, item_cosine: float, margin: float = MARGIN) -> str | None:
        """The kind of everyday message the question is, when it is nearer to one than
        to the best item by ``margin``; else None."""
        near, kind = self.nearest(vector)
        return kind if kind is not None and near - item_cosine >= margin else None
