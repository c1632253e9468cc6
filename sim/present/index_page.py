"""One page linking every result folder under a folder (``alliance-sim index``): each report
with the kind of analysis, its scenario, date, replicates, status and headline answer.

Folders are found by the files that mark them (:func:`sim.run.folders.kind_of`); nothing is
run and no result is re-read beyond its manifest and the opening sentence of its page, so an
index of hundreds of folders takes a moment. A folder that is interrupted or damaged is listed
with what is wrong with it, never skipped in silence.
"""

from __future__ import annotations

import datetime as dt
import html
import os
import re
from pathlib import Path

import pandas as pd

from sim.present.page import Page, esc, table_html

#: how deep under the folder result folders are looked for (a comparison holds its runs)
MAX_DEPTH = 3
_HEADLINE = re.compile(r"<p class='headline'>(.*?)</p>", re.S)
_TAGS = re.compile(r"<[^>]+>")


def headline(report: Path, limit: int = 260) -> str:
    """The answer a page opens with, as plain text (cut at ``limit`` characters)."""
    try:
        with open(report, encoding="utf-8", errors="replace") as fh:
            head = fh.read(400_000)
    except OSError:
        return ""
    m = _HEADLINE.search(head)
    if not m:
        return ""
    words = " ".join(html.unescape(_TAGS.sub("", m.group(1))).split())
    return words if len(words) <= limit else words[: limit - 1].rsplit(" ", 1)[0] + " …"


def _report_of(folder: Path) -> Path | None:
    pages = sorted(folder.glob("*.html"))
    named = [p for p in pages if p.name == "report.html"]
    candidates = named or [p for p in pages if p.name != "index.html"]
    return candidates[0] if candidates else None


def describe(folder: Path) -> dict:
    """One row of the index: what the folder is, from its manifest (when it has one)."""
    from sim.run.folders import KIND_WORDS, kind_of
    from sim.run.store import ResultsError, read_manifest

    kind = kind_of(folder)
    report = _report_of(folder)
    row: dict = {
        "folder": folder,
        "kind": KIND_WORDS.get(kind or "", "?"),
        "scenario": "",
        "replicates": "",
        "date": "",
        "status": "",
        "report": report,
    }
    manifest = None
    for name in ("manifest.json", "calibration.json"):
        try:
            manifest = read_manifest(folder, name)
        except ResultsError as e:
            row["status"] = f"damaged: {e}"
        if manifest:
            break
    if isinstance(manifest, dict):
        scenario = manifest.get("scenario")
        if isinstance(scenario, dict):
            row["scenario"] = str(scenario.get("title") or manifest.get("name") or "")
            overrides = scenario.get("overrides")
            if isinstance(overrides, dict) and overrides:
                row["scenario"] += " (--set " + ", ".join(overrides) + ")"
        recorded = manifest.get("settings")
        settings: dict = recorded if isinstance(recorded, dict) else {}
        reps = settings.get("replicates") or manifest.get("replicates")
        points = settings.get("points")
        if isinstance(reps, int):
            row["replicates"] = f"{reps:,}" + (
                f" × {points} points" if isinstance(points, int) and points > 1 else ""
            )
        status = manifest.get("status")
        if status == "running":
            chunks = manifest.get("chunks") or {}
            done = len(chunks.get("done") or {}) if isinstance(chunks, dict) else 0
            total = chunks.get("total", "?") if isinstance(chunks, dict) else "?"
            row["status"] = f"interrupted ({done} of {total} chunks)"
        elif status:
            row["status"] = str(status)
    if not row["status"]:
        row["status"] = "complete" if row["report"] else "no report"
    when = (report or folder).stat().st_mtime
    row["date"] = dt.datetime.fromtimestamp(when, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    row["headline"] = headline(report) if report else ""
    return row


def find_folders(root: Path, depth: int = MAX_DEPTH) -> list[Path]:
    """Result folders under ``root`` (``root`` itself included), sorted by path; a folder's own
    subfolders are searched too (a comparison's runs), down to ``depth`` levels."""
    from sim.run.folders import kind_of

    found = []
    for here, dirs, _ in os.walk(root):
        level = len(Path(here).relative_to(root).parts)
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and not d.endswith("_figures"))
        if level >= depth:
            dirs[:] = []
        if kind_of(Path(here)) is not None:
            found.append(Path(here))
    return sorted(found)


def write_index(root: str | Path, out: str | Path) -> tuple[Path, int]:
    """Write the index page of the result folders under ``root`` to ``out``; returns the page and
    how many folders it lists."""
    from sim.errors import InputError

    root, out = Path(root), Path(out)
    if not root.is_dir():
        raise InputError(f"{root}: no such folder; expected a folder of results (default results/)")
    rows = [describe(f) for f in find_folders(root)]
    base = out.parent.resolve()
    table = []
    for r in rows:
        name = esc(os.path.relpath(r["folder"].resolve(), base))
        link = (
            f"<a href='{esc(Path(os.path.relpath(r['report'].resolve(), base)).as_posix())}'>{name}</a>"
            if r["report"]
            else name
        )
        table.append(
            {
                "result folder (its report)": link,
                "analysis": r["kind"],
                "scenario": r["scenario"],
                "replicates per point": r["replicates"],
                "written": r["date"],
                "status": r["status"],
                "answer, as its page opens": r["headline"],
            }
        )
    frame = pd.DataFrame(table)
    complete = sum(1 for r in rows if r["status"] == "complete")
    page = Page(out, "Index of results", f"{len(rows)} result folders under <code>{esc(root)}</code>")
    page.answer(
        f"{len(rows)} result folders under <code>{esc(root)}</code>, {complete} complete; each links its "
        "report, whose answer carries its own intervals.",
        heading="What is here",
    )
    page.section(
        "Result folders",
        table_html(frame, html_columns=["result folder (its report)"]) if len(frame) else "<p>None yet.</p>",
    )
    return page.write(), len(rows)
