"""A synthetic province from the real items, to measure wenban at province scale.

The province's own items once (guangdong's 省级 items, 440000), the city items
(guangdong's 广州市 items) for each of Guangdong's 21 cities, and the district
items (guangan's) for six districts per city: ~150k implementations, each with
its area code, area name and its area's department names ("深圳市公安局",
"深圳第3区公安分局"), its base item kept (三级四同). Only this benchmark makes it;
it is not shipped.

    python bench/province.py                      # ~150k items: build, latency, checks
    python bench/province.py --curve              # also 3k and 30k for the latency curve
    python bench/province.py --json out.json
    python bench/province.py --cold               # every distinct text embedded (slow)

Reports import and index time, texts embedded (distinct texts, not items),
p50/p95 per question at a district site (the evaluation questions of both
catalogues), whether the answers there equal those of the site's own small
catalogue, peak RSS, and cold start (a fresh process: model, indexes, first answer).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store import areas  # noqa: E402
from store import db as store  # noqa: E402
from wenban.config import Settings  # noqa: E402

# Guangdong's 21 prefecture-level cities (GB/T 2260); districts below are made up.
CITIES = {
    "440100": "广州市", "440200": "韶关市", "440300": "深圳市", "440400": "珠海市", "440500": "汕头市",
    "440600": "佛山市", "440700": "江门市", "440800": "湛江市", "440900": "茂名市", "441200": "肇庆市",
    "441300": "惠州市", "441400": "梅州市", "441500": "汕尾市", "441600": "河源市", "441700": "阳江市",
    "441800": "清远市", "441900": "东莞市", "442000": "中山市", "445100": "潮州市", "445200": "揭阳市",
    "445300": "云浮市",
}
NAME = "province"


def note(*what: Any) -> None:
    """Progress on stderr, with the time and the load average (the run takes long)."""
    print(time.strftime("%H:%M:%S"), f"load {os.getloadavg()[0]:.1f}", *what, file=sys.stderr, flush=True)


def _rename(department: str, old: str, new: str) -> str:
    """The department as the new area's own: 广州市公安局 → 深圳市公安局, 区公安分局 → 深圳第3区公安分局."""
    if department.startswith(old):
        return new + department[len(old):]
    if old.endswith("市") and department.startswith(old[:-1]):  # 广州空港… → 深圳空港…
        return new[:-1] + department[len(old) - 1:]
    if department[:1] == new[-1]:  # "区…" at a district
        return new + department[1:]
    return department


def _at(item: dict[str, Any], code: str, name: str, old_name: str) -> dict[str, Any]:
    out = dict(item)
    out.update(code=f"{item['code']}@{code}", area_code=code, area=name, level=areas.level_of(code),
               department=_rename(item["department"], old_name, name))
    return out


def districts(cities: int, per_city: int) -> list[tuple[str, str, str, str]]:
    """(city code, city name, district code, district name) for the first ``cities`` cities."""
    out = []
    for code, name in list(CITIES.items())[:cities]:
        for n in range(1, per_city + 1):
            out.append((code, name, f"{code[:4]}{n:02d}", f"{name[:-1]}第{n}区"))
    return out


def synthetic_items(db, cities: int = 21, per_city: int = 6, extra_districts: int = 0) -> list[dict[str, Any]]:
    """The province's items: guangdong's 省 items, its 市 items per city, guangan's per district.
    ``extra_districts`` caps the number of districts (0: all ``cities × per_city``)."""
    gd = store.items(db, "guangdong")
    ga = store.items(db, "guangan")
    out = [dict(it) for it in gd if it["level"] == "省"]
    city_items = [it for it in gd if it["level"] == "市"]
    for code, name in list(CITIES.items())[:cities]:
        out += [_at(it, code, name, "广州市") for it in city_items]
    ds = districts(cities, per_city)
    if extra_districts:
        ds = ds[:extra_districts]
    for _, _, code, name in ds:
        out += [_at(it, code, name, "广安区") for it in ga]
    return out


def chain_items(items: list[dict[str, Any]], code: str) -> list[dict[str, Any]]:
    """The items serving ``code``: a site's own small catalogue."""
    chain = set(areas.chain(code))
    return [it for it in items if it["area_code"] in chain]


def import_and_index(s: Settings, db, name: str, items: list[dict[str, Any]], embedder) -> dict[str, Any]:
    from index.build import build_index

    note("import", name, len(items), "items")
    t = time.perf_counter()
    store.import_catalogue(db, store.CatalogueData(name=name, title=name, items=items))
    imported = time.perf_counter() - t
    note("index", name, f"(imported in {imported:.1f} s)")
    t = time.perf_counter()
    m = build_index(s, db, name, embedder, log=lambda *a: None, progress=False)
    return {"items": len(items), "import_s": round(imported, 1), "index_s": round(time.perf_counter() - t, 1),
            "texts": m["texts"], "embedded": m["embedded"]}


def questions() -> list[str]:
    from eval.run import load_set

    return [r["question"] for cat in ("guangan", "guangdong") for r in load_set(cat)]


def latency(assistant, catalogue: str, site: str, qs: list[str]) -> dict[str, float]:
    """Per question, wall clock: the total, and search + fuse + compose (what grows with the
    catalogue; embedding the question costs the same at any size)."""
    for q in qs[:20]:
        assistant.ask(q, catalogue, site=site)
    totals, scaled = [], []
    for q in qs:
        t = assistant.ask(q, catalogue, site=site)["timings_ms"]
        totals.append(t["total"])
        scaled.append(t["total"] - t["embed"])
    pct = lambda v, q: round(float(np.percentile(v, q)), 1)  # noqa: E731
    return {"p50_ms": pct(totals, 50), "p95_ms": pct(totals, 95),
            "after_embed_p50_ms": pct(scaled, 50), "after_embed_p95_ms": pct(scaled, 95), "n": len(totals)}


def same_answers(assistant, big: str, small: str, site: str, qs: list[str]) -> dict[str, Any]:
    """Status, answered item and top-5 codes at ``site`` of the province vs its own small catalogue."""
    differ = []
    for q in qs:
        a, b = assistant.ask(q, big, site=site), assistant.ask(q, small, site=site)
        ka = (a["status"], (a["item"] or {}).get("code"), [c["code"] for c in a["candidates"]])
        kb = (b["status"], (b["item"] or {}).get("code"), [c["code"] for c in b["candidates"]])
        if ka != kb:
            differ.append({"question": q, "province": ka, "small": kb})
    return {"questions": len(qs), "differ": len(differ), "examples": differ[:3]}


def cold_start(home: Path, catalogue: str, site: str) -> float:
    """Seconds for a fresh process to load the model and the indexes and answer one question."""
    code = (f"import sys,time; t=time.perf_counter(); sys.path.insert(0, {str(Path(__file__).parent.parent)!r});"
            f"from assistant.answer import Assistant; from wenban.config import Settings;"
            f"a=Assistant(Settings.from_env(), log=lambda *x: None);"
            f"a.ask('孩子刚出生怎么上户口', {catalogue!r}, site={site!r}); print(time.perf_counter()-t)")
    env = {**__import__("os").environ, "WENBAN_HOME": str(home)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return round(float(out.stdout.strip().splitlines()[-1]), 1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--curve", action="store_true", help="also 3k and 30k items, for the latency curve")
    p.add_argument("--json", help="also write the figures as JSON")
    p.add_argument("--cold", action="store_true",
                   help="start from an empty embedding cache (default: a copy of the real one, so only "
                        "texts the real catalogues lack are embedded)")
    p.add_argument("--keep", help="build in this folder and keep it (default: a temporary one)")
    args = p.parse_args()

    from assistant.answer import Assistant
    from index.embedder import Embedder

    real = Settings.from_env()
    embedder = Embedder(real, log=lambda *a: None)
    home = Path(args.keep or tempfile.mkdtemp(prefix="wenban-province-"))
    home.mkdir(parents=True, exist_ok=True)
    s = replace(real, home=home, model=real.model_path)
    if not args.cold and real.cache_path.exists():
        shutil.copy(real.cache_path, s.cache_path)
    db = store.open_db(s.db_path)
    src = store.open_db(real.db_path)
    t = time.perf_counter()
    items = synthetic_items(src)
    gen_s = time.perf_counter() - t
    district, city = districts(21, 6)[2][2], districts(21, 6)[2][0]  # 广州第3区, 440100
    site = district
    out: dict[str, Any] = {"generate_s": round(gen_s, 1), "site": site}

    # the whole province, from a cold embedding cache: every distinct text embedded once
    out["province"] = import_and_index(s, db, NAME, items, embedder)
    small = chain_items(items, site)
    out["site_catalogue"] = import_and_index(s, db, "site", small, embedder)
    sizes = {"site (3k)": ("site", small)}
    if args.curve:
        mid = synthetic_items(src, extra_districts=24)
        out["mid"] = import_and_index(s, db, "mid", mid, embedder)
        sizes["mid (30k)"] = ("mid", [None] * len(mid))
        del mid
    sizes["province (150k)"] = (NAME, items)
    assistant = Assistant(s, embedder=embedder, log=lambda *a: None)
    qs = questions()
    out["latency"] = {}
    for label, (name, its) in sizes.items():
        note("latency", label)
        out["latency"][label] = {"items": len(its), **latency(assistant, name, site, qs)}
    note("same answers")
    out["same_answers"] = same_answers(assistant, NAME, "site", site, qs)
    note("city site")
    out["city_site"] = latency(assistant, NAME, city, qs)
    out["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    del assistant
    note("cold start")
    out["cold_start_s"] = cold_start(home, NAME, site)

    print(json.dumps(out, ensure_ascii=False, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(out, ensure_ascii=False, indent=2))
    if not args.keep:
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
