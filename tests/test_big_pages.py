"""Pages of a result folder read it in row groups, through the streaming digest, and say when an
analysis runs on a sample of its rows; figures drawn in worker processes are the same figures."""

from __future__ import annotations

import html
import os
import re

import pytest

from sim.analysis.outcomes import fate_table
from sim.cli import main
from sim.present import page as page_kit
from sim.present import page_figures
from sim.present.text import format_fate_table
from sim.run import replicate_table
from sim.run.store import load_results
from tests.conftest import ROOT

STATUS_QUO = ROOT / "scenarios" / "status_quo.toml"


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """A small status_quo run (with the forces' parts) and the terminal summary `run` printed."""
    out = tmp_path_factory.mktemp("big-pages") / "run"
    with pytest.MonkeyPatch.context() as mp:
        lines: list[str] = []
        mp.setattr("builtins.print", lambda *a, **k: lines.append(" ".join(map(str, a))))
        code = main(
            ["run", str(STATUS_QUO), "-n", "400", "-t", "24", "--seed", "5", "-j", "1", "--no-progress"]
            + ["--out", str(out), "--no-report"]
        )
    assert code == 0
    return out, "\n".join(lines)


def _text(page: str) -> str:
    page = re.sub(r"data:image/png;base64,[^']+", "", page)
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_report_reads_row_groups_only_and_shows_the_terminal_numbers(folder, monkeypatch):
    """`report` never loads the whole table (nor whole columns at once), and every fate's share and
    95 % interval on the page is the one `run` printed."""
    out, printed = folder
    whole = []
    original = replicate_table.read_frame

    def read_frame(path, columns=None, **kw):
        whole.append(columns)
        return original(path, columns, **kw)

    monkeypatch.setattr(replicate_table, "read_frame", read_frame)
    assert main(["report", str(out), "--force"]) == 0
    assert whole == [], f"the report read columns whole: {whole}"
    raw = (out / "report.html").read_text(encoding="utf-8")
    results = load_results(out)
    for alliance in results.alliances:  # the terminal's tables are those of the whole table in memory
        table = fate_table(results.outcomes, alliance, results.actors)
        assert format_fate_table(table, title=f"alliance {alliance}") in printed
    terminal = fate_table(results.outcomes, results.focal, results.actors).set_index("outcome")
    for css, fate in (("holds", "holds"), ("stab", "stab_in_the_back"), ("drift", "drift_apart")):
        cell = re.search(
            rf"<td class='num {css}'><span class='p'>([\d.]+) %</span><span class='ci'>95 % CI "
            r"([\d.]+)–([\d.]+) %",
            raw,
        )
        assert cell is not None, fate
        row = terminal.loc[fate]
        assert list(cell.groups()) == [f"{100 * row[k]:.1f}" for k in ("p", "low", "high")], fate
    text = _text(raw)
    assert f"of {results.n:,} model runs" in text


def _pngs(draws, workers: int) -> list[bytes]:
    """The PNGs of ``draws`` from a :class:`~sim.present.page_figures.Drawing` of ``workers``."""
    drawing = page_figures.Drawing(workers)
    for d in draws:
        drawing.add(d)
    return drawing.finish()


def test_figures_drawn_in_worker_processes_are_the_same_figures(folder):
    """Drawing in forked workers gives the bytes drawing here gives, in the same order."""
    from sim.analysis.digest import digested
    from sim.present.report import scenario_figures

    r = digested(load_results(folder[0]))
    draws = [e.draw for e in scenario_figures(r, "t")][:4]
    assert _pngs(draws, workers=2) == _pngs(draws, workers=1)


def _line(k: float):
    """A tiny figure's drawing, different for each ``k``."""

    def draw():
        from matplotlib.figure import Figure

        fig = Figure(figsize=(2, 1))
        fig.add_subplot().plot([0, k])
        return fig

    return draw


def test_figures_published_in_batches_come_back_in_the_order_they_were_added():
    """Figures made known while the page is computed (the heaviest first) come back in the order
    they were put, the same bytes whether other processes drew them or not."""
    here, there = page_figures.Drawing(1), page_figures.Drawing(2)
    for drawing in (here, there):
        for k in range(5):
            drawing.add(_line(k), weight=k)  # published heaviest first: the reverse order
        drawing.publish()
        for k in range(5, 8):
            drawing.add(_line(k))
    assert there.children, "no drawing process was started for the first batch"
    assert there.finish() == here.finish() == _pngs([_line(k) for k in range(8)], 1)
    assert there.folder is not None and not os.path.exists(there.folder)


def test_a_figure_another_process_failed_to_draw_is_drawn_here():
    """A drawing that fails in a drawing process (there only) is drawn again by the page's own."""
    parent = os.getpid()

    def fails_elsewhere():
        if os.getpid() != parent:
            raise RuntimeError("only in a drawing process")
        return _line(1)()

    drawing = page_figures.Drawing(2)
    for _ in range(6):
        drawing.add(fails_elsewhere)
    assert drawing.finish() == _pngs([_line(1)] * 6, workers=1)


def test_an_error_in_a_figure_is_raised_and_stops_the_drawing_processes():
    """A figure that cannot be drawn raises its own error from the page's process, and no drawing
    process or folder outlives it."""

    def broken():
        raise ValueError("this figure is broken")

    drawing = page_figures.Drawing(2)
    for k in range(5):
        drawing.add(_line(k))
    drawing.add(broken, weight=10)
    with pytest.raises(ValueError, match="this figure is broken"):
        drawing.finish()
    assert drawing.children and not any(c.is_alive() for c in drawing.children)
    assert drawing.folder is not None and not os.path.exists(drawing.folder)


def test_delta_and_prim_on_a_big_folder_run_on_a_stated_sample(folder, monkeypatch, tmp_path):
    """Above the sample size, given-data indices and PRIM read a seeded sample of the rows, and
    their pages say which and what noise it adds."""
    monkeypatch.setattr("sim.analysis.digest.SAMPLE_SIZE", 150)
    out = folder[0]
    assert main(["sensitivity", str(out), "--method", "delta", "--out", str(tmp_path / "d")]) == 0
    text = _text((tmp_path / "d" / "report.html").read_text(encoding="utf-8"))
    assert "From a seeded sample of 150 of the run's 400 replicates" in text
    assert "uniform sample of 150 of the run's 400 replicates" in text
    assert "0.79 times that noise" in text  # sqrt(1 - 150/400): what sampling adds
    code = main(["discover", str(out), "--outcome", "holds", "--out", str(tmp_path / "p")])
    assert code == 0
    page = next((tmp_path / "p").glob("discovery_*.html"))
    text = _text(page.read_text(encoding="utf-8"))
    assert "uniform sample of 150 of the run's 400 replicates" in text
    assert "150 replicates" in text


def test_no_text_takes_a_figures_place(tmp_path):
    """A figure's card goes where its figure was put, and nowhere else: text that spells a slot
    (NUL, a number, NUL) is shown as text."""
    from matplotlib.figure import Figure

    def draw():
        fig = Figure(figsize=(2, 1))
        fig.add_subplot().plot([0, 1])
        return fig

    slot = "\x000\x00"
    page = page_kit.Page(tmp_path / "p.html", f"title {slot}")
    page.answer(page_kit.esc(f"answer {slot}"))
    entry = page_figures.FigureEntry("k", "T", "alt", "c", draw)
    page.add(page_kit.esc(f"text {slot}") + page.figures([entry]))
    written = page.write().read_text(encoding="utf-8")
    assert written.count("<figure") == 1 and "\x00" not in written
    assert written.count("\ufffd0\ufffd") == 4  # the title twice (head and h1), answer, text
