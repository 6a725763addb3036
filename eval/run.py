"""Score answers on the evaluation sets in ``eval/sets/<catalogue>.jsonl``.

Each line: ``{id, question, gold: [codes], departments: [names], expect:
answer|not_found, split: dev|heldout}``. Questions are written the way
citizens talk. Splits: ``dev`` (used for tuning and calibration); ``heldout``,
the third of the first batch held out by a hash of the id; ``b2`` to ``b12``,
later batches written whole before a round of changes (ids ``*-b2-*`` …
``*-b12-*``), held out except ``b3``, which became a tuning split once reported;
``t1`` (ids ``*-t1-*``), written by an outside tester as a tuning split; ``t2`` and
``t4`` (ids ``*-t2-*``, ``*-t4-*``), later tuning splits; ``t5`` and ``t6`` (``*-t5-*``,
``*-t6-*``), tuning splits of service questions told as troubles (t6: long ones, with a
backstory), none out of scope; ``all``.

    >>> parse_splits("dev,heldout,b2,b3")
    ['dev', 'heldout', 'b2', 'b3']
    >>> report = evaluate(assistant, "guangan", split="b3")   # doctest: +SKIP
    >>> report["item_hit@3"]                                  # doctest: +SKIP

The evaluation's own questions and dialogue turns never enter the unanswered
log (``Assistant.log_unanswered`` is off while it runs).
"""

from __future__ import annotations

import json
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from index.search import CALIBRATION_PATH, FEATURES, Calibration

SETS_DIR = Path(__file__).resolve().parent / "sets"
SPLITS = ("dev", "heldout", "b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "b10", "b11", "b12", "t1", "t2", "t4", "t5", "t6", "all")
# batches written later, each before a round of changes: held out, except b3 (a tuning
# split from the third session on), t1, t2, t4, t5 and t6 (written as tuning splits, README *Evaluation*)
BATCHES = ("b2", "b3", "b4", "b5", "b6", "b7", "b8", "b9", "b10", "b11", "b12", "t1", "t2", "t4", "t5", "t6")
MODES = ("bm25", "dense", "hybrid")


def split_of(row: dict[str, Any]) -> str:
    """``dev``, ``heldout`` (the first batch's held-out third), or the later batch the id names."""
    if row["split"] == "dev":
        return "dev"
    return next((b for b in BATCHES if f"-{b}-" in row["id"]), "heldout")


def parse_splits(text: str) -> list[str]:
    """``"dev,b3"`` → ``["dev", "b3"]``; an unknown name is a ValueError that lists the known ones."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    bad = [n for n in names if n not in SPLITS]
    if bad or not names:
        raise ValueError(f"unknown split {', '.join(bad) or repr(text)}: use {', '.join(SPLITS)} or a comma list")
    return list(dict.fromkeys(names))


def load_set(catalogue: str, split: str = "all") -> list[dict[str, Any]]:
    path = SETS_DIR / f"{catalogue}.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"no evaluation set for {catalogue!r} ({path})")
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}: use one of {', '.join(SPLITS)}")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return rows if split == "all" else [r for r in rows if split_of(r) == split]


@contextmanager
def unlogged(assistant):
    """Keep the evaluation's questions out of the unanswered log, which is for citizens."""
    before = assistant.log_unanswered
    assistant.log_unanswered = False
    try:
        yield
    finally:
        assistant.log_unanswered = before


def _percentile(values: list[float], q: float) -> float:
    if not values:
        return 0.0
    return float(np.percentile(np.array(values), q))


def evaluate(assistant, catalogue: str, split: str = "heldout", mode: str = "hybrid") -> dict[str, Any]:
    """Run every question of the split through ``assistant.ask`` and score it.
    A clarify is followed by one simulated turn: the user taps the option that is
    the gold item, if there is one (``final``: the item they end up with)."""
    rows = load_set(catalogue, split)
    results = []
    with unlogged(assistant):
        answers = [assistant.ask(r["question"], catalogue, mode=mode) for r in rows]
    for r, ans in zip(rows, answers):
        codes = [c["code"] for c in ans["candidates"]]
        rank = next((i + 1 for i, c in enumerate(codes) if c in r["gold"]), None)
        if ans["status"] == "answer":
            final = ans["item"]["code"]
        elif ans["status"] == "clarify":
            options = [o["code"] for o in ans["clarify"]["options"]]
            final = next((c for c in options if c in r["gold"]), None)
        else:
            final = None
        results.append({"row": r, "answer": ans, "rank": rank, "final": final,
                        "top_department": ans["candidates"][0]["department"] if ans["candidates"] else None})
    return score(results, catalogue, split, mode)


def score(results: list[dict[str, Any]], catalogue: str, split: str, mode: str) -> dict[str, Any]:
    inscope = [x for x in results if x["row"]["expect"] == "answer"]
    oos = [x for x in results if x["row"]["expect"] == "not_found"]
    said_nf = [x for x in results if x["answer"]["status"] == "not_found"]
    n = max(len(inscope), 1)

    def hit(k: int) -> float:
        return sum(1 for x in inscope if x["rank"] and x["rank"] <= k) / n

    answered_right = sum(1 for x in inscope if x["answer"]["status"] == "answer" and x["final"] in x["row"]["gold"])
    clarified = [x for x in inscope if x["answer"]["status"] == "clarify"]
    final_right = sum(1 for x in inscope if x.get("final") and x["final"] in x["row"]["gold"])
    failures = []
    for x in results:
        r, a = x["row"], x["answer"]
        wrong = (r["expect"] == "answer" and x.get("final") not in r["gold"]) or \
                (r["expect"] == "not_found" and a["status"] != "not_found")
        if wrong:
            failures.append({"id": r["id"], "question": r["question"], "expect": r["expect"],
                             "gold": r.get("gold_names", [])[:3], "status": a["status"],
                             "got": a["candidates"][0]["name"] if a["candidates"] else None,
                             "got_department": x["top_department"], "rank": x["rank"], "score": a["score"]})
    latencies = [x["answer"]["timings_ms"]["total"] for x in results]
    report = {
        "catalogue": catalogue, "split": split, "mode": mode,
        "questions": len(results), "in_scope": len(inscope), "out_of_scope": len(oos),
        "department@1": sum(1 for x in inscope if x["top_department"] in x["row"]["departments"]) / n,
        "item_hit@1": hit(1), "item_hit@3": hit(3), "item_hit@5": hit(5),
        "mrr": sum(1 / x["rank"] for x in inscope if x["rank"]) / n,
        "answered_directly_right": answered_right / n,
        "clarify_rate": len(clarified) / n,
        "clarify_resolves": (sum(1 for x in clarified if x["final"]) / len(clarified)) if clarified else 1.0,
        "accuracy_after_clarify": final_right / n,
        "not_found_precision": (sum(1 for x in said_nf if x["row"]["expect"] == "not_found") / len(said_nf))
        if said_nf else 1.0,
        "not_found_recall": sum(1 for x in oos if x["answer"]["status"] == "not_found") / max(len(oos), 1),
        "in_scope_wrongly_not_found": sum(1 for x in inscope if x["answer"]["status"] == "not_found") / n,
        "latency_ms_p50": round(_percentile(latencies, 50), 1),
        "latency_ms_p95": round(_percentile(latencies, 95), 1),
        "departments": department_table(inscope),
        "failures": failures,
        "run_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if mode != "hybrid":
        # the not-found calibration is fitted on hybrid evidence; on one list alone it means nothing
        for k in ("answered_directly_right", "clarify_rate", "clarify_resolves", "accuracy_after_clarify",
                  "not_found_precision", "not_found_recall", "in_scope_wrongly_not_found"):
            report[k] = None
    return report


def department_table(inscope: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per gold department: questions, department@1, final accuracy, and where
    the wrong answers went (answered department → count)."""
    table: dict[str, dict[str, Any]] = {}
    for x in inscope:
        gold = x["row"]["departments"][0]
        t = table.setdefault(gold, {"department": gold, "questions": 0, "department_right": 0,
                                    "final_right": 0, "went_to": {}})
        t["questions"] += 1
        if x["top_department"] in x["row"]["departments"]:
            t["department_right"] += 1
        elif x["top_department"]:
            t["went_to"][x["top_department"]] = t["went_to"].get(x["top_department"], 0) + 1
        if x.get("final") and x["final"] in x["row"]["gold"]:
            t["final_right"] += 1
    out = sorted(table.values(), key=lambda t: (-t["questions"], t["department"]))
    for t in out:
        t["department@1"] = t["department_right"] / t["questions"]
        t["accuracy"] = t["final_right"] / t["questions"]
    return out


METRIC_ROWS = ["department@1", "item_hit@1", "item_hit@3", "item_hit@5", "mrr", "answered_directly_right",
               "clarify_rate", "clarify_resolves", "accuracy_after_clarify",
               "not_found_precision", "not_found_recall", "in_scope_wrongly_not_found",
               "latency_ms_p50", "latency_ms_p95"]


def column_label(report: dict[str, Any], reports: list[dict[str, Any]]) -> str:
    """The mode, the split, or both: whatever tells the columns of one table apart."""
    splits = {r["split"] for r in reports}
    modes = {r["mode"] for r in reports}
    if len(splits) > 1 and len(modes) > 1:
        return f"{report['split']}/{report['mode']}"
    return report["split"] if len(splits) > 1 else report["mode"]


def format_reports(reports: list[dict[str, Any]]) -> str:
    """One column per report (per split and/or mode) of one catalogue, one row per metric."""
    labels = [column_label(r, reports) for r in reports]
    w = max(10, *(len(x) + 2 for x in labels))
    counts = {}
    for r in reports:
        counts.setdefault(r["split"], f"{r['split']} {r['in_scope']} in-scope + {r['out_of_scope']} out-of-scope")
    lines = [f"catalogue {reports[0]['catalogue']}: " + "; ".join(counts.values()),
             f"{'':28}" + "".join(f"{x:>{w}}" for x in labels)]
    for m in METRIC_ROWS:
        cells = "".join(f"{'—':>{w}}" if r[m] is None else f"{r[m]:>{w}.1f}" if m.startswith("latency")
                        else f"{r[m]:>{w}.3f}" for r in reports)
        lines.append(f"{m:28}{cells}")
    return "\n".join(lines)


# ------------------------------------------------------------ paraphrases --

def load_paraphrases(catalogue: str) -> list[dict[str, Any]]:
    """Pairs ``{id, a, b, gold, departments}``: one need said two ways with
    different words, for the question-library experiment (curate ``a``,
    measure ``b``). None of them is an evaluation question.

    >>> load_paraphrases("guangan")[0]["a"]            # doctest: +SKIP
    '孩子生下来了要落户口'
    """
    path = SETS_DIR / f"{catalogue}-paraphrases.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


# -------------------------------------------------------------- dialogues --

def load_dialogues(catalogue: str) -> list[dict[str, Any]]:
    path = SETS_DIR / f"{catalogue}-dialogues.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate_dialogues(dialogue, catalogue: str) -> dict[str, Any]:
    """Conversations of 2–4 turns: the first asks for an item (a clarify is
    answered by tapping the gold option's number), the rest ask about a field
    of it ("要带什么材料" → materials) or change the topic ("那身份证丢了呢")."""
    with unlogged(dialogue.assistant):
        return _evaluate_dialogues(dialogue, catalogue)


def _evaluate_dialogues(dialogue, catalogue: str) -> dict[str, Any]:
    turns_right = turns = firsts_right = 0
    failures = []
    for conv in load_dialogues(catalogue):
        first, *rest = conv["turns"]
        reply = dialogue.turn(None, first["say"], catalogue)
        sid = reply["session_id"]
        if reply["status"] == "clarify":
            options = reply["clarify"]["options"]
            pick = next((i for i, o in enumerate(options, start=1) if o["code"] in first["gold"]), None)
            if pick:
                reply = dialogue.turn(sid, str(pick), catalogue)
        got = (reply.get("item") or {}).get("code")
        firsts_right += got in first["gold"]
        if got is None:
            failures.append({"id": conv["id"], "say": first["say"], "expected": "an item", "status": reply["status"]})
            dialogue.end(sid)
            continue  # follow-ups need an item to follow up on; the miss is counted above
        for t in rest:
            reply = dialogue.turn(sid, t["say"], catalogue)
            turns += 1
            if "field" in t:
                ok = reply["status"] == "follow_up" and reply["follow_up"]["field"] == t["field"]
            else:
                ok = reply["status"] != "follow_up"
            turns_right += ok
            if not ok:
                failures.append({"id": conv["id"], "say": t["say"], "expected": t.get("field", "new_search"),
                                 "status": reply["status"],
                                 "field": (reply.get("follow_up") or {}).get("field")})
        dialogue.end(sid)
    n = len(load_dialogues(catalogue))
    return {"catalogue": catalogue, "conversations": n, "follow_up_turns": turns,
            "first_turn_right": firsts_right / n if n else None,
            "follow_up_accuracy": turns_right / turns if turns else None, "failures": failures}


# ------------------------------------------------------------ calibration --

def fit_calibration(assistant, catalogues: list[str], split: str = "dev",
                    catch_out_of_scope: float = 0.95) -> Calibration:
    """Fit P(catalogue covers the question) on the dev split and pick the
    not-found threshold.

    Positives: in-scope questions whose gold item is in the top 5; negatives:
    out-of-scope questions. (In-scope questions the retriever misses are left
    out: they say nothing about scope.) The threshold is set on the negatives
    alone, to catch ``catch_out_of_scope`` of them: the dev positives were used
    to grow the vocabulary, so they look easier than questions from outside,
    and a threshold set on them turned away too many new in-scope questions.
    """
    feats, labels = [], []
    for cat in catalogues:
        retriever = assistant.retriever(cat)
        for r in load_set(cat, split):
            res = retriever.search(r["question"], k=10)
            if not res.candidates:
                continue
            inscope = r["expect"] == "answer"
            if inscope and not any(c.code in r["gold"] for c in res.candidates[:5]):
                continue
            f = Calibration.features(res.candidates)
            feats.append([f[k] for k in FEATURES])
            labels.append(1.0 if inscope else 0.0)
    X, y = np.array(feats), np.array(labels)
    mu, sd = X.mean(0), X.std(0) + 1e-9
    Z = (X - mu) / sd
    w, b = np.zeros(Z.shape[1]), 0.0
    # Negatives are few; weight classes equally so they are not drowned out.
    # The L2 term keeps the curve from turning into a step on so little data.
    cw = np.where(y == 1, 0.5 / max(y.mean(), 1e-9), 0.5 / max(1 - y.mean(), 1e-9))
    for _ in range(5000):  # plain gradient descent: 3 features need no library
        p = 1 / (1 + np.exp(-(Z @ w + b)))
        g = cw * (p - y)
        w -= 0.1 * (Z.T @ g / len(y) + 0.1 * w)
        b -= 0.1 * float(np.mean(g))
    weights = {k: float(v) for k, v in zip(FEATURES, w / sd)}
    weights["bias"] = float(b - (mu / sd) @ w)
    cal = Calibration(weights=weights)
    probs = np.array([cal.probability(dict(zip(FEATURES, row))) for row in X])
    neg, pos = probs[y == 0], probs[y == 1]
    cal.threshold = round(float(np.quantile(neg, catch_out_of_scope)), 4) if len(neg) else 0.5
    turned_away = float(np.mean(pos < cal.threshold)) if len(pos) else float("nan")
    cal.fitted_on = (f"{', '.join(catalogues)} {split} split: {len(pos)} covered, {len(neg)} out-of-scope "
                     f"questions; the threshold catches {catch_out_of_scope:.0%} of out-of-scope and turns "
                     f"away {turned_away:.1%} of covered ones ({datetime.now(timezone.utc).date()})")
    return cal


def save_calibration(cal: Calibration, path: Path = CALIBRATION_PATH) -> None:
    path.write_text(json.dumps({"weights": {k: round(v, 4) for k, v in cal.weights.items()},
                                "threshold": cal.threshold, "fitted_on": cal.fitted_on},
                               ensure_ascii=False, indent=2) + "\n")
