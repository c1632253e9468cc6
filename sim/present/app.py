"""An interactive page for one replicate of a scenario: Mesa's SolaraViz with sliders.

Run it in a browser with ``solara run sim/app.py``, or show it in a notebook cell::

    from sim.present.app import page
    page

Pick a scenario (the files in ``scenarios/``), scale each mechanism coefficient, the exogenous
pressure and the noise, press *Reset* to rebuild the model with those settings, then *Step* or
play it. The page shows the cohesion of each declared alliance as it evolves, the tie network
(arrows coloured by the sign of each disposition, widths by its strength, nodes sized by
capability) and each alliance's status. Every string that comes from a scenario is shown as plain
text (``solara.Text`` and escaped matplotlib labels), never as markup.

The sliders multiply the scenario's own coefficients (1 keeps the scenario, 0 switches the force
off), so they mean the same for every scenario.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import solara
from matplotlib.figure import Figure
from mesa.visualization import Slider, SolaraViz
from mesa.visualization.utils import update_counter

# absolute imports: `solara run sim/app.py` executes this file outside the package
from sim.model.agents import AllianceModel
from sim.present.plots import FATE_COLORS, NEGATIVE, POSITIVE, actor_colors, text
from sim.spec.scenario import Scenario, load_scenario

SCENARIOS = Path(__file__).resolve().parents[2] / "scenarios"
DEFAULT_SCENARIO = "status_quo"
MECHANISMS = ("affinity", "balance", "threat", "pressure", "competition", "dependence", "noise")
LABELS = {
    "affinity": "interest affinity α_aff ×",
    "balance": "structural balance α_bal ×",
    "threat": "balance of threat α_thr ×",
    "pressure": "external pressure α_prs ×",
    "competition": "sphere competition α_cmp ×",
    "dependence": "dependence α_dep ×",
    "noise": "noise σ ×",
}
TIE_THRESHOLD = 0.1  # ties weaker than this are not drawn


def scenario_names(folder: Path | None = None) -> list[str]:
    """The ready scenarios (file stems in ``scenarios/``), the default first."""
    names = sorted(p.stem for p in (folder or SCENARIOS).glob("*.toml"))
    if DEFAULT_SCENARIO in names:
        names.remove(DEFAULT_SCENARIO)
        names.insert(0, DEFAULT_SCENARIO)
    return names


def _scale_pressure(scenario: Scenario, factor: float) -> dict:
    """The scenario's pressure schedules with every level multiplied by ``factor``."""
    data = scenario.model_dump(by_alias=True, exclude_none=True).get("pressure", {})

    def scale(v):
        if isinstance(v, dict):  # an uncertain value: scale its location and spread
            out = dict(v)
            for key in ("low", "high", "mode", "mean", "sd"):
                if key in out and out[key] is not None:
                    out[key] = out[key] * factor
            return out
        return v * factor

    return {a: ([{**p, "value": scale(p["value"])} for p in s] if isinstance(s, list) else scale(s))
            for a, s in data.items()}


def configure(scenario: Scenario, multipliers: dict[str, float] | None = None,
              pressure_level: float = 1.0) -> Scenario:
    """A copy of ``scenario`` with mechanism coefficients multiplied and pressure rescaled.

    Parameters
    ----------
    scenario
        The scenario to start from.
    multipliers
        Mechanism name -> factor applied to its coefficient (plain or uncertain).
    pressure_level
        Factor applied to every actor's exogenous pressure (the schedule ``p_i(t)``).
    """
    data = scenario.model_dump(by_alias=True, exclude_none=True)
    mech = data.get("mechanisms", {})
    for name, k in (multipliers or {}).items():
        if name not in MECHANISMS:
            raise ValueError(f"unknown mechanism {name!r}; expected one of {', '.join(MECHANISMS)}")
        v = mech.get(name, 0.0)
        if isinstance(v, dict):
            v = {**v, **{key: v[key] * k for key in ("low", "high", "mode", "mean", "sd")
                         if v.get(key) is not None}}
        else:
            v = v * k
        mech[name] = v
    data["mechanisms"] = mech
    if pressure_level != 1.0:
        data["pressure"] = _scale_pressure(scenario, pressure_level)
    return Scenario.model_validate(data)


class AllianceExplorer(AllianceModel):
    """:class:`~sim.model.AllianceModel` built from slider settings (what the page steps).

    Parameters
    ----------
    scenario_name
        Stem of a file in ``scenarios/``.
    affinity, balance, threat, pressure, competition, dependence, noise
        Multipliers of the scenario's mechanism coefficients.
    pressure_level
        Multiplier of every actor's exogenous pressure.
    point
        Use point values instead of drawing the uncertain ones.
    rng
        Seed.
    """

    def __init__(self, scenario_name: str = DEFAULT_SCENARIO, affinity: float = 1.0,
                 balance: float = 1.0, threat: float = 1.0, pressure: float = 1.0,
                 competition: float = 1.0, dependence: float = 1.0, noise: float = 1.0,
                 pressure_level: float = 1.0, point: bool = False, rng=None):
        if scenario_name not in scenario_names():
            raise ValueError(f"unknown scenario {scenario_name!r}; expected one of "
                             f"{', '.join(scenario_names())}")
        base = load_scenario(SCENARIOS / f"{scenario_name}.toml", point=point)
        multipliers = {"affinity": affinity, "balance": balance, "threat": threat,
                       "pressure": pressure, "competition": competition,
                       "dependence": dependence, "noise": noise}
        super().__init__(configure(base, multipliers, pressure_level), rng=rng)
        self.scenario_name = scenario_name
        self.settings = {**multipliers, "pressure_level": pressure_level, "point": point}


def model_params() -> dict:
    """The page's inputs: scenario picker, one slider per mechanism, pressure, point, seed."""
    params: dict = {
        "scenario_name": {"type": "Select", "value": DEFAULT_SCENARIO, "values": scenario_names(),
                          "label": "Scenario"},
    }
    for name in MECHANISMS:
        params[name] = Slider(LABELS[name], value=1.0, min=0.0, max=3.0, step=0.1)
    params["pressure_level"] = Slider("pressure on every actor ×", value=1.0, min=0.0, max=3.0,
                                      step=0.1)
    params["point"] = {"type": "Checkbox", "value": False, "label": "point values (no sampling)"}
    params["rng"] = {"type": "SliderInt", "value": 1, "min": 0, "max": 999, "step": 1,
                     "label": "seed"}
    return params


# --------------------------------------------------------------------------------------------
# Figures (matplotlib object API: no pyplot, no window)
# --------------------------------------------------------------------------------------------

def cohesion_figure(model: AllianceModel) -> Figure:
    """Each alliance's cohesion (mean disposition among members) over the steps so far."""
    fig = Figure(figsize=(6, 3.4), layout="constrained")
    ax = fig.add_subplot()
    df = model.datacollector.get_model_vars_dataframe()
    columns = [c for c in df.columns if c.startswith("cohesion:")]
    colors = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9"]
    for k, c in enumerate(columns):
        name = c.removeprefix("cohesion:")
        status = model.alliance_status()[name]
        label = name if status["status"] == "active" else f"{name} ({status['fate']})"
        ax.plot(df.index, df[c], color=colors[k % len(colors)], lw=1.8, label=text(label))
        if status["end_step"] is not None:
            ax.axvline(status["end_step"], color=FATE_COLORS.get(status["fate"], "#999999"),
                       lw=1, ls="--")
    ax.axhline(0, color="#888888", lw=0.6)
    ax.set_ylim(-1.05, 1.05)
    ax.set_xlim(0, max(model.horizon, 1))
    ax.set_xlabel(f"step ({text(model.spec.run.unit)})")
    ax.set_ylabel("cohesion")
    ax.set_title("Alliance cohesion", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    if columns:
        ax.legend(fontsize=8, frameon=False, loc="lower left")
    return fig


def network_layout(n: int) -> np.ndarray:
    """Actors evenly on a circle (fixed, so that the picture does not jump between steps)."""
    angle = np.pi / 2 - 2 * np.pi * np.arange(n) / max(n, 1)
    return np.column_stack([np.cos(angle), np.sin(angle)])


def network_figure(model: AllianceModel, threshold: float = TIE_THRESHOLD) -> Figure:
    """The tie network now: an arrow i -> j for each disposition with ``|W_ij| >= threshold``,
    blue when positive and vermilion when negative, its width the strength; node area is the
    actor's capability share."""
    W = np.asarray(model.ties, dtype=float)
    names = [c.name for c in model.countries]
    cap = np.array([c.capability for c in model.countries])
    xy = network_layout(len(names))
    fig = Figure(figsize=(5.2, 5.2), layout="constrained")
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.set_axis_off()
    for i in range(len(names)):
        for j in range(len(names)):
            w = W[i, j]
            if i == j or abs(w) < threshold:
                continue
            # offset each direction sideways so that i->j and j->i do not overlap
            d = xy[j] - xy[i]
            normal = np.array([-d[1], d[0]]) / (np.hypot(*d) or 1.0) * 0.025
            ax.annotate("", xy=xy[j] + normal, xytext=xy[i] + normal,
                        arrowprops={"arrowstyle": "-|>", "color": POSITIVE if w > 0 else NEGATIVE,
                                    "lw": 0.4 + 2.6 * abs(w), "alpha": 0.75,
                                    "shrinkA": 12, "shrinkB": 12})
    colors = actor_colors(names)
    ax.scatter(xy[:, 0], xy[:, 1], s=120 + 2400 * np.sqrt(cap), c=[colors[a] for a in names],
               edgecolors="white", linewidths=1.5, zorder=3)
    for (x, y), name in zip(xy, names):
        ax.text(1.2 * x, 1.2 * y, text(name), ha="center", va="center", fontsize=8)
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.35, 1.35)
    ax.set_title(f"Ties at step {model.state.t} (|W| ≥ {threshold:g}; blue +, vermilion −)",
                 fontsize=9)
    return fig


# --------------------------------------------------------------------------------------------
# Components (plain functions of the model: SolaraViz re-renders them after every step)
# --------------------------------------------------------------------------------------------

def CohesionPlot(model: AllianceModel):  # noqa: N802 - a component
    """Live plot of alliance cohesion."""
    return solara.FigureMatplotlib(cohesion_figure(model), format="png")


def TieNetwork(model: AllianceModel):  # noqa: N802 - a component
    """Picture of the tie network."""
    return solara.FigureMatplotlib(network_figure(model), format="png")


def AllianceStatus(model: AllianceModel):  # noqa: N802 - a component
    """The scenario's title and each alliance's status, as plain text."""
    with solara.Column() as column:
        solara.Text(model.spec.title or getattr(model, "scenario_name", "scenario"))
        solara.Text(f"step {model.state.t} of {model.horizon}")
        for name, s in model.alliance_status().items():
            line = f"{name}: {s['status']}, cohesion {s['cohesion']:+.2f}"
            if s["status"] != "active":
                line += f" — {s['fate'].replace('_', ' ')} at step {s['end_step']}"
                if s["fate"] == "stab_in_the_back":
                    line += f" by {s['defector']}"
            solara.Text(line)
    return column


COMPONENTS = (CohesionPlot, TieNetwork, AllianceStatus)
TITLE = "alliance-sim: back to back or stab in the back?"


@solara.component
def View(model: AllianceModel):  # noqa: N802 - a component
    """The main area: the figures and the status, redrawn after every step and every reset."""
    update_counter.get()
    with solara.Column() as column:
        with solara.Row(style={"flex-wrap": "wrap"}):
            CohesionPlot(model)
            TieNetwork(model)
        AllianceStatus(model)
    return column


@solara.component
def Page(model=None):  # noqa: N802 - the name `solara run` looks for
    """The page: Mesa's SolaraViz (controls, sliders, scenario picker) around :func:`View`.

    The figures sit in a plain column rather than in SolaraViz's draggable grid, whose
    browser-side grid package does not load under Solara's Vue 3 page (it needs Vue 2's
    ``Vue.use``); in a notebook and in a browser alike the page then shows everything.

    Parameters
    ----------
    model
        An :class:`AllianceExplorer`, or a ``solara.Reactive`` holding one (Reset replaces its
        value); default: the status-quo scenario, seed 1.
    """
    initial = solara.use_memo(
        lambda: model if isinstance(model, AllianceModel) else AllianceExplorer(rng=1), [])
    own = solara.use_reactive(initial)
    reactive = model if isinstance(model, solara.Reactive) else own
    SolaraViz(reactive, components=[], model_params=model_params(), name=TITLE)
    View(reactive.value)
    ensembles, set_ensembles = solara.use_state(False)
    solara.Checkbox(label="ensemble view: many replicates, two settings side by side",
                    value=ensembles, on_value=set_ensembles)
    if ensembles:
        from sim.present.ensemble_view import EnsembleView

        EnsembleView()


def make_page(model=None):
    """The page as an element (what a notebook cell displays); see :func:`Page`."""
    return Page(model=model)


page = make_page()
