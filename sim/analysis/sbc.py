"""Simulation-based calibration (Talts et al. 2018) of the conditioning on the observed record.

If the sampler is right, then for parameters drawn from the prior, data simulated from them and
the posterior computed from those data, the true value falls inside the central 90 % posterior
interval in 90 % of repetitions. Here the data are tie observations: a replicate drawn from the
prior is the truth; each observed tie is its value plus a normal reading error of sd ``width``,
reported as the bin of width ``bin_width`` it falls in (bins on [-1, 1], the outermost open).
That is exactly the error model of :mod:`sim.spec.observations` (an interval-censored normal), so
the posterior computed by :func:`sim.analysis.likelihood.accept` from a reference prior ensemble
must cover at the nominal rate.

Talts, S., Betancourt, M., Simpson, D., Vehtari, A. & Gelman, A. (2018). Validating Bayesian
inference algorithms with simulation-based calibration. arXiv:1804.06788.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sim.analysis import likelihood
from sim.analysis.calibration import simulate
from sim.spec.observations import Observation, Record
from sim.spec.scenario import Scenario, load_scenario

_SOURCE = {
    "outlet": "synthetic",
    "published": _dt.date(2000, 1, 1),
    "url": "https://example.org/sbc",
    "paraphrase": "a value simulated from known parameters for the calibration check",
}


def tie_record(
    pairs: list[tuple[str, str, int]], bins: list[tuple[float, float]] | None = None, width: float = 0.05
) -> Record:
    """A record of tie observations ``(from, to, step)``, each in its bin (default [-1, 1])."""
    bins = bins or [(-1.0, 1.0)] * len(pairs)
    obs = tuple(
        Observation.model_validate(
            {
                "id": f"tie{k}",
                "date": _dt.date(2000, 1, 1),
                "kind": "tie_range",
                "from": a,
                "to": b,
                "low": lo,
                "high": hi,
                "width": width,
                "basis": "synthetic",
                "source": _SOURCE,
            }
        )
        for k, ((a, b, _), (lo, hi)) in enumerate(zip(pairs, bins))
    )
    return Record(Path("synthetic"), _dt.date(2000, 1, 1), "month", obs, tuple(s for _, _, s in pairs))


def alliance_observation(k: int, alliance: str, active: bool, error: float) -> Observation:
    """A synthetic discrete observation: ``alliance`` reported active (or ended, any fate)."""
    kind = {"kind": "alliance_active"} if active else {"kind": "alliance_ended", "fate": "any"}
    return Observation.model_validate(
        {
            "id": f"alliance{k}",
            "date": _dt.date(2000, 1, 1),
            **kind,
            "alliance": alliance,
            "error": error,
            "basis": "synthetic",
            "source": _SOURCE,
        }
    )


def binned(y: np.ndarray, bin_width: float) -> list[tuple[float, float]]:
    """The bin of width ``bin_width`` on [-1, 1] holding each reading (the outer bins are open)."""
    edges = np.round(np.arange(-1.0, 1.0 + bin_width / 2, bin_width), 12)
    k = np.clip(np.searchsorted(edges, y, side="right") - 1, 0, len(edges) - 2)
    return [(float(edges[i]), float(edges[i + 1])) for i in k]


@dataclass
class SBCResult:
    """Coverage, posterior spread and truth ranks of a simulation-based calibration."""

    coverage: dict[str, float]  # share of repetitions whose truth lies in the central 90 % interval
    posterior_sd: dict[str, float]  # mean posterior sd over repetitions
    prior_sd: dict[str, float]
    ranks: dict[str, np.ndarray]  # rank of the truth among the accepted draws, as a fraction
    accepted: np.ndarray  # accepted draws per repetition
    repetitions: int
    rms_sd: dict[str, float] = field(default_factory=dict)  # root mean square posterior sd
    toward: dict[str, float] = field(default_factory=dict)  # share of means moved toward the truth


def run_sbc(
    scenario: Scenario | str | Path,
    pairs: list[tuple[str, str, int]],
    *,
    repetitions: int = 100,
    reference: int = 20_000,
    width: float = 0.05,
    bin_width: float = 0.1,
    level: float = 0.9,
    seed: int = 0,
    assumed_width: float | None = None,
    alliances: tuple[tuple[str, int], ...] = (),
    error: float = 0.05,
) -> SBCResult:
    """Simulation-based calibration of ABC rejection on tie observations of ``scenario``.

    Parameters
    ----------
    scenario
        A (small) scenario; its uncertain values are what is inferred.
    pairs
        The observed ties ``(from, to, step)``.
    repetitions
        Truths drawn from the prior (each a replicate of its own ensemble).
    reference
        Prior replicates shared by every repetition's posterior.
    width, bin_width
        Reading error (sd) and the width of the reported bins.
    level
        The central posterior interval checked (0.9: the truth should fall inside 90 % of the time).
    assumed_width
        The reading error the likelihood assumes (default ``width``; another value shows how a
        wrong error model fails the check).
    alliances, error
        Discrete observations too: ``(alliance, step)`` reported active or ended, misreported with
        probability ``error`` (the error model of discrete observations).
    """
    assumed = width if assumed_width is None else assumed_width
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    ties = tie_record(pairs, width=width)
    template = Record(
        ties.path,
        ties.start,
        ties.unit,
        ties.observations
        + tuple(alliance_observation(k, a, True, error) for k, (a, _) in enumerate(alliances)),
        ties.steps + tuple(step for _, step in alliances),
    )
    T = len(pairs)
    ref = simulate(scenario, template, replicates=reference, seed=seed, keep_states=False)
    truth = simulate(scenario, template, replicates=repetitions, seed=seed + 1, keep_states=False)
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(2,)))
    paths = [p for p, x in ref.sampled.items() if np.ptp(x) > 0]
    inside = {p: 0 for p in paths}
    sds: dict[str, list[float]] = {p: [] for p in paths}
    ranks: dict[str, list[float]] = {p: [] for p in paths}
    accepted: list[int] = []
    tail = (1 - level) / 2
    for i in range(repetitions):
        y = truth.values[i, :T] + width * rng.standard_normal(T)
        obs = list(tie_record(pairs, binned(y, bin_width), assumed).observations)
        values = ref.values.copy()
        for k, (a, _) in enumerate(alliances):
            reported = bool(truth.values[i, T + k] > 0.5) != bool(rng.random() < error)
            obs.append(alliance_observation(k, a, reported, error))
            if not reported:  # an "ended" observation reads the opposite of the active flag
                values[:, T + k] = 1.0 - values[:, T + k]
        lik = likelihood.likelihoods(obs, values).prod(axis=1)
        keep = likelihood.accept(lik, rng.random(ref.n))
        accepted.append(int(keep.sum()))
        for p in paths:
            post = ref.sampled[p][keep]
            t = truth.sampled[p][i]
            if post.size == 0:
                continue
            lo, hi = np.quantile(post, [tail, 1 - tail])
            inside[p] += int(lo <= t <= hi)
            sds[p].append(float(post.std()))
            ranks[p].append(float((post < t).mean()))
    return SBCResult(
        coverage={p: inside[p] / repetitions for p in paths},
        posterior_sd={p: float(np.mean(sds[p])) for p in paths},
        prior_sd={p: float(ref.sampled[p].std()) for p in paths},
        ranks={p: np.array(ranks[p]) for p in paths},
        accepted=np.array(accepted),
        repetitions=repetitions,
    )


# --------------------------------------------------------------------------------------------
# Informative records through sequential assimilation
# --------------------------------------------------------------------------------------------


@dataclass
class Repetition:
    """One repetition of an SBC of the sequential sampler: the truth and the posterior's summaries."""

    truth: dict[str, float]
    inside: dict[str, bool]  # the truth in the central interval
    posterior_sd: dict[str, float]
    rank: dict[str, float]  # the truth's rank among the posterior draws, as a fraction
    effective: float
    fate: str
    seconds: float
    posterior_mean: dict[str, float] = field(default_factory=dict)
    loglik_var: float = float("nan")  # the largest measured variance of the filters' log-likelihood
    state_particles: int = 0  # N_x at the end


def series_observations(
    truth,
    folder: Path,
    *,
    pairs,
    dates,
    sd: float,
    seed: int,
    alliance: str | None,
    measurement: str = "reading",
    error: float = 0.02,
) -> str:
    """The observations file (text) of a truth read as a quantitative series: each tie at each date
    read as ``tie + N(0, sd)`` (a ``tie_series`` through ``[measurements.MEASUREMENT]`` with a = 0,
    b = 1, its CSV written into ``folder``), and the alliance's status at the last date. Unlike a
    range centred on the true tie, these readings are drawn from the very error model the
    likelihood assumes, as SBC requires (Talts et al. 2018: data from the model's own likelihood)."""
    from sim.analysis import synthetic

    rows = synthetic.series_rows(truth, pairs=pairs, dates=dates, a=0.0, b=1.0, sd=sd, seed=seed)
    synthetic.write_series(folder / "readings.csv", rows)
    series = {"id": "readings", "kind": "tie_series", "file": "readings.csv", "measurement": measurement}
    status = synthetic.tie_readings(truth, pairs=(), dates=dates, alliance=alliance, error=error)
    return synthetic.toml_text([*status, series], "SBC record: a series of tie readings")


def sbc_repetition(
    scenario_path: str | Path,
    i: int,
    *,
    params: tuple[str, ...],
    seed: int = 0,
    particles: int = 256,
    level: float = 0.9,
    pairs=None,
    dates=None,
    half_width: float = 0.15,
    width: float = 0.05,
    readings: str = "ranges",
    sd: float = 0.1,
    max_state_particles: int = 128,
    max_moves: int = 4,
) -> Repetition:
    """Repetition ``i``: a truth drawn from the prior (its own seed), its record and the SMC²
    posterior of ``params``. The record reads the ties at the dates and the alliance's status at the
    last date (when the scenario has one); ``readings = "ranges"``: each tie as a range of
    +-``half_width`` around the truth read with error ``width`` (the informative record of the
    README); ``"series"``: each tie as ``tie + N(0, sd)`` through the scenario's
    ``[measurements.reading]`` (a = 0, b = 1), drawn from the likelihood's own error model."""
    import tempfile
    import time

    from sim.analysis import synthetic
    from sim.analysis.assimilation import smc2
    from sim.spec.observations import load_record

    scenario = load_scenario(scenario_path)
    pairs = pairs or synthetic.PAIRS
    dates = dates or synthetic.DATES
    start = time.perf_counter()
    truth = synthetic.draw_truth(scenario, seed=seed * 100_003 + i, pairs=pairs, dates=dates, candidates=1)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "record.toml"
        if readings == "series":
            text = series_observations(
                truth,
                Path(tmp),
                pairs=pairs,
                dates=dates,
                sd=sd,
                seed=seed * 100_003 + i,
                alliance=scenario.focal_alliance,
            )
        else:
            obs = synthetic.tie_readings(
                truth,
                pairs=pairs,
                dates=dates,
                half_width=half_width,
                width=width,
                alliance=scenario.focal_alliance,
            )
            text = synthetic.toml_text(obs, f"SBC repetition {i}")
        path.write_text(text, encoding="utf-8")
        record = load_record(path, scenario)
    res = smc2(
        scenario,
        record,
        particles=particles,
        seed=seed * 7919 + i,
        max_state_particles=max_state_particles,
        max_moves=max_moves,
    )
    tail = (1 - level) / 2
    inside, sds, ranks, means = {}, {}, {}, {}
    for p in params:
        post, t = res.values[p], truth.values[p]
        lo, hi = np.quantile(post, [tail, 1 - tail])
        inside[p] = bool(lo <= t <= hi)
        sds[p] = float(post.std())
        ranks[p] = float((post < t).mean())
        means[p] = float(post.mean())
    return Repetition(
        {p: truth.values[p] for p in params},
        inside,
        sds,
        ranks,
        res.effective,
        truth.fate,
        time.perf_counter() - start,
        means,
        float(np.nanmax([d.loglik_var for d in res.dates] + [0.0])),
        res.state_particles,
    )


def summarise_repetitions(
    reps: list[Repetition], prior_sd: dict[str, float], prior_mean: dict[str, float] | None = None
) -> SBCResult:
    """The coverage, mean and root-mean-square posterior sd and truth ranks of a list of
    repetitions; with ``prior_mean``, also the share whose posterior mean moved from the prior
    mean toward the truth (same side of it)."""
    params = list(prior_sd)
    n = len(reps)
    toward = {}
    if prior_mean is not None:
        toward = {
            p: sum((r.posterior_mean[p] - prior_mean[p]) * (r.truth[p] - prior_mean[p]) > 0 for r in reps) / n
            for p in params
        }
    return SBCResult(
        coverage={p: sum(r.inside[p] for r in reps) / n for p in params},
        posterior_sd={p: float(np.mean([r.posterior_sd[p] for r in reps])) for p in params},
        prior_sd=dict(prior_sd),
        ranks={p: np.array([r.rank[p] for r in reps]) for p in params},
        accepted=np.array([r.effective for r in reps]),
        repetitions=n,
        rms_sd={p: float(np.sqrt(np.mean([r.posterior_sd[p] ** 2 for r in reps]))) for p in params},
        toward=toward,
    )


def prior_moments(scenario: Scenario, params, n: int = 20_000, seed: int = 0) -> tuple[dict, dict]:
    """The prior mean and sd of each of ``params`` (from ``n`` draws)."""
    from sim.spec.params import sample

    draws = sample(scenario, n, np.random.default_rng(seed))
    return {p: float(draws[p].mean()) for p in params}, {p: float(draws[p].std()) for p in params}
