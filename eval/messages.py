"""Scoring 诉求 routing on everyday messages written for the purpose: short
complaints and requests as citizens say them, each with the department type(s)
that lead the matter and, where one fits, the first-level class. The sets
(``SETS``): ``heldout`` (``eval/sets/messages.jsonl``, written by an outside-tester
session that never saw the dispatch catalogue; aggregate figures only), ``b6``
(``eval/sets/messages-b6.jsonl``, a second such batch written the same way, also
held out), ``b7`` (``eval/sets/messages-b7.jsonl``, a third such batch, held out; about a
quarter are complaints phrased with a service word, a fifth requests for help),
``b8`` (``eval/sets/messages-b8.jsonl``, a fourth such batch of 172, written by an
outside-tester session the same way and held out; about a quarter complaints phrased with a
service word, about a fifth requests for help), ``b9`` (``eval/sets/messages-b9.jsonl``, a fifth
such batch of 209, written by an outside-tester session the same way and held out: complaints,
plain reports, requests and suggestions, 13 very short, some in Sichuan or Cantonese wording),
``t2`` (``eval/sets/messages-t2.jsonl``, written the same way but as a
**tuning** set: the team may read it and tune on it), ``t3``
(``eval/sets/messages-t3.jsonl``, a second outside-written **tuning** set, may be read
and tuned on; about 30 % complaints phrased with a service word, a quarter plain reports
with no complaint word, the rest requests, very short messages and questions about
one's rights in a dispute) and ``dev``
(``eval/sets/dispatch-everyday-dev.jsonl``, rows ``{text, type}``, written from
general knowledge to choose methods on). Unlike the tipdm2020c board messages these are checked
against each bundled catalogue's own departments:

* ``dispatched``: the share routed as 诉求 (a ``dispatch`` block), not a service card
  or not_found;
* ``type_at_1`` / ``type_at_3``: the router's best (or three best) department types
  include a gold type, whatever the confidence;
* ``lead_right``: the lead the citizen is given is right for this catalogue: a
  department of a gold type, or the command centre when the catalogue has no
  department of any gold type (首问负责);
* ``to_command_centre``: the share sent to the command centre;
* ``level1``: the first-level class, where the row gives one.

    wenban dispatch messages -c guangan -c guangdong [--set dev|b6|b7|b8|b9|t2|t3] [--failures]
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from eval.run import unlogged
from wenban.config import REPO_ROOT

MESSAGES = REPO_ROOT / "eval" / "sets" / "messages.jsonl"
SETS = {"heldout": MESSAGES, "dev": REPO_ROOT / "eval" / "sets" / "dispatch-everyday-dev.jsonl",
        "b6": REPO_ROOT / "eval" / "sets" / "messages-b6.jsonl",
        "b7": REPO_ROOT / "eval" / "sets" / "messages-b7.jsonl",
        "b8": REPO_ROOT / "eval" / "sets" / "messages-b8.jsonl",
        "b9": REPO_ROOT / "eval" / "sets" / "messages-b9.jsonl",
        "t2": REPO_ROOT / "eval" / "sets" / "messages-t2.jsonl",
        "t3": REPO_ROOT / "eval" / "sets" / "messages-t3.jsonl"}
# outside-written sets kept for measuring only: never fitted or tuned on
HELD_OUT = ("heldout", "b6", "b7", "b8", "b9")


def load_messages(path: Path = MESSAGES) -> list[dict[str, Any]]:
    """Rows ``{id, message, types: [...], level1: str | None}`` (the dev set's
    ``{text, type}`` is read as the same); a row without a message or gold type is
    an error naming its line."""
    rows = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {n}: not JSON ({e.msg})") from None
        row.setdefault("id", f"line-{n}")
        row.setdefault("message", row.get("text"))
        row.setdefault("types", [row["type"]] if row.get("type") else [])
        if not row.get("message") or not row.get("types"):
            raise ValueError(f"{path}: line {n}: a message and at least one type are needed")
        rows.append(row)
    return rows


def score_messages(rows: list[dict[str, Any]], answers: list[dict[str, Any]],
                   have_types: set[str]) -> dict[str, Any]:
    """Figures for one catalogue from its answers to ``rows`` (same order);
    ``have_types`` are the department types the catalogue has."""
    n = len(rows)
    counts = dict.fromkeys(("dispatched", "type_at_1", "type_at_3", "lead_right", "to_command_centre",
                            "service_card", "not_found"), 0)
    l1_right = l1_total = 0
    failures = []
    for row, ans in zip(rows, answers):
        gold = set(row["types"])
        d = ans.get("dispatch")
        if ans["status"] == "not_found" and not d:
            counts["not_found"] += 1
        if not d:
            counts["service_card"] += ans["status"] in ("answer", "clarify")
            failures.append({"id": row["id"], "message": row["message"], "got": ans["status"]})
            continue
        counts["dispatched"] += 1
        types = [t["type"] for t in d.get("types", [])]
        counts["type_at_1"] += bool(types[:1]) and types[0] in gold
        counts["type_at_3"] += bool(gold & set(types[:3]))
        lead = d["lead"]["type"]
        centre = bool(d.get("to_command_centre"))
        counts["to_command_centre"] += centre
        right = (not centre and lead in gold) or (centre and not gold & have_types)
        counts["lead_right"] += right
        if not right:
            failures.append({"id": row["id"], "message": row["message"], "got": lead, "types": types[:3]})
        if row.get("level1"):
            l1_total += 1
            l1_right += d["category"][0] == row["level1"]
    out: dict[str, Any] = {k: round(v / n, 3) if n else 0.0 for k, v in counts.items()}
    out.update(messages=n, level1_accuracy=round(l1_right / l1_total, 3) if l1_total else None,
               level1_rows=l1_total, failures=failures)
    return out


def evaluate_messages(assistant, catalogue: str, path: Path = MESSAGES) -> dict[str, Any]:
    """Ask every message of ``path`` in ``catalogue`` and score the answers."""
    from store import dispatch as ds

    rows = load_messages(path)
    answers, took = [], []
    with unlogged(assistant):
        for r in rows:
            t0 = time.perf_counter()
            answers.append(assistant.ask(r["message"], catalogue))
            took.append((time.perf_counter() - t0) * 1000)
    have = set(ds.departments_by_type(assistant.db, catalogue))
    ms_p50 = round(sorted(took)[len(took) // 2], 1) if took else 0.0
    return {"catalogue": catalogue, **score_messages(rows, answers, have), "ms_p50": ms_p50}


def fit_threshold(assistant, catalogues: list[str], paths: list[Path], width: float = 0.10,
                  least: float = 0.5, grid: tuple[float, ...] = (0.60, 0.55, 0.50, 0.45, 0.40, 0.35, 0.30, 0.25, 0.20),
                  ) -> tuple[float, list[dict[str, Any]]]:
    """The dispatch confidence under which a lead goes to the command centre, fitted on
    everyday messages labelled with who leads by duty (tuning sets only: t2, t3, dev):
    the lowest threshold on ``grid`` such that, going down from the top, every band of
    leads with confidence in [t, t + ``width``) (the first: [t, 1]) is right at least
    ``least`` of the time.
    A lead is sent to a department when it is more likely right than wrong; the
    command centre routes the rest. Leads are the categories' own (``Router.route``
    with no threshold), on the messages the assistant routes as 诉求.

        t, bands = fit_threshold(assistant, ["guangan", "guangdong"], [SETS["t2"], SETS["dev"]])

    Returns the threshold and the bands as measured (``{"from", "right", "n"}``)."""
    from assistant.dispatch import Router

    pairs: list[tuple[float, bool]] = []
    with unlogged(assistant):
        for cat in catalogues:
            router = Router(assistant.db, cat, threshold=0.0, embedder=assistant.embedder,
                            cache=assistant.embedding_cache())
            for path in paths:
                for r in load_messages(path):
                    if not assistant.ask(r["message"], cat).get("dispatch"):
                        continue
                    d = router.route(r["message"])
                    if d["suggested_lead"]:
                        pairs.append((d["confidence"], d["suggested_lead"]["type"] in r["types"]))
    return choose_threshold(pairs, width, least, grid)


def choose_threshold(pairs: list[tuple[float, bool]], width: float = 0.10, least: float = 0.5,
                     grid: tuple[float, ...] = (0.60, 0.55, 0.50, 0.45, 0.40, 0.35, 0.30, 0.25, 0.20),
                     ) -> tuple[float, list[dict[str, Any]]]:
    """``fit_threshold``'s rule on (confidence, lead right) pairs.

        >>> choose_threshold([(0.9, True), (0.5, True), (0.45, False), (0.44, False), (0.41, True)])[0]
        0.45
    """
    bands, chosen = [], grid[0]
    for t in grid:
        top = 1.01 if t == grid[0] else t + width  # the top band is open above
        band = [ok for c, ok in pairs if t <= c < top]
        right = sum(band) / len(band) if band else 1.0
        bands.append({"from": t, "right": round(right, 3), "n": len(band)})
        if right < least:
            break
        chosen = t
    return chosen, bands
