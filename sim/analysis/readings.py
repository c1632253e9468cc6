"""What a record's observations read in an ensemble: the collector that reads them at their steps,
the prior ensemble run up to the last one, and the predictive check of each observation.

Every method of history matching (:mod:`sim.analysis.calibration`, :mod:`sim.analysis.assimilation`,
:mod:`sim.analysis.backtest`, :mod:`sim.analysis.sbc`) reads the model through
:class:`ObservationCollector`: at each observation's step it stores, per replicate, what the
observation sees there (a tie, a mutual tie, whether two actors share a bloc, whether an event has
fired, whether an alliance is active or ended with a given fate, or a series' predicted reading
``a + b * tie``). :mod:`sim.analysis.likelihood` turns those readings into likelihoods.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis import likelihood
from sim.model import dynamics
from sim.model.landscape import best_partition
from sim.run.collectors import Collector
from sim.run.designs import Design
from sim.run.ensemble import run_design
from sim.spec.observations import READ_TIES, Record
from sim.spec.scenario import Scenario
from sim.spec.values import point_value
from sim.vocabulary import Fate

DEFAULT_CHUNK = 4096
PILOT_REPLICATES = 4096  # prior replicates of a pilot (the method's choice, SMC's prior table)
ACCEPT_STREAM = 1_000_003  # spawn key of the acceptance uniforms, apart from the engine's streams


def _reader(scenario: Scenario, o) -> tuple:
    """What an observation reads: ``(what, index, second index or flag, flag, measurement)``; the
    record was checked against the scenario (load_record), so every name is known."""
    actors = {a: i for i, a in enumerate(scenario.actor_names)}
    if o.kind in READ_TIES:
        m = None
        if o.is_series:
            spec = scenario.measurements[str(o.measurement)]
            m = (f"measurements.{o.measurement}", point_value(spec.a), point_value(spec.b))
        return ("tie", actors[str(o.from_)], actors[str(o.to)], o.mutual, m)
    if o.kind == "same_bloc":
        pair = o.actors or []
        return ("bloc", actors[pair[0]], actors[pair[1]], o.same, None)
    if o.kind == "event_fired":
        return ("event", list(scenario.events).index(str(o.event)), o.fired, None, None)
    alliance = list(scenario.alliances).index(str(o.alliance))
    if o.kind == "alliance_active":
        return ("active", alliance, None, None, None)
    return ("ended", alliance, o.fate, None, None)


def read(state, what: tuple, blocs, scale) -> tuple[np.ndarray, np.ndarray | None]:
    """``(values, blocs)``: what one observation reads in ``state`` (every row); ``blocs`` caches
    the landscape partition between the observations of one step; ``scale`` is ``(a, b)``, the
    rows' measurement model of a series reading."""
    kind, a, b, c, _ = what
    if kind == "tie":
        w = state.ties[:, a, b].astype(np.float64)
        if c:
            w = 0.5 * (w + state.ties[:, b, a])
        return (w if scale is None else scale[0] + scale[1] * w), blocs
    if kind == "bloc":
        if blocs is None:
            W = state.ties.astype(np.float64)
            blocs, _ = best_partition(state.capability.astype(np.float64), 0.5 * (W + np.swapaxes(W, 1, 2)))
        return (blocs[:, a] == blocs[:, b]) == c, blocs
    if kind == "event":
        return state.fired[:, a] == b, blocs
    if kind == "active":
        return state.active[:, a].astype(np.float64), blocs
    ended = ~state.active[:, a]
    if b != "any":
        code = Fate.STAB if b == "stab_in_the_back" else Fate.DRIFT
        ended &= state.fate[:, a] == code.value
    return ended.astype(np.float64), blocs


class ObservationCollector(Collector):
    """Records, at each observation's step, what it reads in every replicate; at the last step it
    decides acceptance (with uniforms of its own stream, from ``seed`` and the chunk's number) and
    keeps the accepted replicates' states.

    Acceptance uses the normalised kernel: replicate r is kept with probability ``L_r / L_max``,
    the record's likelihood over its supremum (:func:`sim.analysis.likelihood.log_sup`), computed in
    logs. ``keep_states = "all"`` keeps every replicate's final state instead, and ``sampled =
    False`` leaves the drawn values out of the payload (the stretches of
    :mod:`sim.analysis.assimilation`, which set them).

    A :class:`~sim.run.collectors.Collector` of the experiment runner: ``begin(block, params)``,
    ``record(state)`` at t = 0 and after every step, ``end(block, params, state)`` returning the
    chunk's payload (a dict).
    """

    def __init__(
        self,
        scenario: Scenario,
        record: Record,
        *,
        seed: int | None = None,
        keep_states: bool | str = True,
        sampled: bool = True,
    ):
        self.observations = record.observations
        self.steps = np.array(record.steps)
        self.last = int(self.steps.max())
        self._read = [_reader(scenario, o) for o in self.observations]
        self.log_sup = likelihood.log_sup(self.observations)
        self.seed = seed
        self.keep_states = keep_states
        self.send_sampled = sampled

    def begin(self, block, params) -> None:
        """Start a chunk: an empty ``(n, K)`` table of readings, each series' measurement model."""
        self.values = np.full((params.n, len(self.observations)), np.nan)
        self.states: dict[str, np.ndarray] = {}
        self.accepted = np.zeros(params.n, dtype=bool)
        self.scales: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        for what in self._read:
            m = what[4]
            if m is not None and m[0] not in self.scales:
                a = params.sampled.get(m[0] + ".a", np.full(params.n, m[1]))
                b = params.sampled.get(m[0] + ".b", np.full(params.n, m[2]))
                self.scales[m[0]] = (np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
        index = 0 if block is None else block.index
        self.replicate = (
            np.arange(params.n, dtype=np.int64)
            if block is None
            else block.replicate_of_row().astype(np.int64)
        )
        self.accept_u = (
            None
            if self.seed is None
            else np.random.default_rng(
                np.random.SeedSequence(self.seed, spawn_key=(index, ACCEPT_STREAM))
            ).random(params.n)
        )

    def record(self, state) -> None:
        """Read the observations due at ``state.t``; at the last one, decide acceptance."""
        t = state.t
        due = np.flatnonzero(self.steps == t)
        blocs = None
        for k in due:
            what = self._read[k]
            scale = None if what[4] is None else self.scales[what[4][0]]
            self.values[:, k], blocs = read(state, what, blocs, scale)
        if t == self.last and self.accept_u is not None:
            log_rel = (likelihood.log_likelihoods(self.observations, self.values) - self.log_sup).sum(axis=1)
            with np.errstate(divide="ignore"):
                self.accepted = np.log(self.accept_u) < np.minimum(log_rel, 0.0)
            if self.keep_states is True:
                rows = np.flatnonzero(self.accepted)
                self.states = {k: np.array(getattr(state, k)[rows]) for k in dynamics.STATE_ARRAYS}

    def end(self, block, params, state) -> dict:
        """The chunk's readings, sampled values, acceptance and kept states."""
        if self.keep_states == "all":
            self.states = {k: np.array(getattr(state, k)) for k in dynamics.STATE_ARRAYS}
        return {
            "values": self.values,
            "sampled": {k: v.astype(np.float64) for k, v in params.sampled.items()}
            if self.send_sampled
            else {},
            "accepted": self.accepted,
            "states": self.states,
            "replicate": self.replicate,
        }


@dataclass
class Ensemble:
    """A prior ensemble read at the observations' steps."""

    values: np.ndarray  # (n, K)
    sampled: dict[str, np.ndarray]  # path -> (n,)
    accepted: np.ndarray  # (n,) bool
    states: dict[str, np.ndarray]  # accepted replicates' state arrays at the last step
    replicate: np.ndarray  # (n,) replicate number (as in `run` with the same seed and chunk size)
    seed: int
    chunk_size: int

    @property
    def n(self) -> int:
        """Number of prior replicates."""
        return len(self.values)


def gather(parts: list[dict], states: bool) -> dict:
    """The chunks' payloads of an :class:`ObservationCollector`, concatenated in chunk order."""
    return {
        "values": np.concatenate([p["values"] for p in parts]),
        "sampled": {k: np.concatenate([p["sampled"][k] for p in parts]) for k in parts[0]["sampled"]},
        "accepted": np.concatenate([p["accepted"] for p in parts]),
        "states": {k: np.concatenate([p["states"][k] for p in parts]) for k in parts[0]["states"]}
        if states
        else {},
        "replicate": np.concatenate([p["replicate"] for p in parts]),
    }


def simulate(
    scenario: Scenario,
    record: Record,
    *,
    replicates: int,
    seed: int,
    chunk_size: int = DEFAULT_CHUNK,
    keep_states: bool = True,
    dtype: str = "float32",
    progress: bool = False,
    workers: int | None = 1,
    executor=None,
    engine: str = "numpy",
) -> Ensemble:
    """Run ``replicates`` prior draws of ``scenario`` up to the record's last step (a one-point
    design of :func:`sim.run.ensemble.run_design`: the same draws as ``run`` with the same seed and
    chunk size) and read the observations with an :class:`ObservationCollector`."""
    short = scenario.with_run(steps=max(record.last_step, 1))
    collector = ObservationCollector(scenario, record, seed=seed, keep_states=keep_states)
    parts = run_design(
        short,
        Design.single(replicates),
        collector,
        seed=seed,
        chunk_size=chunk_size,
        workers=workers,
        executor=executor,
        progress=progress,
        desc="prior",
        dtype=dtype,
        engine=engine,
    )
    got = gather(parts, keep_states)
    return Ensemble(seed=seed, chunk_size=chunk_size, **got)


def predictive_table(record: Record, values: np.ndarray, weights: np.ndarray | None = None) -> pd.DataFrame:
    """For each observation: its step, what it says, the share of replicates in which it happened
    (without reading error) with a 95 % Wilson interval, and its mean normalised likelihood (its
    likelihood over the largest it can take, :func:`sim.analysis.likelihood.relative`). With
    ``weights`` (posterior), shares are weighted and the interval uses the effective sample size."""
    hit = likelihood.happened(record.observations, values)
    rel = likelihood.relative(record.observations, values)
    n = len(values)
    if weights is None:
        weights = np.full(n, 1.0 / n)
        size = n
    else:
        weights = np.asarray(weights) / np.sum(weights)
        size = max(int(round(likelihood.ess(weights))), 1)
    rows = []
    for k, o in enumerate(record.observations):
        p = float(weights @ hit[:, k])
        lo, hi = likelihood.wilson(p * size, size)
        rows.append(
            {
                "id": o.id,
                "date": o.date.isoformat(),
                "step": record.steps[k],
                "observed": o.describe(),
                "p_happened": p,
                "low": lo,
                "high": hi,
                "likelihood": float(weights @ rel[:, k]),
            }
        )
    return pd.DataFrame(rows)
