"""Build the search indexes of one catalogue: FAISS (dense) + BM25 (jieba tokens).

Each build is written to its own folder and becomes current by an atomic
rename of a pointer file, so a failed or half-done build never replaces the
index that is serving.

    var/indexes/guangan/CURRENT          → "20261123T080102-3f2a"
    var/indexes/guangan/builds/<id>/     manifest.json, codes.json, items.json, docs.json,
                                         words.txt, dense.faiss, names.faiss, bm25/

The manifest carries a sha256 of every other file, checked on load, and a
build holds the items it indexed (``items.json``), so an index keeps
answering from the version it was built from even after an import changed
the store. Half-done builds (``.tmp-*``) left by a killed process are swept
at start and after each successful build. The indexes hold distinct texts;
``docs.json`` gives each item's row in each, so an item implemented at many
areas with one text costs one vector.

    >>> manifest = build_index(settings, db, "guangan")   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
import shutil
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import bm25s
import faiss
import numpy as np

from store import db as store
from store.areas import names_of
from wenban.config import DATA_DIR, Settings

from .embedder import Embedder, EmbeddingCache
from .text import (DESCRIPTIONS_PATH, Tokenizer, Vocabulary, description_text, item_text, keyword_text,
                   load_descriptions, name_words)

INDEX_TYPES = ("flat", "hnsw", "ivf")
KEEP_BUILDS = 2
# Bump when what goes into an index changes (item texts, tokenization, files),
# so that `wenban setup` rebuilds indexes made by older code.
INDEX_FORMAT = 5  # 3: items.json and checksums; 4: distinct texts (docs.json); 5: the description view


def distinct(texts: list[str]) -> tuple[list[str], list[int]]:
    """(the distinct texts in first-seen order, each input's position among them).
    Indexes hold distinct texts: an item implemented by 21 cities is one vector.

    >>> distinct(["a", "b", "a"])
    (['a', 'b'], [0, 1, 0])
    """
    seen: dict[str, int] = {}
    docs = [seen.setdefault(t, len(seen)) for t in texts]
    return list(seen), docs


def text_fingerprint() -> str:
    """The index format, the vocabulary (its words are in the BM25 tokenizer's dictionary)
    and the item descriptions (the description view's texts)."""
    h = hashlib.sha256((DATA_DIR / "vocabulary.tsv").read_bytes())
    if DESCRIPTIONS_PATH.exists():
        h.update(DESCRIPTIONS_PATH.read_bytes())
    return f"{INDEX_FORMAT}-{h.hexdigest()[:16]}"


class BuildError(Exception):
    pass


class IndexUnavailable(ValueError):
    """One catalogue's index cannot be used (damaged, unreadable); the message
    names the file and what to do. Other catalogues keep serving."""

    def __init__(self, catalogue: str, reason: str):
        super().__init__(f"index of catalogue {catalogue!r} unavailable: {reason}")
        self.catalogue = catalogue
        self.reason = reason


def file_checksums(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` but the manifest, by relative path."""
    out = {}
    for f in sorted(folder.rglob("*")):
        if f.is_file() and f.name != "manifest.json":
            h = hashlib.sha256()
            with open(f, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    h.update(chunk)
            out[f.relative_to(folder).as_posix()] = h.hexdigest()
    return out


def verify(catalogue: str, build: Path, manifest: dict[str, Any]) -> None:
    """``IndexUnavailable`` naming the first file that is missing or changed."""
    expected = manifest.get("checksums")
    if not isinstance(expected, dict) or not expected:
        raise IndexUnavailable(catalogue, f"{build / 'manifest.json'} has no checksums "
                                          f"(an older build): run 'wenban index {catalogue}'")
    actual = file_checksums(build)
    for rel, digest in expected.items():
        if rel not in actual:
            raise IndexUnavailable(catalogue, f"{build / rel} is missing: run 'wenban index {catalogue}'")
        if actual[rel] != digest:
            raise IndexUnavailable(catalogue, f"{build / rel} is damaged (checksum mismatch): "
                                              f"run 'wenban index {catalogue}'")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def sweep(settings: Settings, catalogue: str | None = None, at_start: bool = False) -> list[Path]:
    """Remove half-done builds (``.tmp-<id>-<pid>``) and pointer files whose
    process is gone (killed mid-build); a build still running is left alone.
    Called at server start (``at_start``: this process builds nothing yet, so
    a leftover with its pid is a reused pid) and after each successful build."""
    removed: list[Path] = []
    if not settings.index_dir.is_dir():
        return removed
    dirs = [catalogue_dir(settings, catalogue)] if catalogue else list(settings.index_dir.iterdir())
    for cat_dir in dirs:
        for p in [*cat_dir.glob(".CURRENT-*"), *(cat_dir / "builds").glob(".tmp-*")]:
            pid = p.name.rsplit("-", 1)[-1]
            mine = pid.isdigit() and int(pid) == os.getpid()
            if pid.isdigit() and _alive(int(pid)) and not (mine and at_start):
                continue
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            removed.append(p)
    return removed


def catalogue_dir(settings: Settings, catalogue: str) -> Path:
    return settings.index_dir / catalogue


def current_build(settings: Settings, catalogue: str) -> Path | None:
    pointer = catalogue_dir(settings, catalogue) / "CURRENT"
    if not pointer.exists():
        return None
    path = catalogue_dir(settings, catalogue) / "builds" / pointer.read_text().strip()
    return path if (path / "manifest.json").exists() else None


def read_manifest(settings: Settings, catalogue: str) -> dict[str, Any] | None:
    path = current_build(settings, catalogue)
    return json.loads((path / "manifest.json").read_text()) if path else None


def make_faiss(vectors: np.ndarray, index_type: str) -> faiss.Index:
    """Inner product on normalized vectors (= cosine). Flat is exact and right
    for a few thousand items; HNSW or IVF for catalogues in the hundred thousands."""
    n, dim = vectors.shape
    if index_type == "flat":
        index = faiss.IndexFlatIP(dim)
    elif index_type == "hnsw":
        index = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efSearch = 128
    elif index_type == "ivf":
        nlist = max(1, min(int(np.sqrt(n)), n // 39 or 1))  # faiss wants ~39 points per list
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
        index.train(vectors)
        index.nprobe = min(nlist, 16)
    else:
        raise BuildError(f"unknown index type {index_type!r}: one of {', '.join(INDEX_TYPES)}")
    index.add(vectors)
    return index


def build_index(settings: Settings, db, catalogue: str, embedder: Embedder | None = None,
                log=print, progress: bool = True) -> dict[str, Any]:
    """Build and switch to a new index for ``catalogue``; returns its manifest."""
    meta = store.get_catalogue(db, catalogue)
    if meta is None:
        raise BuildError(f"no catalogue named {catalogue!r} in {settings.db_path}; import it first")
    items = store.items(db, catalogue)
    if not items:
        raise BuildError(f"catalogue {catalogue!r} has no items")
    started = time.perf_counter()
    embedder = embedder or Embedder(settings, log=log)
    vocab = Vocabulary.load()
    area_names = names_of(items)
    texts, dense_docs = distinct([item_text(it, area_names=area_names) for it in items])
    names, name_docs = distinct([it["name"] for it in items])
    keywords, keyword_docs = distinct([keyword_text(it) for it in items])
    descriptions = load_descriptions()
    described, desc_docs = distinct([description_text(it, descriptions) for it in items])

    # Three dense views of each item: the full text, the bare name (which short
    # questions often match better) and the everyday description; search fuses them
    # (measured in README).
    cache = EmbeddingCache(settings.cache_path)
    try:
        vectors = embedder.passages(texts, cache=cache, show_progress=progress)
        embedded = embedder.last_embedded
        name_vectors = embedder.passages(names, cache=cache, show_progress=progress)
        embedded += embedder.last_embedded
        # what the item is for in everyday words (data/descriptions.tsv), else its name
        desc_vectors = embedder.passages(described, cache=cache, show_progress=progress)
        embedded += embedder.last_embedded
    finally:
        cache.close()

    words = sorted(name_words(items, vocab.words()))
    tokenizer = Tokenizer(words, cache_dir=settings.home / "cache")
    corpus_tokens = [tokenizer.tokens(k) for k in keywords]
    bm25 = bm25s.BM25()
    bm25.index(corpus_tokens, show_progress=False)

    base = catalogue_dir(settings, catalogue) / "builds"
    base.mkdir(parents=True, exist_ok=True)
    build_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + secrets.token_hex(2)
    tmp = base / f".tmp-{build_id}-{os.getpid()}"  # the pid tells a sweep whether its builder lives
    try:
        tmp.mkdir()
        faiss.write_index(make_faiss(vectors, settings.index_type), str(tmp / "dense.faiss"))
        faiss.write_index(make_faiss(name_vectors, settings.index_type), str(tmp / "names.faiss"))
        faiss.write_index(make_faiss(desc_vectors, settings.index_type), str(tmp / "desc.faiss"))
        bm25.save(str(tmp / "bm25"), show_progress=False)
        (tmp / "codes.json").write_text(json.dumps([it["code"] for it in items], ensure_ascii=False))
        # the items as built: a build answers on its own, whatever the store holds
        # meanwhile (a newer import not yet indexed, or a database that is down)
        (tmp / "items.json").write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
        # each item's row in dense.faiss, names.faiss, desc.faiss and bm25 (rows are distinct texts)
        (tmp / "docs.json").write_text(json.dumps({"dense": dense_docs, "names": name_docs, "desc": desc_docs,
                                                   "bm25": keyword_docs}))
        (tmp / "words.txt").write_text("\n".join(words), encoding="utf-8")
        manifest = {
            "build_id": build_id, "catalogue": catalogue, "catalogue_version": meta["version"],
            "catalogue_hash": meta["content_hash"], "item_count": len(items),
            "model": embedder.path.name, "model_id": embedder.id, "dim": embedder.dim,
            "index_type": settings.index_type, "text": text_fingerprint(), "embedded": embedded,
            "texts": {"dense": len(texts), "names": len(names), "desc": len(described), "bm25": len(keywords)},
            "build_seconds": round(time.perf_counter() - started, 2),
            "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "checksums": file_checksums(tmp),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=2))
        _fsync_tree(tmp)  # on disk before the pointer names it
        os.replace(tmp, base / build_id)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _point_to(catalogue_dir(settings, catalogue), build_id)
    _prune(base, keep=build_id)
    sweep(settings, catalogue)
    log(f"{catalogue}: index {build_id}: {len(items)} items, "
        f"{len(texts) + len(names) + len(described)} distinct texts, "
        f"{embedded} embedded, "
        f"{manifest['build_seconds']} s")
    return manifest


def _fsync_tree(folder: Path) -> None:
    for f in folder.rglob("*"):
        if f.is_file():
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())


def _point_to(cat_dir: Path, build_id: str) -> None:
    tmp = cat_dir / f".CURRENT-{build_id}-{os.getpid()}"
    tmp.write_text(build_id)
    os.replace(tmp, cat_dir / "CURRENT")  # atomic: readers see the old or the new build


def _prune(base: Path, keep: str) -> None:
    """Drop old builds beyond the newest few; a process still serving one has it open."""
    builds = sorted((p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")), reverse=True)
    for old in builds[KEEP_BUILDS:]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


def is_fresh(settings: Settings, db, catalogue: str, embedder_id: str | None = None) -> bool:
    """True when the current build matches the stored catalogue, the index type,
    the vocabulary and index format (and the model, if given)."""
    manifest = read_manifest(settings, catalogue)
    meta = store.get_catalogue(db, catalogue)
    if not manifest or not meta:
        return False
    if (manifest["catalogue_hash"], manifest["index_type"], manifest.get("text")) != \
            (meta["content_hash"], settings.index_type, text_fingerprint()):
        return False
    return embedder_id is None or manifest["model_id"] == embedder_id
