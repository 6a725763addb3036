"""Base vs adapted embedding, torch vs ONNX: eval aggregates per split, one process.

    python bench/embed_compare.py base base+onnx adapter=var/models/query-adapter.npz
    python bench/embed_compare.py --json out.json base adapter=…

Each configuration answers every evaluation question once (hybrid, with the
clarify turn, as ``wenban eval``) and is scored per split: dev, heldout (all
held-out questions), and its batches b2, b3 and b4 (``-b2-``, ``-b3-``, ``-b4-`` ids).
Only aggregates are printed: held-out failures are never shown.
A configuration is ``base`` or ``adapter=FILE``, with ``+onnx`` for that backend.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eval.run import load_set, score  # noqa: E402
from wenban.config import Settings  # noqa: E402

CATALOGUES = ("guangan", "guangdong")
SPLITS = {"dev": lambda r: r["split"] == "dev",
          "heldout": lambda r: r["split"] == "heldout",
          "b2": lambda r: "-b2-" in r["id"],
          "b3": lambda r: "-b3-" in r["id"],
          "b4": lambda r: "-b4-" in r["id"]}
METRICS = ("department@1", "item_hit@1", "item_hit@3", "mrr", "accuracy_after_clarify", "clarify_rate",
           "not_found_recall", "in_scope_wrongly_not_found")


def configure(base: Settings, spec: str) -> Settings:
    name, _, backend = spec.partition("+")
    s = replace(base, embed_backend=backend or "torch", embed_adapter=None)
    if name.startswith("adapter="):
        s = replace(s, embed_adapter=Path(name.split("=", 1)[1]).resolve())
    elif name != "base":
        raise SystemExit(f"unknown configuration {spec!r}: base or adapter=FILE, optionally +onnx")
    return s


def run(settings: Settings) -> dict[str, dict[str, dict[str, float]]]:
    from assistant.answer import Assistant

    a = Assistant(settings, log=lambda *x: None)
    out: dict[str, dict[str, dict[str, float]]] = {}
    for cat in CATALOGUES:
        results = []
        for r in load_set(cat, "all"):
            ans = a.ask(r["question"], cat)
            codes = [c["code"] for c in ans["candidates"]]
            rank = next((i + 1 for i, c in enumerate(codes) if c in r["gold"]), None)
            final = None
            if ans["status"] == "answer":
                final = ans["item"]["code"]
            elif ans["status"] == "clarify":
                final = next((o["code"] for o in ans["clarify"]["options"] if o["code"] in r["gold"]), None)
            results.append({"row": r, "answer": ans, "rank": rank, "final": final,
                            "top_department": ans["candidates"][0]["department"] if ans["candidates"] else None})
        for split, keep in SPLITS.items():
            rep = score([x for x in results if keep(x["row"])], cat, split, "hybrid")
            out[f"{cat} {split}"] = {m: rep[m] for m in METRICS} | {"n": rep["in_scope"]}
    del a
    gc.collect()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("configs", nargs="+")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    base = Settings.from_env()
    table = {spec: run(configure(base, spec)) for spec in args.configs}
    for key in next(iter(table.values())):
        n = next(iter(table.values()))[key]["n"]
        print(f"\n{key} ({n} in scope)\n")
        print("| metric | " + " | ".join(args.configs) + " |")
        print("|---|" + "---:|" * len(args.configs))
        for m in METRICS:
            print(f"| {m} | " + " | ".join(f"{table[c][key][m]:.3f}" for c in args.configs) + " |")
    if args.json:
        args.json.write_text(json.dumps(table, indent=2))


if __name__ == "__main__":
    main()
