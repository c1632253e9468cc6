"""Everything a report shows about a run, from its replicate table in passes, in bounded memory.

:func:`digest` reads ``replicates.parquet`` row group by row group, only the columns it needs, and
keeps aggregates that merge exactly (counts, moments, histograms; :mod:`sim.analysis.streaming`):
memory is a constant plus one row group, whatever the number of replicates. From them,
:class:`Digest` answers with the same tables the in-memory functions of
:mod:`sim.analysis.outcomes`, :mod:`sim.analysis.events` and :mod:`sim.analysis.why` give on the
whole table (equal counts, equal intervals, moments equal to rounding):

==========================================  ====================================================
the report shows                            the digest's answer (in-memory function it equals)
==========================================  ====================================================
P(fate) and who stabs, Wilson intervals     :meth:`Digest.fate_table` (``outcomes.fate_table``)
who stabs whom                              :meth:`Digest.who_stabs_whom` (``who_stabs_whom``)
survival, Kaplan-Meier with Greenwood       :meth:`Digest.survival` (``alliance_survival``)
P(same bloc), the typical blocs             :meth:`Digest.same_bloc_probability`,
                                            :meth:`Digest.modal_blocs`
mean final capability                       :meth:`Digest.mean_capability`
sampled 5-95 % of each value, trust         :meth:`Digest.quantiles`, :meth:`Digest.trust_threshold`
threshold (exact order statistics)          (``numpy.quantile``)
fates and blocs, ties at the bound          :meth:`Digest.blocs_and_fates`
fates by event fired or not                 :meth:`Digest.fates_given_events`
                                            (``events.fates_given_events``)
what broke it: forces by fate, typical      :meth:`Digest.why_groups`, :meth:`Digest.typical`
replicates (re-run with ``replay``)         (``why.why_groups``)
variance by basis (given data)              :meth:`Digest.variance_by_basis` on :attr:`Digest.sample`
==========================================  ====================================================

Cohesion fans, balance and mean ties come from ``summary.npz``, which is small and already merged
(:func:`sim.analysis.outcomes.cohesion_bands`, ``balance_index``, ``mean_ties``); the comparison of
two runs, paired by replicate, is :func:`fate_differences`.

Analyses that need the rows themselves (first-order indices by basis, delta, PAWN, PRIM) run on a
seeded sample of the rows (:class:`SampledResults`, :func:`sampled`): all of them when the run has
no more than ``sample_size`` replicates (then every answer equals the in-memory one), a uniform
sample without replacement of that size otherwise, with the noise the sampling adds
(:meth:`SampleInfo.added_noise`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.digest_tallies import (
    TYPICAL,
    BlocTally,
    ColumnSums,
    EventTally,
    ReadingTally,
    StreamedWhyGroup,
    WhyTally,
)
from sim.analysis.fates import AllianceTally, wilson_interval
from sim.analysis.outcomes import (
    Z95,
    SurvivalCurve,
    alliance_members,
    fate_table_from_counts,
    stab_matrix,
    survival_from_counts,
)
from sim.analysis.streaming import (
    Aggregate,
    OrderStatistics,
    rows_in,
    sample_rows,
    stream,
)
from sim.run.replicate_table import RowGroups, TextColumn
from sim.run.store import ResultsError
from sim.vocabulary import (
    EVENT_PREFIX,
    FATES,
    PARAM_PREFIX,
    REPLICATE,
    bloc_column,
    capability_column,
    defector_column,
    end_step_column,
    fate_column,
    param_column,
)

#: rows kept for the analyses that need rows (given-data indices, PRIM) when a run has more
SAMPLE_SIZE = 100_000
#: rows the digest keeps for a report's variance split by basis: its cost grows with the rows
#: (status_quo, both fates, on the shared 2-core machine at load 12: 6.6 s for 20,000 rows, 18 s
#: for 50,000, 35 s for 100,000) and its noise shrinks with them (two standard deviations of the
#: public figures' share: 1.4, 0.5 and 0.3 percentage points); at 50,000 the noise stays below the
#: whole percentage point the page shows
REPORT_SAMPLE = 50_000
#: quantiles the digest knows of every sampled value (the report's 5-95 % and the median)
QUANTILES = (0.05, 0.5, 0.95)
HOLDS, STAB, DRIFT = FATES


# --------------------------------------------------------------------------------------------
# Per alliance: fate, defector and end step, counted together
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# Blocs, capabilities, the reading note, events
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# What broke it: the forces' parts per fate group
# --------------------------------------------------------------------------------------------


# --------------------------------------------------------------------------------------------
# A seeded sample of the rows
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampleInfo:
    """Which rows a sample holds: ``size`` of ``total``, chosen with ``seed``
    (:func:`sim.analysis.streaming.sample_rows`)."""

    total: int
    size: int
    seed: int

    @property
    def whole(self) -> bool:
        """Whether the sample is every row."""
        return self.size >= self.total

    def added_noise(self, noise):
        """The part of an estimate's noise that comes from sampling rows rather than using all.

        ``noise`` is the estimate's noise on the sample (e.g. the shuffled-outcome spread of
        :func:`sim.analysis.variance.variance_by_basis`). An estimate of ``size`` rows errs by
        about ``sigma / sqrt(size)``; the one of all rows by ``sigma / sqrt(total)``, and the
        sample's estimate differs from the whole table's by about
        ``noise * sqrt(1 - size / total)`` (0 for the whole table).
        """
        factor = np.sqrt(max(0.0, 1.0 - self.size / max(self.total, 1)))
        if isinstance(noise, (pd.Series, np.ndarray, float, int)):
            return noise * factor
        return np.asarray(noise, dtype=float) * factor

    def describe(self) -> str:
        """In words, for a page."""
        if self.whole:
            return f"all {self.total:,} replicates"
        return f"a uniform sample of {self.size:,} of the {self.total:,} replicates (seed {self.seed})"


class RowSample(Aggregate):
    """Chosen rows of chosen columns, gathered in one pass (after sitting out ``wait`` passes: a
    later pass, when others need one anyway, gathers while less else is held)."""

    def __init__(self, rows: np.ndarray, columns: Sequence[str], wait: int = 0):
        self.rows = np.asarray(rows, dtype=np.int64)
        self.columns = list(dict.fromkeys(columns))
        self.values: dict[str, list[np.ndarray]] = {c: [] for c in self.columns}
        self._wait = wait
        self.needs = [] if wait else list(self.columns)

    @property
    def waiting(self) -> bool:
        """Whether it has yet to gather."""
        return self._wait > 0

    def skip_pass(self) -> None:
        """One pass less to wait; gather in the next one when none is left."""
        self._wait -= 1
        if self._wait == 0:
            self.needs = list(self.columns)

    def update(self, start: int, batch: dict) -> None:
        """Keep the row group's chosen rows."""
        _, offsets = rows_in(self.rows, start, _length(batch))
        for c in self.values:
            v = batch[c]
            self.values[c].append(v.take(offsets) if isinstance(v, TextColumn) else np.asarray(v)[offsets])

    def arrays(self) -> dict[str, np.ndarray]:
        """The gathered rows of each column, in the table's order (the pieces are let go)."""
        out = {}
        for c in self.columns:
            out[c] = np.concatenate(self.values[c]) if self.values[c] else np.zeros(0)
            self.values[c] = []
        return out


def _length(batch: dict) -> int:
    v = next(iter(batch.values()))
    return len(v.index) if isinstance(v, TextColumn) else len(v)


class SampledResults:
    """A :class:`~sim.run.store.Results` whose replicate table is a seeded sample of the run's
    rows (every row when the run has no more than ``size``): what the given-data analyses
    (variance by basis, delta, PAWN, PRIM) read from a big run. Everything but the table (the
    manifest, the summaries, the actors...) is the run's own; :attr:`info` says which rows.
    """

    def __init__(self, results, size: int = SAMPLE_SIZE, seed: int = 0, rows: np.ndarray | None = None):
        self.results = results
        total = results.n
        self.rows = sample_rows(total, size, seed) if rows is None else np.asarray(rows, dtype=np.int64)
        self.info = SampleInfo(total, len(self.rows), int(seed))
        self._columns: dict[str, np.ndarray] = {}

    def __getattr__(self, name: str):
        return getattr(self.results, name)

    @property
    def n(self) -> int:
        """Rows in the sample."""
        return len(self.rows)

    def add(self, arrays: dict[str, np.ndarray]) -> None:
        """Columns of the sample already gathered (by :func:`digest`)."""
        self._columns.update(arrays)

    def read(self, columns: Sequence[str]) -> pd.DataFrame:
        """Chosen columns of the sampled rows (gathered in one pass over the file when new)."""
        missing = [c for c in dict.fromkeys(columns) if c not in self._columns]
        if missing:
            rows = RowGroups(Path(self.results.directory) / "replicates.parquet")
            try:
                gather = RowSample(self.rows, missing)
                stream(rows, [gather])
            finally:
                rows.close()
            self.add(gather.arrays())
        return pd.DataFrame({c: self._columns[c] for c in columns}, index=pd.RangeIndex(len(self.rows)))

    @property
    def replicates(self) -> pd.DataFrame:
        """Every column of the sampled rows."""
        return self.read(self.results.columns)

    @property
    def outcomes(self) -> pd.DataFrame:
        """Every column but the sampled values, of the sampled rows."""
        return self.read([c for c in self.results.columns if not c.startswith(PARAM_PREFIX)])


def sampled(results, size: int = SAMPLE_SIZE, seed: int = 0) -> SampledResults:
    """A run seen through a seeded sample of ``size`` of its replicates (all when it has fewer):
    pass it to :func:`sim.analysis.given_data.given_data` or
    :func:`sim.analysis.discovery.discover` in place of the run."""
    return SampledResults(results, size, seed)


# --------------------------------------------------------------------------------------------
# The digest
# --------------------------------------------------------------------------------------------


@dataclass
class ReadingNote:
    """Blocs against fates for one alliance: shares of all replicates (``together_ended`` of those
    where it ended); NaN where the run lacks the columns."""

    ended: float
    together: float
    together_ended: float
    at_top: float


@dataclass
class Digest:
    """The aggregates of one run's replicate table (see the module's table of what each answers)."""

    n: int
    steps: int
    actors: list[str]
    alliances: list[str]
    members: dict[str, list[str]]
    manifest: dict
    tallies: dict[str, AllianceTally]
    blocs: BlocTally | None
    capability: ColumnSums
    reading: dict[str, ReadingTally]
    events: dict[str, EventTally]
    order: OrderStatistics
    why: dict[tuple[str, bool], WhyTally]
    sample: SampledResults
    passes: int = 0
    columns: list[str] = field(default_factory=list)

    # -- fates -----------------------------------------------------------------------------

    def fate_table(self, alliance: str, actors: Sequence[str] | None = None) -> pd.DataFrame:
        """P(holds), P(stab in the back) by who stabbed, P(drift apart), with 95 % Wilson
        intervals: :func:`sim.analysis.outcomes.fate_table` of the whole table."""
        tally = self.tallies[alliance]
        return fate_table_from_counts(tally.n, tally.by_fate(), tally.stabs(), actors)

    def who_stabs_whom(self, actors: Sequence[str] | None = None, normalize: bool = False) -> pd.DataFrame:
        """Betrayals by defector (rows) and betrayed partner (columns) over every alliance:
        :func:`sim.analysis.outcomes.who_stabs_whom`."""
        stabs = {name: tally.stabs() for name, tally in self.tallies.items()}
        return stab_matrix(stabs, self.members, self.actors if actors is None else actors, self.n, normalize)

    def survival(
        self, alliance: str, horizon: float | None = None, fate: str | None = None, **kwargs
    ) -> SurvivalCurve:
        """Time until the alliance ends, censored at the horizon where it holds (Kaplan-Meier with
        Greenwood's interval): :func:`sim.analysis.outcomes.alliance_survival`."""
        horizon = float(self.steps if horizon is None else horizon)
        total: Counter = Counter()
        events: Counter = Counter()
        for (f, _, end), c in self.tallies[alliance].counts.items():
            t = horizon if f == HOLDS else float(end)
            total[t] += c
            if (f != HOLDS) if fate is None else (f == fate):
                events[t] += c
        n = sum(total.values())
        times = np.array(sorted(t for t, c in events.items() if c > 0), dtype=float)
        durations = np.array(sorted(total), dtype=float)
        below = np.concatenate([[0], np.cumsum([total[t] for t in durations])])
        at_risk = n - below[np.searchsorted(durations, times, side="left")]
        return survival_from_counts(
            times, np.array([events[t] for t in times], dtype=np.int64), at_risk, n, horizon, **kwargs
        )

    # -- blocs, capability, reading note ------------------------------------------------------

    @property
    def has_blocs(self) -> bool:
        """Whether the run recorded every actor's final bloc."""
        return self.blocs is not None

    def same_bloc_probability(self) -> pd.DataFrame:
        """P(two actors end in the same bloc): :func:`sim.analysis.outcomes.same_bloc_probability`."""
        if self.blocs is None:
            raise KeyError("no bloc columns in this result set")
        return pd.DataFrame(self.blocs.same / max(self.blocs.n, 1), index=self.actors, columns=self.actors)

    def modal_blocs(self) -> np.ndarray:
        """Each actor with the first actor (0) when P(same bloc) >= 1/2, else 1."""
        return (self.same_bloc_probability().to_numpy()[0] < 0.5).astype(np.int64)

    def mean_capability(self, actors: Sequence[str] | None = None) -> pd.Series:
        """Mean final capability of each actor: :func:`sim.analysis.outcomes.mean_capability`."""
        means = dict(zip(self.capability.columns, self.capability.mean(), strict=True))
        return pd.Series(
            {
                a: float(means.get(capability_column(a), np.nan))
                for a in (self.actors if actors is None else actors)
            }
        )

    def blocs_and_fates(self, alliance: str) -> ReadingNote:
        """How often the alliance ended, how often its members ended in one bloc (among those runs
        and overall), how often its final cohesion sat at the +1 bound."""
        r = self.reading[alliance]
        n = max(r.n, 1)
        nan = float("nan")
        return ReadingNote(
            r.ended / n,
            r.together / n if r.blocs else nan,
            r.together_ended / r.ended if r.blocs and r.ended else nan,
            r.at_top / n if r.cohesion else nan,
        )

    # -- sampled values --------------------------------------------------------------------

    def quantiles(self, column: str) -> dict[float, float]:
        """``numpy.quantile`` of a sampled value's column at :data:`QUANTILES` (exact)."""
        return dict(zip(self.order.qs, self.order.quantiles(column).tolist(), strict=True))

    def trust_threshold(self, alliance: str) -> tuple[float, float, float] | None:
        """(5 %, median, 95 %) of an alliance's trust threshold over the replicates, the fixed
        value three times, or None: as :func:`sim.present.plots.trust_threshold`."""
        column = param_column(f"alliances.{alliance}.theta_trust")
        if column in self.order.columns:
            q = self.quantiles(column)
            return q[0.05], q[0.5], q[0.95]
        trust = ((self.manifest.get("scenario", {}).get("alliances") or {}).get(alliance) or {}).get(
            "theta_trust"
        )
        if isinstance(trust, (int, float)):
            return float(trust), float(trust), float(trust)
        return None

    # -- events ----------------------------------------------------------------------------

    def fates_given_events(self, alliance: str) -> pd.DataFrame:
        """Each fate's share where each event fired and where it did not:
        :func:`sim.analysis.events.fates_given_events`."""
        rows: list[dict] = []
        tally = self.events.get(alliance)
        if tally is None:
            return pd.DataFrame(rows)
        for k, name in enumerate(tally.events):
            c = tally.counts[k]  # (fate, fired, fired by the end)
            fired_total = int(c[:, 1].sum())
            for f, word in enumerate(FATES):
                row = {"event": name, "fate": word, "fired": fired_total}
                for key, fired in (("fired", 1), ("not", 0)):
                    n = int(c[:, fired].sum())
                    if n:
                        hit = int(c[f, fired].sum())
                        lo, hi = wilson_interval(hit, n)
                        row |= {f"p_{key}": hit / n, f"low_{key}": float(lo), f"high_{key}": float(hi)}
                    else:
                        row |= {f"p_{key}": np.nan, f"low_{key}": np.nan, f"high_{key}": np.nan}
                ended = int(c[f].sum()) if word != HOLDS else 0
                row["after_event"] = int(c[f, 1, 1]) / ended if ended else np.nan
                rows.append(row)
        return pd.DataFrame(rows)

    # -- what broke it ---------------------------------------------------------------------

    def why_groups(self, alliance: str, window: bool = False, min_count: int = 1) -> list[StreamedWhyGroup]:
        """The fate groups of the alliance's attribution: :func:`sim.analysis.why.why_groups`
        without the per-replicate parts (empty when the run booked none)."""
        tally = self.why.get((alliance, window))
        return tally.groups(min_count) if tally is not None else []

    def typical(self, alliance: str, k: int = TYPICAL) -> list[int]:
        """The replicates to re-run for the alliance's "what broke it": the ``k`` most typical of
        each fate group over the run, in ascending order (pass them to
        :func:`sim.run.replay.replay`)."""
        return sorted({r for g in self.why_groups(alliance) for r in g.typical(k)})

    # -- given data on the sample ------------------------------------------------------------

    def variance_by_basis(
        self, alliance: str, fate: str, basis_of: Callable[[str], str], **kwargs
    ) -> pd.DataFrame:
        """:func:`sim.analysis.variance.variance_by_basis` of "the alliance ends with ``fate``" on
        :attr:`sample`, with a column ``sampling``: the part of ``noise`` the sample adds
        (:meth:`SampleInfo.added_noise`; 0 when the sample is every row)."""
        from sim.analysis.variance import variance_by_basis

        params = [c for c in self.columns if c.startswith(PARAM_PREFIX)]
        frame = self.sample.read([fate_column(alliance), *params])
        y = (frame[fate_column(alliance)] == fate).to_numpy()
        table = variance_by_basis(frame, y, basis_of, **kwargs)
        table["sampling"] = self.sample.info.added_noise(table["noise"].to_numpy())
        return table


def digest(
    results,
    *,
    sample_size: int = REPORT_SAMPLE,
    seed: int = 0,
    typical: int = TYPICAL,
    quantiles: Sequence[float] = QUANTILES,
) -> Digest:
    """Read a finished run's replicate table in two passes (the columns each needs, row group by
    row group) and keep what its report shows. (A float64 sampled value with more than 65,536
    values sharing the top 16 bits of a sought one would take further passes; float32 never does.)

    Parameters
    ----------
    results : sim.run.store.Results
        A finished run (:func:`sim.run.store.load_results`).
    sample_size : int
        Rows kept for the analyses that need rows (:attr:`Digest.sample`).
    seed : int
        Seed of that sample.
    typical : int
        Most typical replicates kept per fate group of the attribution.
    quantiles : sequence of float
        Quantiles of every sampled value (:meth:`Digest.quantiles`).

    Returns
    -------
    Digest
    """
    path = Path(results.directory) / "replicates.parquet"
    rows = RowGroups(path)
    columns = rows.names
    have = set(columns)
    actors, alliances = results.actors, results.alliances
    members = alliance_members(results.manifest.get("scenario", {}))
    tallies = {
        a: AllianceTally(a)
        for a in alliances
        if {fate_column(a), defector_column(a), end_step_column(a)} <= have
    }
    blocs = BlocTally(actors) if all(bloc_column(a) in have for a in actors) else None
    capability = ColumnSums([capability_column(a) for a in actors if capability_column(a) in have])
    reading = {a: ReadingTally(a, members.get(a, []), columns) for a in tallies}
    events = [
        c[len(EVENT_PREFIX) : -len(".first_step")]
        for c in columns
        if c.startswith(EVENT_PREFIX) and c.endswith(".first_step")
    ]
    event_tallies = {a: EventTally(a, events) for a in tallies if events}
    params = [c for c in columns if c.startswith(PARAM_PREFIX)]
    order = OrderStatistics(params, quantiles, rows.num_rows)
    why = {}
    for a in tallies:
        for window in (False, True):
            tally = WhyTally(a, alliances, columns, window, typical)
            if tally.forces:
                why[(a, window)] = tally
    sample = SampledResults(results, sample_size, seed)
    outcome_columns = [c for a in tallies for c in (fate_column(a), defector_column(a), end_step_column(a))]
    # gathered in the second pass, once the first pass's counts of the sampled values are let go
    gather = RowSample(sample.rows, params + outcome_columns, wait=1 if params else 0)
    aggregates: list[Aggregate] = [
        *tallies.values(),
        *([blocs] if blocs else []),
        capability,
        *reading.values(),
        *event_tallies.values(),
        order,
        *why.values(),
        gather,
    ]
    try:
        passes = stream(rows, aggregates)
    except ValueError as e:  # a table whose fates are not ours
        raise ResultsError(f"{path}: {e}") from None
    finally:
        rows.close()
    sample.add(gather.arrays())
    return Digest(
        n=rows.num_rows,
        steps=results.steps,
        actors=list(actors),
        alliances=list(alliances),
        members=members,
        manifest=results.manifest,
        tallies=tallies,
        blocs=blocs,
        capability=capability,
        reading=reading,
        events=event_tallies,
        order=order,
        why=why,
        sample=sample,
        passes=passes,
        columns=list(columns),
    )


class DigestedRun:
    """A finished run read through its :class:`Digest`: what a page needs of a run without its
    replicate table in memory.

    Every attribute of the run (manifest, summaries, actors, alliances, name, title...) is the
    run's own; :attr:`digest` answers what would otherwise be computed from the rows, and
    :attr:`columns` and :attr:`n` come from the digest (no second read of the file's footer).
    Pages built from a ``DigestedRun`` read the table in row groups, the columns they need only.
    """

    def __init__(self, results, d: Digest | None = None, **kwargs):
        self.results = results
        self.digest = d if d is not None else digest(results, **kwargs)

    def __getattr__(self, name: str):
        if name in ("results", "digest"):  # not set yet (unpickling): no recursion
            raise AttributeError(name)
        return getattr(self.results, name)

    @property
    def n(self) -> int:
        """Replicates of the run."""
        return self.digest.n

    @property
    def columns(self) -> list[str]:
        """Names of the replicate table's columns."""
        return self.digest.columns


def digested(results, **kwargs):
    """``results`` as a :class:`DigestedRun` when its replicate table is on disk (a finished run's
    folder), unchanged otherwise (a table held in memory only is read as it is)."""
    if isinstance(results, DigestedRun):
        return results
    try:
        on_disk = (Path(results.directory) / "replicates.parquet").is_file()
    except (AttributeError, TypeError):  # not a run's folder
        on_disk = False
    return DigestedRun(results, **kwargs) if on_disk else results


def streamed_capability(results, actors: Sequence[str]) -> np.ndarray:
    """Mean final capability of each actor (NaN where not recorded), from the capability columns
    read row group by row group: :func:`sim.analysis.outcomes.mean_capability` in bounded memory."""
    rows = RowGroups(Path(results.directory) / "replicates.parquet")
    try:
        sums = ColumnSums([capability_column(a) for a in actors if capability_column(a) in rows.names])
        stream(rows, [sums])
    finally:
        rows.close()
    means = dict(zip(sums.columns, sums.mean(), strict=True))
    return np.array([means.get(capability_column(a), np.nan) for a in actors], dtype=float)


def digest_of(results) -> Digest | None:
    """The digest a run is read through, or None for a run read from memory."""
    return results.digest if isinstance(results, DigestedRun) else None


# --------------------------------------------------------------------------------------------
# Two runs, paired by replicate
# --------------------------------------------------------------------------------------------


def _fate_stream(results, alliance: str):
    """``(replicate ids, fate codes)`` of each row group of a run (codes: index in FATES, -1 for
    any other word)."""
    rows = RowGroups(Path(results.directory) / "replicates.parquet")
    try:
        for _, batch in rows.batches([REPLICATE, fate_column(alliance)]):
            yield np.asarray(batch[REPLICATE], dtype=np.int64), batch[fate_column(alliance)].codes(FATES)
    finally:
        rows.close()


def _ascending(ids: np.ndarray, previous: int) -> bool:
    return bool(len(ids) == 0 or (ids[0] > previous and np.all(np.diff(ids) > 0)))


def joint_fates(a, b, alliance: str) -> tuple[np.ndarray, bool, bool]:
    """The two runs' fates replicate by replicate, read in step row group by row group.

    Returns
    -------
    (counts, same, ascending)
        ``counts[i + 1, j + 1]``: replicates whose fate is ``FATES[i]`` in ``a`` and ``FATES[j]``
        in ``b`` (index 0: another word); ``same``: both runs hold the same replicates in the same
        order; ``ascending``: both list them in ascending order.
    """
    size = len(FATES) + 1
    counts = np.zeros((size, size), dtype=np.int64)
    same = ascending = True
    streams = [_fate_stream(a, alliance), _fate_stream(b, alliance)]
    ids = [np.zeros(0, dtype=np.int64)] * 2
    codes = [np.zeros(0, dtype=np.int32)] * 2
    last = [-1, -1]
    ended = [False, False]
    while True:
        for s in (0, 1):
            while len(ids[s]) == 0 and not ended[s]:
                nxt = next(streams[s], None)
                if nxt is None:
                    ended[s] = True
                else:
                    ids[s], codes[s] = nxt
                    ascending &= _ascending(ids[s], last[s])
                    last[s] = int(ids[s][-1]) if len(ids[s]) else last[s]
        if len(ids[0]) == 0 or len(ids[1]) == 0:
            break
        m = min(len(ids[0]), len(ids[1]))
        same &= bool(np.array_equal(ids[0][:m], ids[1][:m]))
        pair = (codes[0][:m].astype(np.int64) + 1) * size + codes[1][:m] + 1
        counts += np.bincount(pair, minlength=size * size).reshape(size, size)
        ids = [ids[0][m:], ids[1][m:]]
        codes = [codes[0][m:], codes[1][m:]]
    same &= len(ids[0]) == 0 and len(ids[1]) == 0  # neither run has rows the other lacks
    for s in streams:
        s.close()
    return counts, same, ascending


def _marginal(results, alliance: str) -> np.ndarray:
    out = np.zeros(len(FATES) + 1, dtype=np.int64)
    for _, codes in _fate_stream(results, alliance):
        out += np.bincount(codes + 1, minlength=len(out))
    return out


def fate_differences(a, b, alliance: str | None = None) -> pd.DataFrame:
    """Each fate's B − A with the paired and the unpaired 95 % interval, from the two runs' fate
    columns read row group by row group: :func:`sim.analysis.compare.fate_differences`.

    The paired interval needs the runs' replicates in the same order; ``alliance-sim run`` stores
    them ascending. Tables that are not (written by other means) are compared in memory by
    :func:`sim.analysis.compare.fate_differences`.
    """
    from sim.analysis import compare

    alliance = alliance or a.focal
    paired = compare.pairing(a, b) is None
    if paired:
        joint, same, ascending = joint_fates(a, b, alliance)
        if not ascending:
            return compare.fate_differences(a, b, alliance)
        paired = same
    if paired:
        ka, kb = joint.sum(axis=1), joint.sum(axis=0)
    else:
        ka, kb = _marginal(a, alliance), _marginal(b, alliance)
    na, nb = int(ka.sum()), int(kb.sum())
    rows = []
    for f, fate in enumerate(FATES, start=1):
        x, y = int(ka[f]), int(kb[f])
        lo_u, hi_u = compare.newcombe_interval(x, na, y, nb)
        lo_p = hi_p = float("nan")
        if paired:
            # d = [b has the fate] - [a has it]: +-1 where exactly one of them has it
            ones = int(joint[f, :].sum() + joint[:, f].sum() - 2 * joint[f, f])
            mean = (y - x) / na
            if na > 1:
                se = float(np.sqrt(max((ones - na * mean * mean) / (na - 1), 0.0)) / np.sqrt(na))
                lo_p, hi_p = mean - Z95 * se, mean + Z95 * se
        rows.append(compare.difference_row(fate, x / na, y / nb, (lo_p, hi_p), (lo_u, hi_u)))
    return pd.DataFrame(rows)


__all__ = [
    "Digest",
    "DigestedRun",
    "ReadingNote",
    "SampleInfo",
    "SampledResults",
    "StreamedWhyGroup",
    "digest",
    "digest_of",
    "digested",
    "fate_differences",
    "joint_fates",
    "sampled",
    "streamed_capability",
]
