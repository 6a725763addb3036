"""Teach the embedding this domain: training pairs from the catalogues and a query-side adapter.

Pairs come from the catalogues and the general vocabulary only, never from
evaluation questions: each item's name, its bracket-free core, parent item +
情形, aliases, template questions (怎么办 / 去哪办 / 要带什么 … + name or core),
and everyday variants written by using ``data/vocabulary.tsv`` in reverse
(户口登记 → 上户口). Queries are vocabulary-expanded exactly as the retriever
expands a question.

The adapter is a residual linear map on the question vector, ``q + q·D``
(D starts at zero), trained with the frozen model's vectors: the loss is
MultipleNegativesRanking-style cross-entropy against *every* item of the
catalogue (both indexes: item text and bare name), so the other 情形, other
actions and the same department's items are all among the negatives. Passage
vectors are untouched, so existing indexes stay valid.

    wenban train                       # writes $WENBAN_HOME/models/query-adapter.npz
    WENBAN_EMBED_ADAPTER=var/models/query-adapter.npz wenban eval --split dev

    >>> pairs = training_pairs(items, Vocabulary.load(), seed=0)   # doctest: +SKIP
    >>> pairs[0]                                                    # doctest: +SKIP
    ('户口登记怎么办 …', '511602…')
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .text import Vocabulary, item_text, name_core

# How citizens ask about a service, around the thing they name ({x}).
TEMPLATES = ("{x}怎么办", "{x}去哪里办", "办{x}要带什么材料", "我想办{x}", "{x}在哪个部门办",
             "怎么申请{x}", "{x}需要什么手续", "请问{x}的流程", "{x}要多久", "在哪办{x}")


def everyday_variants(text: str, vocab: Vocabulary) -> list[str]:
    """``text`` with a catalogue term replaced by an everyday word the vocabulary
    maps to it (the vocabulary read backwards): "户口登记" → "上户口", "报户口"."""
    out = []
    for word, terms in vocab.entries.items():
        for term in terms:
            if len(term) >= 2 and term in text and word not in text:
                out.append(text.replace(term, word, 1))
                break
    return out


def item_queries(item: dict[str, Any], vocab: Vocabulary, rng: random.Random, per_item: int = 6) -> list[str]:
    """Questions a citizen might ask for ``item``, from its record and the vocabulary."""
    name, core = item["name"], name_core(item["name"]) or item["name"]
    parent = item.get("parent_name") or ""
    subjects = [core] + list(item.get("aliases") or [])
    if parent and parent != name and item.get("variant"):
        subjects.append(f"{name_core(parent) or parent}{item['variant']}")
    variants = everyday_variants(core, vocab)
    subjects += rng.sample(variants, min(2, len(variants)))
    queries = [name] if name != core else []
    queries += [rng.choice(TEMPLATES).format(x=s) for s in subjects]
    queries += [t.format(x=rng.choice(subjects)) for t in rng.sample(TEMPLATES, min(per_item, len(TEMPLATES)))]
    return list(dict.fromkeys(q for q in queries if q))


def training_pairs(items: Sequence[dict[str, Any]], vocab: Vocabulary, seed: int = 0,
                   per_item: int = 6) -> list[tuple[str, str]]:
    """(expanded question, item code) pairs, in a seeded order."""
    rng = random.Random(seed)
    pairs = []
    for it in sorted(items, key=lambda i: i["code"]):
        for q in item_queries(it, vocab, rng, per_item):
            pairs.append((vocab.expand(q), it["code"]))
    rng.shuffle(pairs)
    return pairs


class QueryAdapter:
    """``q → q + q·D`` on question vectors (the embedder normalizes afterwards)."""

    def __init__(self, delta: np.ndarray, meta: dict[str, Any] | None = None):
        self.delta = np.ascontiguousarray(delta, dtype=np.float32)
        self.meta = meta or {}

    @classmethod
    def load(cls, path: Path, dim: int | None = None) -> "QueryAdapter":
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"WENBAN_EMBED_ADAPTER={path} does not exist: make it with 'wenban train'")
        with np.load(path, allow_pickle=False) as f:
            delta = f["delta"]
            meta = {k: str(f[k]) for k in f.files if k != "delta"}
        if delta.ndim != 2 or delta.shape[0] != delta.shape[1] or (dim and delta.shape[0] != dim):
            raise ValueError(f"{path}: adapter of shape {delta.shape} does not fit a {dim}-dimensional model")
        return cls(delta, meta)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp.npz")
        np.savez(tmp, delta=self.delta, **self.meta)
        tmp.replace(path)

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        return vectors + vectors @ self.delta


def train_adapter(queries: np.ndarray, targets: np.ndarray, passages: list[np.ndarray],
                  groups: np.ndarray, seed: int = 0, epochs: int = 30, lr: float = 1e-3,
                  weight_decay: float = 0.1, scale: float = 20.0, batch: int = 256) -> np.ndarray:
    """Fit D on frozen vectors. ``queries`` [n, d] normalized; ``targets`` [n] the row of
    the right item; ``passages`` one [m, d] matrix per index (item text, name), rows
    aligned with items; ``groups`` [n] the catalogue id of each query and ``passages``
    rows carry all catalogues, so each query only competes with its own catalogue's items
    (a mask). Returns D [d, d]."""
    import torch

    torch.manual_seed(seed)
    gen = torch.Generator().manual_seed(seed)
    q = torch.from_numpy(queries)
    y = torch.from_numpy(targets).long()
    ps = [torch.from_numpy(p) for p in passages]
    g = torch.from_numpy(groups)
    item_groups = torch.from_numpy(np.asarray(groups_of_items(targets, groups, len(passages[0]))))
    d = q.shape[1]
    delta = torch.zeros(d, d, requires_grad=True)
    opt = torch.optim.AdamW([delta], lr=lr, weight_decay=weight_decay)
    for _ in range(epochs):
        order = torch.randperm(len(q), generator=gen)
        for i in range(0, len(q), batch):
            idx = order[i:i + batch]
            qa = q[idx] + q[idx] @ delta
            qa = torch.nn.functional.normalize(qa, dim=-1)
            other = g[idx].unsqueeze(1) != item_groups.unsqueeze(0)
            loss = 0.0
            for p in ps:
                logits = (qa @ p.T * scale).masked_fill(other, float("-inf"))
                loss = loss + torch.nn.functional.cross_entropy(logits, y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return delta.detach().numpy()


def groups_of_items(targets: np.ndarray, groups: np.ndarray, n_items: int) -> list[int]:
    """The catalogue id of every item row, read off the queries that point at it."""
    out = [-1] * n_items
    for t, gr in zip(targets.tolist(), groups.tolist()):
        out[t] = gr
    return out


def build_adapter(settings, db, embedder, catalogues: Sequence[str], seed: int = 0,
                  epochs: int = 30, per_item: int = 4, max_pairs: int | None = None,
                  log=print) -> tuple[QueryAdapter, dict[str, Any]]:
    """Pairs from every catalogue named, frozen vectors (cached), the fit. Deterministic
    for a seed and the same catalogues, vocabulary and model."""
    import torch

    from store import db as store

    from .embedder import EmbeddingCache

    torch.manual_seed(seed)
    t0 = time.perf_counter()
    vocab = Vocabulary.load()
    cache = EmbeddingCache(settings.cache_path)
    rows, texts, names, qs, targets, groups = [], [], [], [], [], []
    for g, cat in enumerate(catalogues):
        items = store.items(db, cat)
        base = len(rows)
        row_of = {it["code"]: base + i for i, it in enumerate(items)}
        rows += items
        texts += [item_text(it) for it in items]
        names += [it["name"] for it in items]
        for q, code in training_pairs(items, vocab, seed=seed, per_item=per_item):
            qs.append(q)
            targets.append(row_of[code])
            groups.append(g)
    if max_pairs and len(qs) > max_pairs:  # a seeded sample, for a bounded run
        keep = sorted(random.Random(seed).sample(range(len(qs)), max_pairs))
        qs, targets, groups = [qs[i] for i in keep], [targets[i] for i in keep], [groups[i] for i in keep]
    log(f"{len(qs)} training questions for {len(rows)} items of {', '.join(catalogues)}")
    passages = [embedder.passages(texts, cache=cache), embedder.passages(names, cache=cache)]
    qv = query_vectors(embedder, qs, cache, log=log)
    t1 = time.perf_counter()
    delta = train_adapter(qv, np.array(targets), passages, np.array(groups), seed=seed, epochs=epochs)
    t2 = time.perf_counter()
    info = {"model": embedder.id, "seed": str(seed), "epochs": str(epochs), "pairs": str(len(qs)),
            "catalogues": ",".join(catalogues)}
    stats = {"pairs": len(qs), "items": len(rows), "embed_s": t1 - t0, "train_s": t2 - t1}
    return QueryAdapter(delta, info), stats


def query_vectors(embedder, texts: list[str], cache, log=print) -> np.ndarray:
    """Frozen question vectors through the embedder's own query path (its backend),
    in cached chunks so an interrupted run resumes (keyed apart from passages)."""
    key = embedder.id + "-query"
    found = cache.get(key, texts)
    todo = [t for t in dict.fromkeys(texts) if t not in found]
    for i in range(0, len(todo), 512):
        chunk = todo[i:i + 512]
        vecs = np.vstack([embedder.query(chunk[j:j + 32]) for j in range(0, len(chunk), 32)])
        new = dict(zip(chunk, vecs))
        cache.put(key, new)
        found.update(new)
        log(f"question vectors: {min(i + 512, len(todo))}/{len(todo)}")
    return np.stack([found[t] for t in texts]).astype(np.float32)
