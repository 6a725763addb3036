"""Does the question library generalise? Curate one phrasing, measure another.

With ``eval/sets/<catalogue>-paraphrases.jsonl`` (pairs of phrasings of one
need, ``a`` and ``b``, with the gold codes), the ``a`` of every pair is put in
an in-memory library (as staff would attach it) and the ``b`` phrasings are
asked with and without it. Without the pairs file the same is done across
splits: every in-scope dev question is curated, the held-out ones are measured
(different people's words for often the same items). Nothing is written to the
store.

    python -m eval.paraphrase --catalogue guangan
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from assistant.library import Library
from eval.run import SETS_DIR, load_set, score

KEYS = ("department@1", "item_hit@1", "item_hit@3", "answered_directly_right", "clarify_rate",
        "accuracy_after_clarify", "in_scope_wrongly_not_found")


def pairs(catalogue: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]], str]:
    """(curated rows, measured rows, what was done)."""
    path = SETS_DIR / f"{catalogue}-paraphrases.jsonl"
    if path.exists():
        curated, measured = [], []
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            p = json.loads(line)
            a, b = (p["a"], p["b"]) if "a" in p else tuple(p["questions"][:2])
            base = {k: v for k, v in p.items() if k not in ("a", "b", "questions")}
            base.setdefault("expect", "answer" if p.get("gold") else "not_found")
            base.setdefault("departments", [])
            curated.append({**base, "question": a})
            measured.append({**base, "question": b})
        return curated, measured, f"{path.name}: curate a, measure b ({len(measured)} pairs)"
    dev = [r for r in load_set(catalogue, "dev") if r["expect"] == "answer"]
    held = [r for r in load_set(catalogue, "heldout") if r["expect"] == "answer"]
    return dev, held, f"no pairs file: curate the {len(dev)} in-scope dev questions, measure {len(held)} held-out ones"


def run_rows(assistant, catalogue: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Like ``eval.run.evaluate``'s loop, over given rows."""
    out = []
    for r in rows:
        ans = assistant.ask(r["question"], catalogue)
        codes = [c["code"] for c in ans["candidates"]]
        rank = next((i + 1 for i, c in enumerate(codes) if c in r["gold"]), None)
        if ans["status"] == "answer":
            final = ans["item"]["code"]
        elif ans["status"] == "clarify":
            final = next((o["code"] for o in ans["clarify"]["options"] if o["code"] in r["gold"]), None)
        else:
            final = None
        out.append({"row": r, "answer": ans, "rank": rank, "final": final,
                    "top_department": ans["candidates"][0]["department"] if ans["candidates"] else None})
    return out


def experiment(assistant, catalogue: str) -> dict[str, Any]:
    curated, measured, how = pairs(catalogue)
    before = score(run_rows(assistant, catalogue, measured), catalogue, "paraphrase", "hybrid")
    retriever = assistant.retriever(catalogue)
    rows = [{"question": r["question"], "code": r["gold"][0] if r.get("gold") else None,
             "out_of_scope": 0 if r.get("gold") else 1} for r in curated]
    lib = Library.build(catalogue, -1, rows, [], retriever.vocab, assistant.embedder.query)
    assistant.libraries.put(lib)
    try:
        after = score(run_rows(assistant, catalogue, measured), catalogue, "paraphrase", "hybrid")
    finally:
        assistant.libraries.drop(catalogue)
    return {"catalogue": catalogue, "how": how, "before": {k: before[k] for k in KEYS},
            "after": {k: after[k] for k in KEYS}}


def main(argv: list[str] | None = None) -> int:
    from assistant.answer import Assistant
    from wenban.config import Settings

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--catalogue", "-c", action="append")
    args = ap.parse_args(argv)
    assistant = Assistant(Settings.from_env(), log=lambda *a: print(*a, file=sys.stderr))
    for cat in args.catalogue or ["guangan", "guangdong"]:
        r = experiment(assistant, cat)
        print(f"{cat}: {r['how']}")
        print(f"{'':28}{'without':>10}{'with':>10}")
        for k in KEYS:
            print(f"{k:28}{r['before'][k]:10.3f}{r['after'][k]:10.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
