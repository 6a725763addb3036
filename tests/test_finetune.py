"""Training pairs, the query adapter, the embedding settings and the ONNX backend."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from eval.run import load_set
from index.finetune import (QueryAdapter, everyday_variants, item_queries, train_adapter,
                            training_pairs)
from index.text import Vocabulary
from wenban.config import REPO_ROOT, Settings

ITEMS = [
    {"code": "A1", "name": "户口登记（出生）", "parent_name": "户口登记", "variant": "出生", "aliases": ["上户口"]},
    {"code": "A2", "name": "居民身份证补领", "parent_name": None, "variant": None, "aliases": None},
    {"code": "A3", "name": "最低生活保障金给付", "parent_name": None, "variant": None, "aliases": None},
]


def test_vocabulary_read_backwards_writes_everyday_variants():
    vocab = Vocabulary({"低保": ["最低生活保障"], "丢了": ["遗失", "补领"]})
    assert "低保金给付" in everyday_variants("最低生活保障金给付", vocab)
    assert "居民身份证丢了" in everyday_variants("居民身份证补领", vocab)
    assert everyday_variants("建设工程规划许可", vocab) == []


def test_pairs_are_seeded_and_cover_every_item():
    vocab = Vocabulary.load()
    a, b = training_pairs(ITEMS, vocab, seed=3), training_pairs(ITEMS, vocab, seed=3)
    assert a == b
    assert training_pairs(ITEMS, vocab, seed=4) != a
    assert {code for _, code in a} == {"A1", "A2", "A3"}
    # questions are vocabulary-expanded the way the retriever expands them
    assert any("上户口" in q and q.endswith(vocab.expand("上户口")[len("上户口"):]) for q, _ in a)
    import random

    qs = item_queries(ITEMS[0], vocab, random.Random(0))
    assert "户口登记（出生）" in qs and any("上户口" in q for q in qs) and any("户口登记出生" in q for q in qs)


def test_pairs_from_the_real_catalogues_share_no_question_with_the_evaluation(settings):
    from store import db as store

    db = store.open_db(settings.db_path)
    vocab = Vocabulary.load()
    for cat in ("guangan", "guangdong"):
        pairs = training_pairs(store.items(db, cat), vocab, seed=0)
        asked = {vocab.expand(r["question"]) for r in load_set(cat, "all")}
        overlap = asked & {q for q, _ in pairs}
        # an eval question that is an item's name, or a stock template around it or
        # around its everyday variant ("执业药师首次注册怎么办", "台湾探亲签注怎么办"),
        # may coincide; nothing else, and rarely
        from index.finetune import TEMPLATES, everyday_variants
        from index.text import name_core

        def subjects(it):
            core = name_core(it["name"]) or it["name"]
            return [it["name"], core, *(it.get("aliases") or []), *everyday_variants(core, vocab)]

        stock = {vocab.expand(t.format(x=x)) for it in store.items(db, cat)
                 for x in subjects(it) for t in ("{x}",) + TEMPLATES}
        assert overlap <= stock
        assert len(overlap) <= 0.02 * len(asked)


def _toy(seed: int = 0, n_items: int = 40, dim: int = 16):
    """Passages, and queries that are a fixed distortion of their item's passage:
    the base cosine ranks them poorly, a linear map can undo it."""
    rng = np.random.default_rng(seed)
    p = rng.normal(size=(n_items, dim)).astype(np.float32)
    p /= np.linalg.norm(p, axis=1, keepdims=True)
    mix = np.eye(dim, dtype=np.float32) + rng.normal(scale=0.6, size=(dim, dim)).astype(np.float32)
    targets = np.repeat(np.arange(n_items), 4)
    q = p[targets] @ mix + rng.normal(scale=0.05, size=(len(targets), dim)).astype(np.float32)
    q /= np.linalg.norm(q, axis=1, keepdims=True)
    return q.astype(np.float32), targets, p


def _hit1(q, targets, p, delta=None):
    if delta is not None:
        q = q + q @ delta
    return float(np.mean(np.argmax(q @ p.T, axis=1) == targets))


def test_adapter_training_is_deterministic_and_learns_the_map():
    q, t, p = _toy()
    groups = np.zeros(len(q), dtype=np.int64)
    d1 = train_adapter(q, t, [p], groups, seed=1, epochs=40, lr=1e-2, weight_decay=0.0, batch=32)
    d2 = train_adapter(q, t, [p], groups, seed=1, epochs=40, lr=1e-2, weight_decay=0.0, batch=32)
    assert np.array_equal(d1, d2)
    assert _hit1(q, t, p, d1) > _hit1(q, t, p) + 0.2


def test_adapter_competes_only_within_its_catalogue():
    q, t, p = _toy(n_items=20)
    # a second "catalogue" whose items copy the first's: without the mask they tie
    p2 = np.vstack([p, p])
    groups = np.zeros(len(q), dtype=np.int64)
    q2 = np.vstack([q, q])
    t2 = np.concatenate([t, t + 20])
    g2 = np.concatenate([groups, groups + 1])
    d = train_adapter(q2, t2, [p2], g2, seed=0, epochs=30, lr=1e-2, weight_decay=0.0, batch=32)
    assert np.isfinite(d).all() and _hit1(q, t, p, d) > _hit1(q, t, p)


def test_adapter_file_round_trip_and_wrong_shape(tmp_path):
    a = QueryAdapter(np.eye(4, dtype=np.float32) * 0.5, {"model": "m", "seed": "0"})
    a.save(tmp_path / "a.npz")
    b = QueryAdapter.load(tmp_path / "a.npz", dim=4)
    assert np.array_equal(a.delta, b.delta) and b.meta["model"] == "m"
    assert np.allclose(b.apply(np.ones((1, 4), np.float32)), 1.5)
    with pytest.raises(ValueError, match="does not fit"):
        QueryAdapter.load(tmp_path / "a.npz", dim=384)
    with pytest.raises(FileNotFoundError, match="wenban train"):
        QueryAdapter.load(tmp_path / "none.npz")


def test_embedding_settings_from_the_environment():
    s = Settings.from_env({"WENBAN_EMBED_BACKEND": "onnx", "WENBAN_EMBED_ADAPTER": "var/models/a.npz"})
    assert s.embed_backend == "onnx" and s.embed_adapter == (REPO_ROOT / "var/models/a.npz").resolve()
    d = Settings.from_env({})
    assert d.embed_adapter is None and d.embed_backend in ("torch", "onnx")


def test_unknown_backend_is_a_clear_error(settings):
    from index.embedder import Embedder

    with pytest.raises(ValueError, match="WENBAN_EMBED_BACKEND"):
        Embedder(replace(settings, embed_backend="tensorrt"), log=lambda *a: None)


def test_onnx_backend_matches_torch_and_pads_batches(settings, embedder, tmp_path):
    """The exported encoder gives the torch model's vectors, alone or padded in a batch."""
    import os
    import shutil

    from index.backends import OnnxQueryEncoder, onnx_path
    from index.embedder import Embedder

    model = tmp_path / "model"  # links to the prepared model's files; the export lands here
    shutil.copytree(settings.model_path, model, ignore=shutil.ignore_patterns("onnx"), copy_function=os.symlink)
    onnx = Embedder(replace(settings, model=model, embed_backend="onnx"), log=lambda *a: None)
    assert onnx_path(model).exists()
    texts = ["孩子刚出生怎么上户口", "身份证丢了去哪里补办 遗失 补领", "低保"]
    torch_vecs = embedder.model.encode(texts, prompt_name="query", normalize_embeddings=True)
    single = np.vstack([onnx.query([t]) for t in texts])
    batch = onnx.query(texts)
    assert (single * torch_vecs).sum(1).min() > 0.99
    assert np.allclose(single, batch, atol=1e-4)
    assert isinstance(onnx._onnx, OnnxQueryEncoder)
