"""The tuned encoder (index/tune.py): a tiny seeded training run writes a small
artifact, the overlay lays it over the base model into a new folder whose
vectors and model id differ, and a wrong base or a missing artifact is a clear error."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace

import numpy as np
import pytest

from wenban.config import DATA_DIR, Settings


@pytest.fixture(scope="module")
def trained(settings, tmp_path_factory):
    """20 triplets, one layer, two steps: enough to move the weights, seconds to run."""
    from index.tune import train
    from store.db import items, open_db

    db = open_db(settings.database)
    out = tmp_path_factory.mktemp("artifact")
    meta = train(settings.model_path, {"guangan": items(db, "guangan")}, out, layers=1, epochs=1, seed=3,
                 batch=10, lr=1e-3, max_pairs=20, log=lambda *a: None)
    return out, meta


def test_artifact_is_small_and_says_what_it_is(trained, settings):
    from safetensors import safe_open

    from index.tune import META, WEIGHTS, base_fingerprint

    out, meta = trained
    assert json.loads((out / META).read_text()) == meta
    assert meta["layers"] == [11] and meta["seed"] == 3 and meta["pairs"] == 20 and meta["steps"] == 2
    assert meta["base"] == {"name": settings.model_path.name, **base_fingerprint(settings.model_path)}
    with safe_open(str(out / WEIGHTS), "pt") as f:
        keys = list(f.keys())
        assert keys and all(k.startswith("encoder.layer.11.") for k in keys)
        assert "embeddings.word_embeddings.weight" not in keys
        assert str(f.get_tensor(keys[0]).dtype) == "torch.bfloat16"
    assert (out / WEIGHTS).stat().st_size < 5_000_000  # one layer of e5-small in bf16 ≈ 3.5 MB


def test_overlay_changes_the_vectors_and_the_model_id(trained, settings, embedder, tmp_path):
    import torch
    from safetensors.torch import load_file

    from index.embedder import Embedder, model_id
    from index.tune import STAMP, WEIGHTS, is_current, overlay

    out, meta = trained
    dest = overlay(settings.model_path, tmp_path / "e5-small-wenban", artifact=out, log=lambda *a: None)
    assert is_current(dest, artifact=out)
    assert json.loads((dest / STAMP).read_text())["layers"] == [11]
    base, tuned, layers = (load_file(str(settings.model_path / "model.safetensors")),
                           load_file(str(dest / "model.safetensors")), load_file(str(out / WEIGHTS)))
    for key, value in layers.items():  # the trained layer is the artifact's, and training moved it
        assert torch.equal(tuned[key], value.to(tuned[key].dtype))
    moved = [k for k in layers if not torch.equal(layers[k], base[k].to(torch.bfloat16))]
    assert moved
    for key in ("embeddings.word_embeddings.weight", "encoder.layer.10.output.dense.weight"):
        assert torch.equal(tuned[key], base[key])  # frozen parts untouched
    assert model_id(dest) != model_id(settings.model_path)

    emb = Embedder(replace(settings, model=dest), log=lambda *a: None)
    texts = ["孩子刚出生怎么上户口", "营业执照丢了怎么补办"]
    a, b = embedder.query(texts), emb.query(texts)
    assert np.allclose(np.linalg.norm(b, axis=1), 1, atol=1e-3)
    assert np.abs(a - b).max() > 1e-3 and (a * b).sum(1).min() > 0.5  # changed, still the same space
    assert emb.id != embedder.id  # so caches and indexes are rebuilt for it


def test_wrong_base_or_missing_artifact_is_a_clear_error(trained, settings, tmp_path):
    from index.tune import META, WEIGHTS, TunedModelMismatch, is_current, overlay

    out, meta = trained
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    wrong = {**meta, "base": {**meta["base"], "sha256": "0" * 16, "name": "another-model"}}
    (bad / META).write_text(json.dumps(wrong))
    with pytest.raises(TunedModelMismatch, match="trained on another-model.*wenban train --full"):
        overlay(settings.model_path, tmp_path / "dest", artifact=bad, log=lambda *a: None)
    assert not (tmp_path / "dest").exists()

    (bad / META).write_text(json.dumps({**meta, "weights_sha256": "f" * 64}))
    with pytest.raises(TunedModelMismatch, match="sha256"):
        overlay(settings.model_path, tmp_path / "dest", artifact=bad, log=lambda *a: None)

    (bad / WEIGHTS).unlink()
    with pytest.raises(FileNotFoundError, match="wenban train --full.*WENBAN_EMBED_TUNED=0"):
        overlay(settings.model_path, tmp_path / "dest", artifact=bad, log=lambda *a: None)
    assert not is_current(tmp_path / "dest", artifact=bad)


def test_tuned_setting_picks_its_own_folder_and_calibration():
    from index.search import CALIBRATION_PATH, calibration_path

    base = Settings.from_env({"WENBAN_HOME": "/tmp/w"})
    tuned = Settings.from_env({"WENBAN_HOME": "/tmp/w", "WENBAN_EMBED_TUNED": "1"})
    assert base.model_path.name == "multilingual-e5-small" and tuned.model_path.name == "e5-small-wenban"
    assert tuned.base_model_path == base.model_path
    assert Settings.from_env({"WENBAN_HOME": "/tmp/w", "WENBAN_EMBED_TUNED": "0"}).model_path == base.model_path
    with pytest.raises(ValueError, match="WENBAN_EMBED_TUNED must be 1 or 0"):
        Settings.from_env({"WENBAN_EMBED_TUNED": "maybe"})

    assert calibration_path(base.model_path) == CALIBRATION_PATH
    assert calibration_path(tuned.model_path) == DATA_DIR / "calibration-e5-small-wenban.json"
    other = calibration_path(base.home / "some-model", existing=True)
    assert other == CALIBRATION_PATH  # a model with no calibration of its own uses the default one


def test_training_is_deterministic_for_a_seed(trained, settings, tmp_path):
    """The same seed, pairs and base give the same layers, byte for byte."""
    from index.tune import train
    from store.db import items, open_db

    out, meta = trained
    again = train(settings.model_path, {"guangan": items(open_db(settings.database), "guangan")}, tmp_path,
                  layers=1, epochs=1, seed=3, batch=10, lr=1e-3, max_pairs=20, log=lambda *a: None)
    assert again["weights_sha256"] == meta["weights_sha256"]
