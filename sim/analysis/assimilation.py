"""Sequential assimilation of a record: SMC² over the observation dates, on saved starts.

The model is a partially observed Markov process: the ties (and alliances, events, capabilities)
are latent states, the observations noisy readings of them at dates, the scenario's uncertain
values static parameters ``theta``. Rejection (:mod:`sim.analysis.calibration`) weighs each prior
replicate by the whole record at once, so its acceptance falls geometrically with the number of
informative readings. Here the record is assimilated date by date, as in a particle filter, with the
static parameters rejuvenated so that they do not degenerate.

Method: SMC² (Chopin, Jacob & Papaspiliopoulos 2013). ``N`` parameter particles ``theta_i`` each
carry a particle filter of ``N_x`` state particles (:mod:`sim.analysis.particle_filter`: guided
by the coming readings between dates, Park & Ionides 2020). At each date every state particle is
run by the experiment engine from its saved state to the date (designs of ``N N_x`` rows with
per-row values and saved starts), weighted by that date's readings (the error model of
:mod:`sim.spec.observations`), and the inner filter's likelihood estimate
``p^(y_t | y_1:t-1, theta_i)`` (the mean of its particles' weights) is the parameter particle's
incremental weight; the state particles are then resampled within each filter (systematic
resampling, Kitagawa 1996). When the parameter particles' effective sample size falls below half,
they are resampled and moved by particle marginal Metropolis-Hastings (PMMH, Andrieu, Doucet &
Holenstein 2010): a proposed ``theta'`` gets a fresh inner filter run from step 0 to the current
date, and is accepted with the ratio of prior times estimated likelihood. Because the likelihood
estimate of a particle filter is unbiased, the moves leave the exact posterior invariant: no
approximation is made beyond Monte Carlo error (unlike Liu & West's 2001 kernel shrinkage, which
changes the posterior). A date whose readings would leave fewer than half effective particles is
crossed in tempered stages ``p^^phi``, ``phi`` rising to 1 (density tempering of Duan & Fulop 2015,
exact at ``phi = 1``), each followed by a resample-move. When the inner filters' likelihood
estimates grow too noisy for the moves (measured log-likelihood variance above 2, the region
Pitt et al. 2012 and Doucet et al. 2015 recommend), ``N_x`` is doubled by the exchange step of
Chopin et al. (2013, sec. 3.6): new filters with ``2 N_x`` particles reweight every parameter
particle by the ratio of the new to the old likelihood estimate (exact).

Parameters are moved in whitened coordinates: every uncertain value is the quantile of its own
prior at ``Phi(z)``, ``z = L u`` with ``u`` standard normal and ``L`` the Cholesky-like factor of
the scenario's Gaussian copula (:mod:`sim.spec.correlation`; the identity without one), so the prior
of ``u`` is ``N(0, I)`` whatever the marginals. The proposal is the generalised preconditioned
Crank-Nicolson move ``u' = m + rho (u - m) + sqrt(1 - rho^2) C^(1/2) xi`` around a Gaussian fit
``N(m, C)`` of the current particles (Rudolf & Sprungk 2018; ``rho = 0`` is the independent
Gaussian proposal Chopin et al. 2013 use), ``C`` the particles' covariance shrunk toward its
diagonal (Ledoit & Wolf 2004) and ``rho`` raised while the acceptance rate is below 15 %. Each
half of the particles is moved with the fit to the other half, so that no proposal depends on the
particle it moves (in 188 dimensions a fit that includes it makes in-sample points look far likelier
than fresh proposals, and the moves collapse the posterior).

The product over stages of the mean incremental weights estimates the record's marginal likelihood
(the evidence, which scores scenarios); its Monte Carlo standard error is estimated from the same
run by the lineages of the particles (Chan & Lai 2013; Lee & Whiteley 2018; Du & Guyader 2021),
and independent repeats with other seeds measure it directly.
The surviving state particles are kept: the view from today continues exactly the particles that
reproduced the record. Every draw comes from seeds derived from one seed, so the same seed gives
the same bytes with any number of workers.

References
----------
Andrieu, C., Doucet, A. & Holenstein, R. (2010). Particle Markov chain Monte Carlo methods. JRSS B
    72, 269-342.
Chan, H. P. & Lai, T. L. (2013). A general theory of particle filters in hidden Markov models and
    some applications. Annals of Statistics 41, 2877-2904.
Chopin, N., Jacob, P. E. & Papaspiliopoulos, O. (2013). SMC²: an efficient algorithm for sequential
    analysis of state space models. JRSS B 75, 397-426.
Doucet, A., Pitt, M. K., Deligiannidis, G. & Kohn, R. (2015). Efficient implementation of Markov
    chain Monte Carlo when using an unbiased likelihood estimator. Biometrika 102, 295-313.
Du, Q. & Guyader, A. (2021). Variance estimation in adaptive sequential Monte Carlo. Annals of
    Applied Probability 31, 1021-1060.
Duan, J.-C. & Fulop, A. (2015). Density-tempered marginalized sequential Monte Carlo samplers.
    J. Business & Economic Statistics 33, 192-202.
Gordon, N. J., Salmond, D. J. & Smith, A. F. M. (1993). Novel approach to nonlinear/non-Gaussian
    Bayesian state estimation. IEE Proceedings F 140, 107-113.
Kitagawa, G. (1996). Monte Carlo filter and smoother for non-Gaussian nonlinear state space models.
    J. Computational and Graphical Statistics 5, 1-25.
Lee, A. & Whiteley, N. (2018). Variance estimation in the particle filter. Biometrika 105, 609-625.
Ledoit, O. & Wolf, M. (2004). A well-conditioned estimator for large-dimensional covariance matrices.
    J. Multivariate Analysis 88, 365-411.
Liu, J. & West, M. (2001). Combined parameter and state estimation in simulation-based filtering. In
    Sequential Monte Carlo Methods in Practice, Springer, 197-223.
Park, J. & Ionides, E. L. (2020). Inference on high-dimensional implicit dynamic models using a
    guided intermediate resampling filter. Statistics and Computing 30, 1497-1522.
Pitt, M. K., Silva, R. S., Giordani, P. & Kohn, R. (2012). On some properties of Markov chain Monte
    Carlo simulation methods based on the particle filter. J. Econometrics 171, 134-151.
Rudolf, D. & Sprungk, B. (2018). On a generalization of the preconditioned Crank-Nicolson
    Metropolis algorithm. Foundations of Computational Mathematics 18, 309-343.
"""

from __future__ import annotations

import concurrent.futures as cf
import math
import os
from dataclasses import dataclass, field

import numpy as np

from sim.analysis import likelihood
from sim.analysis.particle_filter import (
    GUIDE_EVERY,
    SMC_STREAM,
    Cloud,
    ParameterSpace,
    Runner,
    advance,
    pick_one,
    run_filters,
    systematic,
)
from sim.errors import InputError
from sim.model import dynamics
from sim.run.executors import InlineExecutor, warm_executor
from sim.spec.observations import Record
from sim.spec.params import assemble
from sim.spec.scenario import Scenario

ESS_FRACTION = 0.5  # resample-move when the parameter particles' ESS falls below this share
TARGET_ACCEPT = 0.15  # below this PMMH acceptance, the proposal takes smaller steps
RHOS = (0.0, 0.5, 0.75, 0.9, 0.95, 0.98)  # the Crank-Nicolson persistence, from independent up
MAX_LOGLIK_VAR = 2.0  # above this variance of the log-likelihood estimate (sd 1.4), double N_x
PROBES = 24  # parameter particles at which that variance is measured


# --------------------------------------------------------------------------------------------
# Moves
# --------------------------------------------------------------------------------------------


@dataclass
class Proposal:
    """The generalised Crank-Nicolson proposal around a Gaussian fit ``N(m, C)`` of the particles."""

    m: np.ndarray
    chol: np.ndarray
    prec: np.ndarray
    rho: float

    @classmethod
    def fit(cls, u: np.ndarray, rho: float) -> Proposal:
        """Fit ``m`` and a covariance shrunk toward its diagonal to the (equally weighted) ``u``:
        the diagonal alone once the dimension reaches the number of particles."""
        n, d = u.shape
        m = u.mean(axis=0)
        var = u.var(axis=0, ddof=1) + 1e-9 if n > 1 else np.ones(d)
        s = min(1.0, d / max(n, 1))  # shrinkage intensity: full when the dimension reaches the sample
        if s >= 1.0:
            return cls(m, np.diag(np.sqrt(var)), np.diag(1.0 / var), rho)
        S = np.cov(u, rowvar=False).reshape(d, d)
        C = (1.0 - s) * S + s * np.diag(np.diag(S)) + 1e-9 * np.eye(d)
        chol = np.linalg.cholesky(C)
        return cls(m, chol, np.linalg.inv(C), rho)

    def draw(self, u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """A proposal for each row of ``u``."""
        xi = rng.standard_normal(u.shape) @ self.chol.T
        return self.m + self.rho * (u - self.m) + math.sqrt(1.0 - self.rho**2) * xi

    def log_ref(self, u: np.ndarray) -> np.ndarray:
        """``log N(u; m, C)`` up to a constant (the proposal is reversible with respect to it)."""
        c = u - self.m
        return -0.5 * np.einsum("ij,jk,ik->i", c, self.prec, c)


def _log_target(cloud: Cloud, phi: float) -> np.ndarray:
    return -0.5 * (cloud.u**2).sum(axis=1) + cloud.ll_prev + phi * cloud.ll_cur


@dataclass
class MoveStats:
    """What the moves at one stage did."""

    iterations: int = 0
    accepted: list[float] = field(default_factory=list)
    rho: float = 0.0


def _proposals(u: np.ndarray, rho: float, rng) -> tuple[np.ndarray, np.ndarray]:
    """Proposals for every particle and the log acceptance term of the reference Gaussian,
    ``log N(u; m, C) - log N(u'; m, C)``, each half of the particles moved with the fit to the
    other half (so a particle's proposal does not depend on itself: each move is an exact
    Metropolis-Hastings step given the other half)."""
    n = len(u)
    half = np.arange(n) % 2 == 0
    u_new, ref = np.empty_like(u), np.empty(n)
    for mine in (half, ~half):
        others = u[~mine] if (~mine).sum() > 1 else u
        prop = Proposal.fit(others, rho)
        u_new[mine] = prop.draw(u[mine], rng)
        ref[mine] = prop.log_ref(u[mine]) - prop.log_ref(u_new[mine])
    return u_new, ref


def move(runner: Runner, cloud: Cloud, k: int, phi: float, key: tuple, rng, state: dict) -> MoveStats:
    """PMMH moves of every parameter particle (fresh filters to date ``k``), repeated until nine in
    ten particles have moved at least once (at most ``state['max_moves']`` iterations)."""
    stats = MoveStats()
    moved = np.zeros(cloud.n, dtype=bool)
    for it in range(state["max_moves"]):
        u_new, ref = _proposals(cloud.u, RHOS[state["rho"]], rng)
        fresh = run_filters(runner, u_new, cloud.nx, k, (*key, it), rng)
        log_a = _log_target(fresh, phi) - _log_target(cloud, phi) + ref
        ok = np.log(rng.random(cloud.n)) < log_a
        cloud.put(ok, fresh)
        moved |= ok
        rate = float(ok.mean())
        stats.iterations, stats.rho = it + 1, RHOS[state["rho"]]
        stats.accepted.append(rate)
        if rate < TARGET_ACCEPT and state["rho"] < len(RHOS) - 1:
            state["rho"] += 1
        elif rate > 2.5 * TARGET_ACCEPT and state["rho"] > 0:
            state["rho"] -= 1
        if moved.mean() >= 0.9:
            break
    return stats


def next_phi(log_w: np.ndarray, ll: np.ndarray, phi: float, target: float) -> float:
    """The largest ``phi' <= 1`` with ``ESS(w p^^(phi' - phi)) >= target`` (bisection), at least
    a little above ``phi``."""

    def ess(p: float) -> float:
        return likelihood.ess(likelihood.normalised(log_w + (p - phi) * ll))

    if ess(1.0) >= target:
        return 1.0
    lo, hi = phi, 1.0
    for _ in range(50):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if ess(mid) >= target else (lo, mid)
    return max(lo, phi + 1e-6)


# --------------------------------------------------------------------------------------------
# The sampler
# --------------------------------------------------------------------------------------------


@dataclass
class DateReport:
    """What one observation date did to the particles."""

    date: str
    step: int
    readings: int
    stages: int  # tempered stages the date was crossed in (1: at once)
    ess: float  # effective sample size of the parameter particles after the date's weights
    ess_min: float  # the smallest before a resample-move
    moves: int  # PMMH iterations
    acceptance: float | None  # mean PMMH acceptance rate (None: no move)
    state_particles: int
    log_evidence: float  # this date's part of the log evidence
    loglik_var: float  # measured variance of the filters' log-likelihood estimate to this date


@dataclass
class SMCResult:
    """The posterior of an SMC² run: parameter draws, each with one state particle at the last
    date (and what its path read at every date), the evidence and the per-date diagnostics."""

    values: dict[str, np.ndarray]  # path -> (N,) parameter draws (equally weighted)
    u: np.ndarray  # (N, d) their whitened coordinates
    readings: np.ndarray  # (N, K) what each draw's state path read
    states: dict[str, np.ndarray]  # (N, ...) each draw's state at the last date
    ancestor: np.ndarray  # (N,) the parameter particle each draw was resampled from
    log_evidence: float
    log_evidence_se: float
    ess: float  # parameter particles' ESS before the final resampling
    dates: list[DateReport]
    particles: int
    state_particles: int
    steps_run: int  # replicate-steps simulated

    @property
    def distinct(self) -> int:
        """Distinct parameter draws."""
        return int(len(np.unique(self.u, axis=0)))

    @property
    def effective(self) -> float:
        """Effective posterior draws: the final ESS, at most the distinct draws."""
        return float(min(self.ess, self.distinct))


def evidence_variance(weights: np.ndarray, eve: np.ndarray) -> float:
    """The variance of the log evidence estimate from one run (Chan & Lai 2013; Lee & Whiteley
    2018): ``sum_j (M_j - 1/N)^2``, ``M_j`` the final normalised weight of the particles
    descended from initial particle ``j`` (moves keep a particle's lineage; Du & Guyader 2021
    show the estimator holds for adaptive samplers with such moves). It is consistent as ``N``
    grows for a fixed number of resamplings, and says little once every particle descends from
    a handful of initial ones."""
    N = len(weights)
    mass = np.bincount(eve, weights=weights / weights.sum(), minlength=N)
    return float(((mass - 1.0 / N) ** 2).sum())


def check_engine(scenario: Scenario, engine: str, dtype: str = "float32") -> None:
    """One line, before any work, when ``engine`` cannot continue saved states (the stretches
    between dates need them)."""
    from sim.model.engines import get_engine

    eng = get_engine(engine)
    params = assemble(scenario.with_run(steps=1), 1, {})
    state = dynamics.initial_state(params, np.dtype(dtype))
    try:
        eng.simulate(params, [np.random.default_rng(0)], state=state, steps=0, dtype=np.dtype(dtype))
    except InputError:
        raise InputError(
            f"--engine {engine}: cannot continue saved states yet, which sequential Monte Carlo "
            "needs at every observation date; use --engine numpy, or --method rejection"
        ) from None


@dataclass
class _Book:
    """The running log evidence and the weights."""

    log_w: np.ndarray
    log_z: float = 0.0

    def reweight(self, incr: np.ndarray) -> float:
        """Multiply the weights by ``exp(incr)``; book the stage's evidence factor, returned."""
        W = likelihood.normalised(self.log_w)
        r = np.exp(incr - incr.max())
        mean = float(W @ r)
        part = float(np.log(mean) + incr.max()) if mean > 0 else -math.inf
        self.log_z += part
        self.log_w = self.log_w + incr
        return part

    @property
    def ess(self) -> float:
        """Effective sample size of the weights."""
        return likelihood.ess(likelihood.normalised(self.log_w))


def _assimilate_date(runner, cloud, book, k, rng, tune) -> tuple[Cloud, DateReport]:
    """Weight the parameter particles by date ``k`` in tempered stages, resample-moving between."""
    N, target = cloud.n, ESS_FRACTION * cloud.n
    phi, stages, ess_min, moves, rates, part = 0.0, 0, float(N), 0, [], 0.0
    while phi < 1.0:
        new = next_phi(book.log_w, cloud.ll_cur, phi, target)
        part += book.reweight((new - phi) * cloud.ll_cur)
        phi, stages = new, stages + 1
        ess_min = min(ess_min, book.ess)
        if phi < 1.0 or book.ess < target:
            cloud = cloud.take(systematic(likelihood.normalised(book.log_w), N, rng))
            book.log_w = np.zeros(N)
            stats = move(runner, cloud, k, phi, (k, stages), rng, tune)
            moves += stats.iterations
            rates += stats.accepted
    cloud, book, extra = _enough_state_particles(runner, cloud, book, k, rng, tune)
    part, moves, rates = part + extra[0], moves + extra[1], rates + extra[2]
    report = DateReport(
        date=runner.record.date_of(int(runner.dates[k]), runner.scenario.run.dt).isoformat(),
        step=int(runner.dates[k]),
        readings=len(runner.columns[k]),
        stages=stages,
        ess=book.ess,
        ess_min=ess_min,
        moves=moves,
        acceptance=float(np.mean(rates)) if rates else None,
        state_particles=cloud.nx,
        log_evidence=part,
        loglik_var=tune["noise"],
    )
    return cloud, report


def loglik_noise(runner: Runner, cloud: Cloud, book: _Book, k: int, rng, probes: int = PROBES) -> float:
    """The variance of the filters' log-likelihood estimate up to date ``k``, measured: two fresh
    filters at each of ``probes`` parameter particles (drawn by weight), half the mean squared
    difference of their estimates."""
    idx = systematic(likelihood.normalised(book.log_w), min(probes, cloud.n), rng)
    u = cloud.u[idx]
    a = run_filters(runner, u, cloud.nx, k, (k, 80, cloud.nx, 0), rng)
    b = run_filters(runner, u, cloud.nx, k, (k, 80, cloud.nx, 1), rng)
    diff = (a.ll_prev + a.ll_cur) - (b.ll_prev + b.ll_cur)
    return float(0.5 * np.mean(diff * diff))


def _enough_state_particles(runner, cloud, book, k, rng, tune):
    """The exchange step: while the filters' log-likelihood estimates are too noisy (measured by
    :func:`loglik_noise`), double ``N_x`` and reweight each parameter particle by new over old
    estimate (then resample-move if the weights degenerate)."""
    part, moves, rates = 0.0, 0, []
    measured = 0  # the N_x the noise was last measured at
    while cloud.nx * 2 <= tune["max_nx"]:
        tune["noise"], measured = loglik_noise(runner, cloud, book, k, rng), cloud.nx
        if tune["noise"] <= MAX_LOGLIK_VAR:
            break
        fresh = run_filters(runner, cloud.u, cloud.nx * 2, k, (k, 90, cloud.nx), rng)
        part += book.reweight((fresh.ll_prev + fresh.ll_cur) - (cloud.ll_prev + cloud.ll_cur))
        fresh.eve = cloud.eve
        cloud = fresh
        if book.ess < ESS_FRACTION * cloud.n:
            cloud = cloud.take(systematic(likelihood.normalised(book.log_w), cloud.n, rng))
            book.log_w = np.zeros(cloud.n)
            stats = move(runner, cloud, k, 1.0, (k, 91, cloud.nx), rng, tune)
            moves, rates = moves + stats.iterations, rates + stats.accepted
    if measured != cloud.nx:  # at the cap (reached now or before): this date's noise there
        tune["noise"] = loglik_noise(runner, cloud, book, k, rng)
    return cloud, book, (part, moves, rates)


def smc2(
    scenario: Scenario,
    record: Record,
    *,
    particles: int = 400,
    state_particles: int = 32,
    seed: int = 0,
    workers: int | None = 1,
    executor: cf.Executor | None = None,
    engine: str = "numpy",
    dtype: str = "float32",
    chunk_size: int = 4096,
    progress: bool = False,
    max_state_particles: int = 128,
    max_moves: int = 4,
    guide_every: int = GUIDE_EVERY,
) -> SMCResult:
    """Assimilate ``record`` date by date with SMC² (module docstring).

    Parameters
    ----------
    particles, state_particles
        ``N`` parameter particles and the initial ``N_x`` state particles of each filter
        (doubled, up to ``max_state_particles``, while the likelihood estimates are too noisy).
    seed
        Every draw (the engine's streams and the sampler's own) derives from it.
    workers, executor
        Local processes (``None``: all cores; 1: this process), the process's warm pool kept for
        every stretch (:func:`sim.run.executors.warm_executor`), or an executor passed in.
    max_moves
        PMMH iterations at most per resample-move.
    """
    check_engine(scenario, engine, dtype)
    space = ParameterSpace(scenario)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(SMC_STREAM,)))
    size = (os.cpu_count() or 1) if workers is None else int(workers)
    # one executor for every stretch: this process for one worker, otherwise the process's warm
    # pool (started once, its workers kept alive across stretches and across calls)
    pool = executor or (InlineExecutor() if size <= 1 else warm_executor(size, engine, dtype))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(unit="step", unit_scale=True, desc="assimilating", dynamic_ncols=True)
    try:
        runner = Runner(scenario, record, space, seed, pool, engine, dtype, chunk_size, bar, guide_every)
        return _run(runner, rng, particles, state_particles, max_state_particles, max_moves)
    finally:
        if bar is not None:
            bar.close()


def _run(runner: Runner, rng, particles: int, nx: int, max_nx: int, max_moves: int) -> SMCResult:
    u = rng.standard_normal((particles, runner.space.d))
    book = _Book(np.zeros(particles))
    tune = {"rho": 0, "max_moves": max_moves, "max_nx": max_nx, "noise": math.nan}
    reports = []
    cloud = run_filters(runner, u, nx, 0, (0, 0), rng)
    runner.check_reproduced(0, cloud.readings[:, runner.columns[0]])
    cloud.eve = np.arange(particles)
    for k in range(len(runner.dates)):
        if k > 0:
            cloud.resample_states(rng)
            values = {p: np.repeat(v, cloud.nx) for p, v in runner.space.values(cloud.u).items()}
            shape = (cloud.n, cloud.nx)
            states, got, log_g, ll, v, order = advance(runner, values, cloud.states, k, shape, (k, 0), rng)
            cloud.states, cloud.log_g = states, log_g
            cloud.readings = cloud.readings[order]
            cloud.readings[:, runner.columns[k]] = got
            runner.check_reproduced(k, got)
            cloud.ll_prev = cloud.ll_prev + cloud.ll_cur
            cloud.ll_cur = ll
            cloud.var = cloud.var + v
        cloud, report = _assimilate_date(runner, cloud, book, k, rng, tune)
        reports.append(report)
    ess = book.ess
    assert cloud.eve is not None
    var_z = evidence_variance(likelihood.normalised(book.log_w), cloud.eve)
    pick = systematic(likelihood.normalised(book.log_w), cloud.n, rng)
    final = cloud.take(pick)
    rows = pick_one(final.log_g, rng)
    return SMCResult(
        values=runner.space.values(final.u),
        u=final.u,
        readings=final.readings[rows],
        states={k: v[rows] for k, v in final.states.items()},
        ancestor=pick,
        log_evidence=book.log_z,
        log_evidence_se=math.sqrt(var_z),
        ess=ess,
        dates=reports,
        particles=particles,
        state_particles=cloud.nx,
        steps_run=runner.steps_run,
    )
