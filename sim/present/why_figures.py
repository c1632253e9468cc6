"""Figures of "what broke it": each force's mean part in a fate, and the most typical replicates.

Matplotlib object API only (no pyplot), like :mod:`sim.present.plots`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FixedLocator, MaxNLocator

from sim.analysis.why import Z95, WhyGroup
from sim.present import plots
from sim.vocabulary import FATES, MECHANISMS, force_label

# one colour per mechanism (Okabe-Ito), events in greys, defections and clipping in dark tones
MECHANISM_COLORS = dict(
    zip(MECHANISMS, ("#009E73", "#56B4E9", "#0072B2", "#CC79A7", "#D55E00", "#E69F00", "#999999"))
)
EVENT_COLORS = ("#F0E442", "#DDCC77", "#999933", "#AA4499", "#882255", "#44AA99")


def force_colors(forces: Sequence[str]) -> dict[str, str]:
    """The colour of each booked force (the same force keeps its colour in every figure)."""
    out, k = {}, 0
    for f in forces:
        if f in MECHANISM_COLORS:
            out[f] = MECHANISM_COLORS[f]
        elif f == "defections":
            out[f] = "#000000"
        elif f == "clipping":
            out[f] = "#cccccc"
        else:
            out[f] = EVENT_COLORS[k % len(EVENT_COLORS)]
            k += 1
    return out


def net_change(group) -> tuple[float, float]:
    """A fate group's mean net change of the tracked tie and the half-width of its 95 % interval
    (from the parts of every replicate, or as the digest kept them)."""
    if hasattr(group, "net_mean"):
        return float(group.net_mean), float(group.net_half)
    net = group.parts.sum(axis=1)
    half = Z95 * net.std(ddof=1) / np.sqrt(group.n) if group.n > 1 else 0.0
    return float(net.mean()), float(half)


def why_chart(panels: Sequence[tuple[str, Sequence[WhyGroup]]], title: str = "") -> Figure:
    """Diverging stacked bars: for each fate group, the forces that lowered the tracked tie stacked
    left of zero and those that raised it stacked right; a dot and whisker mark the mean net change
    and its 95 % interval.

    Parameters
    ----------
    panels : sequence of (heading, groups)
        One panel per heading (e.g. the whole run and the window before the end).
    """
    groups_all = [g for _, gs in panels for g in gs]
    if not groups_all:
        return plots._empty(plots._figure(6, 2), "no attribution in these results (run with --why)")
    forces = list(dict.fromkeys(f for g in groups_all for f in g.forces))
    colors = force_colors(forces)
    rows = max(len(gs) for _, gs in panels)
    fig = plots._figure(5.2 * len(panels), 0.9 + 0.48 * rows + 0.35 * ((len(forces) + 3) // 4))
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (heading, groups) in zip(axes, panels):
        labels, lefts, widths, ys, faces = [], [], [], [], []
        for y, g in enumerate(groups):
            left = right = 0.0
            for f, m in zip(g.forces, g.mean):
                lefts.append(left if m < 0 else right)  # a bar grows from its base (sticky) outward
                widths.append(m)
                ys.append(y)
                faces.append(colors[f])
                if m < 0:
                    left += m
                else:
                    right += m
            mean, half = net_change(g)
            ax.errorbar(mean, y, xerr=half, fmt="o", color="black", ms=4, capsize=3, lw=1)
            labels.append(plots.text(f"{g.label} (n={g.n:,})"))
        # every segment of every bar in one call (a call per segment made a container each)
        ax.barh(ys, widths, left=lefts, color=faces, height=0.62, edgecolor="white", linewidth=0.4)
        ax.axvline(0, color="black", lw=0.8)
        ax.set_yticks(range(len(groups)), labels)
        ax.invert_yaxis()
        ax.set_title(plots.text(heading, 60), fontsize=10)
        ax.set_xlabel("mean part in the change\nof the tracked tie")
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
    handles = [Patch(color=colors[f], label=plots.text(force_label(f), 34)) for f in forces]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=7, frameon=False)
    if title:
        fig.suptitle(plots.text(title, 90), fontsize=11)
    return fig


def _typical_panel(
    ax, play, g: WhyGroup, members: list[int], a_index: int, dt: float, event_colors: dict[str, str]
) -> None:
    """One replicate's panel: the tracked tie over time, the defection and the events' first
    firings (a tick in the event's colour)."""
    W = play.ties.astype(np.float64)
    t = np.arange(W.shape[0]) * dt
    ended = g.fate != FATES[0]
    if ended:
        d = int(play.defector[a_index])
        others = [j for j in members if j != d]
        ax.plot(
            t,
            W[:, d, others].mean(axis=1),
            color=plots.NEGATIVE,
            lw=1.3,
        )
        ax.plot(
            t,
            W[:, others, d].mean(axis=1),
            color=plots.POSITIVE,
            lw=1.0,
            ls="--",
        )
        end = int(play.end_step[a_index]) * dt
        # a line the height of the panel (axvline would autoscale every panel sharing the axes)
        ax.vlines(end, 0, 1, transform=ax.get_xaxis_transform(), color="black", lw=0.8, ls=":")
        ax.plot([end], [W[int(play.end_step[a_index]), d, others].mean()], "x", color="black")
    else:
        pairs = [(i, j) for i in members for j in members if i != j]
        ax.plot(
            t,
            np.mean([W[:, i, j] for i, j in pairs], axis=0),
            color=plots.FATE_COLORS["holds"],
            lw=1.3,
        )
    firings = play.first_firings()
    if firings:  # one collection of ticks along the foot, each event in a lane and colour of its own
        lane = {name: n for n, name in enumerate(event_colors)}
        low = np.array([0.01 + 0.045 * lane[name] for _, name in firings])
        ax.vlines(
            [step * dt for step, _ in firings],
            low,
            low + 0.04,
            transform=ax.get_xaxis_transform(),
            colors=[event_colors[name] for _, name in firings],
            lw=2.5,
        )


def typical_chart(results, alliance: str, groups: Sequence[WhyGroup], replays: dict, k: int = 3) -> Figure:
    """The ``k`` most typical replicates of each fate group: the tracked tie over time (the
    defector's mean disposition toward its partners, solid; theirs toward it, dashed; for a held
    alliance the members' mean), the defection (cross) and the first firing of each event (a tick
    in the event's colour). One key above the panels names the lines and the events, instead of a
    legend and a label per panel."""
    groups = [g for g in groups if any(r in replays for r in g.typical(k))]
    if not groups:
        return plots._empty(plots._figure(6, 2), "no replicates to show")
    unit, dt = plots.time_unit(results)
    actors = results.actors
    members = [actors.index(m) for m in (plots._alliance_spec(results, alliance).get("members") or [])]
    a_index = results.alliances.index(alliance)
    shown = [[rep for rep in g.typical(k) if rep in replays] for g in groups]
    events = list(
        dict.fromkeys(name for reps in shown for rep in reps for _, name in replays[rep].first_firings())
    )
    ev_colors = {name: TICK_COLORS[n % len(TICK_COLORS)] for n, name in enumerate(events)}
    key = _typical_key(groups, events, ev_colors)
    ncol = min(4, len(key))
    width = 3.3 * k
    rows, gap = len(groups), 0.45  # inches between rows: the next row's titles
    top, bottom = 0.3 + 0.2 * -(-len(key) // ncol), 0.55
    height = 2.3 * rows + 0.2 + top
    # small multiples on shared axes: margins set in inches rather than by the layout engine, which
    # measured every panel's text again on each draw (it tripled the time to save this figure)
    fig = Figure(figsize=(width, height), dpi=plots.DPI)
    panel = (height - top - bottom - gap * (rows - 1)) / rows
    fig.subplots_adjust(
        left=0.62 / width,
        right=1 - 0.12 / width,
        bottom=bottom / height,
        top=1 - top / height,
        wspace=0.1,
        hspace=gap / panel,
    )
    axes = fig.subplots(rows, k, squeeze=False, sharex=True, sharey=True)
    for row, g, reps in zip(axes, groups, shown):
        for ax in row[len(reps) :]:  # fewer typical replicates than panels: no empty axes
            ax.set_axis_off()
        for ax, rep in zip(row, reps):
            ax.hlines(0, 0, 1, transform=ax.get_yaxis_transform(), color="#bbbbbb", lw=0.6)
            _typical_panel(ax, replays[rep], g, members, a_index, dt, ev_colors)
            ax.set_title(plots.text(f"{g.label}: replicate {rep}", 40), fontsize=9)
            ax.spines[["top", "right"]].set_visible(False)
            ax.tick_params(labelsize=8)
        row[0].set_ylabel("tie", fontsize=9)
    for ax in axes[-1]:
        ax.set_xlabel(unit, fontsize=9)
    # the panels share their tick locators: fewer ticks made per panel (each tick is four artists)
    axes[0, 0].yaxis.set_major_locator(FixedLocator([-1.0, -0.5, 0.0, 0.5, 1.0]))
    axes[0, 0].set_ylim(-1.05, 1.05)  # once for all: each panel's own call went to every other
    # the ticks a MaxNLocator(4) would draw, fixed: it also gives the ticks beyond the limits,
    # which every panel made and formatted without drawing them (a tenth of the chart's calls)
    lo, hi = axes[0, 0].get_xlim()
    locs = [x for x in MaxNLocator(4).tick_values(lo, hi) if lo <= x <= hi]
    axes[0, 0].xaxis.set_major_locator(FixedLocator(locs))
    fig.legend(
        handles=key, loc="upper center", bbox_to_anchor=(0.5, 1.0), ncol=ncol, fontsize=7.5, frameon=False
    )
    return fig


#: colours of the events' ticks in :func:`typical_chart` (Paul Tol's muted scheme, less the blue,
#: orange and green of the lines)
TICK_COLORS = (
    "#332288", "#882255", "#999933", "#AA4499", "#44AA99", "#CC6677", "#661100", "#DDCC77", "#888888",
    "#CC79A7",
)  # fmt: skip


def _typical_key(groups: Sequence[WhyGroup], events: Sequence[str], ev_colors: dict[str, str]) -> list:
    """The handles of :func:`typical_chart`'s key: the lines drawn, then each event's tick."""
    from matplotlib.lines import Line2D

    ended = any(g.fate != FATES[0] for g in groups)
    key = []
    if ended:
        key += [
            Line2D([], [], color=plots.NEGATIVE, lw=1.3, label="the defector toward its partners"),
            Line2D([], [], color=plots.POSITIVE, lw=1.0, ls="--", label="its partners toward the defector"),
            Line2D([], [], color="black", marker="x", ls="none", label="the defection"),
        ]
    if any(g.fate == FATES[0] for g in groups):
        key.append(Line2D([], [], color=plots.FATE_COLORS["holds"], lw=1.3, label="members' mean tie (held)"))
    key += [
        Line2D([], [], color=ev_colors[e], lw=1.5, label=plots.text("event: " + e.replace("_", " "), 34))
        for e in events
    ]
    return key
