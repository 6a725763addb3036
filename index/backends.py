"""Query embeddings through ONNX Runtime: the same model, exported once, ~3× faster per question.

A question is one short text; torch pays a large fixed cost per call on 2
cores, ONNX Runtime much less. The model's transformer and mean pooling are
exported (fp32) to ``<model folder>/onnx/wenban-query.onnx`` the first time
(``wenban setup`` does it, ~10 s), then questions run through an
``onnxruntime.InferenceSession``. Vectors match the torch model's to cosine
≥ 0.9999 (bench/backends.py), so indexes built with torch stay valid: only
queries take this path, index builds keep batching through torch.

    >>> enc = OnnxQueryEncoder.load(model, threads=2)      # doctest: +SKIP
    >>> enc.encode(["query: 孩子刚出生怎么上户口"]).shape   # doctest: +SKIP
    (1, 384)

``onnx-int8`` is the same export with its matrix multiplications quantised to
int8 (ONNX Runtime's dynamic quantisation, one scale per output channel): about
twice as fast again, and cosine ≥ 0.99 to the torch vectors on every evaluation
question. Quantising per tensor (one scale per matrix) fell below 0.99, so it is
not used (bench/backends.py measures both).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path
from typing import Sequence

import numpy as np

BACKENDS = ("torch", "onnx", "onnx-int8")
ONNX_FILE = "wenban-query.onnx"
INT8_FILE = "wenban-query-int8.onnx"


def onnx_path(model_dir: Path) -> Path:
    return Path(model_dir) / "onnx" / ONNX_FILE


def quantize_int8(fp32: Path, log=print) -> Path:
    """The int8 variant of an fp32 export, made once beside it (~20 s): MatMul weights
    per output channel, activations quantised on the fly."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    path = fp32.with_name(INT8_FILE)
    stamp_file, stamp = path.with_suffix(".stamp"), f"{fp32.stat().st_size}:{fp32.stat().st_mtime_ns}"
    if path.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return path
    log(f"quantising the query encoder to int8 in {path} (once) …")
    tmp = path.with_suffix(".tmp")
    quantize_dynamic(str(fp32), str(tmp), per_channel=True, op_types_to_quantize=["MatMul"],
                     weight_type=QuantType.QInt8)
    os.replace(tmp, path)
    stamp_file.write_text(stamp)
    return path


def _stamp(model_dir: Path) -> str:
    """What the export was made from: the weights files' names and sizes."""
    h = hashlib.sha256()
    for f in sorted(Path(model_dir).glob("*.safetensors")) + sorted(Path(model_dir).glob("*.bin")):
        h.update(f"{f.name}:{f.stat().st_size}:{f.stat().st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def export_onnx(st_model, model_dir: Path, log=print) -> Path:
    """Export ``st_model`` (a loaded SentenceTransformer: Transformer + mean pooling
    + normalize) to ONNX beside its weights, unless an export of these weights exists."""
    import torch

    path = onnx_path(model_dir)
    stamp_file = path.with_suffix(".stamp")
    stamp = _stamp(model_dir)
    if path.exists() and stamp_file.exists() and stamp_file.read_text() == stamp:
        return path
    names = [type(m).__name__ for m in st_model]
    pool = st_model[1] if len(names) > 1 else None
    if (names[:2] != ["Transformer", "Pooling"] or getattr(pool, "pooling_mode", None) != "mean"
            or not getattr(pool, "include_prompt", True)):
        raise ValueError(f"the ONNX backend supports Transformer + mean Pooling (prompt included) models, not {names}")
    log(f"exporting the query encoder to ONNX in {path} (once, ~10 s) …")
    bert = st_model[0].auto_model

    class Encoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.bert = bert

        def forward(self, input_ids, attention_mask):
            hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, dim=-1)

    if next(bert.parameters()).dtype != torch.float32:
        raise ValueError("export the ONNX encoder from the fp32 weights (before any bf16 cast)")
    enc = Encoder().eval()
    sample = st_model.tokenizer(["query: 孩子刚出生怎么上户口", "query: 办理"], padding=True, return_tensors="pt")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with torch.inference_mode():
        torch.onnx.export(enc, (sample["input_ids"], sample["attention_mask"]), str(tmp),
                          input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                          dynamic_axes={"input_ids": {0: "batch", 1: "tokens"},
                                        "attention_mask": {0: "batch", 1: "tokens"},
                                        "embedding": {0: "batch"}},
                          opset_version=17, dynamo=False)
    os.replace(tmp, path)
    stamp_file.write_text(stamp)
    return path


class OnnxQueryEncoder:
    """Tokenizer (the model's own) + an ONNX Runtime session of the exported encoder."""

    def __init__(self, session, tokenizer, max_length: int):
        self.session = session
        self.tokenizer = tokenizer
        self.max_length = max_length
        # a fast tokenizer changes its padding/truncation state on each call and says
        # "Already borrowed" when two threads meet there; the session itself is thread-safe
        self._tokenize = threading.Lock()

    @classmethod
    def load(cls, st_model, model_dir: Path, threads: int = 2, log=print,
             int8: bool = False) -> "OnnxQueryEncoder":
        import onnxruntime as ort

        path = export_onnx(st_model, model_dir, log=log)
        if int8:
            path = quantize_int8(path, log=log)
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        return cls(session, st_model.tokenizer, st_model.max_seq_length)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Normalized float32 vectors of ``texts`` (prompts already prepended)."""
        with self._tokenize:
            enc = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_length,
                                 return_tensors="np")
        feeds = {"input_ids": enc["input_ids"].astype(np.int64),
                 "attention_mask": enc["attention_mask"].astype(np.int64)}
        return self.session.run(None, feeds)[0].astype(np.float32)
