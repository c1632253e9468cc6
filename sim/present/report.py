"""The HTML report of one run or a comparison of several: one self-contained file.

The report opens with the answer (for the focal alliance of each scenario: P(holds),
P(stab in the back) and who stabs whom, P(drift apart), each with a 95 % Wilson interval), then
the figures, then for each scenario what is needed to reproduce it: its parameters with the claims
that ground them, the run settings, seed, package versions and scenario hash.

Figures are embedded as base64 PNG data URIs and also written as PNG files to
``<stem>_figures/`` next to the HTML file. The page needs no network access, loads no script and
no external style sheet (its Content-Security-Policy forbids both). Every string that comes from a
scenario or a manifest is HTML-escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sim.files import all_or_nothing
from sim.present import plots
from sim.present.early import EarlyFigures
from sim.present.page import FigureQueue, Page, esc, write_html
from sim.present.page_figures import FigureEntry
from sim.present.report_comparison import difference_section, parameter_diff_section
from sim.present.report_figures import comparison_figures, scenario_figures
from sim.present.report_sections import answer_section, scenario_section, slug
from sim.present.why_report import why_section
from sim.run.executors import release_blas_threads, single_blas_thread
from sim.run.store import Results

# --------------------------------------------------------------------------------------------
# HTML pieces
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# The report
# --------------------------------------------------------------------------------------------


def _write_page(path: Path, title: str, body: list[str]) -> Path:
    """One self-contained page from ready parts (:func:`sim.present.page.write_html`)."""
    return write_html(path, title, body)


def report_glossary(runs: Sequence[Results]) -> list[str]:
    """The glossary keys of a run or comparison report: the fates, their intervals, ties and
    cohesion, the variance split, the forces' parts when booked, the differences when compared."""
    from sim.analysis.why import has_why

    keys = ["holds", "stab", "drift", "wilson", "tie", "cohesion", "variance_share"]
    if any(has_why(r.columns, a, r.alliances) for r in runs for a in r.alliances):
        keys.append("force_part")
    if len(runs) > 1:
        keys += ["pp", "paired", "unpaired", "within_noise"]
    return keys


def scenario_part(r, k: int, queue: FigureQueue) -> str:
    """The ``k``-th scenario's part of a report (from 0): its figures, its evidence and what broke
    its alliances; each batch of figures is drawn elsewhere as soon as it is known, while the
    rest of the part is computed."""

    def render(entries: list[FigureEntry]) -> str:
        cards = "".join(queue.put(e) for e in entries)
        queue.publish()  # drawn elsewhere while this process computes what follows
        return cards

    prefix = _prefix(k, r)
    cards = render(scenario_figures(r, prefix))
    return scenario_section(r, k + 1, cards) + why_section(r, k + 1, prefix, render)


def _prefix(k: int, r) -> str:
    """The file-name prefix of the ``k``-th scenario's figures (from 0)."""
    return f"{k + 1:02d}-{slug(r.name or 'scenario')}"


@all_or_nothing()  # a failure leaves none of its files
def write_report(
    results: Sequence[Results], path: str | Path, *, progress: bool = False, early: EarlyFigures | None = None
) -> Path:
    """Write the HTML report of one result set, or the comparison report of several.

    Parameters
    ----------
    results : sequence of Results
        One result set (a run report) or several (a comparison, in the given order).
    path : str or Path
        The HTML file; the figures go to ``<stem>_figures/`` next to it as PNG files.
    progress : bool
        Count the parts written (the answer, each figure) on a progress bar on standard error.
    early : EarlyFigures, optional
        Scenario figures queued (and being drawn) while the runs were still going, for the
        same ``results`` in the same order.

    Returns
    -------
    Path
        The HTML file, written atomically (a temporary file, then a rename).
    """
    from sim.analysis.digest import digested

    early = early or EarlyFigures()
    for k, r in early.runs.items():
        if k >= len(results) or Path(r.directory) != Path(results[k].directory):
            early.close()
            raise ValueError(f"early figures of run {k} ({r.directory}) are not those of the results")
    runs = [early.runs.get(k) or digested(r) for k, r in enumerate(results)]  # each table read once
    if not runs:
        raise ValueError("expected at least one result set")
    comparison = len(runs) > 1
    if comparison:
        title = "Scenario comparison: " + " vs ".join(r.name or r.title for r in runs)
        focal = sorted({r.focal for r in runs if r.focal})
        sub = f"{len(runs)} scenarios · focal alliance {', '.join(esc(f) for f in focal)} · " + " · ".join(
            f"{esc(r.name)}: {r.n:,} replicates" for r in runs
        )
    else:
        r = runs[0]
        unit, dt = plots.time_unit(r)
        title = r.title or r.name
        sub = (
            f"scenario <code>{esc(r.name)}</code> · {r.n:,} replicates × "
            f"{r.steps * dt:g} {esc(unit)} · focal alliance <code>{esc(r.focal or '-')}</code>"
        )
    page = Page(path, title, sub, figures=early.queue)
    # OpenBLAS's idle threads spin after a larger product (re-running the typical replicates
    # searches the blocs) and would take the core a drawing process is using
    single_blas_thread()
    try:
        with report_progress(page, progress) as step:
            page.answer_raw(answer_section(runs))
            step()
            _write_parts(page, runs, comparison, early.parts)
            return page.write()
    finally:
        page.drawing.close()  # figures still being drawn elsewhere when a part failed
        release_blas_threads()


def report_progress(page: Page, on: bool):
    """A context giving a ``step()`` that advances a progress bar of the report's parts; each
    figure ``page`` draws when it is written is a step too (no bar when ``on`` is false)."""
    import contextlib

    @contextlib.contextmanager
    def scope():
        if not on:
            yield lambda: None
            return
        import sys

        from tqdm.auto import tqdm

        bar = tqdm(unit="part", desc="writing the report", leave=False, file=sys.stderr)
        page.on_drawn = lambda: bar.update(1)
        try:
            yield lambda: bar.update(1)
        finally:
            bar.refresh()  # the last figures can finish together, faster than the bar redraws
            bar.close()

    return scope()


def _write_parts(page: Page, runs: list, comparison: bool, early: dict[int, str]) -> None:
    """Everything of a report after its answer: the glossary, the comparison, each scenario
    (``early``: the parts of scenarios made already, by scenario)."""
    page.glossary(report_glossary(runs))
    if comparison:
        page.add(difference_section(runs))
        page.add(parameter_diff_section(runs))
        page.add(
            "<section id='comparison'><h2>Side by side</h2>"
            + page.figures(comparison_figures(runs))
            + "</section>"
        )
        page.add(
            "<h2>Each scenario in detail</h2><p class='small'>Open a scenario for its "
            "figures, the variance split by basis, its parameters and how to reproduce "
            "it.</p>"
        )
    for k, r in enumerate(runs):
        section = early[k] if k in early else scenario_part(r, k, page.queue)
        if comparison:
            section = (
                f"<details class='scenario-fold' id='details-{k + 1}'><summary>"
                f"{esc(r.name)}: {esc(r.title)}</summary>{section}</details>"
            )
        page.add(section)
    page.cite(
        "Fates: Wilson (1927) score intervals.",
        "Survival: Kaplan & Meier (1958) with Greenwood (1926) variance (log-log band).",
        "Balance: Heider (1946), Cartwright & Harary (1956).",
        "Blocs: Axelrod & Bennett (1993).",
        "Variance split: Plischke, Borgonovo & Smith (2013), Kelley (1935).",
    )
    if comparison:
        page.cite("Unpaired differences: Newcombe (1998); paired: common random numbers (Law 2015).")
    page.cite("Figures use the Okabe–Ito colour-blind-safe palette.")
