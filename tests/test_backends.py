"""Question-embedding backends: the int8 export stays close to the model, and the
ONNX path answers from several threads at once with the vectors of one thread."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import numpy as np

TEXTS = ["孩子刚出生怎么上户口", "身份证丢了去哪里补办", "低保", "开饭店要办什么证", "老板拖欠工资怎么办",
         "公积金提取需要什么材料", "残疾人证怎么办理", "结婚登记"]


def test_int8_backend_keeps_cosine_above_099(settings, embedder):
    from index.backends import INT8_FILE
    from index.embedder import Embedder

    int8 = Embedder(replace(settings, embed_backend="onnx-int8"), log=lambda *a: None)
    assert (settings.model_path / "onnx" / INT8_FILE).exists()
    ref = embedder.model.encode(TEXTS, prompt_name="query", normalize_embeddings=True)
    got = np.vstack([int8.query([t]) for t in TEXTS])
    cos = (got * ref).sum(1)
    assert cos.min() >= 0.99, cos
    assert not np.allclose(got, ref, atol=1e-5)  # it is a different computation, not the fp32 path


def test_onnx_queries_from_several_threads_match_one_thread(settings):
    from index.embedder import Embedder

    onnx = Embedder(replace(settings, embed_backend="onnx"), log=lambda *a: None)
    assert onnx._onnx is not None
    one = [onnx.query([t]) for t in TEXTS * 4]
    with ThreadPoolExecutor(4) as pool:
        many = list(pool.map(lambda t: onnx.query([t]), TEXTS * 4))
    assert all(np.allclose(a, b, atol=1e-5) for a, b in zip(one, many))


def test_blas_runs_on_one_thread_once_the_embedder_is_loaded(embedder):
    # two spinning OpenBLAS threads beside the question encoder halved its speed (README, Speed)
    from threadpoolctl import threadpool_info
    blas = [x for x in threadpool_info() if x["user_api"] == "blas"]
    assert blas and all(x["num_threads"] == 1 for x in blas)
