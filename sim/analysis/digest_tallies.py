"""The digest's accumulators: what each pass over a run's replicate table keeps, merged exactly
across row groups (fates and their timing, blocs, column sums, the reading, events, the forces by
fate); :mod:`sim.analysis.digest` reads a run with them and answers from what they hold."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from sim.analysis.outcomes import (
    Z95,
)
from sim.analysis.streaming import (
    Aggregate,
    Moments,
    Nearest,
)
from sim.analysis.why import WhyGroup, why_forces
from sim.run.replicate_table import TextColumn
from sim.vocabulary import (
    FATES,
    REPLICATE,
    bloc_column,
    cohesion_column,
    defector_column,
    end_step_column,
    event_first_step_column,
    fate_column,
    why_column,
)

HOLDS, STAB, DRIFT = FATES


#: replicates kept per fate group as the most typical (nearest the group's mean parts)
TYPICAL = 3


#: final cohesion at or above this counts as pressed against the +1 bound
AT_TOP = 0.995


def _fate_codes(column: TextColumn) -> np.ndarray:
    """The fate of each row as an index into :data:`sim.vocabulary.FATES` (an unknown word refused)."""
    codes = column.codes(FATES)
    if (codes < 0).any():
        bad = sorted({w for w in column.words if w not in FATES})
        raise ValueError(f"unknown fate {', '.join(map(repr, bad))}; expected one of {', '.join(FATES)}")
    return codes


class BlocTally(Aggregate):
    """How often each pair of actors ends in the same bloc."""

    def __init__(self, actors: Sequence[str]):
        self.columns = [bloc_column(a) for a in actors]
        self.needs = list(self.columns)
        self.same = np.zeros((len(actors), len(actors)), dtype=np.int64)
        self.n = 0

    def update(self, start: int, batch: dict) -> None:
        """Add the row group's same-bloc pairs."""
        B = np.column_stack([np.asarray(batch[c]) for c in self.columns])
        for label in np.unique(B):  # pairs both in this bloc: a product of indicators (exact)
            inside = (B == label).astype(np.float64)
            self.same += np.rint(inside.T @ inside).astype(np.int64)
        self.n += len(B)


class ColumnSums(Aggregate):
    """Sum and count of the non-missing values of float columns (pandas' ``mean``)."""

    def __init__(self, columns: Sequence[str]):
        self.columns = list(columns)
        self.needs = list(self.columns)
        self.sum = np.zeros(len(self.columns))
        self.count = np.zeros(len(self.columns), dtype=np.int64)

    def update(self, start: int, batch: dict) -> None:
        """Add the row group's sums."""
        for k, c in enumerate(self.columns):
            x = np.asarray(batch[c], dtype=np.float64)
            ok = ~np.isnan(x)
            self.sum[k] += x[ok].sum()
            self.count[k] += int(ok.sum())

    def mean(self) -> np.ndarray:
        """Mean of each column over its non-missing values (NaN when none)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.count > 0, self.sum / np.maximum(self.count, 1), np.nan)


class ReadingTally(Aggregate):
    """For one alliance: how often it ended, how often its members ended in one bloc (among those
    runs and overall), and how often its final cohesion sits at the +1 bound."""

    def __init__(self, alliance: str, members: Sequence[str], columns: Sequence[str]):
        self.fate = fate_column(alliance)
        blocs = [bloc_column(m) for m in members]
        self.blocs = blocs if all(b in columns for b in blocs) and len(members) >= 2 else []
        self.cohesion = cohesion_column(alliance) if cohesion_column(alliance) in columns else None
        self.needs = [self.fate, *self.blocs] + ([self.cohesion] if self.cohesion else [])
        self.n = self.ended = self.together = self.together_ended = self.at_top = 0

    def update(self, start: int, batch: dict) -> None:
        """Count the row group."""
        ended = _fate_codes(batch[self.fate]) != 0
        self.n += len(ended)
        self.ended += int(ended.sum())
        if self.blocs:
            B = np.column_stack([np.asarray(batch[b]) for b in self.blocs])
            together = (B == B[:, :1]).all(axis=1)
            self.together += int(together.sum())
            self.together_ended += int((together & ended).sum())
        if self.cohesion:
            self.at_top += int((np.asarray(batch[self.cohesion], dtype=np.float64) >= AT_TOP).sum())


class EventTally(Aggregate):
    """For one alliance and each stochastic event: counts by fate, fired or not, and whether the
    event had fired by the time the alliance ended."""

    def __init__(self, alliance: str, events: Sequence[str]):
        self.events = list(events)
        self.fate, self.end = fate_column(alliance), end_step_column(alliance)
        self.first = [event_first_step_column(e) for e in self.events]
        self.needs = [self.fate, self.end, *self.first]
        # per event: (fate, fired, fired by the end) -> count
        self.counts = np.zeros((len(self.events), len(FATES), 2, 2), dtype=np.int64)

    def update(self, start: int, batch: dict) -> None:
        """Count the row group."""
        fate = _fate_codes(batch[self.fate]).astype(np.int64)
        end = np.asarray(batch[self.end])
        for k, col in enumerate(self.first):
            first = np.asarray(batch[col])
            fired = first >= 0
            before = fired & (first <= end)
            key = fate * 4 + fired * 2 + before
            self.counts[k] += np.bincount(key, minlength=len(FATES) * 4).reshape(len(FATES), 2, 2)


@dataclass
class StreamedWhyGroup:
    """One fate group of an alliance's attribution, from the digest: what
    :class:`sim.analysis.why.WhyGroup` tells, without every replicate's parts (the group's size,
    the mean parts and their 95 % intervals, the mean net change, the most typical replicates).
    :func:`sim.analysis.why.why_sentence` and ``why_frame`` take it as they take a ``WhyGroup``."""

    alliance: str
    fate: str
    defector: str | None
    n: int
    forces: list[str]
    mean: np.ndarray
    low: np.ndarray
    high: np.ndarray
    net_mean: float  # mean over the replicates of the sum of the parts
    net_half: float  # half-width of its 95 % interval (0 for a single replicate)
    nearest: list[int]  # replicate ids, most typical first
    window: bool

    label = WhyGroup.label
    change = WhyGroup.change
    shares = WhyGroup.shares

    def typical(self, k: int = TYPICAL) -> list[int]:
        """The ``k`` replicates whose parts are nearest (Euclidean) the group's mean parts."""
        if k > len(self.nearest) and len(self.nearest) < self.n:
            raise ValueError(f"the digest kept {len(self.nearest)} typical replicates; asked for {k}")
        return self.nearest[:k]


class WhyTally(Aggregate):
    """An alliance's attribution by fate group in two passes: the moments of every force's part,
    then the replicates nearest each group's mean parts."""

    def __init__(self, alliance: str, alliances: Sequence[str], columns: Sequence[str], window: bool, k: int):
        self.alliance, self.window, self.k = alliance, window, k
        self.forces = why_forces(columns, alliance, alliances, window)
        self.parts = [why_column(alliance, f, window) for f in self.forces]
        self.fate, self.defector = fate_column(alliance), defector_column(alliance)
        self.ids = REPLICATE if REPLICATE in columns else None
        self.needs = [self.fate, self.defector, *self.parts] if self.forces else []
        self.moments: dict[tuple[str, str | None], Moments] = {}
        self.net: dict[tuple[str, str | None], Moments] = {}
        self.nearest: dict[tuple[str, str | None], Nearest] = {}
        self._pass = 0

    def _groups(self, batch: dict):
        fate: TextColumn = batch[self.fate]
        who: TextColumn = batch[self.defector]
        codes = _fate_codes(fate)
        parts = np.column_stack([np.asarray(batch[c], dtype=np.float64) for c in self.parts])
        key = codes.astype(np.int64) * (len(who.words) + 1) + np.where(codes == 1, who.index, len(who.words))
        for value in np.unique(key):
            f, w = divmod(int(value), len(who.words) + 1)
            group = (FATES[f], who.words[w] if f == 1 else None)
            yield group, key == value, parts

    def update(self, start: int, batch: dict) -> None:
        """Moments (first pass) or distances to the group's mean (second pass)."""
        for group, mask, parts in self._groups(batch):
            x = parts[mask]
            if self._pass == 0:
                self.moments.setdefault(group, Moments(len(self.forces))).add(x)
                self.net.setdefault(group, Moments(1)).add(x.sum(axis=1)[:, None])
            else:
                d = np.sqrt(((x - self.moments[group].mean) ** 2).sum(axis=1))
                rows = start + np.flatnonzero(mask)
                ids = np.asarray(batch[self.ids])[mask] if self.ids else rows
                self.nearest.setdefault(group, Nearest(self.k)).add(d, rows, ids)

    def end_pass(self) -> None:
        """After the first pass, read the same columns again (and the replicate ids)."""
        self._pass += 1
        self.needs = self.needs + ([self.ids] if self.ids else []) if self._pass == 1 else []

    def groups(self, min_count: int = 1) -> list[StreamedWhyGroup]:
        """The fate groups in :func:`sim.analysis.why.why_groups`' order: stabs by each defector
        (by name), drift apart, held."""
        keys = sorted(((f, w) for f, w in self.moments if f == STAB), key=lambda g: str(g[1]))
        keys += [g for g in ((DRIFT, None), (HOLDS, None)) if g in self.moments]
        out = []
        for key in keys:
            m = self.moments[key]
            if m.n < max(min_count, 1):
                continue
            half = Z95 * m.std(ddof=1) / np.sqrt(m.n) if m.n > 1 else np.full(len(self.forces), np.nan)
            net = self.net[key]
            net_half = float(Z95 * net.std(ddof=1)[0] / np.sqrt(net.n)) if net.n > 1 else 0.0
            near = self.nearest.get(key)
            out.append(
                StreamedWhyGroup(
                    self.alliance,
                    key[0],
                    key[1],
                    m.n,
                    list(self.forces),
                    m.mean.copy(),
                    m.mean - half,
                    m.mean + half,
                    float(net.mean[0]),
                    net_half,
                    [int(i) for i in near.ids] if near is not None else [],
                    self.window,
                )
            )
        return out
