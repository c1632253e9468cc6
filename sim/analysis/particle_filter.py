"""The particle filters of sequential assimilation, run on the experiment engine.

A filter is a population of state particles (rows of an engine design: each a replicate with its
own parameter values and its own saved state) carried from one observation date to the next
(:class:`Runner` runs a stretch, :func:`advance` crosses a date, :func:`run_filters` runs filters
from step 0). Between two dates the particles are resampled every few steps by a guide: the date's
readings with their error widened by the noise the ties will still take (guided intermediate
resampling, Park & Ionides 2020), which keeps the particles that head toward the readings without
biasing the likelihood estimate (the guide ratios telescope, so the product of the mean weights
still estimates the likelihood of the date without bias). :mod:`sim.analysis.assimilation` runs
the parameter particles, each with its filter, on top (SMC²).

References
----------
Gordon, N. J., Salmond, D. J. & Smith, A. F. M. (1993). Novel approach to nonlinear/non-Gaussian
    Bayesian state estimation. IEE Proceedings F 140, 107-113.
Kitagawa, G. (1996). Monte Carlo filter and smoother for non-Gaussian nonlinear state space models.
    J. Computational and Graphical Statistics 5, 1-25.
Park, J. & Ionides, E. L. (2020). Inference on high-dimensional implicit dynamic models using a
    guided intermediate resampling filter. Statistics and Computing 30, 1497-1522.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import typing
from dataclasses import dataclass

import numpy as np
from scipy.special import logsumexp, ndtr

from sim.analysis import likelihood
from sim.analysis.readings import ObservationCollector
from sim.errors import InputError
from sim.model import dynamics
from sim.run.designs import Design, Start
from sim.run.ensemble import run_design
from sim.spec.observations import READ_TIES, Record
from sim.spec.parammap import clip_bounds, uncertain_slots
from sim.spec.params import assemble
from sim.spec.scenario import Scenario
from sim.spec.values import Distribution, point_value


class AssimilationError(InputError):
    """A record that sequential assimilation cannot condition on."""


SMC_STREAM = 1_000_033  # spawn key of the sampler's own draws, apart from the engine's streams
GUIDE_EVERY = 3  # steps between the guided resamplings of the state particles between two dates


# --------------------------------------------------------------------------------------------
# The parameter space
# --------------------------------------------------------------------------------------------


class ParameterSpace:
    """The scenario's uncertain values as a function of standard normal coordinates ``u``.

    ``z = L u`` carries the scenario's Gaussian copula (identity without ``[correlations]``) and
    each value is its prior's quantile at ``Phi(z)`` (clipped to the slot's bounds), so ``u`` drawn
    from ``N(0, I)`` is a draw from the prior.
    """

    def __init__(self, scenario: Scenario):
        self.slots = uncertain_slots(scenario)
        self.paths = [s.path for s in self.slots]
        d = len(self.paths)
        self.L = np.eye(d)
        if scenario.correlations:
            from sim.spec.correlation import correlation_matrix

            names, R = correlation_matrix(scenario)
            w, V = np.linalg.eigh(R)
            block = V * np.sqrt(np.clip(w, 0.0, None))
            at = [self.paths.index(p) for p in names]
            self.L[np.ix_(at, at)] = block

    @property
    def d(self) -> int:
        """Number of uncertain values."""
        return len(self.paths)

    def values(self, u: np.ndarray) -> dict[str, np.ndarray]:
        """Path -> ``(N,)`` values at coordinates ``u`` ``(N, d)``."""
        p = np.clip(ndtr(u @ self.L.T), 1e-12, 1.0 - 1e-12)
        return {
            s.path: typing.cast(Distribution, s.value).ppf(p[:, k], clip_bounds(s))
            for k, s in enumerate(self.slots)
        }


# --------------------------------------------------------------------------------------------
# Running the state particles from one date to the next
# --------------------------------------------------------------------------------------------


def _sub_record(record: Record, cols: np.ndarray, step: int | None = None) -> Record:
    """The observations ``cols`` of a record (read at ``step`` instead of their own, if given)."""
    return Record(
        record.path,
        record.start,
        record.unit,
        tuple(record.observations[k] for k in cols),
        tuple(record.steps[k] if step is None else step for k in cols),
    )


@dataclass
class Runner:
    """Runs rows (parameter values, saved states) from one step to another on one kept-alive
    executor, reading observations where the stretch ends."""

    scenario: Scenario
    record: Record
    space: ParameterSpace
    seed: int
    executor: cf.Executor
    engine: str = "numpy"
    dtype: str = "float32"
    chunk_size: int = 4096
    progress: typing.Any = None  # a tqdm bar counting replicate-steps, or None
    guide_every: int = GUIDE_EVERY
    steps_run: int = 0  # replicate-steps simulated so far

    def __post_init__(self):
        steps = np.asarray(self.record.steps)
        self.dates = np.unique(steps)
        self.columns = [np.flatnonzero(steps == t) for t in self.dates]
        self.subs = [_sub_record(self.record, c) for c in self.columns]
        # the readings of each date that guide the particles before it (all but blocs, whose
        # partition is costly to read at every waypoint)
        self.guided = [
            np.array([j for j, o in enumerate(sub.observations) if o.kind != "same_bloc"], dtype=int)
            for sub in self.subs
        ]
        noise = self.scenario.mechanisms.noise
        self.noise_path = "mechanisms.noise" if "mechanisms.noise" in self.space.paths else None
        self.noise_point = float(point_value(noise))

    def derived_seed(self, key: tuple[int, ...]) -> int:
        """A seed for one stretch, from the run's seed and the stretch's key."""
        ss = np.random.SeedSequence(self.seed, spawn_key=(SMC_STREAM, *key))
        return int(ss.generate_state(1, np.uint64)[0] >> np.uint64(1))

    def waypoints(self, k: int) -> list[int]:
        """The steps between date ``k - 1`` and date ``k`` at which the filters are guided and
        resampled (every ``guide_every`` steps; none for a date without guiding readings)."""
        t0 = 0 if k == 0 else int(self.dates[k - 1])
        t1 = int(self.dates[k])
        if not self.guided[k].size or self.guide_every <= 0:
            return []
        return list(range(t0 + self.guide_every, t1 - self.guide_every // 2, self.guide_every))

    def stretch(
        self, values: dict, states: dict | None, t_from: int, t_to: int, sub: Record, key: tuple, rows: int
    ):
        """Run ``rows`` rows (parameter ``values``) from ``t_from`` (their ``states``; None: the
        scenario's start) to ``t_to`` and return ``(states, readings)`` there, the readings of
        ``sub``'s observations ``(rows, K)``."""
        collector = ObservationCollector(self.scenario, sub, keep_states="all", sampled=False)
        if t_to == t_from:
            return self._in_place(values, states, t_from, collector, rows)
        design = Design(
            {p: v[None, :] for p, v in values.items()},
            rows,
            start=None if states is None else Start(t_from, states),
        )
        parts = run_design(
            self.scenario.with_run(steps=t_to),
            design,
            collector,
            seed=self.derived_seed(key),
            chunk_size=self.chunk_size,
            executor=self.executor,
            progress=False,
            dtype=self.dtype,
            engine=self.engine,
        )
        self.steps_run += rows * (t_to - t_from)
        if self.progress is not None:
            self.progress.update(rows * (t_to - t_from))
        out = {name: np.concatenate([p["states"][name] for p in parts]) for name in dynamics.STATE_ARRAYS}
        return out, np.concatenate([p["values"] for p in parts])

    def _in_place(self, values, states, t, collector, rows):
        """Read at the step the rows already stand at, without stepping."""
        params = assemble(self.scenario.with_run(steps=max(t, 1)), rows, values)
        if states is None:
            state = dynamics.initial_state(params, np.dtype(self.dtype))
        else:
            state = dynamics.restore_state(params, t, states, np.dtype(self.dtype))
        collector.begin(None, params)
        collector.record(state)
        return {k: np.array(getattr(state, k)) for k in dynamics.STATE_ARRAYS}, collector.values

    def loglik(self, k: int, readings: np.ndarray) -> np.ndarray:
        """``(rows,)`` log-likelihood of date ``k``'s readings in each row (unnormalised)."""
        return likelihood.log_likelihoods(self.subs[k].observations, readings).sum(axis=1)

    def waypoint(self, k: int, step: int) -> Record:
        """Date ``k``'s guiding readings, read at ``step``."""
        return _sub_record(self.subs[k], self.guided[k], step=step)

    def guide(self, k: int, readings: np.ndarray, values: dict, remaining: int) -> np.ndarray:
        """``(rows,)`` the log guide of date ``k``'s readings ``remaining`` steps before it, from
        what the rows show now (``readings`` of :meth:`waypoint`). A tie reading: its likelihood
        with the error widened by the noise the tie will still take (``sigma^2 dt`` a step, half
        for a mutual tie; the guide functions of Park & Ionides 2020). A reading that can only be
        lost (an alliance active, an event not fired): its likelihood now. One that can only be
        reached (an alliance ended, an event fired): ``1 - e`` once reached, ``sqrt(e (1 - e))``
        before. Any positive guide leaves the likelihood estimate unbiased; these keep the
        particles that head toward the date's readings."""
        sigma = values[self.noise_path] if self.noise_path else np.full(len(readings), self.noise_point)
        spread = sigma**2 * remaining * self.scenario.run.dt
        out = np.zeros(len(readings))
        for j, o in enumerate(self.subs[k].observations[i] for i in self.guided[k]):
            v = readings[:, j]
            if o.kind not in READ_TIES:
                if o.kind == "alliance_active" or (o.kind == "event_fired" and not o.fired):
                    out += likelihood.log_likelihoods([o], v[:, None])[:, 0]
                else:
                    e = o.misrecord
                    before = 0.5 * math.log(e * (1 - e)) if e > 0 else math.log(0.5)
                    out += np.where(v > 0.5, math.log1p(-e), before)
                continue
            var = spread * (0.5 if o.mutual else 1.0)
            if o.is_series:
                b = values.get(f"measurements.{o.measurement}.b")
                b = np.full(len(v), self._point_b(o)) if b is None else b
                y, sd = o.reading
                sd2 = sd * sd + b * b * var
                out += -0.5 * (y - v) ** 2 / sd2 - 0.5 * np.log(2 * np.pi * sd2)
            else:
                lo, hi = o.bounds
                out += np.maximum(
                    likelihood._log_interval(v, lo, hi, np.sqrt(o.tie_width**2 + var)), likelihood.LOG_TINY
                )
        return out

    def check_reproduced(self, k: int, readings: np.ndarray) -> None:
        """Refuse a date one of whose readings no particle can show (every likelihood at the floor):
        weighting could not tell the particles apart, and the posterior would be the prior's."""
        per = likelihood.log_likelihoods(self.subs[k].observations, readings)
        dead = np.flatnonzero(per.max(axis=0) <= likelihood.LOG_TINY + 1e-6)
        if dead.size:
            o = self.subs[k].observations[int(dead[0])]
            raise AssimilationError(
                f"{self.record.path}: no particle can show {o.id} ({o.describe()} on "
                f"{o.date.isoformat()}): its likelihood is zero in every one; review it, or "
                f"--exclude {o.series} to see the record without it"
            )

    def _point_b(self, o) -> float:
        return float(point_value(self.scenario.measurements[str(o.measurement)].b))


# --------------------------------------------------------------------------------------------
# The particle system
# --------------------------------------------------------------------------------------------


def systematic(weights: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """Systematic resampling (Kitagawa 1996): ``n`` ancestor indices for normalised ``weights``."""
    c = np.cumsum(weights)
    c[-1] = 1.0
    return np.minimum(np.searchsorted(c, (rng.random() + np.arange(n)) / n), len(weights) - 1)


def systematic_rows(log_g: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Ancestors ``(N, N_x)`` (as row numbers) of a systematic resampling within each of ``N``
    filters, one uniform per filter (the filters' cumulative weights, offset by the filter's
    number, form one increasing sequence for one search)."""
    N, Nx = log_g.shape
    w = np.exp(log_g - log_g.max(axis=1, keepdims=True))
    c = np.cumsum(w, axis=1)
    c /= c[:, -1:]
    c[:, -1] = 1.0
    offset = np.arange(N)[:, None]
    u = (rng.random((N, 1)) + np.arange(Nx)) / Nx
    idx = np.searchsorted((c + offset).ravel(), (u + offset).ravel()).reshape(N, Nx)
    return np.minimum(idx, (offset + 1) * Nx - 1)


def pick_one(log_g: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``(N,)`` one state-particle row per filter, drawn in proportion to its weight."""
    N, Nx = log_g.shape
    w = np.exp(log_g - log_g.max(axis=1, keepdims=True))
    c = np.cumsum(w, axis=1)
    j = (c < rng.random((N, 1)) * c[:, -1:]).sum(axis=1)
    return np.arange(N) * Nx + np.minimum(j, Nx - 1)


def inner_var(log_g: np.ndarray) -> np.ndarray:
    """``(N,)`` the delta-method variance of each filter's log mean weight: ``1/ESS - 1/N_x``."""
    w = np.exp(log_g - log_g.max(axis=1, keepdims=True))
    ess = w.sum(axis=1) ** 2 / (w * w).sum(axis=1)
    return np.maximum(1.0 / ess - 1.0 / log_g.shape[1], 0.0)


@dataclass
class Cloud:
    """``N`` parameter particles, each with its filter of ``N_x`` state particles (rows
    ``i N_x .. (i + 1) N_x - 1``), at the current date before its state particles are resampled."""

    u: np.ndarray  # (N, d) whitened coordinates
    states: dict[str, np.ndarray]  # (N N_x, ...) state particles at the current date
    readings: np.ndarray  # (N N_x, K) what each state particle's path read at every date so far
    log_g: np.ndarray  # (N, N_x) the current date's log weights of the state particles
    ll_prev: np.ndarray  # (N,) log-likelihood estimate of the dates before the current one
    ll_cur: np.ndarray  # (N,) log-likelihood estimate of the current date
    var: np.ndarray  # (N,) estimated variance of ll_prev + ll_cur
    eve: np.ndarray | None = None  # (N,) the initial particle each descends from (resampling only)

    @property
    def n(self) -> int:
        """``N``, the parameter particles."""
        return len(self.u)

    @property
    def nx(self) -> int:
        """``N_x``, the state particles of each filter."""
        return self.log_g.shape[1]

    def rows(self, idx: np.ndarray) -> np.ndarray:
        """The state-particle rows of parameter particles ``idx``."""
        return (np.asarray(idx)[:, None] * self.nx + np.arange(self.nx)).ravel()

    def take(self, idx: np.ndarray) -> Cloud:
        """The parameter particles ``idx`` with their filters."""
        r = self.rows(idx)
        return Cloud(
            self.u[idx],
            {k: v[r] for k, v in self.states.items()},
            self.readings[r],
            self.log_g[idx],
            self.ll_prev[idx],
            self.ll_cur[idx],
            self.var[idx],
            None if self.eve is None else self.eve[idx],
        )

    def put(self, mask: np.ndarray, other: Cloud) -> None:
        """Replace the particles where ``mask`` by ``other``'s (a move: each keeps its lineage)."""
        idx = np.flatnonzero(mask)
        r = self.rows(idx)
        self.u[idx] = other.u[idx]
        for k in self.states:
            self.states[k][r] = other.states[k][r]
        self.readings[r] = other.readings[r]
        for name in ("log_g", "ll_prev", "ll_cur", "var"):
            getattr(self, name)[idx] = getattr(other, name)[idx]

    def resample_states(self, rng: np.random.Generator) -> None:
        """Resample the state particles within each filter by the current date's weights."""
        r = systematic_rows(self.log_g, rng).ravel()
        self.states = {k: v[r] for k, v in self.states.items()}
        self.readings = self.readings[r]


def advance(runner: Runner, values: dict, states: dict | None, k: int, shape: tuple, key: tuple, rng):
    """Run ``N x N_x`` state particles (rows of filters) from date ``k - 1`` (``states``; None:
    the start) to date ``k``, resampling within each filter at the waypoints by the guide.

    Returns ``(states, readings, log_g, ll, var, order)``: the states and the date's readings
    (rows in the resampled order ``order`` of the input rows), each particle's final log weight
    (``(N, N_x)``: the date's likelihood over its last guide), each filter's log-likelihood
    estimate of the date (the guided steps' mean weights times the final mean weight: unbiased,
    as the guide ratios telescope) and the delta-method variance of that estimate."""
    N, nx = shape
    dates = runner.dates
    t_prev, t_k = (0 if k == 0 else int(dates[k - 1])), int(dates[k])
    prev = np.zeros(N * nx)
    order = np.arange(N * nx)
    ll, var = np.zeros(N), np.zeros(N)
    for i, tau in enumerate(runner.waypoints(k)):
        states, got = runner.stretch(values, states, t_prev, tau, runner.waypoint(k, tau), (*key, i), N * nx)
        g = runner.guide(k, got, values, t_k - tau)
        log_w = (g - prev).reshape(N, nx)
        ll += logsumexp(log_w, axis=1) - math.log(nx)
        var += inner_var(log_w)
        anc = systematic_rows(log_w, rng).ravel()
        assert states is not None
        states = {name: v[anc] for name, v in states.items()}
        prev, order, t_prev = g[anc], order[anc], tau
    states, got = runner.stretch(values, states, t_prev, t_k, runner.subs[k], (*key, 99), N * nx)
    log_g = (runner.loglik(k, got) - prev).reshape(N, nx)
    ll += logsumexp(log_g, axis=1) - math.log(nx)
    return states, got, log_g, ll, var + inner_var(log_g), order


def run_filters(runner: Runner, u: np.ndarray, nx: int, k: int, key: tuple, rng) -> Cloud:
    """Fresh filters of ``nx`` state particles at parameters ``u``, run from step 0 through date
    ``k`` (state particles resampled after every date but the last)."""
    N = len(u)
    values = {p: np.repeat(v, nx) for p, v in runner.space.values(u).items()}
    readings = np.full((N * nx, len(runner.record)), np.nan)
    ll_prev, var = np.zeros(N), np.zeros(N)
    states = None
    cloud = None
    for s in range(k + 1):
        states, got, log_g, ll, v, order = advance(runner, values, states, s, (N, nx), (*key, s), rng)
        readings = readings[order]
        readings[:, runner.columns[s]] = got
        var += v
        cloud = Cloud(u.copy(), states, readings, log_g, ll_prev.copy(), ll, var.copy())
        if s < k:
            cloud.resample_states(rng)
            states, readings = cloud.states, cloud.readings
            ll_prev += ll
    assert cloud is not None
    return cloud
