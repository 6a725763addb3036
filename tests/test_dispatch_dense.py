"""Dense match of 诉求 to dispatch categories (needs the embedding model), the
fusion with TF-IDF, the 属地 cue and the time-ordered evaluation splits."""

from __future__ import annotations

import numpy as np
import pytest

from assistant import dispatch_score as dsc
from assistant.dispatch import Router
from eval.dispatch import by_time, history_split
from store import dispatch as ds
from store.db import CatalogueData, import_catalogue, open_db


@pytest.fixture
def db():
    d = open_db(":memory:")
    depts = ["区生态环境局", "区综合执法局", "区住建局", "区人社局", "区市监局", "区公安分局", "区教育局"]
    import_catalogue(d, CatalogueData(name="hall", title="演示", enquiry={"hotline": "12345政务服务便民热线"},
                                      items=[{"code": str(i), "name": f"事项{i}", "department": n}
                                             for i, n in enumerate(depts)]))
    ds.ensure_schema(d)
    return d


def test_fuse_standardises_both_scores():
    tfidf = np.array([0.30, 0.28, 0.0])  # TF-IDF slightly prefers 0
    dense = np.array([0.80, 0.90, 0.70])  # the dense match clearly prefers 1
    assert int(np.argmax(dsc.fuse(tfidf, None))) == 0
    assert int(np.argmax(dsc.fuse(tfidf, dense, weight=0.7))) == 1
    assert int(np.argmax(dsc.fuse(tfidf, dense, weight=0.0))) == 0
    s = dsc.shares(dsc.fuse(tfidf, dense))
    assert abs(s.sum() - 1) < 1e-9 and s.argmax() == 1


def test_naming_a_community_raises_the_street(db):
    router = Router(db, "hall", threshold=0.0)
    plain = dict(router.type_ranking("垃圾堆了好几天没人清理"))
    placed = dict(router.type_ranking("阳光社区门口垃圾堆了好几天没人清理"))
    assert placed.get(dsc.LOCAL_TYPE, 0) > plain.get(dsc.LOCAL_TYPE, 0)
    assert abs(sum(placed.values()) - 1) < 1e-6  # still shares


def test_splits_are_time_ordered_and_disjoint():
    rows = [{"date": f"2019-01-{d:02d}", "n": d} for d in (5, 1, 9, 3, 7, 2, 8, 4)]
    dev, held, every = by_time(rows, "dev"), by_time(rows, "heldout"), by_time(rows, "all")
    assert [r["n"] for r in dev] == [1, 2, 3, 4] and [r["n"] for r in held] == [5, 7, 8, 9]
    assert len(every) == 8
    known = sorted(rows, key=lambda r: r["date"])
    for split in ("dev", "heldout", "all"):
        train, test = history_split(known, split)
        assert train and test and max(r["date"] for r in train) < min(r["date"] for r in test)
    assert max(r["date"] for r in history_split(known, "dev")[1]) <= dev[-1]["date"]  # dev never sees heldout


def test_dense_router_routes_everyday_complaints(db, embedder):
    router = Router(db, "hall", threshold=0.0, embedder=embedder)
    assert router.dense is not None
    cases = {"楼下饭店油烟太大，窗户都不敢开": "生态环境", "老板拖欠我们三个月工资不发": "人社",
             "孩子上小学划片学位不够": "教育"}
    for text, lead in cases.items():
        r = router.route(text)
        assert r["suggested_lead"]["type"] == lead, (text, r["category"], r["types"])
        assert "结合语义相似度" in r["why"]
    w = router.weights("楼下饭店油烟太大")
    assert w.shape == (len(router.rows),) and abs(w.sum() - 1) < 1e-6


def test_prototypes_are_embedded_once(db, embedder):
    Router(db, "hall", embedder=embedder)
    calls = []

    class Counting:
        id = embedder.id

        def passages(self, texts, cache=None):
            calls.append(len(texts))
            return embedder.passages(texts, cache=cache)

        def query(self, texts):
            return embedder.query(texts)

    Router(db, "hall", embedder=Counting())  # same model and categories: the vectors are reused
    assert calls == []


def test_router_for_keeps_dense_and_plain_routers_apart(db, embedder):
    from assistant.dispatch import router_for

    assert router_for(db, "hall", embedder=embedder).dense is not None
    assert router_for(db, "hall").dense is None
    assert router_for(db, "hall", embedder=embedder).dense is not None
