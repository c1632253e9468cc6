"""The figures of a run's report: one scenario's in reading order, and those comparing scenarios."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.present import plots
from sim.present.page_figures import FigureEntry
from sim.run.store import Results


def _cell_noise(n: int) -> str:
    """The largest Monte Carlo error of a share in a matrix of shares over ``n`` replicates."""
    if n <= 0:
        return ""
    return f"Each cell's 95 % interval is at most ±{100 * 1.96 * 0.5 / np.sqrt(n):.1f} pp ({n:,} replicates)."


def _alliance_figures(r: Results, prefix: str, unit: str) -> list[FigureEntry]:
    """The figures of a scenario's alliances: the focal one's fate, survival and cohesion."""
    focal = r.focal or ""
    return [
        FigureEntry(
            f"{prefix}-fates",
            "Fate of the focal alliance",
            f"Bar chart: probability that {focal} holds, ends with a stab in the back "
            f"(by each defector) or drifts apart, with 95 % intervals ({r.title})",
            "Bars: share of replicates; whiskers: 95 % Wilson intervals.",
            lambda: plots.fate_chart(r),
        ),
        FigureEntry(
            f"{prefix}-survival",
            "Time until an alliance ends",
            f"Kaplan-Meier survival curves of each alliance over {unit} ({r.title})",
            "Kaplan-Meier estimate with Greenwood 95 % band; alliances that hold are "
            "censored at the horizon.",
            lambda: plots.survival_chart(r),
        ),
        FigureEntry(
            f"{prefix}-cohesion",
            "Cohesion over time",
            f"Fan charts of the cohesion of each alliance over {unit} ({r.title})",
            "Median, 25–75 % and 5–95 % of the mean tie among the members; dashed: the "
            "trust threshold below which a defection counts as drifting apart (its "
            "median over the runs, with its 5–95 % range shaded where it is uncertain). "
            "Ties are bounded at ±1: a band pressed against +1 means the ties are "
            "saturated (as friendly as the model allows), not still growing.",
            lambda: plots.cohesion_fan(r),
            weight=1.0 + len(r.alliances),  # a panel per alliance
        ),
    ]


def scenario_figures(r: Results, prefix: str) -> list[FigureEntry]:
    """The figures of one scenario, in reading order."""
    unit, _ = plots.time_unit(r)
    entries = _alliance_figures(r, prefix, unit) if r.alliances else []
    entries += [
        FigureEntry(
            f"{prefix}-blocs",
            "Final blocs",
            f"Network of the actors in their final blocs ({r.title})",
            "Axelrod–Bennett two-bloc partition of the final ties over all actors, each "
            "tie weighted by both actors' capabilities, so a small state may sit opposite "
            "a partner it is friendly with when its ties to the larger powers outweigh "
            f"that; node area: capability; solid blue: friendly mean tie, dashed "
            f"vermillion: hostile; pairs with |mean tie| < {plots.BLOC_EDGE_THRESHOLD:g} "
            "are not drawn (the legend counts them).",
            lambda: plots.bloc_network(r),
            weight=2.5,
        ),
        FigureEntry(
            f"{prefix}-ties",
            "Mean final ties",
            f"Heat map of the mean final ties between the actors ({r.title})",
            "Row: the actor whose disposition it is; column: toward whom.",
            lambda: plots.ties_heatmap(r),
            weight=3.0,  # a number in every cell
        ),
    ]
    if r.alliances:
        entries.append(
            FigureEntry(
                f"{prefix}-stabs",
                "Who stabs whom",
                f"Matrix of the probability that each actor stabs each partner in the back ({r.title})",
                "Probability, over replicates, of a stab in the back by the row "
                f"actor against the column actor in some declared alliance. {_cell_noise(r.n)}",
                lambda: plots.stab_matrix(r),
                weight=1.5,
            )
        )
    if plots.has_blocs(r):
        entries.append(
            FigureEntry(
                f"{prefix}-samebloc",
                "Who ends up together",
                f"Heat map of the probability that two actors end in the same bloc ({r.title})",
                "Share of replicates in which the two actors are in the same "
                "Axelrod–Bennett bloc at the horizon (from the final ties "
                "over everyone, not from the alliance's fate); the diagonal is left out (an actor is "
                f"always in its own bloc). {_cell_noise(r.n)}",
                lambda: plots.same_bloc_heatmap(r),
                weight=3.0,
            )
        )
    entries.append(
        FigureEntry(
            f"{prefix}-balance",
            "Structural balance",
            f"Line chart of the structural balance index and frustration over {unit} ({r.title})",
            "Mean share of balanced (Heider) and unbalanced triads of the symmetrised ties.",
            lambda: plots.balance_chart(r),
        )
    )
    return entries


def comparison_figures(runs: Sequence[Results]) -> list[FigureEntry]:
    """The side-by-side panels of a comparison."""
    names = ", ".join(r.name for r in runs)
    return [
        FigureEntry(
            "compare-fates",
            "Fates side by side",
            f"Grouped bar chart of the fates of the focal alliance in {names}",
            "Bars: share of replicates; whiskers: 95 % Wilson intervals.",
            lambda: plots.compare_fates(runs),
        ),
        FigureEntry(
            "compare-survival",
            "Survival, overlaid",
            f"Kaplan-Meier survival curves of the focal alliance in {names}",
            "Kaplan-Meier estimate with Greenwood 95 % band.",
            lambda: plots.compare_survival(runs),
        ),
        FigureEntry(
            "compare-cohesion",
            "Cohesion, overlaid",
            f"Median cohesion of the focal alliance over time in {names}",
            "Median and 5–95 % band of the mean tie among the members.",
            lambda: plots.compare_cohesion(runs),
        ),
    ]
