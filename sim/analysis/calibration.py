"""Conditioning an ensemble on what has been observed: prior predictive checks, scenario scores,
ABC rejection with the normalised error model as kernel, sequential assimilation for informative
records (:mod:`sim.analysis.assimilation`), the posterior as a scenario file, and the view from
today (:mod:`sim.analysis.projection`: posterior draws continued from their own states).

Rejection. Every uncertain value of a scenario is drawn from its prior (the scenario's ranges), one
draw per replicate, and the whole ensemble runs at once up to the last observation's step, where
an :class:`~sim.analysis.readings.ObservationCollector` has recorded what each observation reads.
Replicate r is accepted with probability ``L_r / L_max``: the record's likelihood under the error
model of :mod:`sim.spec.observations` over its supremum, the product of each reading's largest
possible likelihood (:func:`sim.analysis.likelihood.log_sup`). Rejection with any kernel bounded by 1
that is proportional to the likelihood gives exact draws from the posterior of the model with that
error model (Pritchard et al. 1999; Beaumont et al. 2002; Wilkinson 2013); dividing by the supremum
is the largest such kernel, so readings that can never be certain (a range read with a wide
error) no longer crush acceptance. The evidence and the Bayes factors between scenarios are
defined on ``L``, not on ``L / L_max``, and are unchanged by the normalisation.

Choosing the method. Rejection's accepted draws fall geometrically with the number of informative
readings. With ``method="auto"`` a pilot of the first prior replicates estimates rejection's
expected accepted draws at the replicate budget (the pilot's mean of ``L / L_max`` times the
budget); at least twice the draws required and rejection runs (exact, cheap, every accepted draw a
whole replicate), otherwise the record is assimilated date by date by SMC²
(:mod:`sim.analysis.assimilation`). Both keep each posterior draw's state at the last observation,
so the view from today continues the draws that reproduced the record. When rejection cannot
answer, the refusal names the binding reading, the replicates it would need, and the other method.

References
----------
Pritchard et al. (1999); Beaumont, Zhang & Balding (2002); Wilkinson (2013): see
:mod:`sim.analysis.likelihood`.
Toni, T., Welch, D., Strelkowa, N., Ipsen, A. & Stumpf, M. P. H. (2009). Approximate Bayesian
    computation scheme for parameter inference and model selection in dynamical systems.
    J. R. Soc. Interface 6, 187-202.
Vernon, I., Goldstein, M. & Bower, R. G. (2010). Galaxy formation: a Bayesian uncertainty analysis.
    Bayesian Analysis 5, 619-669.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.analysis import likelihood
from sim.analysis.likelihood import Binding
from sim.analysis.projection import (  # noqa: F401 - the view from today, as this module's API
    MANIFEST,
    POSTERIOR_TABLE,
    STATES,
    Projection,
    calibration_dir,
    load_states,
    project,
)
from sim.analysis.readings import (  # noqa: F401 - re-exported: what calibrations read
    ACCEPT_STREAM,
    DEFAULT_CHUNK,
    PILOT_REPLICATES,
    Ensemble,
    ObservationCollector,
    predictive_table,
    simulate,
)
from sim.analysis.scoring import _rank_scores, needed_replicates, score_scenarios  # noqa: F401 - re-exported
from sim.errors import InputError
from sim.files import all_or_nothing, atomic_open, atomic_write, atomic_write_text
from sim.run.integrity import FILES, seal_files
from sim.run.lock import LOCK_FILE, locks
from sim.run.provenance import code_provenance
from sim.spec.observations import Record, load_record
from sim.spec.parammap import slots
from sim.spec.scenario import SHIPPED_PREFIX, SHIPPED_ROOT, Scenario, load_scenario, root_for
from sim.spec.set_values import assignment_text
from sim.spec.toml_writer import dumps
from sim.vocabulary import param_column

if TYPE_CHECKING:
    from sim.analysis.assimilation import SMCResult

DEFAULT_REPLICATES = 50_000
MIN_ACCEPTED = 200  # fewer effective posterior draws than this and the posterior is not trusted
POSTERIOR_TOML = "posterior.toml"
METHODS = ("auto", "rejection", "smc")
ASSIMILATION_CSV = "assimilation.csv"  # SMC's per-date table
MAX_SENSIBLE_REPLICATES = 10**10  # a refusal suggests no more replicates than this
CSV_FILES = ("prior_predictive.csv", "posterior_predictive.csv")
PILOT = PILOT_REPLICATES  # prior replicates of the pilot that chooses the method (and of SMC's prior table)


class CalibrationError(InputError):
    """The record cannot condition the ensemble (too few replicates reproduce it)."""


# --------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------


@dataclass
class Moved:
    """A parameter the record moved: prior and posterior summaries and the observations behind it."""

    path: str
    ks: float
    prior_mean: float
    prior_sd: float
    post_mean: float
    post_sd: float
    low: float
    high: float
    cited: list[str] = field(default_factory=list)


@dataclass
class Posterior:
    """Equally weighted posterior draws: each one's parameter values, what its trajectory read at
    every observation, and its state at the last observation (what the view from today continues)."""

    sampled: dict[str, np.ndarray]  # path -> (m,)
    values: np.ndarray  # (m, K)
    states: dict[str, np.ndarray]  # sim.model.dynamics.STATE_ARRAYS at the last step, (m, ...)
    ids: np.ndarray  # (m,) the prior replicate (rejection) or parameter particle (smc) of each draw
    effective: float  # effective draws (rejection: the accepted; smc: ESS, at most the distinct)

    @property
    def m(self) -> int:
        """Number of draws."""
        return len(self.values)


@dataclass
class Calibration:
    """A finished calibration: the prior ensemble and its likelihoods, the posterior draws, what the
    record moved, and how it was obtained (``method``: rejection or smc, and ``reason``)."""

    scenario: Scenario
    source: Path
    record: Record
    ensemble: Ensemble  # prior replicates (rejection: all; smc: the pilot)
    likelihood: np.ndarray  # (n, K) each prior replicate's normalised likelihoods L / L_max
    accepted: np.ndarray  # (m,) rejection: indices of the accepted prior replicates
    acceptance: float  # rejection's acceptance rate (smc: nan)
    ess: float  # rejection: ESS of the likelihood weights over every prior replicate; smc: effective draws
    binding: Binding
    moved: list[Moved]
    prior_predictive: pd.DataFrame
    posterior_predictive: pd.DataFrame
    posterior: Posterior
    method: str = "rejection"
    reason: str = ""
    log_evidence: float = math.nan  # log P(record), on L
    log_evidence_se: float = math.nan
    smc: SMCResult | None = None  # the result of an SMC calibration
    shifts: list[Moved] = field(default_factory=list)  # every uncertain value, most moved first
    correlations: list[tuple[str, str, float]] = field(default_factory=list)  # among the moved
    out: Path | None = None


def _prior_range(value) -> tuple[float, float]:
    from sim.spec.claims import value_range

    _, lo, hi = value_range(value)
    return lo, hi


def moved_parameters(
    scenario: Scenario,
    prior: dict[str, np.ndarray],
    posterior: dict[str, np.ndarray],
    log_rel: np.ndarray,
    record: Record,
    alpha: float = 0.001,
    effective: float | None = None,
) -> list[Moved]:
    """Uncertain values whose posterior draws differ from their prior draws (two-sample KS at level
    ``alpha``, the posterior's size taken as its ``effective`` draws), most moved first, each with
    the observations that moved it: those whose log-likelihood over the prior draws correlates
    with the value beyond ``3 / sqrt(n)`` (at most three, strongest first)."""
    values = {slot.path: slot.value for slot in slots(scenario)}
    first = next(iter(posterior.values()), np.empty(0))
    n, m = len(log_rel), len(first)
    if m < 2:
        return []
    size = max(2, int(round(effective if effective is not None else m)))
    cut = likelihood.ks_threshold(n, size, alpha) if alpha > 0 else -1.0
    out = []
    centred_l = log_rel - log_rel.mean(axis=0)
    sd_l = centred_l.std(axis=0)
    for path, x in prior.items():
        if path not in values or isinstance(values[path], (int, float)) or np.ptp(x) == 0:
            continue
        post = posterior[path]
        d = likelihood.ks_distance(x, post)
        if d <= cut:
            continue
        xc = x - x.mean()
        corr = (xc @ centred_l) / (n * x.std() * np.where(sd_l > 0, sd_l, np.inf))
        order = np.argsort(-np.abs(corr))
        cited = [record.observations[k].id for k in order[:3] if abs(corr[k]) > 3 / math.sqrt(n)]
        lo, hi = _prior_range(values[path])
        out.append(
            Moved(
                path, d, float(x.mean()), float(x.std()), float(post.mean()), float(post.std()), lo, hi, cited
            )
        )
    out.sort(key=lambda mv: -mv.ks)
    return out


def rank_correlations(
    posterior: dict[str, np.ndarray], moved: list[str], alpha: float = 0.001, effective: float | None = None
) -> list[tuple[str, str, float]]:
    """Spearman rank correlations between a moved value and any other uncertain value among the
    posterior draws, kept when significant at level ``alpha`` after a Bonferroni correction over
    the pairs tried (the prior draws every value independently, so such a correlation is the
    record's doing), largest first. ``posterior.toml`` cannot carry them (a scenario draws its
    values independently); the posterior draws, and the view from today, keep them exactly."""
    from scipy.stats import norm

    first = next(iter(posterior.values()), np.empty(0))
    m = int(round(effective)) if effective is not None else len(first)
    others = [p for p, x in posterior.items() if np.ptp(x) > 0]
    pairs = [
        (a, b)
        for i, a in enumerate(moved)
        for b in others
        if b != a and not (b in moved and moved.index(b) < i)
    ]
    if m < 4 or not pairs:
        return []
    names = sorted({p for pair in pairs for p in pair}, key=others.index)
    ranks = np.column_stack(
        [np.argsort(np.argsort(posterior[p], kind="stable"), kind="stable") for p in names]
    ).astype(float)
    rho = np.corrcoef(ranks, rowvar=False)
    at = {p: i for i, p in enumerate(names)}
    cut = norm.isf(alpha / (2 * len(pairs))) / math.sqrt(m - 1)
    out = [(a, b, float(rho[at[a], at[b]])) for a, b in pairs if abs(rho[at[a], at[b]]) > cut]
    return sorted(out, key=lambda c: -abs(c[2]))


def choose_method(
    method: str, pilot: Ensemble, record: Record, replicates: int, min_accepted: int
) -> tuple[str, str]:
    """``(method, reason)``: ``auto`` picks rejection when the pilot puts its expected accepted
    draws at the replicate budget at twice ``min_accepted`` or more, SMC otherwise."""
    rate = float(np.exp(_log_rel(record, pilot.values).sum(axis=1)).mean())
    expected = rate * replicates
    if method in ("rejection", "smc"):
        return method, (
            f"as asked; a pilot of {pilot.n:,} prior replicates expects {expected:,.0f} accepted "
            f"draws of {replicates:,} by rejection"
        )
    if expected >= 2 * min_accepted:
        return "rejection", (
            f"a pilot of {pilot.n:,} prior replicates expects {expected:,.0f} accepted draws of "
            f"{replicates:,}, at least twice the {min_accepted} needed"
        )
    return "smc", (
        f"a pilot of {pilot.n:,} prior replicates expects {expected:,.1f} accepted draws of "
        f"{replicates:,} by rejection, fewer than twice the {min_accepted} needed; the record is "
        f"assimilated date by date"
    )


def _log_rel(record: Record, values: np.ndarray) -> np.ndarray:
    """``(n, K)`` log of each reading's normalised likelihood ``L / L_max``."""
    return likelihood.log_likelihoods(record.observations, values) - likelihood.log_sup(record.observations)


@locks("out")  # one writer per folder
def calibrate(
    scenario_path: str | Path,
    observations: str | Path,
    *,
    replicates: int = DEFAULT_REPLICATES,
    seed: int | None = None,
    out: str | Path | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    min_accepted: int = MIN_ACCEPTED,
    progress: bool = False,
    force: bool = False,
    workers: int | None = 1,
    exclude: list[str] | None = None,
    engine: str = "numpy",
    method: str = "auto",
    particles: int | None = None,
    say=None,
    values: dict | None = None,
) -> Calibration:
    """Condition a scenario's ensemble on an observations file (see the module).

    Parameters
    ----------
    scenario_path, observations
        The scenario and the observations files.
    replicates
        Prior draws of rejection (each a whole replicate run to the last observation).
    seed
        Seed of every draw (default: the scenario's).
    out
        Folder for ``posterior.toml``, ``posterior.parquet``, ``states.npz``, ``calibration.json``
        and the predictive tables; nothing is written without it.
    min_accepted
        Refuse (:class:`CalibrationError`, naming the binding observation) below this many
        effective posterior draws.
    workers
        Local processes of the runner (the result does not depend on them).
    exclude
        Observation ids left out (to see what one observation does to the posterior).
    engine
        The engine that steps the replicates (``numpy`` or ``numba``).
    method
        ``rejection``, ``smc`` (:func:`sim.analysis.assimilation.smc2`) or ``auto``.
    particles
        SMC's parameter particles (default 400).
    say
        Called with the one line saying which method runs and why (before it runs).
    values
        Parameter values set on top of the scenario (``--set``); the posterior scenario is then
        written out whole, with them in their places.

    Returns
    -------
    Calibration
    """
    source = Path(scenario_path)
    scenario = load_scenario(source, values=values)
    record = load_record(observations, scenario)
    if exclude:
        record = record.without(exclude)
    if out is not None:
        out = Path(out)
        _check_out(out, force)
    cal = condition(
        scenario,
        source,
        record,
        replicates=replicates,
        seed=scenario.run.seed if seed is None else seed,
        chunk_size=chunk_size,
        min_accepted=min_accepted,
        progress=progress,
        workers=workers,
        engine=engine,
        method=method,
        particles=particles,
        say=say,
    )
    cal.out = out
    if out is not None:
        write_calibration(cal, out)
    return cal


def condition(
    scenario: Scenario,
    source: Path,
    record: Record,
    *,
    replicates: int,
    seed: int,
    chunk_size: int = DEFAULT_CHUNK,
    min_accepted: int = MIN_ACCEPTED,
    progress: bool = False,
    workers: int | None = 1,
    engine: str = "numpy",
    method: str = "rejection",
    particles: int | None = None,
    say=None,
) -> Calibration:
    """The calibration of a loaded scenario on a checked record, in memory (:func:`calibrate`
    without the files)."""
    if method not in METHODS:
        raise InputError(f"--method: expected one of {', '.join(METHODS)}, got {method!r}")
    run = {"seed": seed, "chunk_size": chunk_size, "progress": progress, "workers": workers, "engine": engine}
    reason = ""
    pilot = None
    if method != "rejection":
        # a budget no larger than the pilot runs whole, and rejection reuses it if chosen
        whole = replicates <= PILOT
        pilot = simulate(
            scenario,
            record,
            replicates=min(PILOT, replicates),
            keep_states=whole,
            seed=seed,
            chunk_size=chunk_size,
            progress=progress,
            workers=workers,
            engine=engine,
        )
        method, reason = choose_method(method, pilot, record, replicates, min_accepted)
        if say is not None:
            say(f"method: {method} ({reason})")
        if method == "rejection" and whole:
            return _rejection(scenario, source, record, replicates, min_accepted, run, pilot, reason)
    if method == "rejection":
        cal = _rejection(scenario, source, record, replicates, min_accepted, run)
    else:
        cal = _smc(scenario, source, record, pilot, particles, min_accepted, run)
    cal.reason = reason
    return cal


def _finish(scenario, source, record, ens, log_rel, post: Posterior, **kw) -> Calibration:
    """The parts of a calibration every method computes the same way."""
    moved = moved_parameters(scenario, ens.sampled, post.sampled, log_rel, record, effective=post.effective)
    return Calibration(
        scenario=scenario,
        source=source,
        record=record,
        ensemble=ens,
        likelihood=np.exp(log_rel),
        binding=likelihood.binding_observation(np.exp(log_rel)),
        moved=moved,
        shifts=moved_parameters(scenario, ens.sampled, post.sampled, log_rel, record, alpha=0.0),
        correlations=rank_correlations(post.sampled, [m.path for m in moved], effective=post.effective),
        prior_predictive=predictive_table(record, ens.values),
        posterior_predictive=predictive_table(record, post.values),
        posterior=post,
        **kw,
    )


def _rejection(scenario, source, record, replicates, min_accepted, run, ens=None, reason="") -> Calibration:
    ens = ens if ens is not None else simulate(scenario, record, replicates=replicates, **run)
    log_rel = _log_rel(record, ens.values)
    accepted = np.flatnonzero(ens.accepted)
    acceptance = len(accepted) / ens.n
    if len(accepted) < min_accepted:
        raise CalibrationError(refusal(record, source, ens, log_rel, len(accepted), min_accepted))
    post = Posterior(
        {k: v[accepted] for k, v in ens.sampled.items()},
        ens.values[accepted],
        ens.states,
        ens.replicate[accepted],
        float(len(accepted)),
    )
    s = likelihood.log_score_from_log(log_rel.sum(axis=1) + likelihood.log_sup(record.observations).sum())
    return _finish(
        scenario,
        source,
        record,
        ens,
        log_rel,
        post,
        accepted=accepted,
        acceptance=acceptance,
        ess=likelihood.ess(likelihood.normalised(log_rel.sum(axis=1))),
        method="rejection",
        reason=reason,
        log_evidence=s.log_score,
        log_evidence_se=s.log_se,
    )


def refusal(record: Record, source: Path, ens: Ensemble, log_rel: np.ndarray, got: int, need: int) -> str:
    """The one line of a refusal: what was accepted, the binding reading (and how often it
    happened), the replicates rejection would need, the reading to --exclude and the other method."""
    rel = np.exp(log_rel)
    binding = likelihood.binding_observation(rel)
    o = record.observations[binding.index]
    p = float(likelihood.happened(record.observations, ens.values)[:, binding.index].mean())
    rate = float(np.exp(log_rel.sum(axis=1)).mean())
    acceptance = got / ens.n
    needed = (
        f"about {math.ceil(need / rate):,} replicates"
        if rate * MAX_SENSIBLE_REPLICATES > need
        else "more replicates than can be run"
    )
    return (
        f"{record.path}: only {got} of {ens.n} replicates of {source.name} reproduce the record "
        f"(acceptance {acceptance:.3%}; at least {need} needed); the binding observation is "
        f"{o.id} ({o.describe()} on {o.date.isoformat()}), which happened in {p:.1%} of the "
        f"replicates; without it acceptance would be {binding.acceptance_without:.3%}; rejection "
        f"would need {needed} (--replicates), or --exclude {o.series} to see the record without "
        f"it, or --method smc to assimilate it date by date"
    )


def _smc(scenario, source, record, pilot, particles, min_accepted, run) -> Calibration:
    from sim.analysis.assimilation import smc2

    res = smc2(
        scenario,
        record,
        particles=particles or 400,
        seed=run["seed"],
        workers=run["workers"],
        engine=run["engine"],
        chunk_size=run["chunk_size"],
        progress=run["progress"],
    )
    if res.effective < min_accepted:
        raise CalibrationError(
            f"{record.path}: sequential Monte Carlo kept only {res.effective:.0f} effective draws "
            f"(at least {min_accepted} needed); run more particles (--particles "
            f"{2 * res.particles}) or lower --min-accepted"
        )
    post = Posterior(res.values, res.readings, res.states, res.ancestor, res.effective)
    log_rel = _log_rel(record, pilot.values)
    return _finish(
        scenario,
        source,
        record,
        pilot,
        log_rel,
        post,
        accepted=np.arange(post.m),
        acceptance=math.nan,
        ess=res.effective,
        method="smc",
        log_evidence=res.log_evidence,
        log_evidence_se=res.log_evidence_se,
        smc=res,
    )


def _check_out(out: Path, force: bool) -> None:
    ours = {
        POSTERIOR_TOML,
        POSTERIOR_TABLE,
        STATES,
        MANIFEST,
        *CSV_FILES,
        ASSIMILATION_CSV,
        "report.html",
        "report_figures",
    }
    present = {p.name for p in out.iterdir() if p.name != LOCK_FILE} if out.exists() else set()
    if present and not force:
        if not present <= ours:
            raise InputError(f"{out}: is not empty and holds no calibration; choose another --out")
        raise InputError(f"{out}: already holds a calibration; use --force to replace it")


@all_or_nothing()  # a failure leaves none of its files
def write_calibration(cal: Calibration, out: Path) -> None:
    """Write the posterior draws and their states, the posterior scenario, the predictive tables,
    SMC's per-date table and a manifest into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)  # no manifest until every file is whole
    (out / ASSIMILATION_CSV).unlink(missing_ok=True)  # an earlier SMC calibration's table
    post = cal.posterior
    assert post is not None
    rows = likelihood.log_likelihoods(cal.record.observations, post.values).sum(axis=1)
    table = {"replicate": post.ids, "log_likelihood": rows}
    for path, x in post.sampled.items():
        table[param_column(path)] = x
    atomic_write(pd.DataFrame(table).to_parquet, out / POSTERIOR_TABLE, index=False)
    arrays = dict(post.states)
    arrays.update(replicate=post.ids)
    _save_npz(out / STATES, arrays)
    atomic_write(cal.prior_predictive.to_csv, out / "prior_predictive.csv", index=False)
    atomic_write(cal.posterior_predictive.to_csv, out / "posterior_predictive.csv", index=False)
    if cal.smc is not None:
        dates = pd.DataFrame([d.__dict__ for d in cal.smc.dates])
        atomic_write(dates.to_csv, out / ASSIMILATION_CSV, index=False)
    write_posterior_toml(cal, out / POSTERIOR_TOML)
    ens = cal.ensemble
    manifest = {
        "format": 1,  # later fields (method, evidence) are added, none changed
        "scenario": cal.scenario.to_data(),
        "scenario_hash": cal.scenario.digest(),
        "code": code_provenance(),
        "source": str(cal.source),
        "observations": str(cal.record.path),
        "start": cal.record.start.isoformat(),
        "unit": cal.record.unit,
        "last_step": cal.record.last_step,
        "last_date": cal.record.last_date.isoformat(),
        "seed": ens.seed,
        "chunk_size": ens.chunk_size,
        "method": cal.method,
        "reason": cal.reason,
        "replicates": ens.n,
        "accepted": int(post.m),
        "acceptance": None if math.isnan(cal.acceptance) else cal.acceptance,
        "ess": cal.ess,
        "log_evidence": cal.log_evidence,
        "log_evidence_se": cal.log_evidence_se,
        "binding": cal.record.observations[cal.binding.index].id,
        "observation_ids": [o.id for o in cal.record.observations],
        "moved": [m.__dict__ for m in cal.moved],
        "rank_correlations": [{"a": a, "b": b, "spearman": rho} for a, b, rho in cal.correlations],
    }
    # written last, with the checksums of every file before it: a folder with a manifest is whole
    files = [POSTERIOR_TABLE, STATES, POSTERIOR_TOML, *CSV_FILES, ASSIMILATION_CSV]
    manifest[FILES] = seal_files(out, files)
    atomic_write_text(out / MANIFEST, json.dumps(manifest, indent=1))


def _save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """``np.savez`` with fixed member timestamps, so the same arrays give the same bytes."""
    import io
    import zipfile

    with atomic_open(path) as fh, zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, buf.getvalue())


# --------------------------------------------------------------------------------------------
# The posterior as a scenario file
# --------------------------------------------------------------------------------------------


def fitted(m: Moved, x: np.ndarray) -> dict:
    """A distribution for a moved parameter's accepted draws ``x``: a beta on the prior's range by
    the method of moments (the posterior cannot leave the prior's support), or a normal when the
    prior's range is unbounded."""
    lo, hi = m.low, m.high
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return {"dist": "normal", "mean": float(x.mean()), "sd": float(x.std())}
    z = (x - lo) / (hi - lo)
    mu, var = float(z.mean()), float(z.var())
    mu = min(max(mu, 1e-6), 1 - 1e-6)
    common = mu * (1 - mu) / var - 1 if var > 0 else 1e6
    common = max(common, 1e-3)
    return {
        "dist": "beta",
        "a": round(mu * common, 6),
        "b": round((1 - mu) * common, 6),
        "low": lo,
        "high": hi,
    }


METHOD_WORDS = {"rejection": "ABC rejection", "smc": "sequential Monte Carlo (SMC²)"}


def method_line(cal) -> str:
    """How the posterior draws were obtained, in one line (the header of ``posterior.toml``)."""
    if cal.method == "smc":
        res = cal.smc
        assert res is not None
        return (
            f"SMC²: {res.particles} parameter particles x {res.state_particles} state particles, "
            f"{cal.ess:.0f} effective draws, log evidence {cal.log_evidence:.2f} +- {cal.log_evidence_se:.2f}"
        )
    return (
        f"ABC rejection: {len(cal.accepted)} of {cal.ensemble.n} prior replicates accepted "
        f"(acceptance {cal.acceptance:.2%}, ESS {cal.ess:.0f})"
    )


def posterior_overrides(
    scenario: Scenario, moved: list[Moved], samples: dict[str, np.ndarray]
) -> tuple[dict, list[dict], list[str]]:
    """Tables to merge over the scenario (and ``[[ties]]`` to append) that replace each moved
    value by its fitted posterior; also the paths that could not be written (a tie matrix)."""
    data = scenario.to_data()
    tables: dict = {}
    ties: list[dict] = []
    skipped: list[str] = []

    def put(keys, value):
        node = tables
        for k in keys[:-1]:
            node = node.setdefault(k, {})
        node[keys[-1]] = value

    for m in moved:
        dist = fitted(m, samples[m.path])
        dist["claim"] = "posterior given " + ", ".join(m.cited) if m.cited else "posterior given the record"
        parts = m.path.split(".")
        head = parts[0]
        if (
            head in ("actors", "positions", "salience", "spheres", "dependence", "alliances")
            and len(parts) == 3
        ):
            put(parts, dist)
        elif head in ("strategic_value", "mechanisms") and len(parts) == 2:
            put(parts, dist)
        elif head == "pressure" and len(parts) == 2:
            put(parts, dist)
        elif head == "pressure" and len(parts) == 3:
            sched = tables.get("pressure", {}).get(parts[1]) or [dict(p) for p in data["pressure"][parts[1]]]
            for p in sched:
                if str(p["at"]) == parts[2]:
                    p["value"] = dist
            put(parts[:2], sched)
        elif head == "events" and parts[2] == "hazard":
            put(parts, dist)
        elif head == "events" and parts[2] == "effects":
            effects = tables.get("events", {}).get(parts[1], {}).get("effects") or [
                dict(f) for f in data["events"][parts[1]]["effects"]
            ]
            effects[int(parts[3])][parts[4]] = dist
            put(["events", parts[1], "effects"], effects)
        elif head == "ties":
            t = dict(data["ties"][int(parts[1])])
            t["value"] = dist
            ties.append(t)
        else:
            skipped.append(m.path)
    return tables, ties, skipped


def write_posterior_toml(cal: Calibration, path: Path) -> Path:
    """``posterior.toml``: extends the calibrated scenario (by a relative path when both lie in one
    project, as :mod:`sim.spec.scenario` requires; by ``alliance-sim:`` when it is a shipped
    scenario or seed; otherwise the whole resolved scenario is written out, without its claims
    file) and replaces each moved value by its fitted posterior."""
    samples = {m.path: cal.posterior.sampled[m.path] for m in cal.moved}
    tables, ties, skipped = posterior_overrides(cal.scenario, cal.moved, samples)
    r = cal.record
    comments = [
        f"Posterior of {cal.source.name} given {r.path.name}: {len(r.observations)} observations from "
        f"{r.start.isoformat()} to {r.last_date.isoformat()}.",
        f"{method_line(cal)}, seed {cal.ensemble.seed}.",
        "Each narrowed value is a beta on its prior range fitted to the posterior draws; its claim",
        "names the observations whose likelihood moved it most. Values not listed keep their prior.",
    ]
    if skipped:
        comments.append("Moved but not written (a tie matrix entry): " + ", ".join(skipped))
    root = root_for(path)
    src = cal.source.resolve()
    base: dict = {}
    data: dict = {}
    shipped = SHIPPED_ROOT.resolve()
    if cal.scenario.overrides:  # values set on the command line: the scenario written out whole
        comments.append(
            "Written out whole, with the values set on the command line in their places: "
            + ", ".join(assignment_text(p, v) for p, v in cal.scenario.overrides.items())
        )
        base = cal.scenario.to_data()
        base.pop("overrides", None)
        claims = base.pop("claims", None)
        if claims and Path(claims).resolve().is_relative_to(root):
            base["claims"] = os.path.relpath(Path(claims).resolve(), path.parent.resolve())
        ties = base.pop("ties", []) + ties
    elif src.is_relative_to(root):
        data["extends"] = os.path.relpath(src, path.parent.resolve())
    elif any(src.is_relative_to(shipped / folder) for folder in ("scenarios", "seeds")):
        data["extends"] = SHIPPED_PREFIX + src.relative_to(shipped).as_posix()
    else:
        comments.append("The calibrated scenario lies outside this folder's project: written out whole.")
        base = cal.scenario.to_data()
        base.pop("claims", None)
        ties = base.pop("ties", []) + ties
    from sim.spec.scenario import merge

    body = merge(base, tables)
    body["title"] = f"{cal.scenario.title} | conditioned on {r.path.name} to {r.last_date.isoformat()}"
    body["description"] = (
        f"{cal.scenario.description.strip()}\n\nConditioned on "
        f"{len(r.observations)} observations ({r.path.name}) by {METHOD_WORDS[cal.method]}; "
        "see the claims on the narrowed values."
    )
    data.update(body)
    if ties:
        data["ties"] = ties
    atomic_write_text(path, dumps(data, comments))
    load_scenario(path)  # what is written must load
    return path
