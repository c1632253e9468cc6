"""What broke it: the forces behind each alliance's fate, from the ``why:`` columns of a run.

The kernel books, for each declared alliance, every force's part in the change of the tracked tie
(the first defector's mean disposition toward its partners, or the members' mean if it held; see
:mod:`sim.model.attribution`). Here the replicates are grouped by fate — a stab in the back by each
member, a drift apart, held — and each group's mean parts are given with 95 % intervals, in
numbers and in words, with the replicates most typical of the group.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.vocabulary import (
    FATE_LABELS,
    FATES,
    REPLICATE,
    Z95,
    defector_column,
    fate_column,
    force_label,
    parse_why_column,
)


@dataclass
class WhyGroup:
    """The replicates of one fate of one alliance and the mean part of each force in them."""

    alliance: str
    fate: str  # a word of FATES
    defector: str | None  # for a stab in the back: who stabbed
    replicates: np.ndarray  # replicate ids of the group
    forces: list[str]
    mean: np.ndarray  # (F,) mean part of each force
    low: np.ndarray  # (F,) 95 % interval of the mean (normal approximation)
    high: np.ndarray
    parts: np.ndarray  # (n, F) every replicate's parts
    window: bool

    @property
    def n(self) -> int:
        """Replicates in the group."""
        return len(self.replicates)

    @property
    def label(self) -> str:
        """``stabs by China``, ``drift apart``, ``held``."""
        if self.fate == FATES[1]:
            return f"stabs by {self.defector}"
        return "held" if self.fate == FATES[0] else FATE_LABELS[2]

    @property
    def change(self) -> float:
        """Mean change of the tracked tie (the sum of the mean parts)."""
        return float(self.mean.sum())

    def shares(self) -> dict[str, float]:
        """Each force's share of the pushes in the direction of the change: of the fall for a tie
        that fell, of the rise for one that rose (forces pushing the other way get 0)."""
        sign = -1.0 if self.change < 0 else 1.0
        push = np.maximum(sign * self.mean, 0.0)
        total = push.sum()
        return {f: float(p / total) if total > 0 else 0.0 for f, p in zip(self.forces, push)}

    def typical(self, k: int = 3) -> list[int]:
        """The ``k`` replicates whose parts are closest (Euclidean) to the group's mean parts."""
        d = np.sqrt(((self.parts - self.mean) ** 2).sum(axis=1))
        return [int(self.replicates[i]) for i in np.argsort(d, kind="stable")[:k]]


def why_forces(
    columns: Sequence[str], alliance: str, alliances: Sequence[str], window: bool = False
) -> list[str]:
    """The forces booked for ``alliance`` in a table's columns, in booking order."""
    out = []
    for c in columns:
        parsed = parse_why_column(c, alliances)
        if parsed and parsed[0] == alliance and parsed[2] == window:
            out.append(parsed[1])
    return out


def has_why(columns: Sequence[str], alliance: str, alliances: Sequence[str]) -> bool:
    """Whether a replicate table holds the attribution of ``alliance``."""
    return bool(why_forces(columns, alliance, alliances))


def why_groups(
    table: pd.DataFrame, alliance: str, alliances: Sequence[str], *, window: bool = False, min_count: int = 1
) -> list[WhyGroup]:
    """The fate groups of ``alliance`` (stab in the back by each defector, drift apart, held), each
    with its mean parts and their 95 % intervals (mean +- 1.96 standard errors).

    Parameters
    ----------
    table : DataFrame
        Replicate table with the alliance's ``fate``, ``defector`` and ``why:`` columns.
    alliance, alliances : str, sequence of str
        The alliance and every alliance of the run (to read the column names).
    window : bool
        The parts over the window before the end instead of the whole run.
    min_count : int
        Leave out groups with fewer replicates.
    """
    from sim.vocabulary import why_column

    forces = why_forces(table.columns, alliance, alliances, window)
    if not forces:
        return []
    parts = table[[why_column(alliance, f, window) for f in forces]].to_numpy(np.float64)
    fate = table[fate_column(alliance)].to_numpy()
    who = table[defector_column(alliance)].to_numpy()
    ids = table[REPLICATE].to_numpy() if REPLICATE in table else np.arange(len(table))
    masks: list[tuple[str, str | None, np.ndarray]] = []
    stab = fate == FATES[1]
    for name in sorted({str(x) for x in who[stab]}):
        masks.append((FATES[1], name, stab & (who == name)))
    masks.append((FATES[2], None, fate == FATES[2]))
    masks.append((FATES[0], None, fate == FATES[0]))
    groups = []
    for word, defector, mask in masks:
        n = int(mask.sum())
        if n < max(min_count, 1):
            continue
        x = parts[mask]
        mean = x.mean(axis=0)
        half = Z95 * x.std(axis=0, ddof=1) / np.sqrt(n) if n > 1 else np.full(len(forces), np.nan)
        groups.append(
            WhyGroup(alliance, word, defector, ids[mask], forces, mean, mean - half, mean + half, x, window)
        )
    return groups


def why_sentence(group: WhyGroup, top: int = 4, threshold: float = 0.05) -> str:
    """The group's parts in words: what made the tie fall (or rise) and what pushed the other way.

    ``stabs by China (201 replicates): the tie fell by 0.82 on average; 61 % of the fall came from
    competition over spheres of influence, 22 % from dependence, ...; pushing the other way:
    interest affinity (+0.40).``
    """
    change = group.change
    verb = "fell" if change < 0 else "rose"
    noun = "fall" if change < 0 else "rise"
    shares = sorted(group.shares().items(), key=lambda kv: -kv[1])
    main = [(f, s) for f, s in shares if s >= threshold][:top]
    words = ", ".join(
        f"{100 * s:.0f} % {'of the ' + noun + ' came ' if k == 0 else ''}from {force_label(f)}"
        for k, (f, s) in enumerate(main)
    )
    rest = sum(s for f, s in shares if (f, s) not in main)
    if rest >= 0.005:
        words += f", {100 * rest:.0f} % from the rest"
    against = [
        (f, m)
        for f, m in zip(group.forces, group.mean)
        if np.sign(m) == -np.sign(change) and abs(m) >= threshold * abs(change)
    ]
    against.sort(key=lambda fm: -abs(fm[1]))
    other = (
        "; pushing the other way: " + ", ".join(f"{force_label(f)} ({m:+.2f})" for f, m in against[:3])
        if against
        else ""
    )
    scope = "in the last steps before the end" if group.window else "over the run"
    who = "the defector's mean tie toward its partners" if group.fate != FATES[0] else "the members' mean tie"
    return (
        f"{group.label} ({group.n:,} replicate{'s' if group.n != 1 else ''}): {who} {verb} by "
        f"{abs(change):.2f} on average {scope}; {words}{other}."
    )


def why_frame(groups: Sequence[WhyGroup]) -> pd.DataFrame:
    """One row per group and force: mean part, 95 % interval and share of the change."""
    rows = []
    for g in groups:
        shares = g.shares()
        for k, f in enumerate(g.forces):
            rows.append(
                {
                    "group": g.label,
                    "n": g.n,
                    "force": f,
                    "mean": g.mean[k],
                    "low": g.low[k],
                    "high": g.high[k],
                    "share": shares[f],
                }
            )
    return pd.DataFrame(rows)
