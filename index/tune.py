"""A domain-tuned encoder: the top N transformer layers of the base model,
fine-tuned on catalogue-made pairs, shipped as a small overlay.

Only the top layers train (the 250k-row word-embedding matrix and the lower
layers stay frozen), so the artifact is just those layers' weights in bf16
(~3.5 MB a layer for multilingual-e5-small) plus ``meta.json`` (base model and
its fingerprint, layers, seed, pairs, steps). ``wenban setup`` with
``WENBAN_EMBED_TUNED=1`` writes the base model with those layers replaced into
``$WENBAN_HOME/models/e5-small-wenban``: a new folder, so a new model id, so
the embedding cache and the indexes are rebuilt for it.

Training uses sentence-transformers' trainer: (question, item, hard negative)
triplets from ``finetune.training_pairs`` (catalogues + vocabulary only, never
evaluation questions), the hard negative another 情形 of the same parent item
or else an item of the same department; ``MultipleNegativesRankingLoss`` with
the rest of the batch as further negatives and ``NO_DUPLICATES`` batches.

    wenban train --full --layers 2 --epochs 1      # → data/models/e5-small-wenban/
    WENBAN_EMBED_TUNED=1 wenban setup               # overlay + rebuild indexes

    >>> meta = read_meta(ARTIFACT)                  # doctest: +SKIP
    >>> meta["layers"]                              # doctest: +SKIP
    [10, 11]
"""

from __future__ import annotations

import hashlib
import json
import random
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

from wenban.config import DATA_DIR, TUNED_MODEL_NAME

from .finetune import training_pairs
from .text import Vocabulary, item_text

ARTIFACT = DATA_DIR / "models" / TUNED_MODEL_NAME
WEIGHTS = "layers.safetensors"
META = "meta.json"
STAMP = "wenban-tuned.json"  # in the overlaid folder: what it was made from (part of its model id)


class TunedModelMismatch(ValueError):
    """The artifact was trained on another base model than the one it is laid over."""


def base_fingerprint(model_dir: Path) -> dict[str, Any]:
    """What identifies the base weights the artifact needs under it: the shapes and a
    hash of frozen tensors (the first word-embedding rows and the bottom layer),
    read straight from the safetensors file, in float32 whatever the stored dtype."""
    from safetensors import safe_open

    cfg = json.loads((model_dir / "config.json").read_text())
    h = hashlib.sha256()
    with safe_open(str(model_dir / "model.safetensors"), "pt") as f:
        for key in ("embeddings.word_embeddings.weight", "encoder.layer.0.attention.self.query.weight"):
            h.update(f.get_slice(key)[:512].float().numpy().tobytes())
    return {"hidden_size": cfg["hidden_size"], "num_hidden_layers": cfg["num_hidden_layers"],
            "vocab_size": cfg["vocab_size"], "sha256": h.hexdigest()[:16]}


def top_layers(num_layers: int, n: int) -> list[int]:
    if not 1 <= n <= num_layers:
        raise ValueError(f"--layers must be between 1 and {num_layers}, not {n}")
    return list(range(num_layers - n, num_layers))


def triplets(items: Sequence[dict[str, Any]], vocab: Vocabulary, seed: int = 0, per_item: int = 4,
             name_share: float = 0.3) -> list[tuple[str, str, str]]:
    """(question, item passage, hard-negative passage). The passage is the item's
    index text, or (``name_share`` of the time) its bare name, as the retriever
    has both views; the negative is in the same view. Seeded."""
    rng = random.Random(seed)
    by_code = {it["code"]: it for it in items}
    family: dict[str, list[str]] = {}
    department: dict[str, list[str]] = {}
    for it in sorted(items, key=lambda i: i["code"]):
        family.setdefault(it.get("parent_name") or it["name"], []).append(it["code"])
        department.setdefault(it.get("department") or "", []).append(it["code"])
    codes = sorted(by_code)
    out = []
    for q, code in training_pairs(items, vocab, seed=seed, per_item=per_item):
        it = by_code[code]
        siblings = [c for c in family[it.get("parent_name") or it["name"]] if c != code]
        same_dept = [c for c in department[it.get("department") or ""] if c != code]
        neg = by_code[rng.choice(siblings or same_dept or [c for c in codes if c != code])]
        if rng.random() < name_share and neg["name"] != it["name"]:
            out.append((q, it["name"], neg["name"]))
        elif item_text(neg) != item_text(it):
            out.append((q, item_text(it), item_text(neg)))
    return out


def train(base_dir: Path, items_by_catalogue: dict[str, list[dict[str, Any]]], out_dir: Path = ARTIFACT,
          layers: int = 2, epochs: int = 1, seed: int = 0, per_item: int = 4, batch: int = 64,
          lr: float = 5e-5, max_pairs: int | None = None, max_seq_length: int = 64,
          log=print) -> dict[str, Any]:
    """Fine-tune the top ``layers`` of the model in ``base_dir`` and write the
    artifact (trained layers in bf16 + meta.json) to ``out_dir``. Returns the meta."""
    import torch
    from datasets import Dataset
    from safetensors.torch import save_file
    from sentence_transformers import (SentenceTransformer, SentenceTransformerTrainer,
                                       SentenceTransformerTrainingArguments)
    from sentence_transformers.base.sampler import BatchSamplers
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    t0 = time.perf_counter()
    torch.manual_seed(seed)
    vocab = Vocabulary.load()
    rows: list[tuple[str, str, str]] = []
    for cat in sorted(items_by_catalogue):
        rows += triplets(items_by_catalogue[cat], vocab, seed=seed, per_item=per_item)
    if max_pairs and len(rows) > max_pairs:  # a seeded sample, for a bounded run
        rows = [rows[i] for i in sorted(random.Random(seed).sample(range(len(rows)), max_pairs))]
    random.Random(seed).shuffle(rows)
    log(f"{len(rows)} training triplets from {', '.join(sorted(items_by_catalogue))}")

    model = SentenceTransformer(str(base_dir), device="cpu", local_files_only=True)
    model.max_seq_length = max_seq_length  # questions and item texts are short; keeps steps cheap
    hf = model[0].model
    trained = top_layers(hf.config.num_hidden_layers, layers)
    prefixes = tuple(f"encoder.layer.{i}." for i in trained)
    for name, p in hf.named_parameters():
        p.requires_grad = name.startswith(prefixes)
    n_trained = sum(p.numel() for p in hf.parameters() if p.requires_grad)
    log(f"training layers {trained}: {n_trained / 1e6:.1f}M of "
        f"{sum(p.numel() for p in hf.parameters()) / 1e6:.0f}M parameters")

    prompts = model.prompts or {}
    data = Dataset.from_dict({"anchor": [r[0] for r in rows], "positive": [r[1] for r in rows],
                              "negative": [r[2] for r in rows]})
    with tempfile.TemporaryDirectory() as tmp:
        args = SentenceTransformerTrainingArguments(
            output_dir=tmp, num_train_epochs=epochs, per_device_train_batch_size=batch,
            learning_rate=lr, warmup_steps=0.1, seed=seed, data_seed=seed,
            batch_sampler=BatchSamplers.NO_DUPLICATES,
            prompts={"anchor": prompts.get("query", ""), "positive": prompts.get("passage", ""),
                     "negative": prompts.get("passage", "")},
            save_strategy="no", report_to="none", logging_steps=25, use_cpu=True,
            dataloader_num_workers=0, disable_tqdm=True)
        trainer = SentenceTransformerTrainer(model=model, args=args, train_dataset=data,
                                             loss=MultipleNegativesRankingLoss(model))
        result = trainer.train()
    state = {n: p.detach().to(torch.bfloat16).contiguous() for n, p in hf.named_parameters() if p.requires_grad}
    out_dir.mkdir(parents=True, exist_ok=True)
    save_file(state, str(out_dir / WEIGHTS), metadata={"format": "pt"})
    meta = {"base": {"name": base_dir.name, **base_fingerprint(base_dir)}, "layers": trained,
            "seed": seed, "epochs": epochs, "batch": batch, "learning_rate": lr, "per_item": per_item,
            "max_seq_length": max_seq_length, "pairs": len(rows), "steps": int(result.global_step),
            "train_loss": round(float(result.training_loss), 4),
            "catalogues": sorted(items_by_catalogue), "loss": "MultipleNegativesRankingLoss",
            "seconds": round(time.perf_counter() - t0), "dtype": "bfloat16",
            "weights_sha256": hashlib.sha256((out_dir / WEIGHTS).read_bytes()).hexdigest()}
    (out_dir / META).write_text(json.dumps(meta, ensure_ascii=False, indent=2) + "\n")
    return meta


def read_meta(artifact: Path = ARTIFACT) -> dict[str, Any]:
    path = Path(artifact) / META
    if not path.exists() or not (Path(artifact) / WEIGHTS).exists():
        raise FileNotFoundError(f"no tuned layers in {artifact} (needs {META} and {WEIGHTS}): "
                                f"train them with 'wenban train --full', or set WENBAN_EMBED_TUNED=0")
    return json.loads(path.read_text())


def overlay(base_dir: Path, dest: Path, artifact: Path = ARTIFACT, log=print) -> Path:
    """Write ``dest``: the base model folder with the artifact's layers in place.
    Refuses (TunedModelMismatch) a base whose fingerprint differs from the one the
    layers were trained on. Written beside ``dest`` and renamed, so a half-written
    folder is never taken for a model."""
    from safetensors.torch import load_file, save_file

    meta = read_meta(artifact)
    found = {"name": base_dir.name, **base_fingerprint(base_dir)}
    want = meta.get("base") or {}
    if any(found.get(k) != want.get(k) for k in ("hidden_size", "num_hidden_layers", "vocab_size", "sha256")):
        raise TunedModelMismatch(
            f"{artifact} was trained on {want.get('name')} ({want}), but {base_dir} is another model "
            f"({found}): retrain with 'wenban train --full' on this base, or set WENBAN_EMBED_TUNED=0")
    layers = load_file(str(Path(artifact) / WEIGHTS))
    digest = hashlib.sha256((Path(artifact) / WEIGHTS).read_bytes()).hexdigest()
    if meta.get("weights_sha256") and meta["weights_sha256"] != digest:
        raise TunedModelMismatch(f"{artifact / WEIGHTS} does not match its {META} (sha256 differs)")
    state = load_file(str(base_dir / "model.safetensors"))
    for key, value in layers.items():
        if key not in state or state[key].shape != value.shape:
            raise TunedModelMismatch(f"{artifact}: tensor {key} {tuple(value.shape)} has no place in {base_dir}")
        state[key] = value.to(state[key].dtype)
    tmp = dest.with_name(dest.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.copytree(base_dir, tmp, ignore=shutil.ignore_patterns("onnx", "model.safetensors", "*.tmp"))
    save_file(state, str(tmp / "model.safetensors"), metadata={"format": "pt"})
    (tmp / STAMP).write_text(json.dumps({"artifact": str(artifact), "weights_sha256": digest,
                                         **{k: meta[k] for k in ("base", "layers", "seed", "pairs", "steps")}},
                                        ensure_ascii=False, indent=2) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    log(f"tuned model: layers {meta['layers']} of {artifact} over {base_dir.name} → {dest}")
    return dest


def is_current(dest: Path, artifact: Path = ARTIFACT) -> bool:
    """Whether ``dest`` was overlaid from the artifact as it is now (else redo it)."""
    try:
        stamp = json.loads((dest / STAMP).read_text())
        return stamp["weights_sha256"] == read_meta(artifact)["weights_sha256"] \
            and (dest / "modules.json").exists()
    except (OSError, ValueError, KeyError):
        return False
