"""The matter's level-1 class learned from a hall's past work orders, which carry
no class: only the handling department (``wenban dispatch history import``).

Weak supervision: the dispatch catalogue itself says which level-1 class each
department type leads (住建 leads 城乡建设 matters, 人社 劳动和社会保障, 生态环境
环境保护 …). A type whose led categories fall mostly (``MIN_SHARE``) in one class
labels its orders with that class; types that lead across classes (公安: public
order and traffic; 文旅) and the street (属地管理: it handles everything) label
nothing. A calibrated linear SVM over character 1–3-grams is trained on the
labelled orders at import (seconds on 2 cores) and gives per message each class's
probability divided by (a power of) its share of the orders: history is lopsided
toward whichever bureaus answer most, and the zero-shot scores carry a prior of
their own. The router adds ``WEIGHT * log`` of it to every category of that
class before choosing one.

    >>> m = Level1Model(texts, types, catalogue_rows)                 # doctest: +SKIP
    >>> m.level1_of["人社"], max(m.ratios("老板拖欠工资"), key=m.ratios("老板拖欠工资").get)   # doctest: +SKIP
    ('劳动和社会保障', '劳动和社会保障')
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Sequence

import numpy as np
from sklearn.calibration import CalibratedClassifierCV
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.svm import LinearSVC

LOCAL_TYPE = "街道"  # the 属地 street: handles matters of every class
MIN_SHARE = 0.7  # a type labels its orders when ≥ 70 % of the categories it leads share a class (dev: 0.6 no better)
MIN_ORDERS = 5  # a class needs this many labelled orders to be learned (the calibration's 3 folds need some)
# Added to the fused category scores (z-scale) as WEIGHT · log(probability ratio);
# chosen on the earlier half (dev) of the labelled messages: 0.5–2 tried, 1.0 best.
WEIGHT = 1.0
# Fewer labelled orders than this: the weight shrinks in proportion (a small
# history is a noisy classifier; dev with only the orders before each message's
# year: 0.675 unshrunk, 0.709 at 800).
FULL_AT = 800
# The probability is divided by the class's share of the orders to this power:
# 1 over-corrects the bureaus that answer most (教育); dev macro-F1 0.5: 0.774,
# 0.75: 0.785, 1: 0.761 (none: 0.708).
PRIOR_POWER = 0.75


def fit_text_classifier(texts: Sequence[str], labels: Sequence[str]):
    """Character 1–3-gram TF-IDF and a linear SVM calibrated into probabilities
    (sigmoid fitted on 3-fold predictions, one SVM at predict time, ~2 ms a message):
    the history models' common learner. Returns ``(vectorizer, classifier)``."""
    vec = TfidfVectorizer(analyzer="char", ngram_range=(1, 3), sublinear_tf=True)
    clf = CalibratedClassifierCV(LinearSVC(C=0.5), cv=3, ensemble=False).fit(vec.fit_transform(texts), labels)
    return vec, clf


def level1_of_types(rows: Sequence[dict[str, Any]], min_share: float = MIN_SHARE) -> dict[str, str]:
    """type → the level-1 class it leads, from the dispatch catalogue's rows; types
    leading across classes and the street are left out."""
    led: dict[str, Counter] = {}
    for r in rows:
        if r["lead"] != LOCAL_TYPE:
            led.setdefault(r["lead"], Counter())[r["l1"]] += 1
    out = {}
    for t, classes in led.items():
        l1, n = classes.most_common(1)[0]
        if n / sum(classes.values()) >= min_share:
            out[t] = l1
    return out


class Level1Model:
    """Level-1 class probabilities (as ratios to the training shares) from past
    work orders labelled through their department's type."""

    def __init__(self, texts: Sequence[str], types: Sequence[str | None], rows: Sequence[dict[str, Any]],
                 clean=lambda t: t):
        self.level1_of = level1_of_types(rows)
        pairs = [(t, self.level1_of[ty]) for t, ty in zip(texts, types) if ty in self.level1_of]
        counts = Counter(l1 for _, l1 in pairs)
        pairs = [(t, l1) for t, l1 in pairs if counts[l1] >= MIN_ORDERS]
        self.orders = len(pairs)
        if len({l1 for _, l1 in pairs}) < 2:
            raise ValueError("too few work orders of department types that name a class")
        self.clean = clean
        y = [l1 for _, l1 in pairs]
        # calibrated: probabilities comparable across messages; the 3-fold ensemble
        # was 0.785 on dev against 0.767, at 7× the time (17 ms)
        self.vec, self.clf = fit_text_classifier([clean(t) for t, _ in pairs], y)
        share = Counter(y)
        self.share = np.array([share[c] / len(y) for c in self.clf.classes_])

    def ratios(self, text: str) -> dict[str, float]:
        """class → probability / training share ** ``PRIOR_POWER``, normalised to sum 1."""
        p = self.clf.predict_proba(self.vec.transform([self.clean(text)]))[0] / self.share ** PRIOR_POWER
        p /= p.sum()
        return dict(zip(self.clf.classes_, p.tolist()))

    def bonus(self, text: str, level1: Sequence[str], weight: float | None = None) -> np.ndarray:
        """Per category (its level-1 class in ``level1``): ``weight · log`` of the
        class's ratio; a class the history cannot name gets the uniform ratio."""
        weight = (WEIGHT if weight is None else weight) * min(1.0, self.orders / FULL_AT)
        r = self.ratios(text)
        flat = 1.0 / len(r)
        return weight * np.log(np.array([r.get(c, flat) for c in level1]) + 1e-3)


def train(history: Sequence[dict[str, Any]], rows: Sequence[dict[str, Any]], clean=lambda t: t) -> Level1Model | None:
    """The model for stored work orders (``store.dispatch.history``), or None when
    they name too few classes to learn from."""
    try:
        return Level1Model([h["text"] for h in history], [h["type"] for h in history], rows, clean)
    except ValueError:
        return None
