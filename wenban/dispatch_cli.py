"""``wenban dispatch …``: import a dispatch catalogue or past work orders, map a
department to a type, list categories, measure routing.

    wenban dispatch import guangan duty-list.xlsx
    wenban dispatch history import guangan work-orders.csv
    wenban dispatch override guangdong 广州市城市管理和综合执法局 综合执法
    wenban dispatch categories guangan
    wenban dispatch eval --catalogue guangan [--separation] [--calibrate] [--split dev|heldout|all] [--no-dense]
    wenban dispatch messages -c guangan -c guangdong [--set heldout|b6|b7|b8|b9|t2|t3|dev|FILE] [--failures]
    wenban dispatch messages --set t2,t3,dev --calibrate
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from wenban.config import REPO_ROOT, Settings

MESSAGES = REPO_ROOT.parent / "shared" / "data" / "messages" / "tipdm2020c"


def _log(msg: str) -> None:
    print(msg, file=sys.stderr)


def _known(db, name: str) -> None:
    from assistant.answer import UnknownCatalogue
    from store.db import get_catalogue

    if get_catalogue(db, name) is None:
        raise UnknownCatalogue(f"没有名为 {name!r} 的目录 / unknown catalogue {name!r}")


def cmd_import(args, settings: Settings) -> int:
    from store import dispatch as ds
    from store.db import open_db

    db = open_db(settings.db_path)
    _known(db, args.catalogue)
    rows = ds.load_categories(args.file)
    print(json.dumps(ds.import_categories(db, args.catalogue, rows), ensure_ascii=False))
    return 0


def cmd_history(args, settings: Settings) -> int:
    from assistant.privacy import mask
    from store import dispatch as ds
    from store.db import open_db

    db = open_db(settings.db_path)
    _known(db, args.catalogue)
    rows = ds.load_history(args.file)
    result = ds.import_history(db, args.catalogue, rows, mask=mask)
    untyped = sum(1 for r in rows if not r["type"])
    print(json.dumps({**result, "without_type": untyped}, ensure_ascii=False))
    if untyped:
        _log(f"{untyped} work orders name a department of no known type; map it with "
             f"`wenban dispatch override {args.catalogue} NAME TYPE`")
    return 0


def cmd_override(args, settings: Settings) -> int:
    from store import dispatch as ds
    from store.db import open_db

    db = open_db(settings.db_path)
    _known(db, args.catalogue)
    ds.ensure_schema(db)
    ds.set_override(db, args.catalogue, args.department, args.type)
    print(f"{args.catalogue}: {args.department} → {args.type}")
    return 0


def cmd_categories(args, settings: Settings) -> int:
    from store import dispatch as ds
    from store.db import open_db

    db = open_db(settings.db_path)
    _known(db, args.catalogue)
    by_type = ds.departments_by_type(db, args.catalogue)
    for r in ds.categories(db, args.catalogue):
        dept = (by_type.get(r["lead"]) or ["（本目录无此类部门：指挥中心分拨）"])[0]
        print(f"{r['l1']}/{r['l2']}/{r['l3']}\t{r['lead']}\t{dept}\t配合：{'、'.join(r['support']) or '—'}\t{r['level']}")
    return 0


def cmd_eval(args, settings: Settings) -> int:
    from eval import dispatch as ev

    folder = Path(args.messages)
    if not folder.is_dir():
        raise FileNotFoundError(f"no messages folder {folder} (--messages)")
    splits = ev.SPLITS if args.split == "every" else (args.split,)
    out = ev.run(settings, args.catalogue, folder, separation=args.separation, calibrate=args.calibrate, log=_log,
                 splits=splits, dense=not args.no_dense)
    print(json.dumps(out, ensure_ascii=False, indent=2))
    path = settings.home / "eval" / "dispatch" / f"{args.catalogue}.json"
    ev.save(out, path)
    _log(f"wrote {path}")
    return 0


def cmd_messages(args, settings: Settings) -> int:
    from assistant.answer import Assistant
    from eval.messages import SETS, evaluate_messages

    assistant = Assistant(settings, log=_log)
    assistant.log_unanswered = False
    if args.calibrate:
        return _calibrate(assistant, args)
    path = SETS.get(args.set) or Path(args.set)
    reports = [evaluate_messages(assistant, cat, path) for cat in args.catalogue or ["guangan", "guangdong"]]
    for r in reports:
        head = {k: v for k, v in r.items() if k != "failures"}
        print(json.dumps(head, ensure_ascii=False))
        if args.failures:
            for f in r["failures"]:
                print(f"  ✗ {f['id']} {f['message']} → {f['got']} {f.get('types', '')}")
    out = settings.home / "eval" / "dispatch" / f"messages-{path.stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(reports, ensure_ascii=False, indent=2), encoding="utf-8")
    _log(f"wrote {out}")
    return 0


def _calibrate(assistant, args) -> int:
    from assistant.dispatch import CALIBRATION
    from eval.messages import HELD_OUT, SETS, fit_threshold

    names = [n.strip() for n in args.set.split(",") if n.strip()]
    if any(n in HELD_OUT for n in names):
        print(f"error: {', '.join(HELD_OUT)} are held out (for measuring only); fit on tuning sets, "
              "e.g. --set t2,t3,dev", file=sys.stderr)
        return 2
    paths = [SETS.get(n) or Path(n) for n in names]
    threshold, bands = fit_threshold(assistant, args.catalogue or ["guangan", "guangdong"], paths)
    for i, b in enumerate(bands):
        upto = "1.00" if i == 0 else f"{b['from'] + 0.10:.2f}"
        print(f"  confidence {b['from']:.2f}–{upto}: lead right {b['right']:.3f} of {b['n']}")
    CALIBRATION.write_text(json.dumps({
        "threshold": threshold,
        "fitted_on": f"everyday messages labelled with who leads by duty ({', '.join(names)}; tuning sets), "
                     "routed leads right at least half the time in every 0.10 band above it "
                     "(wenban dispatch messages --set " + args.set + " --calibrate)"},
        ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    print(f"dispatch threshold {threshold} → {CALIBRATION}")
    return 0


def add_parser(sub) -> None:
    p = sub.add_parser("dispatch", help="诉求 routing: dispatch catalogue, work-order history, eval")
    d = p.add_subparsers(dest="dispatch_command", required=True)
    s = d.add_parser("import", help="import a dispatch catalogue (CSV/XLSX/JSONL), all-or-nothing")
    s.add_argument("catalogue")
    s.add_argument("file")
    s.set_defaults(func=cmd_import)
    h = d.add_parser("history", help="past work orders")
    hs = h.add_subparsers(dest="history_command", required=True)
    s = hs.add_parser("import", help="import past work orders (text, handling department, date)")
    s.add_argument("catalogue")
    s.add_argument("file")
    s.set_defaults(func=cmd_history)
    s = d.add_parser("override", help="map one of the catalogue's departments to a department type")
    s.add_argument("catalogue")
    s.add_argument("department")
    s.add_argument("type")
    s.set_defaults(func=cmd_override)
    s = d.add_parser("categories", help="list the categories and the department each goes to")
    s.add_argument("catalogue")
    s.set_defaults(func=cmd_categories)
    s = d.add_parser("eval", help="measure routing on real messages (tipdm2020c)")
    s.add_argument("--catalogue", "-c", default="guangan")
    s.add_argument("--messages", default=str(MESSAGES), help="the tipdm2020c folder")
    s.add_argument("--separation", action="store_true", help="also service-vs-诉求 separation (loads the model)")
    s.add_argument("--calibrate", action="store_true", help="refit data/dispatch/calibration.json first (on dev)")
    s.add_argument("--split", choices=("every", "dev", "heldout", "all"), default="every",
                   help="messages by time: dev = earlier half, heldout = later half (default: every split)")
    s.add_argument("--no-dense", action="store_true", help="TF-IDF only: no embedding model, no dense match")
    s.set_defaults(func=cmd_eval)
    s = d.add_parser("messages", help="measure routing on everyday messages (eval/sets/messages.jsonl) per catalogue")
    s.add_argument("--catalogue", "-c", action="append", help="catalogue(s); default: guangan and guangdong")
    s.add_argument("--set", default="heldout",
                   help="heldout: eval/sets/messages.jsonl (outside-written, 115); dev: "
                        "eval/sets/dispatch-everyday-dev.jsonl (48, for choosing methods); b6: "
                        "eval/sets/messages-b6.jsonl (a second outside-written batch, 132); b7: "
                        "eval/sets/messages-b7.jsonl (a third outside-written batch, 171); b8: "
                        "eval/sets/messages-b8.jsonl (a fourth outside-written batch, 172); b9: "
                        "eval/sets/messages-b9.jsonl (a fifth outside-written batch, 209); t2: "
                        "eval/sets/messages-t2.jsonl (outside-written for tuning, 191: may be read); t3: "
                        "eval/sets/messages-t3.jsonl (a second outside-written tuning set, 261: may be read); "
                        "or a JSONL path")
    s.add_argument("--failures", action="store_true", help="list every message routed wrongly")
    s.add_argument("--calibrate", action="store_true",
                   help="refit data/dispatch/calibration.json on the sets given to --set (a comma list of "
                        "tuning sets, e.g. t2,t3,dev): the lowest confidence whose 0.10 bands above are right ≥ half the time")
    s.set_defaults(func=cmd_messages)
