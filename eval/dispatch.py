"""Measuring 诉求 routing on real citizen messages (tipdm2020c, read from
``../shared/data/messages/``, never copied here).

* category: the first-level class of the 495 labelled messages, zero-shot from
  the dispatch catalogue (our level-1 names mapped to the taxonomy's), and with
  the replied messages as past work orders (``category_history_report``);
* department: the handling unit's type read from each official reply of the
  2,816 replied messages (``eval/reply_units.reply_type``), then routing accuracy@1/@3,
  zero-shot and with earlier messages as history;

Every figure is given per split by message time (``SPLITS``): ``dev`` is the
earlier half, where methods and weights are chosen; ``heldout`` the later half,
only reported; ``all`` everything (for the department: the latest 20 % after
the earlier 80 % as history, as first reported).
* separation: service eval questions routed as 诉求; messages answered with a
  service card (needs the model: ``separation``).

    >>> report = evaluate_messages(Path("../shared/data/messages/tipdm2020c"))   # doctest: +SKIP
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score

from assistant.dispatch import HistoryModel, Router
from eval.reply_units import reply_type
from store import dispatch as ds
from store.db import open_db

# Our level-1 names → the taxonomy's first-level names (the label set evaluated against).
TO_TAXONOMY = {"公共安全": "政法"}


def _rows(path: Path) -> list[dict[str, Any]]:
    import openpyxl

    wb = openpyxl.load_workbook(path, read_only=True)
    it = wb.worksheets[0].iter_rows(values_only=True)
    heads = [str(h) for h in next(it)]
    out = [dict(zip(heads, r)) for r in it if r and r[0] is not None]
    wb.close()
    return out


def message_text(r: dict[str, Any], limit: int = 500) -> str:
    """Subject + details, whitespace squeezed, cut to the kiosk's 500 characters."""
    text = re.sub(r"\s+", " ", f"{r['留言主题']}。{r['留言详情'] or ''}").strip()
    return text[:limit]


def load_labelled(folder: Path) -> list[dict[str, Any]]:
    return [{"id": r["留言编号"], "text": message_text(r), "label": r["一级分类"], "date": ds.parse_date(r["留言时间"])}
            for r in _rows(folder / "messages_labelled.xlsx")]


def load_replied(folder: Path) -> list[dict[str, Any]]:
    out = []
    for r in _rows(folder / "messages_replied.xlsx"):
        t, unit = reply_type(str(r["答复意见"] or ""))
        out.append({"id": r["留言编号"], "text": message_text(r), "subject": re.sub(r"\s+", "", str(r["留言主题"] or "")),
                    "date": ds.parse_date(r["留言时间"]),
                    "type": t, "unit": unit, "reply_head": re.sub(r"\s+", "", str(r["答复意见"] or ""))[:160]})
    return sorted(out, key=lambda x: x["date"] or "")


SPLITS = ("dev", "heldout", "all")


def by_time(rows: list[dict[str, Any]], split: str) -> list[dict[str, Any]]:
    """The earlier half (``dev``), the later half (``heldout``) or ``all``, by message time."""
    rows = sorted(rows, key=lambda m: m["date"] or "")
    half = len(rows) // 2
    return {"dev": rows[:half], "heldout": rows[half:], "all": rows}[split]


def history_split(known: list[dict[str, Any]], split: str) -> tuple[list, list]:
    """(history, test) by time: dev = 1st quarter → 2nd quarter (both in the earlier
    half); heldout = earlier half → later half; all = earlier 80 % → latest 20 %."""
    n = len(known)
    cut = {"dev": (n // 4, n // 2), "heldout": (n // 2, n), "all": (int(n * 0.8), n)}[split]
    return known[:cut[0]], known[cut[0]:cut[1]]


def _scores(gold: list[str], pred: list[str]) -> dict[str, Any]:
    labels = sorted(set(gold))
    per = f1_score(gold, pred, labels=labels, average=None, zero_division=0)
    return {"n": len(gold), "accuracy": round(accuracy_score(gold, pred), 3),
            "macro_f1": round(float(f1_score(gold, pred, labels=labels, average="macro", zero_division=0)), 3),
            "per_class_f1": {k: round(float(v), 3) for k, v in zip(labels, per)}}


def _level1(router: Router, text: str) -> str:
    row = router.rows[int(np.argmax(router.weights(text)))]
    return TO_TAXONOMY.get(row["l1"], row["l1"])


def category_report(router: Router, labelled: list[dict[str, Any]]) -> dict[str, Any]:
    """First-level class as ``router`` chooses it: accuracy and macro-F1 over the gold classes."""
    return _scores([m["label"] for m in labelled], [_level1(router, m["text"]) for m in labelled])


HISTORY_CUTS = ("all", "before_split", "before_each")


def category_history_report(db, catalogue: str, labelled: list[dict[str, Any]], replied: list[dict[str, Any]],
                            split: str, embedder=None) -> dict[str, Any]:
    """First-level class with the replied messages (typed by their reply) imported
    as past work orders, so the router's level-1 model learns from them. Replied
    messages that are also labelled ones (same 留言编号 or text) are left out.
    ``HISTORY_CUTS``: ``all`` every typed replied message (2011–2020: mostly later
    than the dev messages); ``before_split`` only those dated before the split's
    first message; ``before_each`` for each message only those dated before the
    start of its year (one model per year)."""
    test = by_time(labelled, split)
    ids, texts = {m["id"] for m in labelled}, {m["text"] for m in labelled}
    known = [m for m in replied if m["type"]]
    history = [m for m in known if m["id"] not in ids and m["text"] not in texts]
    out: dict[str, Any] = {"typed_replied": len(known), "overlap_left_out": len(known) - len(history)}
    for cut in HISTORY_CUTS:
        if cut == "before_each":
            groups: dict[str, list] = {}
            for m in test:
                groups.setdefault((m["date"] or "")[:4] + "-01-01", []).append(m)
        else:
            groups = {"9999" if cut == "all" else (test[0]["date"] or ""): test}
        gold, pred, used = [], [], []
        for start, msgs in sorted(groups.items()):
            past = [m for m in history if (m["date"] or "") < start]
            ds.import_history(db, catalogue, [{"text": m["text"], "type": m["type"], "date": m["date"],
                                               "department": m["unit"]} for m in past])
            router = Router(db, catalogue, threshold=0.0, embedder=embedder)
            gold += [m["label"] for m in msgs]
            pred += [_level1(router, m["text"]) for m in msgs]
            used += [len(past) if router.level1 is not None else 0] * len(msgs)
        out[cut] = _scores(gold, pred) | {"history_median": int(np.median(used)), "history_min": min(used),
                                          "history_max": max(used)}
    ds.import_history(db, catalogue, [])
    return out


def category_trained(labelled: list[dict[str, Any]]) -> dict[str, Any]:
    """For comparison: a classifier trained on the earlier half (dev) of the
    labelled messages, scored on the later half (heldout)."""
    train, test = by_time(labelled, "dev"), by_time(labelled, "heldout")
    model = HistoryModel([m["text"] for m in train], [m["label"] for m in train])
    cut = len(train)
    gold = [m["label"] for m in test]
    pred = [model.predict(m["text"])[0][0] for m in test]
    return {"train": cut, "test": len(test), "accuracy": round(accuracy_score(gold, pred), 3),
            "macro_f1": round(float(f1_score(gold, pred, labels=sorted(set(gold)), average="macro",
                                             zero_division=0)), 3)}


def department_report(db, catalogue: str, replied: list[dict[str, Any]], split: str = "all",
                      embedder=None) -> dict[str, Any]:
    """Department-type accuracy@1/@3 on the replied messages whose reply names a
    unit, time-ordered (``history_split``): zero-shot, and with the earlier ones
    imported as history."""
    known = [m for m in replied if m["type"]]
    train, test = history_split(known, split)
    out: dict[str, Any] = {"replied": len(replied), "with_unit": len(known), "train": len(train), "test": len(test),
                           "train_until": train[-1]["date"] if train else None,
                           "test_from": test[0]["date"] if test else None}
    ds.import_history(db, catalogue, [])  # zero-shot first
    for name, rows in (("zero_shot", []), ("with_history", train)):
        ds.import_history(db, catalogue, [{k: m[k] for k in ("text", "type", "date")} | {"department": m["unit"]}
                                          for m in rows])
        router = Router(db, catalogue, threshold=0.0, embedder=embedder)
        at1 = at3 = 0
        confs, right = [], []
        for m in test:
            ranking = router.type_ranking(m["text"])
            ranked = [t for t, _ in ranking]
            at1 += ranked[:1] == [m["type"]]
            at3 += m["type"] in ranked[:3]
            confs.append(ranking[0][1])
            right.append(ranked[:1] == [m["type"]])
        out[name] = {"at1": round(at1 / max(len(test), 1), 3), "at3": round(at3 / max(len(test), 1), 3)}
        out[name]["confidence_buckets"] = _buckets(confs, right)
    return out


def _buckets(confs: list[float], right: list[bool]) -> list[dict[str, Any]]:
    """Accuracy of the routed lead above each confidence level: where the command
    centre should take over."""
    c, r = np.array(confs), np.array(right)
    return [{"min_confidence": t, "share": round(float((c >= t).mean()), 3),
             "accuracy": round(float(r[c >= t].mean()), 3) if (c >= t).any() else None}
            for t in (0.0, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7)]


def fit_threshold(db, catalogue: str, replied: list[dict[str, Any]], target: float = 0.6,
                  embedder=None, field: str = "text") -> float:
    """The lowest confidence whose routed leads are right ≥ ``target`` of the time,
    fitted zero-shot on the earlier half (dev) only (the later half is never seen).
    ``field="subject"``: on the messages' subjects alone, short statements of the
    matter like those asked at a kiosk ("小区电梯经常坏")."""
    known = by_time([m for m in replied if m["type"]], "dev")
    router = Router(db, catalogue, threshold=0.0, use_history=False, embedder=embedder)
    pairs = [(router.type_ranking(m[field])[0], m["type"]) for m in known]
    for t in np.arange(0.1, 0.95, 0.05):
        sel = [(tp == g) for (tp, c), g in pairs if c >= t]
        if len(sel) >= 20 and np.mean(sel) >= target:
            return round(float(t), 2)
    return 0.9


def scratch_db(settings, catalogue: str):
    """A throwaway store holding only ``catalogue``'s departments and enquiry, so
    evaluation never touches the real history."""
    src = open_db(settings.db_path)
    db = open_db(":memory:")
    db["catalogues"].insert_all(src.query("select * from catalogues where name = ?", [catalogue]), pk="name")
    db["items"].insert_all(src.query("select catalogue, code, department from items where catalogue = ?",
                                     [catalogue]), alter=True)
    ds.ensure_schema(db)
    return db


def save(report: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, ensure_ascii=False, indent=2), encoding="utf-8")


def separation(settings, catalogue: str, labelled: list[dict[str, Any]], log=print, every: int = 1,
               services: bool = True) -> dict[str, Any]:
    """Service questions routed as 诉求, and messages answered with a service card
    (``every``: every n-th message only, for a quicker run)."""
    from assistant.answer import Assistant
    from eval.run import load_set

    assistant = Assistant(settings, log=log)
    out: dict[str, Any] = {}
    for cat in ("guangan", "guangdong") if services else ():
        rows = load_set(cat, "all")
        answers = [assistant.ask(r["question"], cat) for r in rows]
        inscope = [a for a, r in zip(answers, rows) if r["expect"] == "answer"]
        out[f"service_{cat}"] = {
            "questions": len(rows), "in_scope": len(inscope),
            "routed_as_complaint": round(sum(a["status"] == "dispatch" for a in inscope) / max(len(inscope), 1), 3),
            "intents": dict(sorted(_count(a["intent"] for a in answers).items()))}
    answers = [assistant.ask(m["text"], catalogue) for m in labelled[::every]]
    out["messages"] = {
        "messages": len(answers),
        "answered_with_service_card": round(sum(a["status"] in ("answer", "clarify") for a in answers) / len(answers), 3),
        "dispatched": round(sum(a["status"] == "dispatch" for a in answers) / len(answers), 3),
        "to_command_centre": round(sum(bool(a.get("dispatch", {}).get("to_command_centre")) for a in answers)
                                   / len(answers), 3),
        "intents": dict(sorted(_count(a["intent"] for a in answers).items()))}
    return out


def _count(values) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return out


class MemoEmbedder:
    """The assistant's embedder with query vectors remembered, embedded in batches
    ahead (``warm``): the evaluation routes each message several times."""

    def __init__(self, embedder):
        self.inner, self.id, self.memo = embedder, embedder.id, {}

    def warm(self, texts: list[str], batch: int = 32) -> None:
        from assistant.dispatch_score import QUERY_CHARS

        todo = list(dict.fromkeys(t[:QUERY_CHARS] for t in texts if t[:QUERY_CHARS] not in self.memo))
        for i in range(0, len(todo), batch):
            vecs = self.inner._encode(todo[i:i + batch], self.inner._query_prompt)
            self.memo.update(zip(todo[i:i + batch], vecs))

    def query(self, texts):
        missing = [t for t in texts if t not in self.memo]
        if missing:
            self.memo.update(zip(missing, self.inner.query(missing)))
        return np.stack([self.memo[t] for t in texts])

    def passages(self, texts, cache=None):
        return self.inner.passages(texts, cache=cache)


def run(settings, catalogue: str, folder: Path, separation_too: bool = False, calibrate: bool = False,
        log=print, splits: tuple[str, ...] = SPLITS, dense: bool = True, **kw) -> dict[str, Any]:
    """Every dispatch figure for one catalogue, per split (``SPLITS``); ``dense``
    loads the embedding model for the dense match (as the assistant routes). The
    hand-check sample of extracted reply units goes to
    ``$WENBAN_HOME/eval/dispatch/reply-units.tsv`` (never committed)."""
    from assistant.dispatch import CALIBRATION

    separation_too = separation_too or kw.get("separation", False)
    labelled, replied = load_labelled(folder), load_replied(folder)
    db = scratch_db(settings, catalogue)
    embedder = None
    if dense:
        from index.embedder import Embedder

        embedder = MemoEmbedder(Embedder(settings, log=log))
        log("embedding the messages once …")
        embedder.warm([m["text"] for m in labelled] + [m["text"] for m in replied if m["type"]])
    report: dict[str, Any] = {"catalogue": catalogue, "dense": dense, "splits": {}}
    if calibrate:
        t = fit_threshold(db, catalogue, replied, embedder=embedder)
        CALIBRATION.write_text(json.dumps({"threshold": t, "fitted_on": "tipdm2020c replied messages, earlier half "
                                           "by time (dev), zero-shot routing" + (" with the dense match" if dense else "")
                                           + ", lead right ≥ 60 % above it"},
                                          ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        log(f"dispatch threshold {t} → {CALIBRATION}")
    for split in splits:
        router = Router(db, catalogue, use_history=False, embedder=embedder)
        report["splits"][split] = {
            "category_zero_shot": category_report(router, by_time(labelled, split)),
            "category_with_history": category_history_report(db, catalogue, labelled, replied, split, embedder),
            "department": department_report(db, catalogue, replied, split, embedder)}
        log(f"{split}: " + json.dumps(_headline(report["splits"][split]), ensure_ascii=False))
    report["category_trained_dev_to_heldout"] = category_trained(labelled)
    sample = settings.home / "eval" / "dispatch" / "reply-units.tsv"
    sample.parent.mkdir(parents=True, exist_ok=True)
    step = max(len(replied) // 100, 1)
    sample.write_text("".join(f"{m['id']}\t{m['type']}\t{m['unit']}\t{m['reply_head']}\n"
                              for m in replied[::step][:100]), encoding="utf-8")
    if separation_too:
        report["separation"] = separation(settings, catalogue, labelled, log=log)
    return report


def _headline(r: dict[str, Any]) -> dict[str, Any]:
    d = r["department"]
    h = r["category_with_history"]
    return {"category_macro_f1": r["category_zero_shot"]["macro_f1"], "category_n": r["category_zero_shot"]["n"],
            "category_history_macro_f1": {c: h[c]["macro_f1"] for c in HISTORY_CUTS},
            "dept_test": d["test"], "zero_shot_at1_at3": [d["zero_shot"]["at1"], d["zero_shot"]["at3"]],
            "history_at1_at3": [d["with_history"]["at1"], d["with_history"]["at3"]]}
