"""The page kit: how every HTML page of the project is built.

Every page — a run, a comparison, a sweep, sensitivity (Sobol, Morris, delta, PAWN, over time),
scenario discovery, policy levers, a policy search, scenario scores, a calibration, the view from
today — is one self-contained file made the same way:

1. a header with the title (said once) and what was run;
2. **the answer** in one or two sentences with their intervals, in a box that also carries the
   note *under these assumptions — not a forecast*;
3. **a glossary** of every column and index the page shows, in words;
4. **the evidence**: sections of tables (headers in words) and figure cards;
5. the references the page's methods come from, and only those.

Rules the kit enforces: a Content-Security-Policy that forbids scripts and every network request
(figures are PNG data URIs); every string escaped (:func:`esc`); tables that wrap inside the page;
figure cards that link to their PNG file beside the page and show each figure at the size it was
drawn: a figure is rendered at most :data:`~sim.present.page_figures.MAX_PX` pixels wide (its
resolution lowered to fit, never its fonts enlarged by stretching), takes half the page when it
fits there and the whole width otherwise, and is never shown wider than its natural width.

A page is built from computed summaries — numbers, small tables, figure-drawing callables — never
from a result folder: the code that reads data and the code that lays out a page stay apart.
"""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from sim.present.page_figures import Drawing, FigureEntry, png_size
from sim.present.page_words import COLUMN_WORDS, GLOSSARY
from sim.run.store import atomic_write_bytes
from sim.vocabulary import NOT_A_FORECAST

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
#: what marks a page as written by alliance-sim (a later page may replace it without --force)
GENERATOR = "<meta name='generator' content='alliance-sim'>"

#: figures at most this wide (pixels) share a row with another one
HALF_PX = 530

STYLE = """
:root { --ink:#1d2327; --muted:#5b6670; --line:#d9dee3; --bg:#ffffff; --panel:#f5f7f9;
  --holds:#009E73; --stab:#D55E00; --drift:#999999; }
* { box-sizing:border-box; }
body { margin:0; background:var(--bg); color:var(--ink);
  font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif; }
main { max-width:1180px; margin:0 auto; padding:28px 28px 60px; }
h1 { font-size:1.65em; margin:0 0 4px; line-height:1.25; overflow-wrap:anywhere; }
h2 { font-size:1.3em; margin:36px 0 10px; padding-bottom:4px; border-bottom:2px solid var(--line); }
h3 { font-size:1.1em; margin:24px 0 8px; }
h4 { margin:16px 0 6px; }
p, li, dd, dt, figcaption, summary { overflow-wrap:break-word; }
.sub { color:var(--muted); margin:0 0 18px; }
.answer { background:var(--panel); border:1px solid var(--line); border-radius:10px; padding:18px 22px; }
.answer h2 { margin-top:0; border:0; }
.headline { font-size:1.08em; margin:6px 0 14px; }
.table-wrap { max-width:100%; overflow-x:auto; margin:6px 0 10px; }
table { border-collapse:collapse; width:100%; font-variant-numeric:tabular-nums; }
th, td { text-align:left; padding:6px 10px; border-bottom:1px solid var(--line); vertical-align:top;
  overflow-wrap:break-word; }
th { font-weight:600; color:var(--muted); font-size:0.9em; }
td.num { white-space:nowrap; }
td.who { min-width:190px; }
td.who .ci { display:inline-block; margin-left:4px; white-space:nowrap; }
.p { font-size:1.25em; font-weight:700; }
.ci { color:var(--muted); font-size:0.88em; display:block; }
.holds .p { color:#00754f; } .stab .p { color:#b34a00; } .drift .p { color:#555; }
.bar { display:flex; height:14px; border-radius:7px; overflow:hidden; min-width:120px; margin-top:6px;
  background:#eee; }
.bar span { display:block; height:100%; }
.bar .h { background:var(--holds); } .bar .s { background:var(--stab); } .bar .d { background:var(--drift); }
.key { font-size:0.85em; color:var(--muted); margin-top:8px; }
.key i { display:inline-block; width:11px; height:11px; border-radius:2px; margin:0 4px -1px 10px; }
.figs { display:grid; grid-template-columns:repeat(2, minmax(0, 1fr)); gap:18px; align-items:start; }
figure { margin:0; background:#fff; border:1px solid var(--line); border-radius:8px; padding:10px;
  min-width:0; }
figure.wide { grid-column:1 / -1; }
figure img { display:block; max-width:100%; height:auto; margin:0 auto; }
figcaption { color:var(--muted); font-size:0.88em; margin-top:6px; }
figcaption a { color:inherit; }
.small { font-size:0.88em; }
details { margin:10px 0; }
details.scenario-fold { border:1px solid var(--line); border-radius:8px; padding:8px 14px; }
details.scenario-fold > summary { font-size:1.1em; }
summary { cursor:pointer; font-weight:600; }
code, .mono { font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace; font-size:0.9em;
  overflow-wrap:anywhere; }
pre { background:var(--panel); padding:10px 12px; border-radius:6px; white-space:pre-wrap;
  overflow-wrap:anywhere; }
.desc { white-space:pre-line; }
.frame { border-left:4px solid var(--stab); background:#fff7f0; padding:8px 14px; margin:12px 0;
  border-radius:4px; }
.warning { border-left:4px solid #E69F00; background:#fff8e6; padding:8px 14px; margin:12px 0;
  border-radius:4px; }
.noise { display:inline-block; padding:0 6px; border-radius:8px; font-size:0.8em; white-space:nowrap;
  background:#eee; color:#444; }
dl.fates { display:grid; grid-template-columns:max-content 1fr; gap:2px 14px; margin:10px 0 4px; }
dl.fates dt { font-weight:600; } dl.fates dd { margin:0; }
dl.glossary { display:grid; grid-template-columns:minmax(0, 15em) minmax(0, 1fr); gap:4px 16px;
  margin:8px 0; font-size:0.92em; }
dl.glossary dt { font-weight:600; } dl.glossary dd { margin:0; }
.basis { display:inline-block; padding:0 6px; border-radius:8px; font-size:0.82em; white-space:nowrap; }
.basis.article { background:#e3f2ec; } .basis.figure { background:#e6eef8; }
.basis.assumption { background:#fbeadf; } .basis.none { background:#eee; }
.note { color:var(--muted); font-size:0.9em; }
td.pos { color:#00754f; } td.neg { color:#b34a00; }
footer { margin-top:40px; color:var(--muted); font-size:0.85em; }
"""


def esc(value: object) -> str:
    """HTML-escape any value (quotes included), for text and attributes alike; a NUL becomes the
    replacement character (as a browser shows it), so no text can look like a figure's slot."""
    return html.escape(str(value), quote=True).replace("\x00", "\ufffd")


# --------------------------------------------------------------------------------------------
# Words: the glossary and the column headers
# --------------------------------------------------------------------------------------------


def glossary(keys: Iterable[str], extra: Sequence[tuple[str, str]] = ()) -> str:
    """The glossary block: each term of :data:`GLOSSARY` named by ``keys``, then ``extra`` (term,
    meaning) pairs, in words."""
    items = [GLOSSARY[k] for k in dict.fromkeys(keys)] + list(extra)
    body = "".join(f"<dt>{esc(t)}</dt><dd>{esc(m)}</dd>" for t, m in items)
    return (
        "<section id='glossary'><h2>What the columns and indices mean</h2>"
        f"<dl class='glossary'>{body}</dl></section>"
    )


def not_a_forecast(note: str = "") -> str:
    """The note every answer carries: under these assumptions — not a forecast."""
    return (
        f"<p class='frame' id='not-a-forecast'><b>Under these assumptions — not a forecast.</b> "
        f"{esc(NOT_A_FORECAST)}{' ' + esc(note) if note else ''}</p>"
    )


def answer_box(
    sentences: str,
    *,
    details: str = "",
    note: str = "",
    heading: str = "The answer, under these assumptions",
) -> str:
    """The box a page opens with: the answer (``sentences``, HTML already escaped) with its
    intervals, the not-a-forecast note (plus ``note``) and ``details`` (HTML) below."""
    return (
        f"<section class='answer' id='answer'><h2>{esc(heading)}</h2>"
        f"<p class='headline'>{sentences}</p>{not_a_forecast(note)}{details}</section>"
    )


def warning(text: str) -> str:
    """A warning paragraph (escaped), for noise that may mislead."""
    return f"<p class='warning'>{esc(text)}</p>"


def noise_badge(text: str = "within noise", title: str = "") -> str:
    """A small badge marking a value that cannot be told from noise."""
    t = f" title='{esc(title)}'" if title else ""
    return f"<span class='noise'{t}>{esc(text)}</span>"


# --------------------------------------------------------------------------------------------
# Numbers
# --------------------------------------------------------------------------------------------


def pm(value: float, error: float, digits: int = 3) -> str:
    """``value ± error`` to ``digits`` decimals (a dash when not finite)."""
    if not np.isfinite(value):
        return "–"
    if not np.isfinite(error):
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} ± {error:.{digits}f}"


def pct(p: float, digits: int = 1) -> str:
    """A share as a percentage."""
    return "–" if not np.isfinite(p) else f"{100 * p:.{digits}f} %"


def pct_interval(low: float, high: float, digits: int = 1) -> str:
    """``95 % CI a–b %``."""
    return f"95 % CI {100 * low:.{digits}f}–{100 * high:.{digits}f} %"


def pp(x: float, digits: int = 1) -> str:
    """A difference of shares in signed percentage points (``+2.5 pp``, ``−1.0 pp``)."""
    return "–" if not np.isfinite(x) else minus(f"{100 * x:+.{digits}f} pp")


def minus(text: str) -> str:
    """Typographic minus signs in a number's text."""
    return text.replace("-", "−")


def sample_note(sample: Mapping | None) -> str:
    """What an analysis run on a seeded sample of a run's rows says about it (plain text; empty
    for every row): which rows, and the noise the sample adds. ``sample`` holds ``size``,
    ``total`` and ``seed`` (:class:`sim.analysis.digest.SampleInfo`)."""
    if not sample or int(sample["size"]) >= int(sample["total"]):
        return ""
    size, total = int(sample["size"]), int(sample["total"])
    kept = size / total
    return (
        f"Computed on a uniform sample of {size:,} of the run's {total:,} replicates, drawn without "
        f"replacement with seed {sample['seed']}: its noise is that of {size:,} replicates. The same "
        f"estimate from every replicate would differ from the sample's by about "
        f"{np.sqrt(1 - kept):.2f} times that noise (what sampling adds) and carry {np.sqrt(kept):.2f} "
        "times it."
    )


# --------------------------------------------------------------------------------------------
# Tables
# --------------------------------------------------------------------------------------------


def table_html(
    df,
    digits: int = 3,
    labels: Mapping[str, str] | None = None,
    formats: Mapping[str, Callable[[object], str]] | None = None,
    html_columns: Sequence[str] = (),
    css: str = "small",
) -> str:
    """A DataFrame as an escaped HTML table that wraps inside the page.

    Headers are put in words (``labels``, then :data:`COLUMN_WORDS`); floats are shown to
    ``digits`` significant digits unless ``formats`` gives a column its own formatter; columns in
    ``html_columns`` hold HTML made by the caller (already escaped).
    """
    import pandas as pd

    frame = df.reset_index() if not isinstance(df.index, pd.RangeIndex) else df
    words = {**COLUMN_WORDS, **(labels or {})}
    formats = formats or {}
    head = "".join(f"<th>{esc(words.get(str(c), c)).replace('_', '_<wbr>')}</th>" for c in frame.columns)
    rows = []
    for values in frame.itertuples(index=False):
        cells = []
        for c, v in zip(frame.columns, values):
            if c in html_columns:
                cells.append(f"<td>{v}</td>")
            elif c in formats:
                cells.append(f"<td class='num'>{esc(formats[c](v))}</td>")
            elif isinstance(v, (float, np.floating)):
                shown = "–" if not np.isfinite(v) else minus(f"{v:.{digits}g}")
                cells.append(f"<td class='num'>{shown}</td>")
            elif isinstance(v, (int, np.integer)) and not isinstance(v, bool):
                cells.append(f"<td class='num'>{v:,}</td>")
            else:
                cells.append(f"<td>{esc(v)}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table class='{esc(css)}'><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def figure_card(entry: FigureEntry, png: bytes, file_name: str) -> str:
    """A figure card: the image at its natural size (half the page or the whole width, by its
    width), its title, caption and a link to its PNG file."""
    width, height = png_size(png)
    data = base64.b64encode(png).decode("ascii")
    wide = " class='wide'" if width > HALF_PX else ""
    return (
        f"<figure id='fig-{esc(entry.key)}'{wide}><img src='data:image/png;base64,{data}' "
        f"width='{width}' height='{height}' alt='{esc(entry.alt)}' title='{esc(entry.title)}'>"
        f"<figcaption><b>{esc(entry.title)}.</b> {esc(entry.caption)} "
        f"<a class='mono' href='{esc(file_name)}'>{esc(file_name)}</a></figcaption></figure>"
    )


#: marks where a figure's card goes until the figures are drawn (a character no page text holds)
_SLOT = "\x00"
_SLOT_RE = re.compile("\x00(\\d+)\x00")


class FigureQueue:
    """A page's figures in the order they were put, and their :class:`Drawing`.

    A :class:`Page` makes its own; a command that knows some figures before it can make the page
    makes one first and hands it over, so that they are drawn while it works on (a comparison
    draws one scenario's figures while the next one runs)."""

    def __init__(self) -> None:
        self.entries: list[FigureEntry] = []
        self.drawing = Drawing()

    def put(self, entry: FigureEntry) -> str:
        """Queue a figure; returns the placeholder its card replaces when the page is written."""
        self.entries.append(entry)
        self.drawing.add(entry.draw, entry.weight)
        return f"{_SLOT}{len(self.entries) - 1}{_SLOT}"

    def publish(self) -> None:
        """Start drawing the figures put so far (:meth:`Drawing.publish`)."""
        self.drawing.publish()


class Page:
    """One page being built: its file, its figure folder and its parts, written in the kit's order.

    Parameters
    ----------
    path
        The HTML file; figures go to ``<stem>_figures/`` beside it as PNG files.
    title
        The page's title, said once (see :func:`titled`).
    subtitle
        What was run, as HTML (escape what comes from a scenario).
    figures
        Figures queued (and being drawn) before the page was made (:class:`FigureQueue`).
    """

    def __init__(self, path: str | Path, title: str, subtitle: str = "", figures: FigureQueue | None = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fig_dir = self.path.parent / f"{self.path.stem}_figures"
        self.fig_dir.mkdir(exist_ok=True)
        for old in self.fig_dir.glob("*.png"):
            old.unlink()
        self.title = title
        self.subtitle = subtitle
        self.answer_html = ""
        self.glossary_html = ""
        self.body: list[str] = []
        self.references: list[str] = []
        #: the figures put so far and their drawing (one made before the page, when given)
        self.queue = figures or FigureQueue()
        #: called once per figure drawn when the page is written (a progress bar's step)
        self.on_drawn: Callable[[], object] | None = None

    @property
    def pending(self) -> list[FigureEntry]:
        """The figures put so far, in order (their cards replace the placeholders)."""
        return self.queue.entries

    @property
    def drawing(self) -> Drawing:
        """What draws the figures (:class:`~sim.present.page_figures.Drawing`)."""
        return self.queue.drawing

    def answer(
        self, sentences: str, *, details: str = "", note: str = "", heading: str | None = None
    ) -> None:
        """Set the answer box (:func:`answer_box`)."""
        kw = {"heading": heading} if heading else {}
        self.answer_html = answer_box(sentences, details=details, note=note, **kw)

    def answer_raw(self, html_text: str) -> None:
        """Set an answer section built by the caller; it must carry :func:`not_a_forecast`."""
        self.answer_html = html_text

    def glossary(self, keys: Iterable[str], extra: Sequence[tuple[str, str]] = ()) -> None:
        """Set the glossary (:func:`glossary`)."""
        self.glossary_html = glossary(keys, extra)

    def add(self, html_text: str) -> None:
        """Append evidence (HTML) after the glossary."""
        if html_text:
            self.body.append(html_text)
        self.drawing.refill()

    def section(self, heading: str, html_text: str, anchor: str | None = None) -> None:
        """Append a section with a heading (escaped) and its HTML."""
        a = f" id='{esc(anchor)}'" if anchor else ""
        self.body.append(f"<section{a}><h2>{esc(heading)}</h2>{html_text}</section>")

    def figure(self, entry: FigureEntry) -> str:
        """A figure's card, to be put anywhere in the page's parts: a placeholder now, the card
        (image, title, caption, link to its PNG file) when the page is written, once every figure
        has been drawn (:class:`~sim.present.page_figures.Drawing`; :meth:`draw_known` starts
        drawing the figures put so far while the page's other parts are computed)."""
        return self.queue.put(entry)

    def draw_known(self) -> None:
        """Start drawing the figures put so far, in other processes where the cores allow, while
        this one goes on with the page (:meth:`~sim.present.page_figures.Drawing.publish`)."""
        self.queue.publish()

    def _cards(self) -> list[str]:
        """Draw the pending figures, write their PNG files and return their cards."""
        cards = []
        pngs = self.drawing.finish(done=self.on_drawn)
        for entry, png in zip(self.pending, pngs, strict=True):
            name = f"{entry.key}.png"
            atomic_write_bytes(self.fig_dir / name, png)
            cards.append(figure_card(entry, png, f"{self.fig_dir.name}/{name}"))
        return cards

    def figures(self, entries: Sequence[FigureEntry]) -> str:
        """Draw figures into a grid of cards (empty string for none)."""
        cards = "".join(self.figure(e) for e in entries)
        self.draw_known()
        return f"<div class='figs'>{cards}</div>" if cards else ""

    def cite(self, *references: str) -> None:
        """Add references (plain text) to the footer, each once."""
        for r in references:
            if r not in self.references:
                self.references.append(r)

    def write(self) -> Path:
        """Write the page atomically: header, answer, glossary, evidence, references."""
        if "not a forecast" not in self.answer_html:
            raise ValueError("a page needs its answer box (Page.answer) before it is written")
        header = (
            f"<header><h1>{esc(self.title)}</h1>"
            + (f"<p class='sub'>{self.subtitle}</p>" if self.subtitle else "")
            + "</header>"
        )
        footer = (
            "<footer>" + " ".join(esc(r) for r in self.references) + "</footer>" if self.references else ""
        )
        parts = [header, self.answer_html, self.glossary_html, *self.body, footer]
        if self.pending:
            cards = self._cards()
            parts = [_SLOT_RE.sub(lambda m: cards[int(m.group(1))], p) for p in parts]
        return write_html(self.path, self.title, parts)


def write_html(path: Path, title: str, body: Sequence[str]) -> Path:
    """One self-contained page (inline style, no scripts, a CSP that forbids them and every
    request), written atomically; every table sits in a box that keeps it inside the page."""
    content = (
        "".join(body)
        .replace("<table", "<div class='table-wrap'><table")
        .replace("</table>", "</table></div>")
    )
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta http-equiv='Content-Security-Policy' content=\"{CSP}\">"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"{GENERATOR}<title>{esc(title)}</title><style>{STYLE}</style></head><body><main>"
        + content
        + "</main></body></html>\n"
    )
    atomic_write_bytes(Path(path), page.encode("utf-8"))
    return Path(path)


def titled(kind: str, name: str | None) -> str:
    """A page title said once: ``kind: name``, or ``name`` alone when it already opens with the
    kind (a scenario titled "Policy levers: ..." on the levers page)."""
    name = (name or "").strip()
    if not name:
        return kind
    if name.lower().startswith(kind.lower()):
        return name
    return f"{kind}: {name}"


def is_page(path: Path) -> bool:
    """Whether ``path`` is a page alliance-sim wrote (its head carries :data:`GENERATOR`)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return GENERATOR.encode() in head
