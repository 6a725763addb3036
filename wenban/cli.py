"""The ``wenban`` command: the library's functions, one sub-command each.

    wenban setup                                   # model + bundled catalogues + indexes
    wenban import guangan ../shared/data/catalogues/guangan/bszl-data.json --format guangan
    wenban index guangan
    wenban ask "孩子刚出生怎么上户口" --catalogue guangan --json
    wenban chat --catalogue guangdong
    wenban eval --catalogue guangan --compare
    wenban serve --port 8000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from wenban.config import Settings
from wenban.data_cli import (EXIT_BAD_INPUT, _log, bundled, cmd_import, cmd_index, cmd_setup,  # noqa: F401
                             cmd_train, import_bundled)



def cmd_ask(args, settings: Settings) -> int:
    from assistant.answer import Assistant, BadQuestion
    from assistant.card import render_card

    if args.jsonl:
        assistant = Assistant(settings, log=_log)
        if args.site:
            args.catalogue = assistant.site(args.site, args.catalogue).catalogue
        assistant.catalogue(args.catalogue)
        for n, line in enumerate(sys.stdin, start=1):
            line = line.rstrip("\n")
            if not line.strip():
                continue
            try:
                out = assistant.ask(line, args.catalogue, site=args.site)
            except BadQuestion as e:
                out = {"status": "error", "line": n, "question": line, "error": str(e)}
            print(json.dumps(out, ensure_ascii=False), flush=True)
        return 0
    if args.question is None:
        _log("give a question, or --jsonl to read one a line from stdin")
        return EXIT_BAD_INPUT
    from assistant.answer import check_question

    check_question(args.question)  # refuse bad input before loading the model
    assistant = Assistant(settings, log=_log)
    out = assistant.ask(args.question, args.catalogue, site=args.site)
    print(json.dumps(out, ensure_ascii=False, indent=2) if args.json else render_card(out))
    return 0


def render_turn(reply: dict[str, Any]) -> str:
    from assistant.card import render_card

    if reply["status"] == "follow_up":
        return reply["follow_up"]["text"]
    return render_card(reply)


def cmd_chat(args, settings: Settings) -> int:
    """A conversation in the terminal: one message a line, an empty line or EOF ends it."""
    from assistant.answer import Assistant, BadQuestion
    from assistant.dialogue import Dialogue

    assistant = Assistant(settings, log=_log)
    assistant.catalogue(args.catalogue)
    dialogue = Dialogue(assistant, idle_seconds=args.idle)
    sid = None
    interactive = sys.stdin.isatty()
    if interactive:
        print(f"问办 · {args.catalogue}：请说出您要办的事（空行退出）")
    while True:
        if interactive:
            print("> ", end="", flush=True)
        line = sys.stdin.readline()
        if not line or not line.strip():
            break
        try:
            reply = dialogue.turn(sid, line.strip(), args.catalogue)
        except BadQuestion as e:
            print(f"（{e}）", flush=True)
            continue
        if sid and reply["session_id"] != sid:
            print("（会话已超时，已重新开始）")
        sid = reply["session_id"]
        print(render_turn(reply), flush=True)
        print(flush=True)
    if sid:
        dialogue.end(sid)
    return 0


def _splits(text: str) -> list[str]:
    from eval.run import parse_splits

    try:
        return parse_splits(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def cmd_eval(args, settings: Settings) -> int:
    from assistant.answer import Assistant
    from assistant.dialogue import Dialogue
    from eval.report import write_reports
    from eval.run import (MODES, evaluate, evaluate_dialogues, fit_calibration, format_reports,
                          save_calibration)

    assistant = Assistant(settings, log=_log)
    assistant.log_unanswered = False  # the eval's questions are not citizens' (evaluate() also sees to it)
    cats = args.catalogue or list(bundled())
    if args.calibrate:
        from index.search import calibration_path

        cal = fit_calibration(assistant, cats, split="dev")
        path = calibration_path(assistant.embedder.path)  # one file per model (index/search.py)
        save_calibration(cal, path)
        print(f"calibration → {path.name}: threshold {cal.threshold}, weights {cal.weights} ({cal.fitted_on})")
        for cat in cats:
            assistant.retriever(cat).calibration = cal
    all_reports, dialogues = [], []
    dialogue = Dialogue(assistant)
    for cat in cats:
        modes = MODES if args.compare else ("hybrid",)
        reports = [evaluate(assistant, cat, split=sp, mode=m) for sp in args.split for m in modes]
        all_reports += reports
        print(format_reports(reports))
        d = evaluate_dialogues(dialogue, cat)
        if d["conversations"]:
            dialogues.append(d)
            print(f"{'follow_up_accuracy':28}{d['follow_up_accuracy']:>10.3f}   "
                  f"({d['follow_up_turns']} follow-up turns in {d['conversations']} conversations)")
        if args.failures:
            for f in (f for r in reports if r["mode"] == modes[-1] for f in r["failures"]):
                print(f"  ✗ {f['id']} {f['question']} → {f['status']} {f['got']} ({f['got_department']}), "
                      f"gold {f['gold']}, rank {f['rank']}, score {f['score']}")
            for f in d["failures"]:
                print(f"  ✗ {f['id']} {f['say']} → {f['status']}, expected {f['expected']}")
        print()
    out_dir = Path(args.report) if args.report else settings.home / "eval" / "latest"
    for path in write_reports(all_reports, dialogues, out_dir):
        _log(f"wrote {path}")
    return 0


def cmd_library(args, settings: Settings) -> int:
    """The question library: export/import as CSV, add a synonym, attach a question."""
    from store import library as lib
    from store.db import get_catalogue, open_db

    db = open_db(settings.db_path)
    lib.ensure_schema(db)
    if get_catalogue(db, args.catalogue) is None:
        _log(f"wenban: unknown catalogue {args.catalogue!r}")
        return EXIT_BAD_INPUT
    who = args.who or os.environ.get("USER") or "cli"
    if args.action == "export":
        text = lib.export_csv(db, args.catalogue)
        if args.out:
            Path(args.out).write_text(text, encoding="utf-8")
            _log(f"wrote {args.out}")
        else:
            sys.stdout.write(text)
    elif args.action == "import":
        counts = lib.import_csv(db, args.catalogue, Path(args.file).read_text(encoding="utf-8-sig"), who,
                                known_codes=lib.codes(db, args.catalogue))
        print(f"{args.catalogue}: {counts['questions']} questions, {counts['synonyms']} synonyms imported "
              f"(library version {lib.version(db, args.catalogue)})")
    elif args.action == "synonym":
        row = lib.add_synonym(db, args.catalogue, args.everyday, args.official, who=who)
        print(f"{row['everyday']} → {row['official']} (library version {lib.version(db, args.catalogue)})")
    else:  # attach
        row = lib.add_question(db, args.catalogue, args.question, code=args.code, out_of_scope=args.out_of_scope,
                               who=who, known_codes=lib.codes(db, args.catalogue))
        print(f"{row['question']} → {row['code'] or '不属于办事范围'} (library version {lib.version(db, args.catalogue)})")
    return 0


def cmd_catalogues(args, settings: Settings) -> int:
    from index.build import read_manifest
    from store.db import catalogues, open_db

    db = open_db(settings.database)
    for c in catalogues(db):
        m = read_manifest(settings, c["name"])
        idx = f"index {m['build_id']} ({m['index_type']})" if m else "no index"
        print(f"{c['name']:12} v{c['version']:<3} {c['item_count']:>6} items  {idx}  {c['title']}")
    return 0


def cmd_serve(args, settings: Settings) -> int:
    import logging

    import uvicorn

    from api.app import create_app

    # our access log masks ID-card and phone numbers; uvicorn's own would not
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    if not settings.admin_token:
        _log("admin routes and /quality data are off: set WENBAN_ADMIN_TOKEN to turn them on")
    if args.workers > 1:
        # each worker process builds its own app from the environment; conversations and
        # catalogue versions are shared through the store, so any worker answers any turn
        uvicorn.run("api.app:create_app", factory=True, host=args.host, port=args.port, workers=args.workers,
                    log_level="info", access_log=False)
    else:
        uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="info", access_log=False)
    return 0


def cmd_audit(args, settings: Settings) -> int:
    """The admin audit trail (every admin action and auth failure), CSV or JSON."""
    from store import audit
    from store import db as store

    since = args.since
    if since:
        from datetime import datetime

        since = datetime.fromisoformat(since).isoformat()  # ValueError: a clear message, exit 2
    entries = audit.rows(store.open_db(settings.db_path), since=since)
    sys.stdout.write(audit.to_csv(entries) if args.format == "csv" else audit.to_json(entries) + "\n")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="wenban", description="问办: government service answers from the official catalogue")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("setup", help="prepare the model, import the bundled catalogues, build indexes (skips what is done)")
    s.set_defaults(func=cmd_setup)

    s = sub.add_parser("import", help="import a catalogue file (all-or-nothing)")
    s.add_argument("name", help="catalogue name, e.g. guangan")
    s.add_argument("file", help="the file: .json/.jsonl/.csv/.xlsx")
    s.add_argument("--format", default="generic", choices=["generic", "guangan", "guangdong"])
    s.add_argument("--title", help="a human title for a new catalogue")
    s.add_argument("--diff", action="store_true", help="print the added/changed/removed codes")
    s.add_argument("--no-index", action="store_true",
                   help="do not rebuild the index after a changed import (the old one keeps answering)")
    s.set_defaults(func=cmd_import)

    s = sub.add_parser("index", help="build the search indexes of a catalogue")
    s.add_argument("name", nargs="?")
    s.add_argument("--all", action="store_true", help="every catalogue in the store")
    s.set_defaults(func=cmd_index)

    s = sub.add_parser("train", help="train the query adapter, or with --full the encoder's top layers, "
                                      "on pairs made from the catalogues (seeded)")
    s.add_argument("--catalogue", "-c", action="append", help="catalogue(s); default: every one in the store")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--epochs", type=int, help="default 30 for the adapter, 1 with --full")
    s.add_argument("--full", action="store_true",
                   help="fine-tune the top --layers of the encoder → data/models/e5-small-wenban/")
    s.add_argument("--layers", type=int, default=2, help="with --full: how many top layers train")
    s.add_argument("--batch", type=int, default=64, help="with --full: triplets per batch")
    s.add_argument("--lr", type=float, default=5e-5, help="with --full: learning rate")
    s.add_argument("--per-item", type=int, default=4, help="with --full: questions made per item")
    s.add_argument("--max-pairs", type=int, help="train on a seeded sample of this many pairs (a bounded run)")
    s.add_argument("--out", help="adapter file (default: $WENBAN_HOME/models/query-adapter.npz), "
                                 "or with --full the artifact folder (default: data/models/e5-small-wenban)")
    s.set_defaults(func=cmd_train)

    s = sub.add_parser("ask", help="answer one question (or --jsonl: one a line from stdin)")
    s.add_argument("question", nargs="?")
    s.add_argument("--catalogue", "-c", help="required unless --site names it")
    s.add_argument("--site", "-s", help="a configured site or a 行政区划代码: only items serving its area")
    s.add_argument("--json", action="store_true", help="print the answer as JSON")
    s.add_argument("--jsonl", action="store_true", help="read questions from stdin, one JSON answer a line")
    s.set_defaults(func=cmd_ask)

    s = sub.add_parser("chat", help="a conversation in the terminal (clarify, follow-ups)")
    s.add_argument("--catalogue", "-c", required=True)
    s.add_argument("--idle", type=float, default=300, help="seconds of silence before the session resets")
    s.set_defaults(func=cmd_chat)

    s = sub.add_parser("eval", help="score answers on the evaluation sets")
    s.add_argument("--catalogue", "-c", action="append", help="catalogue(s); default: the bundled ones")
    s.add_argument("--split", default=["heldout"], type=_splits, metavar="SPLIT[,SPLIT…]",
                   help="dev, heldout (the first batch's held-out third), b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12 (held out), t1, t2, t4, t5, t6 (tuning), all, or a comma list "
                   "such as dev,heldout,b2,b3,b4,b5,b6,b7,b8,b9: one column per split (default: heldout)")
    s.add_argument("--compare", action="store_true", help="BM25-only, dense-only and hybrid side by side")
    s.add_argument("--failures", action="store_true", help="list every question answered wrongly")
    s.add_argument("--calibrate", action="store_true", help="refit data/calibration.json on the dev split first")
    s.add_argument("--report", metavar="DIR", help="where report.json, report.md and the plots go "
                   "(default: $WENBAN_HOME/eval/latest)")
    s.set_defaults(func=cmd_eval)

    s = sub.add_parser("library", help="the question library: export, import, synonym, attach")
    lsub = s.add_subparsers(dest="action", required=True)
    x = lsub.add_parser("export", help="write the library of a catalogue as CSV")
    x.add_argument("catalogue")
    x.add_argument("--out", "-o", help="file (default: stdout)")
    x = lsub.add_parser("import", help="read a library CSV (as exported), all-or-nothing")
    x.add_argument("catalogue")
    x.add_argument("file")
    x = lsub.add_parser("synonym", help="add an everyday word for an official term")
    x.add_argument("catalogue")
    x.add_argument("everyday")
    x.add_argument("official")
    x = lsub.add_parser("attach", help="attach a real question to an item (or mark it out of scope)")
    x.add_argument("catalogue")
    x.add_argument("question")
    g = x.add_mutually_exclusive_group(required=True)
    g.add_argument("--code", help="the item code")
    g.add_argument("--out-of-scope", action="store_true")
    for x in lsub.choices.values():
        x.add_argument("--who", help="who, for the audit trail (default: $USER)")
    s.set_defaults(func=cmd_library)

    from wenban.dispatch_cli import add_parser as add_dispatch
    add_dispatch(sub)

    s = sub.add_parser("catalogues", help="list the catalogues in the store")
    s.set_defaults(func=cmd_catalogues)

    s = sub.add_parser("audit", help="the admin audit trail")
    s.add_argument("action", choices=["export"])
    s.add_argument("--since", help="ISO date or time (UTC), e.g. 2026-11-01")
    s.add_argument("--format", default="csv", choices=["csv", "json"])
    s.set_defaults(func=cmd_audit)

    s = sub.add_parser("serve", help="serve the HTTP API and the kiosk page")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, default=1,
                   help="worker processes (each loads the model, ~1.4 GB); they share state through the store")
    s.set_defaults(func=cmd_serve)
    return p


def main(argv: list[str] | None = None) -> int:
    from assistant.answer import BadQuestion, UnknownCatalogue
    from assistant.sites import BadSite
    from index.build import BuildError
    from store.importers import ImportFailed

    args = parser().parse_args(argv)
    settings = Settings.from_env()
    try:
        return args.func(args, settings)
    except (BadQuestion, UnknownCatalogue, BadSite, ImportFailed, BuildError, FileNotFoundError, ValueError) as e:
        _log(f"wenban: {e}")
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
