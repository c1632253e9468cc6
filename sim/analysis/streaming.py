"""Aggregates of a replicate table built row group by row group, in memory that does not grow with
the replicates.

An :class:`Aggregate` names the columns it needs, sees the table one row group at a time
(:meth:`Aggregate.update`) and may ask for another pass over the file (order statistics and the
replicates nearest a group's mean need two). :func:`stream` runs any number of them together,
reading each row group once per pass with the union of their columns. Everything they keep merges
exactly: counts and histograms add, moments combine by Chan, Golub & LeVeque's (1983) pairwise
update, the ``k`` smallest of two sets are the ``k`` smallest of their union.

Pieces here are generic (moments, exact order statistics by radix selection, the ``k`` nearest, a
seeded sample of rows); :mod:`sim.analysis.digest` builds the report's quantities from them.

References
----------
Chan, T. F., Golub, G. H. & LeVeque, R. J. (1983). Algorithms for computing the sample variance:
    analysis and recommendations. The American Statistician 37(3), 242-247.
Hyndman, R. J. & Fan, Y. (1996). Sample quantiles in statistical packages. The American
    Statistician 50(4), 361-365 (definition 7, numpy's "linear").
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np

from sim.run.replicate_table import RowGroups

#: the signed and unsigned integers of a float's width (its bits, reinterpreted)
_KEY_TYPES: dict[np.dtype, tuple[type, type]] = {
    np.dtype(np.float32): (np.int32, np.uint32),
    np.dtype(np.float64): (np.int64, np.uint64),
}

# --------------------------------------------------------------------------------------------
# Passes over a table
# --------------------------------------------------------------------------------------------


class Aggregate:
    """Something computed from a replicate table one row group at a time.

    Subclasses set :attr:`needs` (the columns of the current pass; empty when done or waiting for a
    later pass, see :attr:`waiting`) and implement :meth:`update`; :meth:`end_pass` is called
    after each pass the aggregate took part in and sets the next pass's columns.
    """

    needs: list[str]

    @property
    def waiting(self) -> bool:
        """Whether it sits out this pass but needs a later one (see :meth:`skip_pass`)."""
        return False

    def update(self, start: int, batch: dict) -> None:
        """Take in one row group: ``start`` is the number of its first row, ``batch`` maps every
        column in :attr:`needs` to its values (:class:`~sim.run.replicate_table.TextColumn` for
        text)."""
        raise NotImplementedError

    def end_pass(self) -> None:
        """Called when every row group of a pass has been seen: finish, or set up the next pass."""
        self.needs = []

    def skip_pass(self) -> None:
        """Called after a pass it sat out while :attr:`waiting`."""


def stream(rows: RowGroups, aggregates: Iterable[Aggregate], max_passes: int = 8) -> int:
    """Feed the row groups of ``rows`` to every aggregate, pass after pass, until none needs more.

    Each pass reads only the union of the columns the aggregates still need. Returns the number of
    passes made.
    """
    todo = list(aggregates)
    passes = 0
    while True:
        active = [a for a in todo if a.needs]
        idle = [a for a in todo if not a.needs and a.waiting]
        if not active and not idle:
            return passes
        if passes == max_passes:
            raise RuntimeError(f"aggregates still need columns after {max_passes} passes")
        if active:
            columns = list(dict.fromkeys(c for a in active for c in a.needs))
            for start, batch in rows.batches(columns):
                for a in active:
                    a.update(start, batch)
            passes += 1
        for a in active:
            a.end_pass()
        for a in idle:
            a.skip_pass()


# --------------------------------------------------------------------------------------------
# Moments
# --------------------------------------------------------------------------------------------


@dataclass
class Moments:
    """Count, mean and sum of squared deviations of vectors, merged exactly in count and to
    rounding in the moments (Chan, Golub & LeVeque 1983).

    ``width`` values per row (one per column of what is added).
    """

    width: int
    n: int = 0
    mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    m2: np.ndarray = field(default_factory=lambda: np.zeros(0))

    def __post_init__(self) -> None:
        if self.mean.shape != (self.width,):
            self.mean = np.zeros(self.width)
            self.m2 = np.zeros(self.width)

    def add(self, x: np.ndarray) -> None:
        """Add rows ``x`` of shape (rows, width)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1, self.width)
        if len(x) == 0:
            return
        mean = x.mean(axis=0)
        self.merge(Moments(self.width, len(x), mean, ((x - mean) ** 2).sum(axis=0)))

    def merge(self, other: Moments) -> None:
        """Combine with the moments of other rows."""
        if other.n == 0:
            return
        if self.n == 0:
            self.n, self.mean, self.m2 = other.n, other.mean.copy(), other.m2.copy()
            return
        n = self.n + other.n
        delta = other.mean - self.mean
        self.mean = self.mean + delta * (other.n / n)
        self.m2 = self.m2 + other.m2 + delta * delta * (self.n * other.n / n)
        self.n = n

    def std(self, ddof: int = 1) -> np.ndarray:
        """Standard deviation of each value (NaN with fewer than ``ddof + 1`` rows)."""
        if self.n <= ddof:
            return np.full(self.width, np.nan)
        return np.sqrt(self.m2 / (self.n - ddof))


# --------------------------------------------------------------------------------------------
# Exact order statistics by radix selection
# --------------------------------------------------------------------------------------------


def sortable_keys(values: np.ndarray) -> np.ndarray:
    """Unsigned integers that sort as the floats do (float32 -> uint32, float64 -> uint64):
    the sign bit flipped for positive numbers, every bit flipped for negative ones."""
    v = np.ascontiguousarray(values)
    if v.dtype not in _KEY_TYPES:
        raise TypeError(f"expected float32 or float64 values, got {v.dtype}")
    signed, unsigned = _KEY_TYPES[v.dtype]
    bits = v.dtype.itemsize * 8 - 1
    # all ones for a negative number (arithmetic shift of the sign), else the sign bit alone
    mask = (v.view(signed) >> bits).view(unsigned) | unsigned(1 << bits)
    return v.view(unsigned) ^ mask


def key_values(keys: np.ndarray) -> np.ndarray:
    """The floats of :func:`sortable_keys` (its inverse)."""
    kind = np.float32 if keys.dtype == np.uint32 else np.float64
    top = keys.dtype.type(1 << (keys.dtype.itemsize * 8 - 1))
    return np.where(keys & top, keys ^ top, ~keys).view(kind)


def linear_quantile(n: int, q: float, order_statistic) -> float:
    """``numpy.quantile(x, q)`` (method "linear") of ``n`` values known through
    ``order_statistic(k)`` (the ``k``-th smallest, from 0), with numpy's own arithmetic: the virtual
    index ``(n - 1) q``, and the interpolation written from its lower neighbour below the middle and
    from its upper one above."""
    v = np.float64(n - 1) * np.float64(q)
    if v >= n - 1:
        return float(order_statistic(n - 1))
    if v < 0:
        return float(order_statistic(0))
    k = int(np.floor(v))
    a = np.float64(order_statistic(k))
    b = np.float64(order_statistic(k + 1))
    t = v - np.float64(k)
    diff = b - a
    return float(b - diff * (1 - t)) if t >= 0.5 else float(a + diff * t)


def quantile_ranks(n: int, qs: Sequence[float]) -> list[int]:
    """The order statistics (0-based ranks) :func:`linear_quantile` reads for ``qs``."""
    ranks: set[int] = set()
    for q in qs:
        v = np.float64(n - 1) * np.float64(q)
        if v >= n - 1:
            ranks.add(n - 1)
        elif v < 0:
            ranks.add(0)
        else:
            k = int(np.floor(v))
            ranks.update((k, k + 1))
    return sorted(ranks)


@dataclass
class _Bucket:
    """Values of one column sharing a known high-bit prefix of their key, and the ranks sought
    among them."""

    prefix: int
    bits: int  # how many high bits of the key the prefix fixes
    count: int  # values with this prefix
    ranks: dict[int, int]  # overall rank -> rank among the bucket's values
    histogram: np.ndarray | None = None
    collected: list[np.ndarray] | None = None


def _raw_prefix(key_prefix: int, bits: int) -> int:
    """The prefix of a float's raw bits that the first ``bits`` bits of its key have (the key flips
    the sign bit of a positive number and every bit of a negative one)."""
    top = 1 << (bits - 1)
    return key_prefix ^ top if key_prefix & top else ~key_prefix & ((1 << bits) - 1)


class OrderStatistics(Aggregate):
    """Exact quantiles of float columns in passes over the table, in bounded memory.

    Radix selection on the bits of :func:`sortable_keys`: the first pass counts each column's
    values by the highest ``first_bits`` bits (on the raw bits, a table lookup away from the key's);
    each later pass takes the buckets that hold the sought ranks and keeps their values when at
    most ``cap`` of them (then sorts them) or counts them by their next ``next_bits`` bits, until
    every sought value is known bit for bit. With the defaults a float32 column is done in two
    passes. Quantiles are then read as :func:`numpy.quantile` reads them (:func:`linear_quantile`),
    so they are equal to it; a column holding a NaN gives NaN, as numpy does.

    Memory: ``2**first_bits`` counts per column in the first pass (by default 256 KiB, or 1 KiB for
    a table of at most ``cap`` rows, which the second pass keeps whole anyway); in a later
    one, per bucket holding a sought rank (at most two per quantile and column), ``cap`` kept values
    or ``2**next_bits`` counts (256 KiB for float32 by default), whatever the number of rows.
    """

    def __init__(
        self,
        columns: Sequence[str],
        qs: Sequence[float],
        n: int,
        *,
        first_bits: int | None = None,
        next_bits: int = 16,
        cap: int = 1 << 16,
    ):
        self.columns = list(columns)
        self.qs = [float(q) for q in qs]
        self.n = int(n)
        if first_bits is None:  # a table of at most ``cap`` rows is kept whole in the next pass
            first_bits = 16 if self.n > cap else 8  # so 256 counts per column do, not 65,536
        self.first_bits, self.next_bits, self.cap = first_bits, next_bits, cap
        self.width: dict[str, int] = {}
        self.nan: dict[str, int] = dict.fromkeys(self.columns, 0)
        self.first: dict[str, np.ndarray] = {}
        self.buckets: dict[str, list[_Bucket]] = {}
        self.found: dict[str, dict[int, float]] = {c: {} for c in self.columns}
        self._pass = 0
        # counts stay 4 bytes while they cannot overflow
        self._count_type = np.uint32 if self.n < (1 << 32) else np.int64
        self.needs = list(self.columns) if self.n > 0 else []

    # -- reading -------------------------------------------------------------------------------

    def _floats(self, name: str, values) -> np.ndarray:
        values = np.asarray(values)
        if values.dtype not in _KEY_TYPES:
            values = values.astype(np.float64)
        self.width.setdefault(name, values.dtype.itemsize * 8)
        if self.width[name] != values.dtype.itemsize * 8:
            values = values.astype(np.float32 if self.width[name] == 32 else np.float64)
        return np.ascontiguousarray(values)

    def update(self, start: int, batch: dict) -> None:
        """Count (first pass) or refine (later passes) every column's sought buckets."""
        for name in self.needs:
            values = self._floats(name, batch[name])
            raw: np.ndarray = values.view(_KEY_TYPES[values.dtype][1])
            width = self.width[name]
            if self._pass == 0:
                if len(values) and np.isnan(values.min()):  # min is NaN when any value is
                    nan = np.isnan(values)
                    self.nan[name] += int(nan.sum())
                    raw = raw[~nan]
                counts = np.bincount(
                    (raw >> (width - self.first_bits)).astype(np.intp), minlength=1 << self.first_bits
                )
                if name not in self.first:
                    self.first[name] = np.zeros(1 << self.first_bits, dtype=self._count_type)
                np.add(self.first[name], counts, out=self.first[name], casting="unsafe")
                continue
            head = raw >> (width - self.first_bits)
            keys = None
            for b in self.buckets[name]:
                if b.collected is None and b.histogram is None:
                    continue
                if b.bits == self.first_bits:  # compare raw bits: no keys for the whole column
                    inside = sortable_keys(values[head == _raw_prefix(b.prefix, b.bits)])
                else:
                    keys = sortable_keys(values) if keys is None else keys
                    inside = keys[(keys >> (width - b.bits)) == b.prefix]
                if b.collected is not None:
                    b.collected.append(inside)
                elif b.histogram is not None:
                    shift = width - b.bits
                    low = shift - min(self.next_bits, shift)
                    digit = ((inside >> low) & ((1 << (shift - low)) - 1)).astype(np.intp)
                    b.histogram += np.bincount(digit, minlength=b.histogram.size).astype(b.histogram.dtype)

    # -- between passes ------------------------------------------------------------------------

    def end_pass(self) -> None:
        """Locate the sought ranks in what this pass counted; plan the next pass."""
        if self._pass == 0:
            for name in self.columns:
                if self.nan[name] or name not in self.first:
                    continue  # NaN (numpy's answer with a NaN) or no rows
                # the counts in the order of the keys' prefixes
                k = np.arange(1 << self.first_bits)
                top = 1 << (self.first_bits - 1)
                order = np.where(k & top, k ^ top, ~k & ((1 << self.first_bits) - 1))
                m = self.n - self.nan[name]
                ranks = {r: r for r in quantile_ranks(m, self.qs)}
                self.buckets[name] = self._split(self.first[name][order], 0, 0, ranks, name)
            self.first.clear()
        else:
            for name, buckets in self.buckets.items():
                refined = []
                for b in buckets:
                    if b.collected is not None:
                        keys = np.sort(np.concatenate(b.collected))
                        for overall, within in b.ranks.items():
                            self.found[name][overall] = float(key_values(keys[within : within + 1])[0])
                    elif b.histogram is not None:
                        refined += self._split(b.histogram, b.prefix, b.bits, b.ranks, name)
                self.buckets[name] = refined
        self._pass += 1
        self._plan()

    def _split(self, counts, prefix: int, bits: int, ranks: dict[int, int], name: str) -> list[_Bucket]:
        digit_bits = int(np.log2(len(counts)))
        cum = np.cumsum(counts, dtype=np.int64)
        out: dict[int, _Bucket] = {}
        for overall, within in ranks.items():
            d = int(np.searchsorted(cum, within, side="right"))
            below = int(cum[d - 1]) if d else 0
            p = (prefix << digit_bits) | d
            bucket = out.setdefault(p, _Bucket(p, bits + digit_bits, int(counts[d]), {}))
            bucket.ranks[overall] = within - below
        found = []
        width = self.width[name]
        for b in out.values():
            if b.bits == width:  # every bit known: the value itself
                key = np.array([b.prefix], dtype=np.uint32 if width == 32 else np.uint64)
                for overall in b.ranks:
                    self.found[name][overall] = float(key_values(key)[0])
            else:
                found.append(b)
        return found

    def _plan(self) -> None:
        needs = []
        for name, buckets in self.buckets.items():
            for b in buckets:
                if b.count <= self.cap:
                    b.collected, b.histogram = [], None
                else:
                    digits = min(self.next_bits, self.width[name] - b.bits)
                    b.collected, b.histogram = None, np.zeros(1 << digits, dtype=self._count_type)
            if buckets:
                needs.append(name)
        self.needs = needs

    # -- answers -------------------------------------------------------------------------------

    def quantiles(self, name: str) -> np.ndarray:
        """``numpy.quantile(column, qs)`` of one column (after the passes)."""
        m = self.n - self.nan[name]
        if self.nan[name] or m <= 0:
            return np.full(len(self.qs), np.nan)
        found = self.found[name]
        return np.array([linear_quantile(m, q, found.__getitem__) for q in self.qs])


# --------------------------------------------------------------------------------------------
# The k rows nearest something
# --------------------------------------------------------------------------------------------


@dataclass
class Nearest:
    """The ``k`` smallest distances seen, with their row numbers and ids; ties go to the earlier
    row (as a stable sort of all of them would)."""

    k: int
    distance: np.ndarray = field(default_factory=lambda: np.zeros(0))
    row: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    def add(self, distance: np.ndarray, row: np.ndarray, ids: np.ndarray) -> None:
        """Offer rows with their distances."""
        d = np.concatenate([self.distance, np.asarray(distance, dtype=np.float64)])
        r = np.concatenate([self.row, np.asarray(row, dtype=np.int64)])
        i = np.concatenate([self.ids, np.asarray(ids, dtype=np.int64)])
        order = np.lexsort((r, d))[: self.k]
        self.distance, self.row, self.ids = d[order], r[order], i[order]


# --------------------------------------------------------------------------------------------
# A seeded sample of rows
# --------------------------------------------------------------------------------------------

#: rows per block of sampling keys: the keys of rows 0..n-1 come in blocks of this many, block b
#: from ``SeedSequence([seed, b])``, so a row's key depends on the seed and its number only
KEY_BLOCK = 1 << 20


def sample_rows(n: int, size: int, seed: int = 0) -> np.ndarray:
    """A uniform sample without replacement of ``size`` of the rows ``0 .. n - 1``, ascending.

    Every row gets a uniform key from a generator seeded by ``seed`` and its block of
    :data:`KEY_BLOCK` rows; the sample is the ``size`` rows with the smallest keys (a bottom-k
    sample: every subset of that size is equally likely). The keys are made a block at a time, so
    memory is bounded by ``size`` plus a block, and a row's key does not depend on ``n``. All rows
    when ``size >= n``.
    """
    if size >= n:
        return np.arange(n, dtype=np.int64)
    best_key = np.zeros(0)
    best_row = np.zeros(0, dtype=np.int64)
    for b, start in enumerate(range(0, n, KEY_BLOCK)):
        stop = min(n, start + KEY_BLOCK)
        keys = np.random.default_rng(np.random.SeedSequence([int(seed), b])).random(stop - start)
        k = np.concatenate([best_key, keys])
        r = np.concatenate([best_row, np.arange(start, stop, dtype=np.int64)])
        if len(k) > size:
            keep = np.argpartition(k, size - 1)[:size]
            k, r = k[keep], r[keep]
        best_key, best_row = k, r
    return np.sort(best_row)


def rows_in(rows: np.ndarray, start: int, length: int) -> tuple[np.ndarray, np.ndarray]:
    """Of sorted row numbers ``rows``, the positions of those in ``[start, start + length)`` and
    their offsets from ``start``."""
    lo, hi = np.searchsorted(rows, [start, start + length])
    return np.arange(lo, hi), rows[lo:hi] - start
