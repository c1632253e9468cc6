"""Designs: points x replicates with common random numbers, cut into blocks, and their seeds.

Everything that simulates runs a *design* (:class:`Design`): ``P`` points, each a set of values
fixed for some slots of the parameter map, times ``R`` replicates, with common random numbers
(replicate ``r`` of every point of a group sees the same draws of the other uncertain values and the
same noise, events and decisions). A plain run is the one-point design.

A design runs in chunks (:func:`blocks`) of at most ``chunk_size`` rows; the replicates of chunk
``c`` of group ``g`` draw everything (their uncertain values, then each step's random numbers) from
``SeedSequence(seed, spawn_key=(c,))`` (``(c, g)`` for other groups; :func:`stream_seeds`), so
results depend on the seed and the chunk size only, never on the number of workers or on the
executor.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class Start:
    """Saved states to continue from: step ``t`` and, for each array of
    :data:`sim.model.dynamics.STATE_ARRAYS`, one row per replicate (leading axis ``R``)."""

    t: int
    arrays: dict[str, np.ndarray]


@dataclass(frozen=True)
class Design:
    """``P`` points x ``R`` replicates with common random numbers.

    Parameters
    ----------
    values
        Parameter-map path -> ``(P,)`` value of that slot at each point, or ``(P, R)`` values of
        each replicate of each point (``{}``: one point, the scenario as it is).
    replicates
        ``R``, the replicates of every point.
    streams
        ``(P,)`` common-random-number group of each point (default: all in group 0). Replicate ``r``
        of every point of a group sees the same draws of the values not in the design and the same
        noise, event and decision draws, so comparisons between points are paired.
    start
        Start every point's replicate ``r`` from a saved state instead of the scenario's initial
        one (:class:`Start`): the view forward from a calibration's last observation.
    """

    values: dict[str, np.ndarray] = field(default_factory=dict)
    replicates: int = 1
    streams: np.ndarray | None = None
    start: Start | None = None

    @classmethod
    def single(cls, replicates: int) -> Design:
        """A plain run: one point of ``replicates`` replicates."""
        return cls({}, int(replicates))

    @property
    def points(self) -> int:
        """``P``, the number of design points."""
        for v in self.values.values():
            return len(v)
        return 1 if self.streams is None else len(self.streams)

    def stream_of(self) -> np.ndarray:
        """``(P,)`` group of every point."""
        if self.streams is None:
            return np.zeros(self.points, dtype=np.int64)
        return np.asarray(self.streams, dtype=np.int64)


@dataclass(frozen=True)
class Block:
    """The part of a design that one chunk runs: some points x a range of replicates.

    The chunk's rows are ``len(points) * size``, replicate fastest: ``row = p_local * size + r_local``.
    """

    index: int
    points: np.ndarray
    rep_start: int
    size: int

    @property
    def rows(self) -> int:
        """Rows of the chunk's arrays."""
        return len(self.points) * self.size

    def point_of_row(self) -> np.ndarray:
        """``(rows,)`` design point of each row."""
        return np.repeat(np.asarray(self.points), self.size)

    def replicate_of_row(self) -> np.ndarray:
        """``(rows,)`` replicate (0-based, over the whole design) of each row."""
        return np.tile(np.arange(self.rep_start, self.rep_start + self.size), len(self.points))


def blocks(design: Design, chunk_size: int) -> list[Block]:
    """Split a design into chunks of at most ``chunk_size`` rows (at least one point's replicates
    chunk per chunk): replicates are cut into chunks of ``min(R, chunk_size)``, points grouped so
    that a chunk holds about ``chunk_size`` rows."""
    R, P = design.replicates, design.points
    rep_chunk = min(R, chunk_size)
    per = max(1, chunk_size // rep_chunk)
    out: list[Block] = []
    for p0 in range(0, P, per):
        points = np.arange(p0, min(P, p0 + per))
        for r0 in range(0, R, rep_chunk):
            out.append(Block(len(out), points, r0, min(rep_chunk, R - r0)))
    return out


def stream_seeds(seed: int, rep_chunk: int, group: int) -> tuple[np.random.SeedSequence, ...]:
    """Seeds of replicate chunk ``rep_chunk`` of common-random-number group ``group``: one for the
    draws of the uncertain values, one for the dynamics (noise, events, decisions).

    Group 0 uses ``SeedSequence(seed, spawn_key=(rep_chunk,))``, so a plain run's chunk ``c`` draws
    from the ``c``-th child of ``SeedSequence(seed)``; other groups add the group to the key.
    """
    key = (int(rep_chunk),) if group == 0 else (int(rep_chunk), int(group))
    return tuple(np.random.SeedSequence(seed, spawn_key=key).spawn(2))
