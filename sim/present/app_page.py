"""An interactive page for one replicate of a scenario: Mesa's SolaraViz with sliders.

Run it in a browser with ``solara run sim/app.py``, or show it in a notebook cell::

    from sim.present.app_page import page
    page

Pick a scenario (the files in ``scenarios/``: the choice takes effect at once) or load a scenario
file of your own (dropped on the page or named by its path), scale each mechanism coefficient, the
exogenous pressure and the noise, press *Reset* to rebuild the model with those settings, then
*Step* or play it. The page shows each alliance's status and fate first, then the cohesion of each
declared alliance as it evolves and the tie network (the strongest mutual ties only, stated in the
figure, coloured by sign, widths by strength, nodes sized by capability). Every string that comes
from a scenario is shown as plain text (``solara.Text`` and escaped matplotlib labels), never as
markup.

The controls are Mesa's (``ModelController``: Step, Play, Pause, Reset) without the settings that
mean nothing here (threads, render interval); ``alliance-sim app`` serves the page with its
browser assets prepared locally, so that it needs no network.

The sliders multiply the scenario's own coefficients (1 keeps the scenario, 0 switches the force
off), so they mean the same for every scenario.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import numpy as np
import solara
from matplotlib.figure import Figure
from mesa.visualization.solara_viz import ModelController
from mesa.visualization.utils import update_counter

from sim.files import atomic_write_bytes

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
TIE_THRESHOLD = 0.1  # mutual ties weaker than this are not drawn
TOP_TIES = 15  # at most this many ties are drawn (the strongest), so the picture stays legible


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

    return {
        a: ([{**p, "value": scale(p["value"])} for p in s] if isinstance(s, list) else scale(s))
        for a, s in data.items()
    }


def configure(
    scenario: Scenario, multipliers: dict[str, float] | None = None, pressure_level: float = 1.0
) -> Scenario:
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
            v = {
                **v,
                **{
                    key: v[key] * k for key in ("low", "high", "mode", "mean", "sd") if v.get(key) is not None
                },
            }
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
    scenario_file
        A scenario file of the user's own; when given it replaces ``scenario_name``.
    rng
        Seed.
    """

    def __init__(
        self,
        scenario_name: str = DEFAULT_SCENARIO,
        affinity: float = 1.0,
        balance: float = 1.0,
        threat: float = 1.0,
        pressure: float = 1.0,
        competition: float = 1.0,
        dependence: float = 1.0,
        noise: float = 1.0,
        pressure_level: float = 1.0,
        point: bool = False,
        scenario_file: str = "",
        rng=None,
    ):
        if scenario_file:
            base = load_scenario(Path(scenario_file), point=point)
            scenario_name = Path(scenario_file).stem
        elif scenario_name not in scenario_names():
            raise ValueError(
                f"unknown scenario {scenario_name!r}; expected one of {', '.join(scenario_names())}"
            )
        else:
            base = load_scenario(SCENARIOS / f"{scenario_name}.toml", point=point)
        multipliers = {
            "affinity": affinity,
            "balance": balance,
            "threat": threat,
            "pressure": pressure,
            "competition": competition,
            "dependence": dependence,
            "noise": noise,
        }
        super().__init__(configure(base, multipliers, pressure_level), rng=rng)
        self.scenario_name = scenario_name
        self.scenario_file = scenario_file
        self.settings = {**multipliers, "pressure_level": pressure_level, "point": point}


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
            ax.axvline(status["end_step"], color=FATE_COLORS.get(status["fate"], "#999999"), lw=1, ls="--")
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


def strongest_ties(
    W: np.ndarray, threshold: float = TIE_THRESHOLD, top: int = TOP_TIES
) -> tuple[list[tuple[int, int, float]], int]:
    """The pairs to draw: mutual ties ``(W_ij + W_ji) / 2`` at least ``threshold`` in size, the
    ``top`` strongest of them; and how many pairs passed the threshold."""
    S = (W + W.T) / 2
    n = len(S)
    pairs = [(i, j, float(S[i, j])) for i in range(n) for j in range(i + 1, n) if abs(S[i, j]) >= threshold]
    pairs.sort(key=lambda p: -abs(p[2]))
    return pairs[:top], len(pairs)


def network_figure(model: AllianceModel, threshold: float = TIE_THRESHOLD, top: int = TOP_TIES) -> Figure:
    """The tie network now: a line for each of the ``top`` strongest mutual ties (mean of both
    directions) with size at least ``threshold``, blue when positive and vermilion (dashed) when
    negative, its width the strength; node area is the actor's capability share. The title states
    how many ties are drawn of how many pass the threshold, so that the picture stays legible
    after many steps, when most ties have grown strong."""
    W = np.asarray(model.ties, dtype=float)
    names = [c.name for c in model.countries]
    cap = np.array([c.capability for c in model.countries])
    xy = network_layout(len(names))
    fig = Figure(figsize=(5.2, 5.2), layout="constrained")
    ax = fig.add_subplot()
    ax.set_aspect("equal")
    ax.set_axis_off()
    drawn, passed = strongest_ties(W, threshold, top)
    for i, j, w in drawn:
        ax.plot(
            [xy[i, 0], xy[j, 0]],
            [xy[i, 1], xy[j, 1]],
            color=POSITIVE if w > 0 else NEGATIVE,
            linestyle="-" if w > 0 else "--",
            linewidth=0.5 + 3.0 * abs(w),
            alpha=0.8,
            zorder=1,
        )
    colors = actor_colors(names)
    ax.scatter(
        xy[:, 0],
        xy[:, 1],
        s=120 + 2400 * np.sqrt(cap),
        c=[colors[a] for a in names],
        edgecolors="white",
        linewidths=1.5,
        zorder=3,
    )
    for (x, y), name in zip(xy, names, strict=True):
        ax.text(1.2 * x, 1.2 * y, text(name), ha="center", va="center", fontsize=8)
    ax.set_xlim(-1.45, 1.45)
    ax.set_ylim(-1.35, 1.35)
    ax.set_title(
        f"Ties at step {model.state.t}: the {len(drawn)} strongest of {passed} mutual ties "
        f"with |W| ≥ {threshold:g}\n(blue solid +, vermilion dashed −; width: strength)",
        fontsize=9,
    )
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


def value_bases(scenario: Scenario) -> dict[str, list[str]]:
    """The scenario's values by basis (article claim, public figure, modelling assumption,
    ungrounded), as parameter paths, from its claims file (:func:`sim.spec.claims.basis_of`)."""
    from sim.spec.claims import basis_of, claims_by_param, claims_for, load_claims
    from sim.spec.parammap import slots

    try:
        claims = claims_by_param(load_claims(scenario.claims)) if scenario.claims else {}
    except Exception:  # noqa: BLE001 - an unreadable claims file: every value shows as ungrounded
        claims = {}
    out: dict[str, list[str]] = {}
    for slot in slots(scenario):
        out.setdefault(basis_of(claims_for(claims, slot.path), slot.path), []).append(slot.path)
    return out


def basis_line(scenario: Scenario) -> str:
    """``Values: 60 article claims, 26 public figures, 107 modelling assumptions ...``"""
    from sim.analysis.variance import BASIS_PLURAL, basis_count
    from sim.vocabulary import BASES

    bases = value_bases(scenario)
    parts = [basis_count(len(bases[b]), b) for b in BASES if bases.get(b)]
    mech = sorted({basis for basis, paths in bases.items() for p in paths if p.startswith("mechanisms.")})
    return (
        f"Its values: {', '.join(parts)}; the mechanism coefficients the sliders scale are "
        f"{' and '.join(BASIS_PLURAL.get(m, m) for m in mech) or 'not grounded'}."
    )


def AllianceStatus(model: AllianceModel):  # noqa: N802 - a component
    """The scenario's title, the step and each alliance's status and fate, as plain text."""
    with solara.Column(
        gap="2px", style={"padding": "4px 8px", "background": "#f5f7f9", "border-radius": "8px"}
    ) as column:
        solara.Text(
            model.spec.title or getattr(model, "scenario_name", "scenario"), style={"font-weight": "600"}
        )
        solara.Text(f"step {model.state.t} of {model.horizon}")
        for name, s in model.alliance_status().items():
            line = f"{name}: {s['status']}, cohesion {s['cohesion']:+.2f}"
            color = "#1d2327"
            if s["status"] != "active":
                line += f" — {s['fate'].replace('_', ' ')} at step {s['end_step']}"
                if s["fate"] == "stab_in_the_back":
                    line += f" by {s['defector']}"
                color = FATE_COLORS.get(s["fate"], color)
            solara.Text(line, style={"color": color})
        if getattr(model, "basis_text", None) is None:  # once per model, not once per step
            model.basis_text = basis_line(model.spec)
        solara.Text(
            "One run of the model under the scenario's assumptions, not a forecast. " + model.basis_text,
            style={"font-size": "0.85em", "color": "#5b6670"},
        )
    return column


COMPONENTS = (CohesionPlot, TieNetwork, AllianceStatus)
TITLE = "alliance-sim: back to back or stab in the back?"
#: let the app bar's title take the bar's width instead of being cut with an ellipsis
TITLE_STYLE = (
    ".v-toolbar-title { flex: 1 1 auto !important; min-width: 0; max-width: none; } "
    ".v-toolbar-title__placeholder { overflow: visible !important; text-overflow: clip !important; "
    "white-space: normal !important; }"
)


@solara.component
def View(model: AllianceModel):  # noqa: N802 - a component
    """The main area: the figures and the status, redrawn after every step and every reset."""
    update_counter.get()
    with solara.Column() as column:
        AllianceStatus(model)  # first, so the status and the fate show without scrolling
        with solara.Row(style={"flex-wrap": "wrap"}):
            CohesionPlot(model)
            TieNetwork(model)
    return column


def _initial_params(model: AllianceModel) -> dict:
    """The inputs' values that rebuild ``model`` (its scenario and slider settings)."""
    settings = getattr(model, "settings", {}) or {}
    params = {
        "scenario_name": getattr(model, "scenario_name", DEFAULT_SCENARIO),
        "scenario_file": getattr(model, "scenario_file", ""),
        "rng": 1,
    }
    params.update({name: settings.get(name, 1.0) for name in MECHANISMS})
    params["pressure_level"] = settings.get("pressure_level", 1.0)
    params["point"] = settings.get("point", False)
    return params


PRESSURE_LABEL = "pressure on every actor ×"


def slider_label(label: str, value: float) -> str:
    """A slider's label with its current value: ``noise σ × 1.0``."""
    return f"{label} {value:.1f}"


def _one_line(e: Exception) -> str:
    return " ".join(str(e).split()) or type(e).__name__


class Uploads:
    """The scenario files dropped on a page, kept in a folder of their own that is made on the
    first drop (a page that is only looked at makes none) and removed with the page."""

    def __init__(self) -> None:
        self.folder: Path | None = None

    def save(self, info: dict) -> Path:
        """Write a dropped file (solara's file info: its name and its bytes) into the folder, as
        ``NAME.toml``, and return its path."""
        if self.folder is None:
            self.folder = Path(tempfile.mkdtemp(prefix="alliance-app-"))
        name = Path(str(info.get("name") or "uploaded.toml")).name
        target = self.folder / (name if name.endswith(".toml") else name + ".toml")
        data = info.get("data")
        if data is None and info.get("file_obj") is not None:
            data = info["file_obj"].read()
        atomic_write_bytes(target, data or b"")
        return target

    def close(self) -> None:
        """Remove the folder and the files in it (nothing when none was dropped)."""
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


@solara.component
def Inputs(model: solara.Reactive, params: solara.Reactive):  # noqa: N802 - a component
    """The scenario (a ready one, chosen with immediate effect, or a file of the user's own) and
    the sliders (applied by *Reset*), each showing its value."""
    error = solara.use_reactive("")
    uploads = solara.use_memo(Uploads, [])
    solara.use_effect(lambda: uploads.close, [])  # the files go when the page does

    def rebuild(changes: dict) -> None:
        new = {**params.value, **changes}
        try:
            built = AllianceExplorer(**new)
        except Exception as e:  # noqa: BLE001 - a bad scenario is reported on the page, in one line
            error.set(_one_line(e))
            return
        error.set("")
        params.set(new)
        model.set(built)

    def on_file(info) -> None:
        rebuild({"scenario_file": str(uploads.save(info))})

    current = params.value
    solara.Select(
        "Scenario",
        values=scenario_names(),
        value=None if current.get("scenario_file") else current["scenario_name"],
        on_value=lambda v: rebuild({"scenario_name": v, "scenario_file": ""}),
    )
    solara.FileDrop(label="…or drop a scenario file of your own (.toml) here", on_file=on_file, lazy=False)
    solara.InputText(
        "…or type its path and press Enter",
        value=current.get("scenario_file", ""),
        on_value=lambda v: rebuild({"scenario_file": (v or "").strip()}),
    )
    if current.get("scenario_file"):
        solara.Text(f"scenario file: {current['scenario_file']}", style={"font-size": "0.85em"})
    if error.value:
        solara.Error(error.value)
    solara.Text(
        "A scenario applies at once; the sliders below apply when you press Reset.",
        style={"font-size": "0.85em", "color": "#5b6670"},
    )

    def setter(name):
        return lambda v: params.set({**params.value, name: v})

    for name in MECHANISMS:  # the value is part of the label, so it shows without dragging
        solara.SliderFloat(
            slider_label(LABELS[name], current[name]),
            value=current[name],
            min=0.0,
            max=3.0,
            step=0.1,
            on_value=setter(name),
        )
    solara.SliderFloat(
        slider_label(PRESSURE_LABEL, current["pressure_level"]),
        value=current["pressure_level"],
        min=0.0,
        max=3.0,
        step=0.1,
        on_value=setter("pressure_level"),
    )
    solara.Checkbox(label="point values (no sampling)", value=current["point"], on_value=setter("point"))
    solara.SliderInt(
        f"seed {current['rng']}", value=current["rng"], min=0, max=999, step=1, on_value=setter("rng")
    )


@solara.component
def Page(model=None):  # noqa: N802 - the name `solara run` looks for
    """The page: Mesa's controls (Step, Play, Pause, Reset), the scenario and sliders, and
    :func:`View` (status and fate first, then the figures).

    The figures sit in a plain column rather than in SolaraViz's draggable grid, whose
    browser-side grid package does not load under Solara's Vue 3 page (it needs Vue 2's
    ``Vue.use``); in a notebook and in a browser alike the page then shows everything.
    SolaraViz's thread and render-interval settings are left out: one replicate steps in
    milliseconds, so they change nothing a reader can see.

    Parameters
    ----------
    model
        An :class:`AllianceExplorer`, or a ``solara.Reactive`` holding one (Reset and a new
        scenario replace its value); default: the status-quo scenario, seed 1.
    """
    initial = solara.use_memo(
        lambda: model if isinstance(model, AllianceModel) else AllianceExplorer(rng=1), []
    )
    own = solara.use_reactive(initial)
    reactive = model if isinstance(model, solara.Reactive) else own
    params = solara.use_reactive(solara.use_memo(lambda: _initial_params(reactive.value), []))
    play_interval = solara.use_reactive(150)
    render_interval = solara.use_reactive(1)
    use_threads = solara.use_reactive(False)
    solara.Style(TITLE_STYLE)
    with solara.AppBar():
        solara.AppBarTitle(TITLE)
    with solara.Sidebar(), solara.Column():
        with solara.Card("Controls"):
            ModelController(
                reactive,
                model_parameters=params,
                play_interval=play_interval,
                render_interval=render_interval,
                use_threads=use_threads,
            )
        with solara.Card("Scenario and settings"):
            Inputs(reactive, params)
    View(reactive.value)
    ensembles, set_ensembles = solara.use_state(False)
    solara.Checkbox(
        label="ensemble view: many replicates, two settings side by side",
        value=ensembles,
        on_value=set_ensembles,
    )
    if ensembles:
        from sim.present.ensemble_view import EnsembleView

        EnsembleView()


def make_page(model=None):
    """The page as an element (what a notebook cell displays); see :func:`Page`."""
    return Page(model=model)


page = make_page()
