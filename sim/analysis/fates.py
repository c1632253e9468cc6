"""How a run's alliances ended, counted and tabulated without pandas: the fate table's rows with
their Wilson intervals, and the counts they come from, streamed from a run's replicate table.

The terminal's summary of a run is made from these, so a run written without a page never loads
pandas (about a fifth of a second at the end of every ``run --no-report``);
:func:`sim.analysis.outcomes.fate_table_from_counts` makes the same rows a data frame.

References
----------
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    J. American Statistical Association 22(158), 209-212.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np

from sim.analysis.streaming import Aggregate, stream
from sim.run.replicate_table import RowGroups, TextColumn
from sim.run.store import REPLICATES
from sim.vocabulary import FATES, Z95, Fate, defector_column, end_step_column, fate_column

STAB = FATES[1]


def wilson_interval(successes, n, z: float = Z95):
    """Wilson score interval for a binomial proportion.

    Parameters
    ----------
    successes, n : array_like
        Counts (``n`` > 0).
    z : float
        Normal quantile (1.96 for 95 %).

    Returns
    -------
    (low, high) : arrays
        ``(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`` with ``p = successes / n``.

    References
    ----------
    Wilson (1927).
    """
    k = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    p = k / n
    denom = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    # The interval always contains p; clipping keeps rounding at p = 0 or 1 from crossing it.
    return np.clip(centre - half, 0.0, p), np.clip(centre + half, p, 1.0)


def fate_rows(
    n: int, fates: Mapping[str, int], stabs: Mapping[str, int], actors: Sequence[str] | None = None
) -> list[dict]:
    """The fate table's rows from the counts: replicates ``n``, replicates per fate word and stabs
    in the back per defector (only defectors who stabbed at least once). Each row has
    ``outcome``, ``count``, ``p``, ``low`` and ``high`` (the 95 % Wilson interval): holds, stab in
    the back (any defector), one row per defector (in the order of ``actors``, else alphabetical),
    drift apart."""
    rows = []

    def add(label, count):
        low, high = wilson_interval(count, n)
        row = {"outcome": label, "count": int(count), "p": count / n, "low": float(low), "high": float(high)}
        rows.append(row)

    add(Fate.HOLDS.word, fates.get(Fate.HOLDS.word, 0))
    add(Fate.STAB.word, fates.get(Fate.STAB.word, 0))
    who = sorted(stabs) if actors is None else [a for a in actors if a in stabs]
    for a in who:
        add(f"stab_in_the_back by {a}", stabs[a])
    add(Fate.DRIFT.word, fates.get(Fate.DRIFT.word, 0))
    return rows


class AllianceTally(Aggregate):
    """How many replicates ended each way: counts by (fate, defector, end step)."""

    def __init__(self, alliance: str):
        self.alliance = alliance
        self.fate, self.defector, self.end = (
            fate_column(alliance),
            defector_column(alliance),
            end_step_column(alliance),
        )
        self.needs = [self.fate, self.defector, self.end]
        self.counts: Counter = Counter()

    def update(self, start: int, batch: dict) -> None:
        """Count the row group's (fate, defector, end step) triples."""
        fate: TextColumn = batch[self.fate]
        who: TextColumn = batch[self.defector]
        end = np.asarray(batch[self.end], dtype=np.int64)
        if len(end) == 0:
            return
        nf, nw = len(fate.words), len(who.words)
        low = int(end.min())
        key = (end - low) * (nf * nw) + fate.index.astype(np.int64) * nw + who.index
        span = (int(end.max()) - low + 1) * nf * nw
        if span <= 1 << 22:  # end steps span a run's steps: count them all at once
            counts = np.bincount(key, minlength=span)
            values = np.flatnonzero(counts)
            counts = counts[values]
        else:
            values, counts = np.unique(key, return_counts=True)
        for v, c in zip(values.tolist(), counts.tolist(), strict=True):
            e, rest = divmod(v, nf * nw)
            f, w = divmod(rest, nw)
            self.counts[(fate.words[f], who.words[w], e + low)] += c

    @property
    def n(self) -> int:
        """Replicates counted."""
        return sum(self.counts.values())

    def by_fate(self) -> Counter:
        """Replicates per fate word."""
        out: Counter = Counter()
        for (f, _, _), c in self.counts.items():
            out[f] += c
        return out

    def stabs(self) -> Counter:
        """Stabs in the back per defector."""
        out: Counter = Counter()
        for (f, w, _), c in self.counts.items():
            if f == STAB:
                out[w] += c
        return out

    def rows(self, actors: Sequence[str] | None = None) -> list[dict]:
        """The alliance's fate table (:func:`fate_rows`) from these counts."""
        return fate_rows(self.n, self.by_fate(), self.stabs(), actors)


def fate_tallies(directory: str | Path, alliances: Iterable[str]) -> dict[str, AllianceTally]:
    """Each alliance's :class:`AllianceTally` over a run's replicate table, in one pass over its
    row groups."""
    tallies = {a: AllianceTally(a) for a in alliances}
    rows = RowGroups(Path(directory) / REPLICATES)
    try:
        stream(rows, tallies.values())
    finally:
        rows.close()
    return tallies
