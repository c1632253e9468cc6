"""Figures of an ensemble's outcomes (matplotlib, object API; every function returns a Figure).

Nothing here calls :mod:`matplotlib.pyplot`, so the figures render on any backend (Agg included)
and never open a window. Colours follow the Okabe-Ito palette, safe for the common forms of colour
blindness, extended with Paul Tol's "muted" scheme beyond eight actors; :func:`actor_colors` gives
every actor the same colour in every figure.

References
----------
Okabe, M. & Ito, K. (2008). Color Universal Design (CUD): how to make figures and presentations
    that are friendly to colorblind people. https://jfly.uni-koeln.de/color/
Tol, P. (2021). Colour schemes. SRON technical note SRON/EPS/TN/09-002.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from sim.analysis import outcomes

OKABE_ITO = ("#D55E00", "#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
TOL_MUTED = (
    "#332288",
    "#88CCEE",
    "#44AA99",
    "#117733",
    "#999933",
    "#DDCC77",
    "#CC6677",
    "#882255",
    "#AA4499",
)
SCENARIO_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
FATE_COLORS = {"holds": "#009E73", "stab_in_the_back": "#D55E00", "drift_apart": "#999999"}
POSITIVE, NEGATIVE = "#0072B2", "#D55E00"
HATCHES = ("////", "\\\\", "..", "xx", "--")  # one per compared scenario, so overlaid bands stay apart
DPI = 120


# --------------------------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------------------------


def actor_colors(actors: Sequence[str]) -> dict[str, str]:
    """One colour per actor, by position in ``actors`` (Okabe-Ito, then Tol's muted, cycled).

    Pass the same actor list (e.g. the manifest's, or the union over compared scenarios) to
    every figure and an actor keeps its colour throughout.
    """
    palette = OKABE_ITO + TOL_MUTED
    return {a: palette[i % len(palette)] for i, a in enumerate(dict.fromkeys(actors))}


def scenario_colors(n: int) -> list[str]:
    """Colours of ``n`` compared scenarios (Okabe-Ito order, cycled)."""
    return [SCENARIO_COLORS[i % len(SCENARIO_COLORS)] for i in range(n)]


def text(s: object, width: int | None = None) -> str:
    """A user string made safe for matplotlib labels (no mathtext: ``$`` is escaped), optionally
    wrapped to lines of ``width`` characters."""
    s = str(s)
    if width:
        s = "\n".join(textwrap.wrap(s, width)) or s
    return s.replace("$", r"\$")


def time_unit(results) -> tuple[str, float]:
    """The unit of time of a run (plural, e.g. ``"months"``) and the length of a step in it."""
    run = results.manifest.get("scenario", {}).get("run", {}) or {}
    unit = str(run.get("unit") or "month")
    dt = float(run.get("dt") or results.manifest.get("settings", {}).get("dt") or 1.0)
    return (unit if unit.endswith("s") else unit + "s"), dt


def fate_label(outcome: str) -> str:
    """``stab_in_the_back by China`` -> ``stab in the back by China``."""
    head, _, who = outcome.partition(" by ")
    label = outcomes.FATE_LABELS.get(head, head)
    return f"{label} by {who}" if who else label


def _figure(width: float, height: float) -> Figure:
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    return fig


def _style(ax) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def _alliance_spec(results, alliance: str) -> dict:
    return (results.manifest.get("scenario", {}).get("alliances") or {}).get(alliance, {}) or {}


def _alliances(results, alliances: Sequence[str] | None) -> list[str]:
    names = list(results.alliances if alliances is None else alliances)
    focal = results.focal
    if focal in names:
        names.remove(focal)
        names.insert(0, focal)
    return names


def _empty(fig: Figure, message: str) -> Figure:
    ax = fig.add_subplot()
    ax.set_axis_off()
    ax.text(0.5, 0.5, text(message), ha="center", va="center", transform=ax.transAxes)
    return fig


# --------------------------------------------------------------------------------------------
# What the figures show, from a run's digest or from its table in memory
# --------------------------------------------------------------------------------------------


def _digest(results):
    from sim.analysis.digest import digest_of

    return digest_of(results)


def has_fate(results, alliance: str | None) -> bool:
    """Whether the run recorded the alliance's fate."""
    from sim.vocabulary import fate_column

    return alliance is not None and fate_column(alliance) in results.columns


def fates(results, alliance: str, actors: Sequence[str] | None = None):
    """The alliance's fate table with Wilson intervals (from the digest when the run has one)."""
    d = _digest(results)
    if d is not None:
        return d.fate_table(alliance, actors)
    return outcomes.fate_table(results.outcomes, alliance, None if actors is None else list(actors))


def survival(results, alliance: str) -> outcomes.SurvivalCurve:
    """Kaplan-Meier curve of the time until the alliance ends."""
    d = _digest(results)
    if d is not None:
        return d.survival(alliance, results.steps)
    return outcomes.alliance_survival(results.outcomes, alliance, results.steps)


def has_blocs(results) -> bool:
    """Whether the run recorded every actor's final bloc."""
    d = _digest(results)
    if d is not None:
        return d.has_blocs
    return outcomes.bloc_columns(results.outcomes, results.actors) is not None


def same_bloc(results):
    """P(two actors end in the same bloc), actors by actors."""
    d = _digest(results)
    if d is not None:
        return d.same_bloc_probability()
    return outcomes.same_bloc_probability(results.outcomes, results.actors)


def stabs(results, members, actors: Sequence[str], normalize: bool = True):
    """Who stabs whom: defectors (rows) by betrayed partners (columns)."""
    d = _digest(results)
    if d is not None:
        return d.who_stabs_whom(actors, normalize=normalize)
    return outcomes.who_stabs_whom(results.outcomes, members, actors, normalize=normalize)


def capability(results, actors: Sequence[str]):
    """Mean final capability of each actor."""
    d = _digest(results)
    if d is not None:
        return d.mean_capability(actors)
    return outcomes.mean_capability(results.outcomes, actors)


# --------------------------------------------------------------------------------------------
# One scenario
# --------------------------------------------------------------------------------------------


def fate_chart(results, alliance: str | None = None) -> Figure:
    """Horizontal bars of P(holds), P(stab in the back) and by whom, P(drift apart).

    Error bars are 95 % Wilson intervals (:func:`sim.analysis.fates.wilson_interval`).
    """
    alliance = alliance or results.focal
    fig = _figure(7.5, 3.2)
    if alliance is None:
        return _empty(fig, "no declared alliance")
    table = fates(results, alliance, results.actors)
    table = table.iloc[::-1].reset_index(drop=True)
    ax = fig.add_subplot()
    y = np.arange(len(table))
    colors, hatches = [], []
    for o in table["outcome"]:
        head = o.partition(" by ")[0]
        colors.append(FATE_COLORS.get(head, "#999999"))
        hatches.append("//" if " by " in o else "")
    bars = ax.barh(y, table["p"], color=colors, edgecolor="white", height=0.7)
    for bar, h, o in zip(bars, hatches, table["outcome"], strict=True):
        if h:
            bar.set_hatch(h)
            bar.set_alpha(0.6)
        bar.set_label(fate_label(o))
    err = np.clip(np.vstack([table["p"] - table["low"], table["high"] - table["p"]]), 0, None)
    ax.errorbar(table["p"], y, xerr=err, fmt="none", ecolor="#333333", capsize=3, linewidth=1)
    for yi, r in zip(y, table.itertuples(), strict=True):
        ax.text(min(r.high + 0.01, 0.99), float(yi), f"{100 * r.p:.1f} %", va="center", ha="left", fontsize=9)
    ax.set_yticks(y, [text(fate_label(o)) for o in table["outcome"]])
    ax.set_xlim(0, 1.08)
    ax.set_xlabel("probability over replicates (bars: 95 % Wilson interval)")
    unit, dt = time_unit(results)
    ax.set_title(text(f"Fate of {alliance} after {results.steps * dt:g} {unit} ({results.n} replicates)"))
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def survival_chart(results, alliances: Sequence[str] | None = None) -> Figure:
    """Kaplan-Meier curves of the time each alliance stays active, with Greenwood 95 % bands.

    Alliances that hold are censored at the horizon.
    """
    names = _alliances(results, alliances)
    fig = _figure(7.5, 4.0)
    if not names:
        return _empty(fig, "no declared alliance")
    ax = fig.add_subplot()
    unit, dt = time_unit(results)
    colors = scenario_colors(len(names))
    curves = []
    for name, color in zip(names, colors, strict=True):
        curve = survival(results, name)
        _draw_survival(ax, curve, dt, results.steps, color, name)
        curves.append(curve)
    ax.set_ylim(_survival_floor(curves), 1.005)
    ax.set_xlim(0, results.steps * dt)
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel("P(alliance still active)")
    ax.set_title(text(f"Survival of the alliances: {results.title}", 80))
    ax.legend(loc="lower left", frameon=False)
    _style(ax)
    return fig


def _survival_floor(curves: Sequence[outcomes.SurvivalCurve]) -> float:
    """Bottom of the y axis: 0, or a round value below every band when all stay high."""
    lows = [float(c.low.min()) for c in curves if len(c.low)]
    lowest = min(lows, default=1.0)
    return 0.0 if lowest < 0.5 else float(np.floor((lowest - 0.02) * 10) / 10)


def _draw_survival(
    ax,
    curve: outcomes.SurvivalCurve,
    dt: float,
    steps: int,
    color: str,
    label: str,
    band: bool = True,
    edges: bool = False,
) -> None:
    grid = np.arange(steps + 1)
    frame = curve.steps(grid)
    x = grid * dt
    ax.step(
        x,
        frame["survival"],
        where="post",
        color=color,
        linewidth=2,
        label=text(f"{label} (S = {curve.final:.2f} at end)"),
    )
    if band:
        ax.fill_between(x, frame["low"], frame["high"], step="post", color=color, alpha=0.15, linewidth=0)
        for edge in ("low", "high") if edges else ():
            ax.step(x, frame[edge], where="post", color=color, linewidth=0.8, linestyle=":")


def cohesion_fan(results, alliances: Sequence[str] | None = None) -> Figure:
    """Fan chart of each alliance's cohesion over time: median, 25-75 % and 5-95 % bands.

    Cohesion is the mean disposition among the members (in [-1, 1]); the quantiles come from the
    per-step histograms, exact to one bin (0.01).
    """
    names = _alliances(results, alliances)
    fig = _figure(7.5, 2.6 * max(len(names), 1) + 0.4)
    if not names:
        return _empty(fig, "no declared alliance")
    bands = outcomes.cohesion_bands(results.summary, results.alliances)
    unit, dt = time_unit(results)
    axes = fig.subplots(len(names), 1, sharex=True, squeeze=False)[:, 0]
    for ax, name, color in zip(axes, names, scenario_colors(len(names)), strict=True):
        b = bands[name]
        x = b["step"] * dt
        ax.fill_between(x, b["q05"], b["q95"], color=color, alpha=0.18, linewidth=0, label="5-95 %")
        ax.fill_between(x, b["q25"], b["q75"], color=color, alpha=0.35, linewidth=0, label="25-75 %")
        ax.plot(x, b["q50"], color=color, linewidth=2, label="median")
        trust = trust_threshold(results, name)
        if trust is not None:
            low, mid, high = trust
            if high > low:
                ax.axhspan(
                    low,
                    high,
                    color="#555555",
                    alpha=0.12,
                    linewidth=0,
                    label=f"trust threshold 5-95 % ({low:.2f}-{high:.2f})",
                )
            ax.axhline(
                mid,
                color="#555555",
                linestyle="--",
                linewidth=1,
                label=f"trust threshold ({'median ' if high > low else ''}{mid:.2f})",
            )
        ax.axhline(0, color="#999999", linewidth=0.6)
        ax.set_ylim(-1, 1)
        ax.set_ylabel("cohesion")
        ax.set_title(text(f"Cohesion of {name}"), loc="left", fontsize=10)
        ax.legend(loc="lower left", frameon=False, fontsize=8, ncol=4)
        _style(ax)
    axes[-1].set_xlabel(f"time ({unit})")
    axes[-1].set_xlim(0, results.steps * dt)
    return fig


def trust_threshold(results, alliance: str) -> tuple[float, float, float] | None:
    """(5 %, median, 95 %) of an alliance's trust threshold over the run's replicates: the sampled
    values where it was uncertain, the fixed value three times otherwise; None if unknown."""
    from sim.vocabulary import param_column

    d = _digest(results)
    if d is not None:
        return d.trust_threshold(alliance)
    column = param_column(f"alliances.{alliance}.theta_trust")
    if column in results.columns:
        v = results.read([column])[column].to_numpy(dtype=float)
        lo, mid, hi = np.quantile(v, [0.05, 0.5, 0.95])
        return float(lo), float(mid), float(hi)
    trust = _alliance_spec(results, alliance).get("theta_trust")
    if isinstance(trust, (int, float)):
        return float(trust), float(trust), float(trust)
    return None


def balance_chart(results) -> Figure:
    """Structural balance index (share of balanced triads) and frustration over time.

    References: Heider (1946); Cartwright & Harary (1956).
    """
    fig = _figure(7.5, 3.2)
    ax = fig.add_subplot()
    unit, dt = time_unit(results)
    bal = outcomes.balance_index(results.summary)
    x = np.arange(len(bal)) * dt
    ax.plot(x, bal, color=POSITIVE, linewidth=2, label="balance index (balanced triads)")
    ax.plot(x, 1 - bal, color=NEGATIVE, linewidth=2, linestyle="--", label="frustration (unbalanced triads)")
    ax.set_ylim(0, 1)
    ax.set_xlim(0, x[-1] if len(x) else 1)
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel("mean share of triads")
    ax.set_title(text(f"Structural balance: {results.title}", 80))
    ax.legend(loc="center right", frameon=False)
    _style(ax)
    return fig


def _matrix(
    ax,
    M: np.ndarray,
    labels: Sequence[str],
    vmin: float,
    vmax: float,
    cmap: str,
    fmt: str,
    skip_zero: bool = False,
):
    im = ax.imshow(M, cmap=cmap, vmin=vmin, vmax=vmax)
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, [text(a) for a in labels], rotation=45, ha="right")
    ax.set_yticks(ticks, [text(a) for a in labels])
    if len(labels) <= 14:
        cells = im.cmap(im.norm(M))  # every cell's colour at once
        for i in range(M.shape[0]):
            for j in range(M.shape[1]):
                if np.isnan(M[i, j]) or (skip_zero and M[i, j] == 0):
                    continue
                ax.text(
                    j,
                    i,
                    format(M[i, j], fmt),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color=ink_on(cells[i, j]),
                    in_layout=False,  # inside its cell: the layout need not measure it twice
                )
    return im


def ink_on(rgba) -> str:
    """Black or white, whichever contrasts more with a cell of colour ``rgba`` (relative luminance
    and contrast ratio as WCAG 2.1 defines them)."""
    channels = np.asarray(rgba[:3], dtype=float)
    linear = np.where(channels <= 0.04045, channels / 12.92, ((channels + 0.055) / 1.055) ** 2.4)
    lum = float(linear @ np.array([0.2126, 0.7152, 0.0722]))
    return "black" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "white"


def ties_heatmap(results) -> Figure:
    """Heat map of the mean final ties (row: from, column: to), on a diverging scale [-1, 1]."""
    actors = results.actors
    W = outcomes.mean_ties(results.summary, actors).to_numpy().copy()
    np.fill_diagonal(W, np.nan)
    size = 2.2 + 0.55 * len(actors)
    fig = _figure(size + 1.2, size)
    ax = fig.add_subplot()
    im = _matrix(ax, W, actors, -1, 1, "RdBu", ".2f")
    ax.set_xlabel("toward (to)")
    ax.set_ylabel("disposition of (from)")
    ax.set_title(text(f"Mean final ties: {results.title}", 60), fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label="mean tie (-1 hostile, +1 allied)")
    return fig


def same_bloc_heatmap(results) -> Figure:
    """Heat map of the probability that two actors end in the same Axelrod-Bennett bloc."""
    actors = results.actors
    size = 2.2 + 0.55 * len(actors)
    fig = _figure(size + 1.2, size)
    if not has_blocs(results):
        return _empty(fig, "no bloc columns in this result set")
    P = same_bloc(results).to_numpy().astype(float)
    np.fill_diagonal(P, np.nan)  # an actor is always in its own bloc: the diagonal says nothing
    ax = fig.add_subplot()
    im = _matrix(ax, P, actors, 0, 1, "cividis", ".2f")
    ax.set_title(text(f"P(same bloc at the end): {results.title}", 60), fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label="probability")
    return fig


def stab_matrix(results, normalize: bool = True) -> Figure:
    """Who stabs whom: betrayals by defector (rows) and betrayed partner (columns).

    Only actors that belong to some declared alliance are shown.
    """
    members = outcomes.alliance_members(results.manifest.get("scenario", {}))
    inside = {a for group in members.values() for a in group}
    actors = [a for a in results.actors if a in inside]
    size = 2.4 + 0.6 * max(len(actors), 2)
    fig = _figure(size + 1.2, size)
    if not actors:
        return _empty(fig, "no declared alliance")
    M = stabs(results, members, actors, normalize=normalize).to_numpy()
    M = M.astype(float)
    np.fill_diagonal(M, np.nan)
    ax = fig.add_subplot()
    top = max(float(np.nanmax(M)) if M.size > 1 else 0.0, 1e-9)
    im = _matrix(ax, M, actors, 0, top, "Oranges", ".3f" if normalize else ".0f", skip_zero=True)
    ax.set_xlabel("betrayed partner")
    ax.set_ylabel("defector (stabs)")
    ax.set_title(text(f"Who stabs whom: {results.title}", 60), fontsize=10)
    fig.colorbar(im, ax=ax, shrink=0.8, label="P(stab in the back by the horizon)" if normalize else "count")
    return fig


#: the bloc network leaves out pairs whose mean symmetrised final tie is smaller than this in size
BLOC_EDGE_THRESHOLD = 0.1


def _bloc_layout(
    bloc: np.ndarray, cap: np.ndarray, n: int
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Where each actor sits: evenly on a circle around its bloc's centre, largest capability
    first, counter-clockwise from the right (a lone actor at the centre), and the two blocs'
    centres."""
    pos: dict[int, np.ndarray] = {}
    centres = {0: np.array([-1.35, 0.0]), 1: np.array([1.35, 0.0])}
    for b in (0, 1):
        order = sorted((i for i in range(n) if bloc[i] == b), key=lambda i: -cap[i])
        angle = 2 * np.pi * np.arange(len(order)) / max(len(order), 1)
        ring = 0.85 * np.column_stack([np.cos(angle), np.sin(angle)]) if len(order) > 1 else np.zeros((1, 2))
        for i, p in zip(order, ring):
            pos[i] = p + centres[b]
    return pos, centres


def _bloc_panels(ax, bloc: np.ndarray, actors: list[str], centres: dict[int, np.ndarray]) -> None:
    """The shaded panel of each bloc that has members, titled by its side of the first actor."""
    for b in (0, 1):
        if not any(bloc == b):
            continue
        c = centres[b]
        ax.add_patch(
            FancyBboxPatch(
                (c[0] - 1.2, -1.25),
                2.4,
                2.5,
                boxstyle="round,pad=0.05",
                facecolor="#f2f2f2" if b == 0 else "#e8eef5",
                edgecolor="none",
                zorder=0,
            )
        )
        title = f"bloc with {actors[0]}" if b == 0 else f"bloc opposing {actors[0]}"
        ax.text(c[0], 1.38, text(title), ha="center", va="bottom", fontsize=10, weight="bold")


def _draw_actors(ax, actors: list[str], pos: dict[int, np.ndarray], cap: np.ndarray, share) -> None:
    """Each actor as a disc of area growing with its capability, named (with the share of replicates
    in its bloc when ``share`` is given)."""
    colors = actor_colors(actors)
    top = max(float(cap.max()), 1e-12)
    sizes = 120 + 2600 * np.sqrt(np.clip(cap, 0, None) / top)
    xy = np.array([pos[i] for i in range(len(actors))])
    ax.scatter(
        xy[:, 0],
        xy[:, 1],
        s=sizes,
        c=[colors[a] for a in actors],
        edgecolors="white",
        linewidths=1.5,
        zorder=3,
    )
    for i, a in enumerate(actors):
        note = f"\n{100 * share[i]:.0f} %" if share is not None else ""
        ax.text(
            xy[i, 0],
            xy[i, 1] - 0.13 - 0.0035 * np.sqrt(sizes[i]),
            text(a) + note,
            ha="center",
            va="top",
            fontsize=8,
            zorder=4,
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "white", "edgecolor": "none", "alpha": 0.8},
        )


def bloc_network(results, threshold: float = BLOC_EDGE_THRESHOLD) -> Figure:
    """Network of the final blocs: node size = mean final capability, edge colour = sign.

    Actors are placed with their typical Axelrod-Bennett bloc (the one they share with the first
    actor in most replicates, or the other); an edge joins two actors whose mean symmetrised final
    tie is at least ``threshold`` in size, solid blue when friendly and dashed vermillion when
    hostile, its width growing with the tie's size; the legend states the threshold and how many
    pairs fall under it. Under each name, the share of replicates in which the actor was in that
    bloc. A bloc weighs every tie by both actors' capabilities (Axelrod & Bennett 1993), so an
    actor may sit opposite another it is friendly with.
    """
    actors = results.actors
    fig = _figure(9.0, 6.2)
    W = outcomes.mean_ties(results.summary, actors).to_numpy()
    S = (W + W.T) / 2
    blocs_known = has_blocs(results)
    if blocs_known:
        P = same_bloc(results).to_numpy()
        bloc = (P[0] < 0.5).astype(int)
        share = np.where(bloc == 0, P[0], 1 - P[0])
    else:
        bloc = np.zeros(len(actors), dtype=int)
        share = np.full(len(actors), np.nan)
    cap = capability(results, actors).to_numpy()
    cap = np.nan_to_num(cap, nan=0.0)
    edges = [
        (i, j) for i in range(len(actors)) for j in range(i + 1, len(actors)) if abs(S[i, j]) >= threshold
    ]
    pos, centres = _bloc_layout(bloc, cap, len(actors))
    ax = fig.add_subplot()
    ax.set_axis_off()
    _bloc_panels(ax, bloc, actors, centres)
    for i, j in edges:
        w, sign = abs(S[i, j]), S[i, j] > 0
        ax.plot(
            [pos[i][0], pos[j][0]],
            [pos[i][1], pos[j][1]],
            color=POSITIVE if sign else NEGATIVE,
            linestyle="-" if sign else "--",
            linewidth=0.5 + 2.5 * w,
            alpha=0.25 + 0.45 * w,
            zorder=1,
        )
    _draw_actors(ax, actors, pos, cap, share if blocs_known else None)
    hidden = sum(1 for i in range(len(actors)) for j in range(i + 1, len(actors)) if abs(S[i, j]) < threshold)
    ax.plot([], [], color=POSITIVE, linewidth=2, label=f"friendly (mean tie ≥ +{threshold:g})")
    ax.plot([], [], color=NEGATIVE, linewidth=2, linestyle="--", label=f"hostile (mean tie ≤ −{threshold:g})")
    ax.plot(
        [],
        [],
        color="none",
        label=f"not drawn: {hidden} pairs with |mean tie| < {threshold:g}; width grows with |tie|",
    )
    # legend and note inside the axes, below the blocs, so that no layout can cut them off
    ax.legend(loc="lower center", bbox_to_anchor=(0.5, 0.06), ncol=3, frameon=False, fontsize=8)
    if blocs_known:
        ax.text(
            0.5,
            0.02,
            "node area: mean final capability; % under a name: share of replicates "
            "with the actor in that bloc",
            transform=ax.transAxes,
            ha="center",
            va="bottom",
            fontsize=8,
            color="#444444",
        )
    ax.set_xlim(-2.8, 2.8)
    ax.set_ylim(-2.0, 1.6)
    ax.set_aspect("equal")
    fig.suptitle(text(f"Final blocs: {results.title}", 100), fontsize=10)
    return fig


# --------------------------------------------------------------------------------------------
# Comparisons
# --------------------------------------------------------------------------------------------


def _label(results) -> str:
    return results.name or results.title


def compare_fates(runs: Sequence, alliance: str | None = None) -> Figure:
    """Fates of the focal (or given) alliance side by side, one bar colour per scenario."""
    fig = _figure(7.5, 3.6)
    ax = fig.add_subplot()
    width = 0.8 / max(len(runs), 1)
    x = np.arange(len(outcomes.FATES))
    for k, (r, color) in enumerate(zip(runs, scenario_colors(len(runs)), strict=True)):
        name = alliance or r.focal
        if not has_fate(r, name):
            continue
        table = fates(r, name).set_index("outcome").loc[list(outcomes.FATES)]
        xs = x + (k - (len(runs) - 1) / 2) * width
        ax.bar(xs, table["p"], width=width * 0.92, color=color, label=text(_label(r)))
        err = np.clip(np.vstack([table["p"] - table["low"], table["high"] - table["p"]]), 0, None)
        ax.errorbar(xs, table["p"], yerr=err, fmt="none", ecolor="#333333", capsize=3, linewidth=1)
        for xi, p, hi in zip(xs, table["p"], table["high"], strict=True):
            ax.text(xi, hi + 0.02, f"{100 * p:.0f} %", ha="center", va="bottom", fontsize=8)
    ax.set_xticks(x, [outcomes.FATE_LABELS[f] for f in outcomes.FATES])
    ax.set_ylim(0, 1.12)
    ax.set_ylabel("probability (bars: 95 % Wilson interval)")
    focal = alliance or (runs[0].focal if runs else "")
    ax.set_title(text(f"Fate of {focal}, by scenario"))
    ax.legend(frameon=False, loc="upper right")
    _style(ax)
    return fig


def compare_survival(runs: Sequence, alliance: str | None = None) -> Figure:
    """Kaplan-Meier curves of the focal (or given) alliance, one per scenario, overlaid."""
    fig = _figure(7.5, 4.0)
    ax = fig.add_subplot()
    xmax = 0.0
    unit = "months"
    curves = []
    for r, color in zip(runs, scenario_colors(len(runs)), strict=True):
        name = alliance or r.focal
        if not has_fate(r, name):
            continue
        unit, dt = time_unit(r)
        curve = survival(r, name)
        _draw_survival(ax, curve, dt, r.steps, color, _label(r), edges=True)
        curves.append(curve)
        xmax = max(xmax, r.steps * dt)
    ax.set_ylim(_survival_floor(curves), 1.005)
    ax.set_xlim(0, xmax or 1)
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel("P(alliance still active)")
    focal = alliance or (runs[0].focal if runs else "")
    ax.set_title(text(f"Survival of {focal}, by scenario (Kaplan-Meier, 95 % band)"))
    ax.legend(loc="lower left", frameon=False)
    _style(ax)
    return fig


def compare_cohesion(runs: Sequence, alliance: str | None = None) -> Figure:
    """Median cohesion of the focal (or given) alliance with its 5-95 % band, per scenario."""
    fig = _figure(7.5, 3.6)
    ax = fig.add_subplot()
    unit = "months"
    for k, (r, color) in enumerate(zip(runs, scenario_colors(len(runs)), strict=True)):
        name = alliance or r.focal
        if name is None or name not in r.alliances:
            continue
        unit, dt = time_unit(r)
        b = outcomes.cohesion_bands(r.summary, r.alliances, q=(0.05, 0.5, 0.95))[name]
        x = b["step"] * dt
        hatch = HATCHES[k % len(HATCHES)]
        ax.fill_between(x, b["q05"], b["q95"], facecolor=color, alpha=0.10, linewidth=0)
        ax.fill_between(
            x,
            b["q05"],
            b["q95"],
            facecolor="none",
            edgecolor=color,
            alpha=0.35,
            hatch=hatch,
            linewidth=0,
            label=text(f"{_label(r)}: 5-95 %"),
        )
        for q in ("q05", "q95"):
            ax.plot(x, b[q], color=color, linewidth=0.9, linestyle=":")
        ax.plot(x, b["q50"], color=color, linewidth=2.2, label=text(f"{_label(r)}: median"))
    ax.set_ylim(-1, 1.02)
    ax.set_xlabel(f"time ({unit})")
    ax.set_ylabel("cohesion (mean tie)")
    focal = alliance or (runs[0].focal if runs else "")
    ax.set_title(text(f"Cohesion of {focal}, by scenario (median, 5-95 % band)"))
    ax.axhline(1.0, color="#999999", linewidth=0.6, linestyle="-")
    ax.legend(loc="lower left", frameon=False, fontsize=8, ncol=2)
    _style(ax)
    return fig
