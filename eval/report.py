"""Write evaluation results as JSON, Markdown and a per-department accuracy plot.

    >>> write_reports(reports, dialogues, Path("var/eval/latest"))   # doctest: +SKIP
    [PosixPath('var/eval/latest/report.json'), …report.md, …guangan-heldout-departments.png,
     …guangan-departments.png]

One plot per catalogue and split (``guangan-b3-departments.png``); the
first split's is also ``guangan-departments.png``, the one the quality page shows.
The plot labels departments D1, D2 … (the Markdown table says which is which):
the machine has no CJK font, and a plot of empty boxes helps nobody.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from eval.run import METRIC_ROWS


def _fmt(v: Any) -> str:
    if v is None:
        return "—"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def plot_departments(report: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no screen here
    import matplotlib.pyplot as plt

    rows = report["departments"]
    names = [f"D{i}" for i in range(1, len(rows) + 1)]
    fig, ax = plt.subplots(figsize=(max(6, 0.45 * len(rows) + 2), 4), dpi=100)
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x], [r["department@1"] for r in rows], width=0.4, label="department@1")
    ax.bar([i + 0.2 for i in x], [r["accuracy"] for r in rows], width=0.4, label="item (after clarify)")
    ax.set_xticks(list(x), names, rotation=0, fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.set_title(f"{report['catalogue']} ({report['split']}): accuracy by gold department")
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def markdown(reports: list[dict[str, Any]], dialogues: list[dict[str, Any]],
             plots: dict[tuple[str, str], str]) -> str:
    out = ["# wenban evaluation", ""]
    hybrid = [r for r in reports if r["mode"] == "hybrid"]
    if hybrid:
        out += ["| metric | " + " | ".join(f"{r['catalogue']} ({r['split']})" for r in hybrid) + " |",
                "|---|" + "---:|" * len(hybrid)]
        for m in METRIC_ROWS:
            out.append(f"| {m} | " + " | ".join(_fmt(r[m]) for r in hybrid) + " |")
        out.append("")
    if dialogues:
        out += ["## Follow-ups", "", "| catalogue | conversations | first turn right | follow-up turns | "
                "follow-up accuracy |", "|---|---:|---:|---:|---:|"]
        out += [f"| {d['catalogue']} | {d['conversations']} | {_fmt(d['first_turn_right'])} | "
                f"{d['follow_up_turns']} | {_fmt(d['follow_up_accuracy'])} |" for d in dialogues]
        out.append("")
    for r in hybrid:
        out += [f"## {r['catalogue']} ({r['split']}): by department", ""]
        if (r["catalogue"], r["split"]) in plots:
            out += [f"![accuracy by department]({plots[r['catalogue'], r['split']]})", ""]
        out += ["| | department | questions | department@1 | item accuracy | wrong answers went to |",
                "|---|---|---:|---:|---:|---|"]
        for i, d in enumerate(r["departments"], start=1):
            went = "、".join(f"{k} ×{v}" for k, v in sorted(d["went_to"].items(), key=lambda kv: -kv[1]))
            out.append(f"| D{i} | {d['department']} | {d['questions']} | {d['department@1']:.2f} | "
                       f"{d['accuracy']:.2f} | {went} |")
        out += ["", f"### {r['catalogue']} ({r['split']}): wrong answers", ""]
        out += [f"- `{f['id']}` {f['question']} → {f['status']} {f['got'] or ''} ({f['got_department'] or ''}); "
                f"expected {'、'.join(f['gold']) or 'not_found'}" for f in r["failures"]]
        out.append("")
    return "\n".join(out)


def write_reports(reports: list[dict[str, Any]], dialogues: list[dict[str, Any]], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    plots = {}
    for r in reports:
        if r["mode"] == "hybrid" and r["departments"]:
            png = out_dir / f"{r['catalogue']}-{r['split']}-departments.png"
            plot_departments(r, png)
            plots[r["catalogue"], r["split"]] = png.name
            written.append(png)
            first = out_dir / f"{r['catalogue']}-departments.png"
            if first not in written:  # the quality page shows one plot per catalogue: the first split's
                shutil.copyfile(png, first)
                written.append(first)
    js = out_dir / "report.json"
    js.write_text(json.dumps({"reports": reports, "dialogues": dialogues}, ensure_ascii=False, indent=2))
    md = out_dir / "report.md"
    md.write_text(markdown(reports, dialogues, plots), encoding="utf-8")
    return [js, md, *written]
