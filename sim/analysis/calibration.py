"""Conditioning an ensemble on what has been observed: prior predictive checks, scenario scores,
ABC rejection with the error model as kernel, the posterior as a scenario file, and the view from
today (accepted replicates continued from the last observation's step, from their own states).

Method. Every uncertain value of a scenario is drawn from its prior (the scenario's ranges), one
draw per replicate, and the whole ensemble runs at once up to the last observation's step. At each
observation's step an :class:`ObservationCollector` records what the observation reads. The record's
likelihood under the error model of :mod:`sim.spec.observations` is the ABC kernel: replicate r
is accepted with probability ``L_r`` (Pritchard et al. 1999; Beaumont et al. 2002), which is exact
for the model with that error model (Wilkinson 2013). We condition by plain rejection rather than
by ABC-SMC (Toni et al. 2009; Beaumont et al. 2009) or by history matching in Vernon et al.'s
(2010) sense (emulators and an implausibility cut that rules inputs out rather than weighting
them), because
(i) the engine runs tens of thousands of replicates in seconds, so one prior ensemble gives
enough accepted draws for records like ours, (ii) every accepted draw is a whole replicate whose
*state* at the last observation is kept, so the view from today continues exactly the replicates
that reproduced the record (an SMC perturbation would break that link: a moved parameter needs a
new trajectory), and (iii) the acceptance rate is then also the probability the scenario gave the
record, which scores the scenarios. When the record is too improbable for the ensemble (too few
accepted), we refuse and name the binding observation rather than silently widening tolerances.

References
----------
Pritchard et al. (1999); Beaumont, Zhang & Balding (2002); Wilkinson (2013): see
:mod:`sim.analysis.likelihood`.
Toni, T., Welch, D., Strelkowa, N., Ipsen, A. & Stumpf, M. P. H. (2009). Approximate Bayesian
    computation scheme for parameter inference and model selection in dynamical systems.
    J. R. Soc. Interface 6, 187-202.
Beaumont, M. A., Cornuet, J.-M., Marin, J.-M. & Robert, C. P. (2009). Adaptive approximate Bayesian
    computation. Biometrika 96, 983-990.
Vernon, I., Goldstein, M. & Bower, R. G. (2010). Galaxy formation: a Bayesian uncertainty analysis.
    Bayesian Analysis 5, 619-669.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis import likelihood
from sim.analysis.likelihood import Binding
from sim.errors import InputError
from sim.files import atomic_open, atomic_write, atomic_write_text
from sim.model import dynamics
from sim.model.landscape import best_partition
from sim.run.engine import Collector, Design, OutcomeCollector, Start, run_design
from sim.run.integrity import FILES, calibration_manifest, seal_files
from sim.run.lock import LOCK_FILE, locks
from sim.run.provenance import code_provenance
from sim.spec.observations import TIE_KINDS, Record, add_units, load_record
from sim.spec.parammap import slots
from sim.spec.scenario import SHIPPED_PREFIX, SHIPPED_ROOT, Scenario, load_scenario, root_for, stored_scenario
from sim.spec.set_values import assignment_text
from sim.spec.toml_writer import dumps
from sim.vocabulary import FATES, PARAM_PREFIX, Fate, end_step_column, fate_column, param_column

DEFAULT_REPLICATES = 50_000
DEFAULT_CHUNK = 4096
MIN_ACCEPTED = 200  # fewer accepted replicates than this and the posterior is not trusted
ACCEPT_STREAM = 1_000_003  # spawn key of the acceptance uniforms, apart from the engine's streams
STATES = "states.npz"
POSTERIOR_TOML = "posterior.toml"
POSTERIOR_TABLE = "posterior.parquet"
MANIFEST = "calibration.json"
CSV_FILES = ("prior_predictive.csv", "posterior_predictive.csv")


class CalibrationError(InputError):
    """The record cannot condition the ensemble (too few replicates reproduce it)."""


# --------------------------------------------------------------------------------------------
# Recording what the observations need
# --------------------------------------------------------------------------------------------


class ObservationCollector(Collector):
    """Records, at each observation's step, what it reads in every replicate; at the last step it
    decides acceptance (with uniforms of its own stream, from ``seed`` and the chunk's number) and
    keeps the accepted replicates' states.

    An engine :class:`~sim.run.engine.Collector`: ``begin(block, params)``, ``record(state)`` at
    t = 0 and after every step, ``end(block, params, state)`` returning the chunk's payload (a dict).
    """

    def __init__(
        self, scenario: Scenario, record: Record, *, seed: int | None = None, keep_states: bool = True
    ):
        self.observations = record.observations
        self.steps = np.array(record.steps)
        self.last = int(self.steps.max())
        actors = {a: i for i, a in enumerate(scenario.actor_names)}
        alliances = {a: i for i, a in enumerate(scenario.alliances)}
        events = {e: i for i, e in enumerate(scenario.events)}
        # what each observation reads: (what, index, second index or flag, flag); the record was
        # checked against the scenario (load_record), so every name is known
        self._read: list[tuple] = []
        for o in self.observations:
            if o.kind in TIE_KINDS:
                self._read.append(("tie", actors[str(o.from_)], actors[str(o.to)], o.mutual))
            elif o.kind == "same_bloc":
                pair = o.actors or []
                self._read.append(("bloc", actors[pair[0]], actors[pair[1]], o.same))
            elif o.kind == "event_fired":
                self._read.append(("event", events[str(o.event)], o.fired, None))
            elif o.kind == "alliance_active":
                self._read.append(("active", alliances[str(o.alliance)], None, None))
            else:
                self._read.append(("ended", alliances[str(o.alliance)], o.fate, None))
        self.seed = seed
        self.keep_states = keep_states

    def begin(self, block, params) -> None:
        """Start a chunk: an empty ``(n, K)`` table of readings."""
        self.values = np.full((params.n, len(self.observations)), np.nan)
        self.states: dict[str, np.ndarray] = {}
        self.accepted = np.zeros(params.n, dtype=bool)
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
        if due.size:
            blocs = None
            for k in due:
                what, a, b, c = self._read[k]
                if what == "tie":
                    w = state.ties[:, a, b].astype(np.float64)
                    if c:
                        w = 0.5 * (w + state.ties[:, b, a])
                    self.values[:, k] = w
                elif what == "bloc":
                    if blocs is None:
                        W = state.ties.astype(np.float64)
                        blocs, _ = best_partition(
                            state.capability.astype(np.float64), 0.5 * (W + np.swapaxes(W, 1, 2))
                        )
                    same = blocs[:, a] == blocs[:, b]
                    self.values[:, k] = same == c
                elif what == "event":
                    self.values[:, k] = state.fired[:, a] == b
                elif what == "active":
                    self.values[:, k] = state.active[:, a]
                else:
                    ended = ~state.active[:, a]
                    if b != "any":
                        code = Fate.STAB if b == "stab_in_the_back" else Fate.DRIFT
                        ended &= state.fate[:, a] == code.value
                    self.values[:, k] = ended
        if t == self.last and self.accept_u is not None:
            lik = likelihood.likelihoods(self.observations, self.values).prod(axis=1)
            self.accepted = likelihood.accept(lik, self.accept_u)
            if self.keep_states:
                rows = np.flatnonzero(self.accepted)
                self.states = {k: np.array(getattr(state, k)[rows]) for k in dynamics.STATE_ARRAYS}

    def end(self, block, params, state) -> dict:
        """The chunk's readings, sampled values, acceptance and accepted states."""
        return {
            "values": self.values,
            "sampled": {k: v.astype(np.float64) for k, v in params.sampled.items()},
            "accepted": self.accepted,
            "states": self.states,
            "replicate": self.replicate,
        }


# --------------------------------------------------------------------------------------------
# Running the prior ensemble up to the last observation
# --------------------------------------------------------------------------------------------


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
    design of :func:`sim.run.engine.run_design`: the same draws as ``run`` with the same seed and
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
    return Ensemble(
        values=np.concatenate([p["values"] for p in parts]),
        sampled={k: np.concatenate([p["sampled"][k] for p in parts]) for k in parts[0]["sampled"]},
        accepted=np.concatenate([p["accepted"] for p in parts]),
        states={k: np.concatenate([p["states"][k] for p in parts]) for k in parts[0]["states"]}
        if keep_states
        else {},
        replicate=np.concatenate([p["replicate"] for p in parts]),
        seed=seed,
        chunk_size=chunk_size,
    )


# --------------------------------------------------------------------------------------------
# Prior predictive check and scores
# --------------------------------------------------------------------------------------------


def predictive_table(record: Record, values: np.ndarray, weights: np.ndarray | None = None) -> pd.DataFrame:
    """For each observation: its step, what it says, the share of replicates in which it happened
    (without reading error) with a 95 % Wilson interval, and its mean likelihood under the error
    model. With ``weights`` (posterior), shares are weighted and the interval uses the effective
    sample size."""
    hit = likelihood.happened(record.observations, values)
    lik = likelihood.likelihoods(record.observations, values)
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
                "likelihood": float(weights @ lik[:, k]),
            }
        )
    return pd.DataFrame(rows)


def score_scenarios(
    paths: list[Path],
    observations: Path,
    *,
    replicates: int,
    seed: int,
    chunk_size: int = DEFAULT_CHUNK,
    progress: bool = False,
    workers: int | None = 1,
    predictive: dict | None = None,
    engine: str = "numpy",
    values: dict | None = None,
) -> pd.DataFrame:
    """Rank scenarios by the probability each gave the record (its marginal likelihood under the
    error model), with log scores, Monte Carlo errors and log Bayes factors against the best.

    The standard error of a log Bayes factor treats the two ensembles as independent; scenarios
    run with one seed share random streams, so it is conservative. With ``predictive`` (a dict),
    each scenario's prior predictive table (:func:`predictive_table`) is stored in it by name.
    """
    rows = []
    for path in paths:
        scenario = load_scenario(path, values=values)  # values: set on every scenario (--set)
        record = load_record(observations, scenario)
        ens = simulate(
            scenario,
            record,
            replicates=replicates,
            seed=seed,
            chunk_size=chunk_size,
            keep_states=False,
            progress=progress,
            workers=workers,
            engine=engine,
        )
        lik = likelihood.likelihoods(record.observations, ens.values)
        s = likelihood.log_score_from_log(likelihood.log_likelihood(lik))
        bind = likelihood.binding_observation(lik)
        if predictive is not None:
            predictive[Path(path).stem] = predictive_table(record, ens.values)
        rows.append(
            {
                "scenario": Path(path).stem,
                "p_record": s.evidence,
                "log_score": s.log_score,
                "log_se": s.log_se,
                "replicates": s.n,
                "binding": record.observations[bind.index].id,
                # replicates whose every reading has a likelihood above the floor: none, and the
                # score would be the floor's artefact, not an estimate
                "reproduced": int((lik > likelihood.TINY).all(axis=1).sum()),
            }
        )
    return _rank_scores(pd.DataFrame(rows), observations)


def needed_replicates(n: int) -> int:
    """Replicates that would show about ten reproductions of a record none of ``n`` reproduced,
    were its probability at the 95 % upper bound ``3 / n`` (the rule of three); more are needed
    if it is lower."""
    return math.ceil(10 * n / 3)


def _rank_scores(table: pd.DataFrame, observations: Path) -> pd.DataFrame:
    """Rank the scores of the scenarios that reproduced the record at least once; the others are
    kept, marked not estimable (``estimable`` false, no score, ``p_record_below`` the 95 % upper
    bound of their probability, no rank); none estimable is refused with one line."""
    table["estimable"] = table["reproduced"] > 0
    if not table["estimable"].any():
        n = int(table["replicates"].min())
        raise InputError(
            f"{observations}: no replicate of {', '.join(table['scenario'])} reproduced the record "
            f"(P(record) below {3 / n:.1g} at 95 % with {n:,} replicates), so no score can be "
            f"estimated; run at least {needed_replicates(n):,} replicates per scenario (--replicates), "
            f"more if it is rarer, or review the binding observation ({table['binding'].iloc[0]})"
        )
    table["p_record_below"] = np.where(table["estimable"], np.nan, 3 / table["replicates"])
    for col in ("p_record", "log_score", "log_se"):
        table[col] = table[col].where(table["estimable"])
    table = table.sort_values(["estimable", "log_score"], ascending=False, kind="stable")
    best = table.iloc[0]
    table["log_bf_vs_best"] = table["log_score"] - best["log_score"]
    table["log_bf_se"] = np.hypot(table["log_se"], best["log_se"])
    table.loc[table.index[0], "log_bf_se"] = 0.0
    rank = np.arange(1, len(table) + 1)
    table.insert(0, "rank", pd.array(np.where(table["estimable"], rank, 0), dtype="Int64"))
    table.loc[~table["estimable"], "rank"] = pd.NA
    return table.reset_index(drop=True)


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
class Calibration:
    """A finished calibration: the ensemble, its likelihoods, what was accepted and what moved."""

    scenario: Scenario
    source: Path
    record: Record
    ensemble: Ensemble
    likelihood: np.ndarray  # (n, K)
    accepted: np.ndarray  # (m,) indices
    acceptance: float
    ess: float
    binding: Binding
    moved: list[Moved]
    prior_predictive: pd.DataFrame
    posterior_predictive: pd.DataFrame
    shifts: list[Moved] = field(default_factory=list)  # every uncertain value, most moved first
    correlations: list[tuple[str, str, float]] = field(default_factory=list)  # among the moved
    out: Path | None = None

    def summary(self) -> str:
        """The lines `alliance-sim calibrate` prints."""
        r = self.record
        o = r.observations[self.binding.index]
        lines = [
            f"{self.source}: {self.ensemble.n} prior replicates to step {r.last_step} "
            f"({r.last_date.isoformat()}), {len(r)} observations",
            f"accepted {len(self.accepted)} (acceptance rate {self.acceptance:.2%}); "
            f"effective sample size of the weights {self.ess:.0f}",
            f"binding observation: {o.id} ({o.describe()}, {o.date.isoformat()}): without it "
            f"acceptance would be {self.binding.acceptance_without:.2%}",
        ]
        if self.moved:
            lines.append(
                "parameters the record moved most (KS distance; prior -> posterior mean "
                "+- sd; cited observations):"
            )
            for m in self.moved[:10]:
                lines.append(
                    f"  {m.path:<44} {m.ks:.2f}  {m.prior_mean:.3g}+-{m.prior_sd:.2g} -> "
                    f"{m.post_mean:.3g}+-{m.post_sd:.2g}  {', '.join(m.cited)}"
                )
        else:
            lines.append("no parameter moved beyond Monte Carlo noise")
        significant = {m.path for m in self.moved}
        rest = [m for m in self.shifts if m.path not in significant][: max(0, 3 - len(self.moved))]
        if rest:
            lines.append("next largest shifts (within Monte Carlo noise at level 0.001):")
            for m in rest:
                lines.append(
                    f"  {m.path:<44} {m.ks:.2f}  {m.prior_mean:.3g}+-{m.prior_sd:.2g} -> "
                    f"{m.post_mean:.3g}+-{m.post_sd:.2g}  {', '.join(m.cited)}"
                )
        for a, b, rho in self.correlations[:5]:
            lines.append(f"  rank correlation {a} ~ {b}: {rho:+.2f} (independent in the prior)")
        return "\n".join(lines)


def _prior_range(value) -> tuple[float, float]:
    from sim.spec.claims import value_range

    _, lo, hi = value_range(value)
    return lo, hi


def moved_parameters(
    scenario: Scenario,
    ens: Ensemble,
    lik: np.ndarray,
    accepted: np.ndarray,
    record: Record,
    alpha: float = 0.001,
) -> list[Moved]:
    """Uncertain values whose accepted draws differ from their prior draws (two-sample KS at
    level ``alpha``), most moved first, each with the observations that moved it: those whose
    likelihood correlates with the value beyond ``3 / sqrt(n)`` (at most three, strongest first)."""
    values = {slot.path: slot.value for slot in slots(scenario)}
    n, m = ens.n, len(accepted)
    if m < 2:
        return []
    cut = likelihood.ks_threshold(n, m, alpha) if alpha > 0 else -1.0
    out = []
    log_l = np.log(np.maximum(lik, likelihood.TINY))
    centred_l = log_l - log_l.mean(axis=0)
    sd_l = centred_l.std(axis=0)
    for path, x in ens.sampled.items():
        if path not in values or isinstance(values[path], (int, float)) or np.ptp(x) == 0:
            continue
        post = x[accepted]
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
    ens: Ensemble, accepted: np.ndarray, moved: list[str], alpha: float = 0.001
) -> list[tuple[str, str, float]]:
    """Spearman rank correlations between a moved value and any other uncertain value among the
    accepted draws, kept when significant at level ``alpha`` after a Bonferroni correction over
    the pairs tried (the prior draws every value independently, so such a correlation is the
    record's doing), largest first. ``posterior.toml`` cannot carry them (a scenario draws its
    values independently); the accepted replicates, and the view from today, keep them exactly."""
    from scipy.stats import norm

    m = len(accepted)
    others = [p for p, x in ens.sampled.items() if np.ptp(x) > 0]
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
        [np.argsort(np.argsort(ens.sampled[p][accepted], kind="stable"), kind="stable") for p in names]
    ).astype(float)
    rho = np.corrcoef(ranks, rowvar=False)
    at = {p: i for i, p in enumerate(names)}
    cut = norm.isf(alpha / (2 * len(pairs))) / math.sqrt(m - 1)
    out = [(a, b, float(rho[at[a], at[b]])) for a, b in pairs if abs(rho[at[a], at[b]]) > cut]
    return sorted(out, key=lambda c: -abs(c[2]))


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
    values: dict | None = None,
) -> Calibration:
    """Condition a scenario's ensemble on an observations file (ABC rejection; see the module).

    Parameters
    ----------
    scenario_path, observations
        The scenario and the observations files.
    replicates
        Prior draws (each a whole replicate run to the last observation).
    seed
        Seed of the draws, the dynamics and the acceptance (default: the scenario's).
    out
        Folder for ``posterior.toml``, ``posterior.parquet``, ``states.npz``, ``calibration.json``
        and the predictive tables; nothing is written without it.
    min_accepted
        Refuse (:class:`CalibrationError`, naming the binding observation) below this many
        accepted replicates.
    workers
        Local processes of the engine (the result does not depend on them).
    exclude
        Observation ids left out (to see what one observation does to the posterior).
    engine
        The engine that steps the prior replicates (``numpy`` or ``numba``).
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
    seed = scenario.run.seed if seed is None else seed
    if out is not None:
        out = Path(out)
        _check_out(out, force)
    ens = simulate(
        scenario,
        record,
        replicates=replicates,
        seed=seed,
        chunk_size=chunk_size,
        progress=progress,
        workers=workers,
        engine=engine,
    )
    lik = likelihood.likelihoods(record.observations, ens.values)
    log_l = likelihood.log_likelihood(lik)
    w = likelihood.normalised(log_l)
    accepted = np.flatnonzero(ens.accepted)
    binding = likelihood.binding_observation(lik)
    acceptance = len(accepted) / ens.n
    if len(accepted) < min_accepted:
        o = record.observations[binding.index]
        p = float(likelihood.happened(record.observations, ens.values)[:, binding.index].mean())
        raise CalibrationError(
            f"{record.path}: only {len(accepted)} of {ens.n} replicates of {source.name} reproduce "
            f"the record (acceptance {acceptance:.3%}; at least {min_accepted} needed); the binding "
            f"observation is {o.id} ({o.describe()} on {o.date.isoformat()}), which happened in "
            f"{p:.1%} of the replicates; without it acceptance would be "
            f"{binding.acceptance_without:.3%}; run more replicates (--replicates) or review it"
        )
    moved = moved_parameters(scenario, ens, lik, accepted, record)
    cal = Calibration(
        scenario=scenario,
        source=source,
        record=record,
        ensemble=ens,
        likelihood=lik,
        accepted=accepted,
        acceptance=acceptance,
        ess=likelihood.ess(w),
        binding=binding,
        moved=moved,
        shifts=moved_parameters(scenario, ens, lik, accepted, record, alpha=0.0),
        correlations=rank_correlations(ens, accepted, [m.path for m in moved]),
        prior_predictive=predictive_table(record, ens.values),
        posterior_predictive=predictive_table(record, ens.values[accepted]),
        out=out,
    )
    if out is not None:
        write_calibration(cal, out)
    return cal


def _check_out(out: Path, force: bool) -> None:
    ours = {
        POSTERIOR_TOML,
        POSTERIOR_TABLE,
        STATES,
        MANIFEST,
        *CSV_FILES,
        "report.html",
        "report_figures",
    }
    present = {p.name for p in out.iterdir() if p.name != LOCK_FILE} if out.exists() else set()
    if present and not force:
        if not present <= ours:
            raise InputError(f"{out}: is not empty and holds no calibration; choose another --out")
        raise InputError(f"{out}: already holds a calibration; use --force to replace it")


def write_calibration(cal: Calibration, out: Path) -> None:
    """Write the posterior samples, the accepted states, the posterior scenario, the predictive
    tables and a manifest into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / MANIFEST).unlink(missing_ok=True)  # no manifest until every file is whole
    ens, acc = cal.ensemble, cal.accepted
    table = {
        "replicate": ens.replicate[acc],
        "log_likelihood": likelihood.log_likelihood(cal.likelihood[acc]),
    }
    for path, x in ens.sampled.items():
        table[param_column(path)] = x[acc]
    atomic_write(pd.DataFrame(table).to_parquet, out / POSTERIOR_TABLE, index=False)
    arrays = {k: v for k, v in ens.states.items()}
    arrays.update(replicate=ens.replicate[acc])
    _save_npz(out / STATES, arrays)
    atomic_write(cal.prior_predictive.to_csv, out / "prior_predictive.csv", index=False)
    atomic_write(cal.posterior_predictive.to_csv, out / "posterior_predictive.csv", index=False)
    write_posterior_toml(cal, out / POSTERIOR_TOML)
    manifest = {
        "format": 1,
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
        "replicates": ens.n,
        "accepted": int(len(acc)),
        "acceptance": cal.acceptance,
        "ess": cal.ess,
        "binding": cal.record.observations[cal.binding.index].id,
        "observation_ids": [o.id for o in cal.record.observations],
        "moved": [m.__dict__ for m in cal.moved],
        "rank_correlations": [{"a": a, "b": b, "spearman": rho} for a, b, rho in cal.correlations],
    }
    # written last, with the checksums of every file before it: a folder with a manifest is whole
    manifest[FILES] = seal_files(out, [POSTERIOR_TABLE, STATES, POSTERIOR_TOML, *CSV_FILES])
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
    samples = {m.path: cal.ensemble.sampled[m.path][cal.accepted] for m in cal.moved}
    tables, ties, skipped = posterior_overrides(cal.scenario, cal.moved, samples)
    r = cal.record
    comments = [
        f"Posterior of {cal.source.name} given {r.path.name}: {len(r.observations)} observations from "
        f"{r.start.isoformat()} to {r.last_date.isoformat()}.",
        f"ABC rejection: {len(cal.accepted)} of {cal.ensemble.n} prior replicates accepted "
        f"(acceptance {cal.acceptance:.2%}, ESS {cal.ess:.0f}), seed {cal.ensemble.seed}.",
        "Each narrowed value is a beta on its prior range fitted to the accepted draws; its claim",
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
        f"{len(r.observations)} observations ({r.path.name}) by ABC rejection; "
        "see the claims on the narrowed values."
    )
    data.update(body)
    if ties:
        data["ties"] = ties
    atomic_write_text(path, dumps(data, comments))
    load_scenario(path)  # what is written must load
    return path


# --------------------------------------------------------------------------------------------
# The view from today
# --------------------------------------------------------------------------------------------


@dataclass
class Projection:
    """Accepted replicates continued from the last observation's step."""

    alliance: str
    start_step: int
    end_step: int
    start_date: _dt.date
    end_date: _dt.date
    fates: np.ndarray  # (m,) fate code at the end (0 holds)
    table: pd.DataFrame

    def p(self, fate: str) -> tuple[float, float, float]:
        """Share of continued replicates ending in ``fate``, with its 95 % Wilson interval."""
        code = FATES.index(fate)
        k = int((self.fates == code).sum())
        lo, hi = likelihood.wilson(k, len(self.fates))
        return k / len(self.fates), lo, hi

    def sentence(self) -> str:
        """The answer as the report and the command line give it."""
        p, lo, hi = self.p("holds")
        return (
            f"From {self.start_date:%B %Y} (the last sourced observation), under these "
            f"assumptions and what has been observed, P({self.alliance} holds to "
            f"{self.end_date:%B %Y}) = {p:.2f} (95 % interval {lo:.2f}-{hi:.2f}; "
            f"{len(self.fates)} accepted replicates)"
        )


def calibration_dir(path: Path) -> Path:
    """The calibration folder of ``posterior.toml`` (or the folder itself)."""
    folder = path if path.is_dir() else path.parent
    if not (folder / STATES).is_file() or not (folder / MANIFEST).is_file():
        raise InputError(
            f"{path}: --from-observations needs {STATES} and {MANIFEST} beside it "
            "(written by alliance-sim calibrate)"
        )
    return folder


def load_states(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a ``states.npz`` (read without pickles)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


@locks("out")  # one writer per folder
def project(
    calibrated: str | Path,
    *,
    steps: int | None = None,
    until: _dt.date | None = None,
    seed: int | None = None,
    alliance: str | None = None,
    out: str | Path | None = None,
    dtype: str = "float32",
    workers: int | None = 1,
    progress: bool = False,
) -> Projection:
    """Continue the accepted replicates of a calibration from their states at the last observed
    step for ``steps`` more steps (or up to the date ``until``).

    Each accepted replicate keeps the parameter values it was drawn with (``posterior.parquet``)
    and its state at the last observation (``states.npz``): a one-point design of the experiment
    engine with per-replicate values and saved starts (:class:`sim.run.engine.Start`), seeded by
    ``seed`` (default the calibration's), so the same seed gives the same bytes on any number of
    ``workers``.
    """
    folder = calibration_dir(Path(calibrated))
    manifest = calibration_manifest(folder)  # its shape and every file's checksum, or one line
    scenario = stored_scenario(manifest["scenario"])
    t0 = int(manifest["last_step"])
    start = _dt.date.fromisoformat(manifest["start"])
    unit = manifest["unit"]
    dt = scenario.run.dt
    if until is not None:
        from sim.spec.observations import step_of

        steps = step_of(start, until, unit, dt) - t0
        if steps <= 0:
            raise InputError(
                f"--until: expected a date after the last observation "
                f"({manifest['last_date']}), got {until.isoformat()}"
            )
    steps = steps if steps is not None else max(scenario.run.steps - t0, 1)
    alliance = alliance or scenario.focal_alliance
    if alliance not in scenario.alliances:
        raise InputError(f"{folder}: unknown alliance {alliance!r}")
    seed = manifest["seed"] if seed is None else seed
    states = load_states(folder / STATES)
    table = pd.read_parquet(folder / POSTERIOR_TABLE)
    if not np.array_equal(table["replicate"].to_numpy(), states["replicate"]):
        raise InputError(f"{folder}: {POSTERIOR_TABLE} and {STATES} hold different replicates")
    m = len(table)
    # each accepted replicate keeps the values it was drawn with and continues from its own state:
    # a one-point design of m replicates with per-replicate values and saved starts
    values = {
        c[len(PARAM_PREFIX) :]: table[c].to_numpy(dtype=np.float64)[None, :]
        for c in table.columns
        if c.startswith(PARAM_PREFIX)
    }
    continued = scenario.with_run(steps=t0 + steps, replicates=m)
    saved = Start(t0, {k: states[k] for k in dynamics.STATE_ARRAYS})
    try:
        parts = run_design(
            continued,
            Design(values, m, start=saved),
            OutcomeCollector(),
            seed=seed,
            workers=workers,
            progress=progress,
            desc="from today",
            dtype=dtype,
        )
    except (KeyError, ValueError) as e:
        raise InputError(
            f"{folder / STATES}: expected the states of the accepted replicates of "
            f"this calibration, got arrays that do not fit ({e})"
        ) from None
    fate_words = np.concatenate([cols[fate_column(alliance)] for _, cols in parts])
    fates_all = np.array([FATES.index(w) for w in fate_words], dtype=np.int8)
    ends = [np.concatenate([cols[end_step_column(alliance)] for _, cols in parts])]
    reps = [states["replicate"]]
    table = pd.DataFrame(
        {
            "replicate": np.concatenate(reps),
            f"{alliance}.fate": np.array(FATES, dtype=object)[fates_all],
            f"{alliance}.end_step": np.concatenate(ends).astype(np.int32),
        }
    )
    proj = Projection(
        alliance,
        t0,
        t0 + steps,
        add_units(start, t0 * dt, unit),
        add_units(start, (t0 + steps) * dt, unit),
        fates_all,
        table,
    )
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write(table.to_parquet, out / "projection.parquet", index=False)
        summary = {
            "alliance": alliance,
            "from_step": t0,
            "to_step": t0 + steps,
            "from": proj.start_date.isoformat(),
            "to": proj.end_date.isoformat(),
            "seed": seed,
            "replicates": int(len(fates_all)),
            **{f"p_{f}": proj.p(f)[0] for f in FATES},
            "answer": proj.sentence(),
        }
        atomic_write_text(out / "projection.json", json.dumps(summary, indent=1))
    return proj
