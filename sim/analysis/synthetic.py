"""Synthetic records: observations simulated from the model at a known parameter set, to check that
conditioning recovers what generated them (the informative-record check of the README, the SBC of
:mod:`sim.analysis.sbc`, the backtest tests).

A *truth* is one replicate of a scenario drawn from its prior (some values may be fixed), run to
the last date. Each tie reading is a range of ``+-half_width`` around the truth's tie at that date,
read with error ``width``; the alliance's status at the last date (active, or ended with the fate
it met) is a discrete reading with error ``error``. Every reading says in its source that it is
synthetic.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sim.analysis.readings import ObservationCollector, gather
from sim.run.designs import Design
from sim.run.ensemble import run_design
from sim.spec.observations import Observation, Record, step_of
from sim.spec.scenario import Scenario
from sim.vocabulary import FATES

#: the ties of the informative record: the partnership both ways and each partner with NATO,
#: Ukraine and Kazakhstan
PAIRS = (
    ("China", "Russia"),
    ("Russia", "China"),
    ("NATO", "Russia"),
    ("NATO", "China"),
    ("Russia", "Ukraine"),
    ("China", "Ukraine"),
    ("Russia", "Kazakhstan"),
    ("China", "Kazakhstan"),
)
START = _dt.date(2022, 2, 4)
DATES = (_dt.date(2023, 2, 4), _dt.date(2024, 2, 4), _dt.date(2025, 2, 4), _dt.date(2026, 2, 4))
HISTORIES = ("held", "drift_apart", "stab_in_the_back", "any")
_SOURCE = {
    "outlet": "synthetic",
    "published": START,
    "url": "https://example.org/synthetic",
    "paraphrase": "a value simulated from the model at a known parameter set, not a report of any event",
}


@dataclass
class Truth:
    """The replicate a synthetic record was read from."""

    values: dict[str, float]  # every uncertain value of the scenario
    ties: np.ndarray  # (dates, pairs) the true ties at each date
    fate: str  # the alliance's fate by the last date ("holds" while active)
    end_step: int  # the step the alliance ended (the last date's step while it holds)
    replicate: int


def _raw(pairs, dates, alliance: str | None, scenario: Scenario) -> Record:
    """A record that reads each raw tie (range [-1, 1]) and the alliance's status at the last date
    (if the scenario has one)."""
    obs, steps = [], []
    base = {"basis": "synthetic", "source": _SOURCE}
    for d in dates:
        for a, b in pairs:
            obs.append({"kind": "tie_range", "from": a, "to": b, "low": -1.0, "high": 1.0, "date": d})
            steps.append(step_of(START, d, scenario.run.unit, scenario.run.dt))
    if alliance is not None:
        obs.append({"kind": "alliance_active", "alliance": alliance, "date": dates[-1]})
        steps.append(steps[-1])
    made = tuple(Observation.model_validate({**o, **base, "id": f"r{k}"}) for k, o in enumerate(obs))
    return Record(Path("synthetic"), START, scenario.run.unit, made, tuple(steps))


def draw_truth(
    scenario: Scenario,
    *,
    seed: int,
    history: str = "any",
    fix: dict[str, float] | None = None,
    pairs=PAIRS,
    dates=DATES,
    alliance: str | None = None,
    candidates: int = 4096,
) -> Truth:
    """The first of ``candidates`` prior replicates (values in ``fix`` held) whose alliance met
    ``history`` by the last date: ``held`` (still active), ``drift_apart``, ``stab_in_the_back``
    or ``any``."""
    if history not in HISTORIES:
        raise ValueError(f"history: expected one of {HISTORIES}, got {history!r}")
    alliance = alliance or scenario.focal_alliance
    if alliance is None and history != "any":
        raise ValueError(f"history {history!r} needs an alliance, and the scenario declares none")
    record = _raw(pairs, dates, alliance, scenario)
    short = scenario.with_run(steps=max(record.last_step, 1))
    design = Design({k: np.full((1, candidates), v) for k, v in (fix or {}).items()}, candidates)
    parts = run_design(
        short,
        design,
        ObservationCollector(scenario, record, keep_states="all"),
        seed=seed,
        progress=False,
    )
    got = gather(parts, True)
    n_ties = len(dates) * len(pairs)
    if alliance is None:
        r = 0
        ties = got["values"][r, :n_ties].reshape(len(dates), len(pairs))
        return Truth({k: float(v[r]) for k, v in got["sampled"].items()}, ties, "holds", record.last_step, r)
    a = list(scenario.alliances).index(alliance)
    active = got["states"]["active"][:, a]
    fate = got["states"]["fate"][:, a]
    want = {
        "held": active,
        "drift_apart": ~active & (fate == FATES.index("drift_apart")),
        "stab_in_the_back": ~active & (fate == FATES.index("stab_in_the_back")),
        "any": np.ones_like(active),
    }[history]
    hits = np.flatnonzero(want)
    if hits.size == 0:
        raise ValueError(f"no replicate of {candidates} met history {history!r}; draw more candidates")
    r = int(hits[0])
    ties = got["values"][r, :n_ties].reshape(len(dates), len(pairs))
    end = int(got["states"]["end_step"][r, a]) if not active[r] else record.last_step
    values = {k: float(v[r]) for k, v in got["sampled"].items()}
    return Truth(values, ties, FATES[int(fate[r])], end, r)


def tie_readings(
    truth: Truth,
    *,
    pairs=PAIRS,
    dates=DATES,
    half_width: float = 0.15,
    width: float = 0.05,
    alliance: str | None = "china_russia",
    error: float = 0.02,
) -> list[dict]:
    """The observations (as TOML tables) of a truth: each tie in ``+-half_width`` around its true
    value (clipped to [-1, 1]) with error ``width``, and the alliance's status at the last date."""
    out = []
    for i, d in enumerate(dates):
        for j, (a, b) in enumerate(pairs):
            w = float(truth.ties[i, j])
            out.append(
                {
                    "id": f"{a.lower()}-{b.lower()}-{d.isoformat()}",
                    "date": d,
                    "kind": "tie_range",
                    "from": a,
                    "to": b,
                    "low": round(max(-1.0, w - half_width), 4),
                    "high": round(min(1.0, w + half_width), 4),
                    "width": width,
                }
            )
    if alliance is None:
        return out
    status = {"id": f"{alliance}-status", "date": dates[-1], "alliance": alliance, "error": error}
    if truth.fate == "holds":
        status["kind"] = "alliance_active"
    else:
        status.update(kind="alliance_ended", fate=truth.fate)
    out.append(status)
    return out


def toml_text(observations: list[dict], comment: str, start: _dt.date = START, unit: str = "month") -> str:
    """An observations file holding ``observations`` (synthetic sources; one without a date, a
    series, is published at ``start``)."""
    lines = [f"# {line}" for line in comment.splitlines()]
    lines += [f"start = {start.isoformat()}", f'unit = "{unit}"', ""]
    for o in observations:
        lines.append("[[observations]]")
        for k, v in o.items():
            if isinstance(v, _dt.date):
                lines.append(f"{k} = {v.isoformat()}")
            elif isinstance(v, str):
                lines.append(f"{k} = {json.dumps(v)}")
            else:
                lines.append(f"{k} = {v!r}")
        lines.append('basis = "synthetic: read from a simulated replicate at a known parameter set"')
        lines.append("[observations.source]")
        lines.append('outlet = "synthetic"')
        lines.append(f"published = {o.get('date', start).isoformat()}")  # a series has no date
        lines.append('url = "https://example.org/synthetic"')
        lines.append(f"paraphrase = {json.dumps(_SOURCE['paraphrase'])}")
        lines.append("")
    return "\n".join(lines)


def write_record(
    path: str | Path,
    scenario: Scenario,
    *,
    seed: int,
    history: str = "held",
    fix: dict[str, float] | None = None,
    half_width: float = 0.15,
    width: float = 0.05,
    pairs=PAIRS,
    dates=DATES,
) -> Truth:
    """Draw a truth (:func:`draw_truth`) and write its observations file (8 ties at 4 yearly dates
    and the alliance's status by default: 33 readings)."""
    alliance = scenario.focal_alliance
    truth = draw_truth(scenario, seed=seed, history=history, fix=fix, pairs=pairs, dates=dates)
    obs = tie_readings(truth, pairs=pairs, dates=dates, half_width=half_width, width=width, alliance=alliance)
    comment = (
        f"Synthetic record: {len(obs)} readings of replicate {truth.replicate} of {scenario.title!r}\n"
        f"(seed {seed}, history {history}: {truth.fate}), each tie in +-{half_width} around its true\n"
        f"value read with width {width}. Not observations of the world."
    )
    Path(path).write_text(toml_text(obs, comment), encoding="utf-8")
    return truth


def series_rows(
    truth: Truth, *, pairs=PAIRS, dates=DATES, a: float, b: float, sd: float, seed: int
) -> list[tuple[str, str, str, float, float]]:
    """The rows ``(date, from, to, value, sd)`` of a series reading a truth's ties through
    ``value = a + b * tie + error`` (error normal with sd ``sd``)."""
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(7,)))
    rows = []
    for i, d in enumerate(dates):
        for j, (x, y) in enumerate(pairs):
            value = a + b * float(truth.ties[i, j]) + sd * float(rng.standard_normal())
            rows.append((d.isoformat(), x, y, round(value, 4), sd))
    return rows


def write_series(path: str | Path, rows) -> None:
    """A series CSV file (columns ``date,from,to,value,sd``)."""
    lines = ["date,from,to,value,sd"] + [f"{d},{x},{y},{v},{s}" for d, x, y, v, s in rows]
    Path(path).write_text("\n".join(lines) + "\n", encoding="utf-8")
