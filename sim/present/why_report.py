"""The report's "What broke it" section: the forces behind each fate, in a figure, in words and in
numbers, with the most typical replicates re-run step by step."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from sim.analysis.digest import digest_of
from sim.analysis.why import has_why, why_frame, why_groups, why_sentence
from sim.errors import AllianceError
from sim.present import why_figures
from sim.run.replay import replay
from sim.run.store import Results
from sim.vocabulary import force_label

TYPICAL = 3  # typical replicates shown per fate


def _esc(value: object) -> str:
    from sim.present.page import esc

    return esc(value)


def _table(groups) -> str:
    """Mean part of each force per group, with its 95 % interval."""
    df = why_frame(groups)
    if df.empty:
        return ""
    forces = list(dict.fromkeys(df["force"]))
    head = "".join(f"<th>{_esc(g.label)}<br><span class='small'>n={g.n:,}</span></th>" for g in groups)
    rows = []
    for f in forces:
        cells = []
        for g in groups:
            k = g.forces.index(f)
            cells.append(
                f"<td>{g.mean[k]:+.3f}<br><span class='small'>[{g.low[k]:+.3f}, {g.high[k]:+.3f}]</span></td>"
            )
        rows.append(f"<tr><th>{_esc(force_label(f))}</th>{''.join(cells)}</tr>")
    net = "".join(f"<td><b>{g.change:+.3f}</b></td>" for g in groups)
    return (
        f"<table class='small'><thead><tr><th>force</th>{head}</tr></thead><tbody>{''.join(rows)}"
        f"<tr><th>net change</th>{net}</tr></tbody></table>"
    )


def why_section(
    r: Results, index: int, prefix: str, render: Callable[[list], str], typical: int = TYPICAL
) -> str:
    """The "What broke it" section of one scenario ("" when the run booked no attribution).

    ``render`` turns a list of :class:`sim.present.report.FigureEntry` into HTML (and PNG files).
    """
    from sim.present.report import FigureEntry

    alliances = [a for a in r.alliances if has_why(r.columns, a, r.alliances)]
    if not alliances:
        return ""
    if r.focal in alliances:
        alliances.remove(r.focal)
        alliances.insert(0, r.focal)
    window = int(r.manifest.get("settings", {}).get("why") or 12)
    d = digest_of(r)
    groups: dict[str, tuple[list[Any], list[Any]]]  # WhyGroup, or StreamedWhyGroup from a digest
    if d is not None:  # moments and the typical replicates, streamed
        groups = {a: (d.why_groups(a), d.why_groups(a, window=True)) for a in alliances}
    else:
        table = r.replicates
        groups = {
            a: (why_groups(table, a, r.alliances), why_groups(table, a, r.alliances, window=True))
            for a in alliances
        }
    wanted = {rep for a in alliances for g in groups[a][0] for rep in g.typical(typical)}
    try:
        replays = replay(r, sorted(wanted))
    except (AllianceError, OSError) as e:  # the section stays useful without the examples
        replays, failed = {}, f"<p class='small'>(typical replicates not re-run: {_esc(e)})</p>"
    else:
        failed = ""
    parts = [
        f"<section class='why' id='why-{index}'><h2>What broke it ({_esc(r.title)})</h2>"
        "<p>Each step moves a tie by the sum of its forces; booking every force's increment along "
        "the way splits the change of the tie exactly into its causes (the parts add up to the "
        "change, clipping to [-1, 1] included). Tracked: for an alliance that ended, the first "
        "defector's mean disposition toward its partners from the start to its decision; for one "
        "that held, the members' mean tie. This is an accounting along each replicate's path, "
        "not a counterfactual: switching a force off changes the path and every other part "
        f"with it. Window: the last {window} steps before the end.</p>" + failed
    ]
    for a in alliances:
        run, recent = groups[a]
        if not run:
            continue
        words = "".join(f"<li>{_esc(why_sentence(g))}</li>" for g in run)
        words_recent = "".join(f"<li>{_esc(why_sentence(g))}</li>" for g in recent)
        slug = a.replace(" ", "-")
        entries = [
            FigureEntry(
                f"{prefix}-why-{slug}",
                f"What moved the {a} tie, by fate",
                f"Diverging stacked bars of each force's mean part in the change of the "
                f"tracked tie of {a}, per fate, over the run and over the last {window} steps",
                "Left of zero: forces that lowered the tie; right: forces that raised it; "
                "dot and whisker: mean net change with its 95 % interval.",
                partial(
                    why_figures.why_chart,
                    [("over the run", run), (f"last {window} steps before the end", recent)],
                    title=f"{a}: what moved the tracked tie",
                ),
                weight=3.0,
            )
        ]
        if replays:
            entries.append(
                FigureEntry(
                    f"{prefix}-typical-{slug}",
                    f"The most typical replicates of each fate ({a})",
                    f"Tie trajectories of the {typical} replicates closest to each fate's mean parts ({a})",
                    "Solid: the defector's mean tie toward its partners; dashed: theirs toward it; dotted "
                    "line and cross: the defection; ticks along the foot: the first firing of each "
                    "event, one row and colour per event, named in the key.",
                    partial(why_figures.typical_chart, r, a, run, replays, typical),
                    weight=1.0 + len(run),  # a row of panels per fate group
                )
            )
        parts.append(
            f"<h3>{_esc(a)}</h3><div class='figs'>{render(entries)}</div>"
            f"<h4>In words, over the run</h4><ul>{words}</ul>"
            f"<h4>In the last {window} steps before the end</h4><ul>{words_recent}</ul>"
            f"<h4>Mean parts with 95 % intervals (over the run)</h4>{_table(run)}"
        )
    parts.append("</section>")
    return "".join(parts)
