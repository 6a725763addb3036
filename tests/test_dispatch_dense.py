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


def test_named_party_finds_the_department_type():
    names = ds.everyday_names()
    assert dsc.named_types("派出所上户口一直要我们补证明", names) == {"公安"}
    assert dsc.named_types("城管把我三轮车收走了", names) == {"综合执法"}
    assert dsc.named_types("社保局窗口推来推去", names) == {"人社"}
    assert dsc.named_types("卫生院开了一堆检查，医保报完还出两千", names) == {"卫生健康", "医保"}
    # a name used as a place, or as where someone ended up, names no party
    assert dsc.named_types("学校门口接送的车把路堵死了", names) == set()
    assert dsc.named_types("吃完拉肚子，五个人都进了医院", names) == set()
    assert dsc.named_types("楼下饭店油烟太大", names) == set()
    # going to an office to be served there is about that office
    assert dsc.named_types("去派出所办户口被推来推去", names) == {"公安"}


def test_naming_a_party_raises_its_department(db):
    router = Router(db, "hall", threshold=0.0, use_history=False)
    text = "派出所办事的时候被推来推去，跑了好几趟"
    router.party_weight = router.party_share = 0.0
    plain_weights, plain = router.weights(text), [t for t, _ in router.type_ranking(text)]
    router.party_weight, router.party_share = dsc.PARTY_WEIGHT, dsc.PARTY_SHARE
    weights, named = router.weights(text), [t for t, _ in router.type_ranking(text)]
    police = [i for i, r in enumerate(router.rows) if r["lead"] == "公安"]
    assert weights[police].sum() > plain_weights[police].sum()  # its categories gain …
    assert "公安" in named[:2] and ("公安" not in plain or named.index("公安") < plain.index("公安"))  # … and its type
    # a message naming no party routes as before
    router.party_weight = router.party_share = 0.0
    before = router.route("楼下饭店油烟太大")
    router.party_weight, router.party_share = dsc.PARTY_WEIGHT, dsc.PARTY_SHARE
    assert router.route("楼下饭店油烟太大")["types"] == before["types"]


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
