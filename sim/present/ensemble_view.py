"""The app's ensemble view: hundreds to thousands of replicates re-run as the sliders move.

Two settings (a scenario, a multiplier per mechanism, a pressure level) run side by side on common
random numbers: both draw their uncertain values and their noise, events and decisions from the
same seeds, so the difference between their fate bars, survival curves and what-broke-it bars comes
from the settings, not from the luck of the draw. Each change of a slider restarts the
computation after a short pause (debounced); the vectorized kernel runs 1,000 replicates x 120
steps with the force attribution in about a second on a laptop core (measured: README). A button
writes a setting as a scenario file that ``alliance-sim run`` accepts: it ``extends`` the chosen
scenario and overrides only the mechanism coefficients and the pressure.
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path

import numpy as np
import pandas as pd
import solara
from matplotlib.figure import Figure

from sim.analysis.outcomes import fate_table
from sim.analysis.why import why_groups
from sim.files import atomic_write_text
from sim.model.attribution import DEFAULT_WINDOW
from sim.present import plots, why_figures
from sim.run.collectors import OutcomeCollector
from sim.run.designs import Design
from sim.run.ensemble import run_design
from sim.spec.scenario import Scenario, load_scenario
from sim.spec.toml_writer import dumps
from sim.vocabulary import FATES, REPLICATE, end_step_column, fate_column

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
DEFAULT_SCENARIO = "status_quo"
DEBOUNCE = 0.35  # seconds of quiet after a slider move before the ensemble is re-run
MECHANISM_KEYS = ("affinity", "balance", "threat", "pressure", "competition", "dependence", "noise")


@dataclass(frozen=True)
class Setting:
    """One setting of the ensemble view: a scenario file in ``scenarios/``, a multiplier of each
    mechanism coefficient (1 keeps the scenario's, 0 switches the force off) and of the pressure."""

    scenario: str = DEFAULT_SCENARIO
    multipliers: tuple[tuple[str, float], ...] = tuple((m, 1.0) for m in MECHANISM_KEYS)
    pressure_level: float = 1.0

    def with_multiplier(self, name: str, value: float) -> Setting:
        """The same setting with one multiplier changed."""
        mult = dict(self.multipliers)
        mult[name] = float(value)
        return Setting(self.scenario, tuple(mult.items()), self.pressure_level)

    def label(self) -> str:
        """Short description: the scenario and the multipliers that are not 1."""
        changed = [f"{k} ×{v:g}" for k, v in self.multipliers if v != 1.0]
        if self.pressure_level != 1.0:
            changed.append(f"pressure level ×{self.pressure_level:g}")
        return self.scenario + (": " + ", ".join(changed) if changed else "")


@lru_cache(maxsize=8)
def _base(name: str, folder: str) -> Scenario:
    return load_scenario(Path(folder) / f"{name}.toml")


def build(setting: Setting, folder: Path = SCENARIOS) -> Scenario:
    """The scenario a setting stands for."""
    from sim.present.app_page import configure

    return configure(_base(setting.scenario, str(folder)), dict(setting.multipliers), setting.pressure_level)


@dataclass
class Ensemble:
    """The replicates of one setting: a replicate table like a run's (fates, end steps, defectors,
    ``why:`` columns) and what the figures need."""

    setting: Setting
    table: pd.DataFrame
    actors: list[str]
    alliances: list[str]
    focal: str | None
    steps: int
    dt: float
    unit: str
    seconds: float = 0.0
    extra: dict = field(default_factory=dict)


def simulate(
    setting: Setting,
    replicates: int = 1000,
    seed: int = 1,
    steps: int | None = None,
    folder: Path = SCENARIOS,
    dtype=np.float32,
) -> Ensemble:
    """Run ``replicates`` replicates of a setting with the force attribution, in this process.

    Settings run with the same ``seed`` share their random numbers (uncertain values drawn from one
    stream in the same order, then the same noise, event and decision draws): common random numbers.
    """
    started = time.perf_counter()
    scenario = build(setting, folder)
    if steps is not None:
        scenario = scenario.with_run(steps=min(int(steps), scenario.run.steps))
    parts = run_design(
        scenario,
        Design.single(replicates),
        OutcomeCollector(why=DEFAULT_WINDOW),
        seed=seed,
        workers=1,
        progress=False,
        dtype=np.dtype(dtype).name,
    )
    columns: dict[str, np.ndarray] = {REPLICATE: np.arange(replicates)}
    for name in parts[0][1]:
        columns[name] = np.concatenate([part[name] for _, part in parts])
    T = scenario.run.steps
    unit = scenario.run.unit
    return Ensemble(
        setting,
        pd.DataFrame(columns),
        scenario.actor_names,
        list(scenario.alliances),
        scenario.focal_alliance,
        T,
        scenario.run.dt,
        unit if unit.endswith("s") else unit + "s",
        time.perf_counter() - started,
    )


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def fates_figure(ensembles: list[Ensemble], alliance: str) -> Figure:
    """Grouped bars: P(holds), P(stab in the back) by each defector, P(drift apart) of each setting,
    with 95 % Wilson intervals."""
    fig = plots._figure(6.4, 3.2)
    ax = fig.add_subplot()
    tables = [fate_table(e.table, alliance, e.actors) for e in ensembles]
    tables = [t[t["outcome"] != FATES[1]] for t in tables]  # the per-defector rows only
    outcomes_ = list(dict.fromkeys(o for t in tables for o in t["outcome"]))
    width = 0.8 / max(len(ensembles), 1)
    colors = plots.scenario_colors(len(ensembles))
    for k, (e, t) in enumerate(zip(ensembles, tables)):
        t = t.set_index("outcome").reindex(outcomes_).fillna(0.0)
        x = np.arange(len(outcomes_)) + (k - (len(ensembles) - 1) / 2) * width
        ax.bar(
            x,
            t["p"],
            width,
            color=colors[k],
            label=plots.text(f"{'AB'[k] if k < 2 else k}: {e.setting.label()}", 60),
        )
        ax.errorbar(
            x,
            t["p"],
            yerr=[t["p"] - t["low"], t["high"] - t["p"]],
            fmt="none",
            ecolor="black",
            capsize=2,
            lw=0.8,
        )
    ax.set_xticks(range(len(outcomes_)), [plots.text(plots.fate_label(o), 16) for o in outcomes_], fontsize=8)
    ax.set_ylabel("share of replicates")
    ax.set_ylim(0, 1)
    ax.set_title(plots.text(f"Fate of {alliance} ({len(ensembles[0].table):,} replicates each)"), fontsize=10)
    plots._style(ax)
    ax.legend(fontsize=7, frameon=False, loc="upper right")
    return fig


def survival_figure(ensembles: list[Ensemble], alliance: str) -> Figure:
    """Share of replicates in which the alliance is still active after each step, per setting
    (every replicate is followed to the horizon, so this is the Kaplan-Meier estimate)."""
    fig = plots._figure(6.4, 3.0)
    ax = fig.add_subplot()
    colors = plots.scenario_colors(len(ensembles))
    for k, e in enumerate(ensembles):
        end = e.table[end_step_column(alliance)].to_numpy()
        held = (e.table[fate_column(alliance)] == FATES[0]).to_numpy()
        t = np.arange(e.steps + 1)
        alive = ((end[None, :] >= t[:, None]) | held[None, :]).mean(axis=1)
        ax.step(t * e.dt, alive, where="post", color=colors[k], lw=1.6, label=f"{'AB'[k] if k < 2 else k}")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(ensembles[0].unit)
    ax.set_ylabel("still active")
    ax.set_title(plots.text(f"Survival of {alliance}"), fontsize=10)
    plots._style(ax)
    ax.legend(fontsize=8, frameon=False)
    return fig


def why_figure(ensembles: list[Ensemble], alliance: str) -> Figure:
    """What broke it, per setting: each fate's mean force parts (diverging stacked bars)."""
    panels = [
        (
            f"{'AB'[k] if k < 2 else k}: {e.setting.label()}",
            why_groups(e.table, alliance, e.alliances, min_count=5),
        )
        for k, e in enumerate(ensembles)
    ]
    return why_figures.why_chart(panels)


# --------------------------------------------------------------------------------------------
# Writing a setting as a scenario file
# --------------------------------------------------------------------------------------------


def scenario_text(setting: Setting, target: Path, folder: Path = SCENARIOS) -> str:
    """The text of a scenario file at ``target`` that extends the setting's scenario and sets its
    mechanism coefficients and pressure as the setting has them."""
    from sim.present.app_page import _scale_pressure

    base = _base(setting.scenario, str(folder))
    scenario = build(setting, folder)
    source = (folder / f"{setting.scenario}.toml").resolve()
    rel = os.path.relpath(source, target.resolve().parent)
    mech = scenario.model_dump(by_alias=True, exclude_none=True)["mechanisms"]
    data: dict = {
        "extends": rel.replace(os.sep, "/"),
        "title": (base.title or setting.scenario) + " (" + setting.label() + ")",
        "mechanisms": {m: mech[m] for m in MECHANISM_KEYS if m in mech},
    }
    if setting.pressure_level != 1.0:
        data["pressure"] = _scale_pressure(base, setting.pressure_level)
    return dumps(data)


def write_scenario(setting: Setting, target: str | Path, folder: Path = SCENARIOS) -> Path:
    """Write the setting as a scenario file (see :func:`scenario_text`); it must lie inside the
    project, like every file a scenario extends."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(target, scenario_text(setting, target, folder))
    return target


# --------------------------------------------------------------------------------------------
# Components
# --------------------------------------------------------------------------------------------


def _set_multiplier(setting: solara.Reactive, name: str, value: float) -> None:
    setting.set(setting.value.with_multiplier(name, value))


@solara.component
def SettingControls(label: str, setting: solara.Reactive, names: list[str]):  # noqa: N802
    """A scenario picker and one slider per multiplier, editing ``setting``."""
    s = setting.value
    with solara.Column(style={"min-width": "260px"}) as column:
        solara.Text(label)
        solara.Select(
            "scenario",
            value=s.scenario,
            values=names,
            on_value=lambda v: setting.set(
                Setting(v, setting.value.multipliers, setting.value.pressure_level)
            ),
        )
        for name, value in s.multipliers:
            solara.SliderFloat(
                f"{name} × {value:.1f}",
                value=value,
                min=0.0,
                max=3.0,
                step=0.1,
                on_value=partial(_set_multiplier, setting, name),
            )
        solara.SliderFloat(
            f"pressure level × {s.pressure_level:.1f}",
            value=s.pressure_level,
            min=0.0,
            max=3.0,
            step=0.1,
            on_value=lambda v: setting.set(Setting(setting.value.scenario, setting.value.multipliers, v)),
        )
    return column


@solara.component
def EnsembleView(  # noqa: N802 - a component
    replicates: int = 1000,
    seed: int = 1,
    out_dir: Path | None = None,
    debounce: float = DEBOUNCE,
):
    """Two settings side by side on common random numbers, re-run as their sliders move."""
    names = solara.use_memo(lambda: sorted(p.stem for p in SCENARIOS.glob("*.toml")), [])
    a = solara.use_reactive(Setting())
    b = solara.use_reactive(Setting().with_multiplier("pressure", 0.5))
    n = solara.use_reactive(replicates)
    written = solara.use_reactive("")
    last = solara.use_ref(None)  # the figures shown until the next run finishes

    def compute(cancel: threading.Event):
        if debounce and cancel.wait(debounce):
            return None  # a newer change arrived during the pause
        started = time.perf_counter()
        ens = [simulate(a.value, n.value, seed), simulate(b.value, n.value, seed)]
        if cancel.is_set():
            return None
        alliance = ens[0].focal or (ens[0].alliances[0] if ens[0].alliances else None)
        if alliance is None or alliance not in ens[1].alliances:
            return {"message": "the two settings share no declared alliance", "seconds": 0.0}
        figs = [fates_figure(ens, alliance), survival_figure(ens, alliance), why_figure(ens, alliance)]
        return {
            "figures": figs,
            "seconds": time.perf_counter() - started,
            "alliance": alliance,
            "n": n.value,
            "labels": [e.setting.label() for e in ens],
        }

    result = solara.use_thread(compute, dependencies=[a.value, b.value, n.value], intrusive_cancel=False)

    def save():
        folder = out_dir or (SCENARIOS.parent / "results" / "app-scenarios")
        stem = re.sub(r"[^A-Za-z0-9_-]+", "-", b.value.label())[:60].strip("-")
        path = write_scenario(b.value, folder / f"{stem}.toml")
        written.set(f"wrote {path} (run it: alliance-sim run {path})")

    with solara.Column() as column:
        # plain text, not Markdown: Solara's Markdown loads mermaid and KaTeX from a CDN
        solara.Text(
            "Ensembles: A and B on common random numbers",
            style={"font-size": "1.25em", "font-weight": "600", "margin": "12px 0 4px"},
        )
        with solara.Row(style={"flex-wrap": "wrap"}):
            SettingControls("A", a, names)
            SettingControls("B", b, names)
        solara.SliderInt(
            f"replicates {n.value:,}", value=n.value, min=100, max=5000, step=100, on_value=n.set
        )
        with solara.Row():
            solara.Button("Write B as a scenario file", on_click=save)
            solara.Text(written.value)
        if result.state == solara.ResultState.FINISHED and result.value:
            last.current = result.value
        value = last.current
        if result.state == solara.ResultState.RUNNING:
            solara.Text("updating …")
        if value and "figures" in value:
            solara.Text(f"A = {value['labels'][0]}; B = {value['labels'][1]}")
            solara.Text(
                f"{value['n']:,} replicates per setting, {value['alliance']}: "
                f"updated in {value['seconds']:.2f} s",
                classes=["ensemble-status"],
            )
            with solara.Row(style={"flex-wrap": "wrap"}):
                for fig in value["figures"]:
                    solara.FigureMatplotlib(fig, format="png")
        elif value and "message" in value:
            solara.Text(value["message"])
        elif value is None:
            solara.Text("running the ensembles …")
    return column
