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
drawn: a figure is rendered at most :data:`MAX_PX` pixels wide (its resolution lowered to fit, never
its fonts enlarged by stretching), takes half the page when it fits there and the whole width
otherwise, and is never shown wider than its natural width.

A page is built from computed summaries — numbers, small tables, figure-drawing callables — never
from a result folder: the code that reads data and the code that lays out a page stay apart.
"""

from __future__ import annotations

import base64
import html
import io
import re
import struct
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.run.store import atomic_write_bytes
from sim.vocabulary import NOT_A_FORECAST

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
#: what marks a page as written by alliance-sim (a later page may replace it without --force)
GENERATOR = "<meta name='generator' content='alliance-sim'>"

#: the widest a figure is drawn (pixels): the page's content width less the card's frame
MAX_PX = 1100
#: figures at most this wide (pixels) share a row with another one
HALF_PX = 530
#: resolution figures are drawn at unless they must be narrowed to :data:`MAX_PX`
DPI = 120

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

#: every index and column a page may show: key -> (term, meaning in words)
GLOSSARY: dict[str, tuple[str, str]] = {
    "holds": (
        "P(holds)",
        "Share of the model runs in which the alliance is still in force at the horizon.",
    ),
    "stab": (
        "P(stab in the back)",
        "Share of runs in which it ends with one member defecting while its partner's disposition "
        "toward it is still at least the trust threshold.",
    ),
    "drift": (
        "P(drift apart)",
        "Share of runs in which it ends with the dispositions already below the trust threshold.",
    ),
    "wilson": (
        "95 % interval",
        "Monte Carlo error of a share: with this many runs the share would fall in this range in 95 "
        "of 100 repetitions (Wilson 1927). It says how precisely the model's answer is known, not "
        "whether the assumptions are right.",
    ),
    "pp": ("pp", "Percentage points: the difference of two percentages."),
    "paired": (
        "paired interval",
        "The interval of a difference taken replicate by replicate on common random numbers (the "
        "same draws for both sides), narrower than comparing two independent runs.",
    ),
    "unpaired": (
        "unpaired interval",
        "The interval of a difference of two independent shares (Newcombe 1998).",
    ),
    "within_noise": (
        "within noise",
        "A value whose 95 % interval includes zero (for delta and PAWN: that does not exceed "
        "the noise level): it cannot be told apart from Monte Carlo noise with the runs made; the "
        "page says how many runs would separate it.",
    ),
    "cohesion": ("cohesion", "The members' mean disposition toward one another, in [−1, 1]."),
    "tie": ("tie", "One actor's disposition toward another, in [−1, 1] (+1 allied, −1 hostile)."),
    "variance_share": (
        "share of variance (first order)",
        "Part of the variance of a yes/no outcome that a group of sampled values explains on its "
        "own, estimated from the run's replicates (Plischke, Borgonovo & Smith 2013) with Kelley's "
        "bias correction; ± is two standard deviations of the same sum on shuffled outcomes.",
    ),
    "force_part": (
        "part of a force",
        "How much one force moved the tracked tie along a replicate's path; the parts add up to the "
        "tie's change exactly. An accounting, not a counterfactual.",
    ),
    "S1": (
        "S1 (first-order Sobol index)",
        "Share of the output's variance explained by the factor alone, averaged over the others "
        "(Saltelli 2002).",
    ),
    "ST": (
        "ST (total Sobol index)",
        "Share of the output's variance that involves the factor at all: its own effect plus every "
        "interaction (Saltelli et al. 2010). ST near 0: the factor could be fixed anywhere in its "
        "range without changing the answer.",
    ),
    "conf": (
        "± (95 % half-width)",
        "Half the width of the bootstrap 95 % confidence interval of an index: its Monte Carlo error.",
    ),
    "mu_star": (
        "μ* (mean absolute elementary effect)",
        "Morris screening (Campolongo et al. 2007): the average size of the output's change when "
        "the factor alone moves by one step of its range; ranks influence, in the output's units.",
    ),
    "sigma": (
        "σ (spread of elementary effects)",
        "Standard deviation of those changes: large against μ*, the factor's effect depends on the "
        "other factors (interactions) or is not linear.",
    ),
    "noise_share": (
        "binomial noise share",
        "Part of the output's variance over the design that finite replicates alone would produce; "
        "above 0.3 the indices are mostly noise.",
    ),
    "delta": (
        "δ (Borgonovo's delta)",
        "Half the expected distance between the outcome's distribution and its distribution once "
        "the factor is known: 0, knowing it changes nothing; 1, it decides the outcome "
        "(Borgonovo 2007; given-data estimator of Plischke, Borgonovo & Smith 2013).",
    ),
    "pawn": (
        "PAWN",
        "Median, over slices of the factor's range, of the Kolmogorov–Smirnov distance between the "
        "outcome's distribution in the slice and overall (Pianosi & Wagener 2015).",
    ),
    "noise_level": (
        "noise level",
        "The same index computed for made-up inputs that cannot matter (shuffled copies of a "
        "sampled value): their mean plus z standard deviations, z large enough that among all the "
        "inputs one without effect passes by chance in fewer than 1 analysis in 20 (Bonferroni). "
        "An index below it cannot be told from noise; 'above the bias' is the index less the "
        "dummies' mean.",
    ),
    "p_record": (
        "P(record)",
        "Probability the scenario gave the whole dated record under its error model: the mean, "
        "over its prior runs, of the record's likelihood.",
    ),
    "log_score": ("log score", "The natural logarithm of P(record)."),
    "log_bf": (
        "log Bayes factor",
        "Difference of two log scores: how many times (as a natural log) more probable one "
        "scenario made the record than the best one. On Kass & Raftery's (1995) scale, below 1 in "
        "size is barely worth a mention, 1–3 positive, 3–5 strong, above 5 very strong.",
    ),
    "mc_se": (
        "± (Monte Carlo standard error)",
        "The estimate's sampling error from a finite number of runs.",
    ),
    "acceptance": (
        "acceptance rate",
        "Share of prior runs accepted by the record (each with probability equal to its "
        "likelihood): the probability the scenario gave the record.",
    ),
    "ess": (
        "effective sample size",
        "How many equally weighted runs the likelihood weights are worth (Kish).",
    ),
    "ks": (
        "KS distance",
        "Largest gap between the prior's and the posterior's cumulative distributions of a value "
        "(two-sample Kolmogorov–Smirnov); it counts as moved above the level-0.001 threshold.",
    ),
    "predictive": (
        "prior / posterior predictive",
        "Share of runs, before and after conditioning on the record, in which an observation happened.",
    ),
    "policy": (
        "policy",
        "One setting of the levers; policy 0 (the status quo) is the scenario as written.",
    ),
    "world": (
        "world",
        "One draw of every uncertain value; every policy is run on the same worlds and replicates.",
    ),
    "regret": (
        "regret",
        "How far a policy falls short of the best evaluated policy in the same world, in the "
        "metric's own units (Savage 1951), summarised by its 90th percentile over the worlds. "
        "Corrected for the estimation noise that would otherwise inflate it (the best policy of a "
        "world chosen on half its runs and the regret measured on the other half; the spread over "
        "the worlds cleared of noise); ± is its standard error.",
    ),
    "satisficing": (
        "satisficing share",
        "Share of the worlds in which the policy meets every threshold (Starr's domain "
        "criterion), with the same noise correction and its 95 % interval.",
    ),
    "rank": (
        "rank",
        "Most robust first: the highest satisficing share, then the smallest worst normalised regret.",
    ),
    "src": (
        "SRC",
        "Standardised regression coefficient of a metric's mean on a lever (Saltelli et al. "
        "2008); with R² near 1, SRC² is the share of the metric's spread across policies the lever "
        "accounts for.",
    ),
    "spearman": ("Spearman's ρ", "Rank correlation, a check that does not assume a straight line."),
    "r2": ("R²", "Share of the metric's spread across policies the linear fit on the levers explains."),
    "hypervolume": (
        "hypervolume",
        "Share of the space of outcomes (each metric scaled to its natural range, probabilities on "
        "[0, 1], ties on [−1, 1], with a reference point a tenth of the range beyond the worst end) "
        "that the non-dominated policies dominate (Zitzler & Thiele 1999): 1 would be the best of "
        "every metric at once; it grows as the search finds better trade-offs. Exact up to four "
        "objectives, a Monte Carlo estimate with its standard error above (Bader & Zitzler 2011).",
    ),
    "pareto": (
        "non-dominated",
        "No other policy found is at least as good on every metric and better on one (Pareto).",
    ),
    "status_quo": ("status quo", "Every lever as the scenario is written."),
    "out_of_sample": (
        "out of sample",
        "The same policies run again on fresh worlds and replicates the search never saw; the "
        "shift is how much the search's own estimates flattered them (the optimizer's curse, Smith "
        "& Winkler 2006).",
    ),
    "base_rate": ("base rate", "Share of all runs (or worlds) with the outcome."),
    "coverage": ("coverage", "Share of all runs with the outcome that fall inside the box."),
    "density": ("density", "Share of the runs inside the box that have the outcome."),
    "mass": ("mass", "Share of all runs that fall inside the box."),
    "lift": (
        "lift",
        "Density divided by the base rate: how many times more often the outcome happens inside "
        "the box; near 1 the box adds little.",
    ),
    "qp": (
        "quasi-p",
        "One-sided binomial test of a restriction: could dropping it leave the box as dense by "
        "chance? (Bryant & Lempert 2010)",
    ),
    "sweep_value": (
        "swept value",
        "The parameter the sweep sets, one value per design point, every other uncertain value "
        "drawn as in the scenario.",
    ),
    "scenario_range": (
        "scenario's own range",
        "Where the scenario itself puts the swept value (its distribution's support, or its fixed value).",
    ),
}

#: raw column names a table may hold, in words
COLUMN_WORDS: dict[str, str] = {
    "S1": "S1",
    "S1_conf": "S1 ± (95 %)",
    "ST": "ST",
    "ST_conf": "ST ± (95 %)",
    "mu_star": "μ*",
    "mu_star_conf": "μ* ± (95 %)",
    "sigma": "σ",
    "mu": "μ (signed mean effect)",
    "p_record": "P(record)",
    "log_score": "log score",
    "log_se": "± (log score)",
    "log_bf_vs_best": "log Bayes factor vs the best",
    "log_bf_se": "± (log Bayes factor)",
    "replicates": "runs",
    "binding": "binding observation",
    "rank": "rank",
    "scenario": "scenario",
    "factor": "factor",
    "dimension": "parameter",
    "what": "in words",
    "claims": "claims",
    "low": "kept from",
    "high": "kept to",
    "full_low": "sampled from",
    "full_high": "sampled to",
    "qp": "quasi-p",
    "src": "SRC",
    "spearman": "Spearman's ρ",
    "r2": "R²",
    "lever": "lever",
    "metric": "metric",
}


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


@dataclass
class FigureEntry:
    """A figure of a page: file name, heading, alt text, caption and how to draw it."""

    key: str
    title: str
    alt: str
    caption: str
    draw: Callable[[], object]


def png_size(png: bytes) -> tuple[int, int]:
    """Width and height in pixels of a PNG (read from its header)."""
    width, height = struct.unpack(">II", png[16:24])
    return int(width), int(height)


def figure_png(fig, max_px: int = MAX_PX) -> bytes:
    """The PNG bytes of a matplotlib Figure, drawn at :data:`DPI` or at the resolution that makes
    it ``max_px`` pixels wide when it is wider (never stretched afterwards). PNG bytes already
    drawn (a figure also written to a file of its own) are returned as they are."""
    if isinstance(fig, (bytes, bytearray)):
        return bytes(fig)
    width_in = float(fig.get_figwidth())
    dpi = min(DPI, max_px / width_in) if width_in > 0 else DPI
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


#: a page draws its figures in worker processes when it has at least this many and more than one
#: core is free to use (below it, starting the workers costs more than it saves)
PARALLEL_MIN = 4
#: the most figure-drawing processes a page starts
MAX_DRAWERS = 4
#: environment variable that sets how many processes draw a page's figures (1: in this process)
DRAWERS_ENV = "ALLIANCE_PAGE_WORKERS"

_DRAWS: Sequence[Callable[[], object]] = ()


def _draw_png(k: int) -> bytes:
    """Draw figure ``k`` of the page being written (in a forked worker, which inherited them)."""
    return figure_png(_DRAWS[k]())


def drawers(count: int) -> int:
    """How many processes draw ``count`` figures: :data:`DRAWERS_ENV` when set, else the cores
    this process may use (at most :data:`MAX_DRAWERS`), and 1 under :data:`PARALLEL_MIN` figures
    or where processes cannot be forked."""
    import multiprocessing
    import os

    if count < PARALLEL_MIN or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    wanted = os.environ.get(DRAWERS_ENV, "").strip()
    if wanted:
        try:
            return max(1, min(int(wanted), count))
        except ValueError:
            return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    return max(1, min(cores, MAX_DRAWERS, count))


def draw_pngs(
    draws: Sequence[Callable[[], object]],
    workers: int | None = None,
    done: Callable[[], object] | None = None,
) -> list[bytes]:
    """The PNG bytes of every figure ``draws`` makes, in order (:func:`figure_png`).

    Matplotlib draws on one core, and a page's figures are independent, so with several cores
    they are drawn in forked worker processes: a fork inherits the callables with the summaries
    they close over (nothing is pickled but the PNG bytes coming back). ``workers`` defaults to
    :func:`drawers`; with 1, or when forking fails, they are drawn here one after the other.
    ``done`` is called once per figure drawn (a progress bar's step).
    """
    global _DRAWS
    workers = drawers(len(draws)) if workers is None else workers
    tick = done or (lambda: None)

    def here() -> list[bytes]:
        pngs = []
        for d in draws:
            pngs.append(figure_png(d()))
            tick()
        return pngs

    if workers <= 1:
        return here()
    import multiprocessing
    import os
    import threading
    import warnings
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    from sim.run.executors import die_with

    _DRAWS = draws
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with library threads idle
            context = multiprocessing.get_context("fork")
            # the drawing processes die with this one, like the runner's workers
            dies = (os.getpid(), threading.current_thread() is threading.main_thread())
            with ProcessPoolExecutor(
                workers, mp_context=context, initializer=die_with, initargs=dies
            ) as pool:
                pngs = []
                for png in pool.map(_draw_png, range(len(draws))):
                    pngs.append(png)
                    tick()
                return pngs
    except (OSError, BrokenProcessPool):  # no processes to be had, or one died: draw here
        return here()
    finally:
        _DRAWS = ()


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
    """

    def __init__(self, path: str | Path, title: str, subtitle: str = ""):
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
        self.pending: list[FigureEntry] = []
        #: called once per figure drawn when the page is written (a progress bar's step)
        self.on_drawn: Callable[[], object] | None = None

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

    def section(self, heading: str, html_text: str, anchor: str | None = None) -> None:
        """Append a section with a heading (escaped) and its HTML."""
        a = f" id='{esc(anchor)}'" if anchor else ""
        self.body.append(f"<section{a}><h2>{esc(heading)}</h2>{html_text}</section>")

    def figure(self, entry: FigureEntry) -> str:
        """A figure's card, to be put anywhere in the page's parts: a placeholder now, the card
        (image, title, caption, link to its PNG file) when the page is written, once every figure
        has been drawn (in parallel, :func:`draw_pngs`)."""
        self.pending.append(entry)
        return f"{_SLOT}{len(self.pending) - 1}{_SLOT}"

    def _cards(self) -> list[str]:
        """Draw the pending figures, write their PNG files and return their cards."""
        cards = []
        pngs = draw_pngs([e.draw for e in self.pending], done=self.on_drawn)
        for entry, png in zip(self.pending, pngs, strict=True):
            name = f"{entry.key}.png"
            atomic_write_bytes(self.fig_dir / name, png)
            cards.append(figure_card(entry, png, f"{self.fig_dir.name}/{name}"))
        return cards

    def figures(self, entries: Sequence[FigureEntry]) -> str:
        """Draw figures into a grid of cards (empty string for none)."""
        cards = "".join(self.figure(e) for e in entries)
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
