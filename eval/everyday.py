"""Everyday short 诉求 ("楼下饭店油烟太大", "老板拖欠工资") asked through the
assistant, as a citizen at a kiosk or an outside tester would, on the bundled
catalogues: is it dispatched, to the department type that leads it by its 三定
duties, and confidently (not the command centre) when the catalogue has that
department? A catalogue without one (guangdong has no 城管 bureau) is right to
send it to the command centre.

The set (``eval/sets/dispatch-everyday-dev.jsonl``, ``{"text", "type"}``) was
written from general knowledge of who leads which matter, for choosing methods
(dev); an independent held-out set is written by someone else.

    wenban dispatch everyday -c guangan -c guangdong
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

from wenban.config import REPO_ROOT

DEV_SET = REPO_ROOT / "eval" / "sets" / "dispatch-everyday-dev.jsonl"
_CJK = re.compile(r"[\u4e00-\u9fff]")


def load(path: Path = DEV_SET) -> list[dict[str, str]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            r = json.loads(line)
            if not r.get("text") or not r.get("type"):
                raise ValueError(f"{path}: line {n}: needs text and type")
            rows.append(r)
    return rows


def judge(answer: dict[str, Any], want: str, has_type: bool) -> dict[str, Any]:
    """One answer against the expected lead type. ``has_type``: the catalogue has a
    department of that type (else the command centre is the right lead)."""
    d = answer.get("dispatch") or {}
    suggested = (d.get("suggested_lead") or {}).get("type") or ((d.get("types") or [{}])[0].get("type"))
    centre = bool(d.get("to_command_centre"))
    return {"dispatched": bool(d), "status": answer["status"], "type_at1": suggested == want,
            "centre": centre, "confidence": d.get("confidence"),
            "right": bool(d) and ((not centre and d["lead"]["type"] == want) if has_type else centre)}


def run(assistant, catalogues: list[str], rows: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """Per catalogue: shares dispatched, lead type right @1 (before the command-centre
    decision), final lead right, sent to the command centre, and ms per message."""
    from assistant.dispatch import router_for

    rows = rows or load()
    out: dict[str, Any] = {}
    for cat in catalogues:
        router = router_for(assistant.db, cat, embedder=assistant.embedder)
        results, took = [], []
        for r in rows:
            t0 = time.perf_counter()
            a = assistant.ask(r["text"], cat)
            took.append((time.perf_counter() - t0) * 1000)
            results.append(judge(a, r["type"], r["type"] in router.by_type) | {"text": r["text"], "want": r["type"]})
        n = len(results)
        out[cat] = {"messages": n,
                    "dispatched": round(sum(x["dispatched"] for x in results) / n, 3),
                    "type_at1": round(sum(x["type_at1"] for x in results) / n, 3),
                    "lead_right": round(sum(x["right"] for x in results) / n, 3),
                    "to_command_centre": round(sum(x["centre"] for x in results) / n, 3),
                    "ms_p50": round(sorted(took)[n // 2], 1),
                    "results": results}
    return out
