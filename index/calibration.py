"""The not-found calibration: a logistic map from the top candidate's evidence to
the probability that the catalogue covers the question, fitted on the dev split
by ``wenban eval --calibrate`` and stored in ``data/calibration.json``.

    >>> cal = Calibration()
    >>> round(cal.probability({"dense": 0.9, "bm25": 0.0, "exact": 0.0}), 3)
    0.5
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from wenban.config import DATA_DIR, DEFAULT_MODEL_NAME

if TYPE_CHECKING:
    from .search import Candidate

CALIBRATION_PATH = DATA_DIR / "calibration.json"


def calibration_path(model_dir: Path | None, existing: bool = False) -> Path:
    """Where a model's not-found calibration lives: ``data/calibration.json`` for the
    default model, ``data/calibration-<model folder>.json`` for another (its cosines
    differ, e.g. the tuned e5-small-wenban). ``existing``: fall back to the default
    file when the model has none of its own yet."""
    if model_dir is None or model_dir.name == DEFAULT_MODEL_NAME:
        return CALIBRATION_PATH
    own = DATA_DIR / f"calibration-{model_dir.name}.json"
    return CALIBRATION_PATH if existing and not own.exists() else own


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


FEATURES = ("dense", "bm25", "exact")


@dataclass
class Calibration:
    """Logistic map from the top candidate's evidence to P(the catalogue covers
    the question): the dense cosine, log(1 + BM25) and whether an item name
    stands in the question. Fitted by ``wenban eval --calibrate``."""

    weights: dict[str, float] = field(default_factory=lambda: {
        "dense": 60.0, "bm25": 1.0, "exact": 1.0, "bias": -54.0})
    threshold: float = 0.5
    fitted_on: str = "defaults"

    @classmethod
    def load(cls, path: Path = CALIBRATION_PATH) -> "Calibration":
        if not path.exists():
            return cls()
        raw = json.loads(path.read_text())
        return cls(weights=raw["weights"], threshold=raw["threshold"], fitted_on=raw.get("fitted_on", ""))

    @staticmethod
    def features(cands: list[Candidate]) -> dict[str, float]:
        top = cands[0]
        return {"dense": top.dense if top.dense is not None else 0.0,
                "bm25": math.log1p(max(c.bm25 or 0.0 for c in cands[:5])),
                "exact": 1.0 if any(c.exact for c in cands[:5]) else 0.0}

    def probability(self, feats: dict[str, float]) -> float:
        z = self.weights["bias"] + sum(self.weights[k] * feats[k] for k in FEATURES)
        return _sigmoid(z)


