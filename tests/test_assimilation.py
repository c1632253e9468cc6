"""Sequential assimilation (sim/analysis/assimilation.py, sim/analysis/particle_filter.py), held to
established references: the particle filter's likelihood against an exact Kalman filter on a
linear-Gaussian case, and the SMC² posterior and evidence against long-run rejection on a
two-parameter case; same seed, same bytes on one or two workers; refusals in one line."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest

from sim import cli, load_scenario
from sim.analysis import particle_filter
from sim.analysis.assimilation import smc2
from sim.analysis.calibration import calibrate, condition
from sim.analysis.particle_filter import ParameterSpace, Runner, run_filters, systematic_rows
from sim.analysis.synthetic import write_record
from sim.errors import InputError
from sim.run.executors import InlineExecutor
from sim.spec.observations import load_record

ROOT = Path(__file__).resolve().parents[1]
TWO = ROOT / "tests" / "data" / "two_params.toml"
DATES = (dt.date(2022, 6, 4), dt.date(2022, 12, 4), dt.date(2023, 6, 4), dt.date(2024, 1, 4))

# The linear-Gaussian case: one tie moved only by the affinity force and noise, read through a
# series with a known measurement model; nothing uncertain, no clipping reached.
ALPHA, SIGMA, U, W0 = 0.1, 0.03, -0.2, 0.3
A_, B_, SD = 0.5, 2.0, 0.08
KALMAN_STEPS = (3, 6, 10, 15, 20)
LINEAR = f"""
title = "Linear-Gaussian case"
description = "One tie pulled toward -0.2 at a known rate, with noise, read through a series."
[run]
steps = 24
seed = 3
[mechanisms]
affinity = {ALPHA}
noise = {SIGMA}
[actors.A]
capability = 0.5
[actors.B]
capability = 0.5
[issues.x]
[positions.A]
x = 2.0
[positions.B]
x = 8.0
[salience.A]
x = 1.0
[salience.B]
x = 1.0
[[ties]]
from = "A"
to = "B"
value = {W0}
symmetric = true
[measurements.gauge]
a = {A_}
b = {B_}
"""


def series_files(tmp_path: Path, rows: list[tuple[str, float]], name="obs.toml") -> Path:
    """An observations file with one tie_series entry reading A->B through `gauge`."""
    csv = tmp_path / "gauge.csv"
    csv.write_text("date,from,to,value,sd\n" + "".join(f"{d},A,B,{v},{SD}\n" for d, v in rows))
    obs = tmp_path / name
    obs.write_text(
        'start = 2022-02-04\nunit = "month"\n[[observations]]\nid = "gauge"\nkind = "tie_series"\n'
        'file = "gauge.csv"\nmeasurement = "gauge"\nbasis = "a synthetic series of the tie"\n'
        '[observations.source]\noutlet = "synthetic"\npublished = 2022-02-04\n'
        'url = "https://example.org/gauge"\n'
        'paraphrase = "a series simulated from the linear case, not a report"\n'
    )
    return obs


def kalman_loglik(ys: list[float]) -> float:
    """The exact log-likelihood of the readings ``ys`` at KALMAN_STEPS under the linear-Gaussian
    state space model ``W' = W + alpha (U - W) + sigma xi``, ``y = a + b W + e`` (Kalman 1960; the
    prediction error decomposition, Harvey 1989, ch. 3)."""
    m, P, t, total = W0, 0.0, 0, 0.0
    for step, y in zip(KALMAN_STEPS, ys):
        for _ in range(step - t):
            m, P = m + ALPHA * (U - m), (1 - ALPHA) ** 2 * P + SIGMA**2
        t = step
        S = B_ * B_ * P + SD * SD
        e = y - (A_ + B_ * m)
        total += -0.5 * (math.log(2 * math.pi * S) + e * e / S)
        K = P * B_ / S
        m, P = m + K * e, (1 - K * B_) * P
    return total


def test_particle_filter_likelihood_agrees_with_the_exact_kalman_filter(tmp_path):
    """The guided particle filter's likelihood estimate is unbiased: the mean of 120 independent
    estimates (64 state particles each) agrees with the Kalman filter's exact likelihood within
    4 standard errors of that mean (its spread over the repeats), and its log within the same
    tolerance on the log scale. Reference: the Kalman filter written above."""
    rng = np.random.default_rng(11)
    w, ys = W0, []
    for t in range(1, KALMAN_STEPS[-1] + 1):  # readings simulated from the model itself
        w = w + ALPHA * (U - w) + SIGMA * rng.standard_normal()
        if t in KALMAN_STEPS:
            ys.append(round(A_ + B_ * w + SD * rng.standard_normal(), 4))
    dates = [load_record_date(s) for s in KALMAN_STEPS]
    (tmp_path / "linear.toml").write_text(LINEAR)
    scenario = load_scenario(tmp_path / "linear.toml")
    record = load_record(series_files(tmp_path, list(zip(dates, ys))), scenario)
    assert record.steps == KALMAN_STEPS
    runner = Runner(scenario, record, ParameterSpace(scenario), 5, InlineExecutor())
    repeats = 120
    cloud = run_filters(
        runner, np.zeros((repeats, 0)), 64, len(KALMAN_STEPS) - 1, (1,), np.random.default_rng(2)
    )
    ll = cloud.ll_prev + cloud.ll_cur
    top = ll.max()
    p = np.exp(ll - top)
    log_mean = math.log(p.mean()) + top
    se = p.std(ddof=1) / (p.mean() * math.sqrt(repeats))
    exact = kalman_loglik(ys)
    assert abs(log_mean - exact) < 4 * se, (log_mean, exact, se)
    assert se < 0.1  # the check has teeth: a bias of a few tenths would fail it
    # a wrong model fails it: the filter of a scenario with twice the noise is far off
    noisy = scenario.model_copy(
        update={"mechanisms": scenario.mechanisms.model_copy(update={"noise": 2 * SIGMA})}
    )
    runner2 = Runner(noisy, record, ParameterSpace(noisy), 5, InlineExecutor())
    cloud2 = run_filters(
        runner2, np.zeros((40, 0)), 64, len(KALMAN_STEPS) - 1, (1,), np.random.default_rng(3)
    )
    ll2 = cloud2.ll_prev + cloud2.ll_cur
    assert abs(math.log(np.exp(ll2 - ll2.max()).mean()) + ll2.max() - exact) > 10 * se


def load_record_date(step: int) -> str:
    """The date of a step of the scenarios' clock (start 2022-02-04, months)."""
    y, m = divmod(1 + step, 12)
    return dt.date(2022 + y, m + 1, 4).isoformat()


@pytest.fixture(scope="module")
def two_record(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("two")
    scenario = load_scenario(TWO)
    truth = write_record(
        tmp / "two.toml", scenario, seed=5, history="any", pairs=(("A", "B"),), dates=DATES, half_width=0.1
    )
    return tmp / "two.toml", truth


def test_smc_posterior_and_evidence_agree_with_long_run_rejection(two_record):
    """On the two-parameter case, SMC² (400 particles) and rejection with 100,000 prior replicates
    give the same posterior means and sds of the rate and the start, and the same log evidence,
    within 4 Monte Carlo standard errors (rejection: sd / sqrt(accepted); SMC: sd / sqrt(its
    effective draws), and for the evidence each method's own standard error)."""
    path, truth = two_record
    scenario = load_scenario(TWO)
    record = load_record(path, scenario)
    rej = condition(scenario, TWO, record, replicates=100_000, seed=1, method="rejection")
    smc = smc2(scenario, record, particles=400, seed=2)
    for p in ("mechanisms.affinity", "ties.0.A.B"):
        a, b = rej.posterior.sampled[p], smc.values[p]
        se = math.hypot(a.std() / math.sqrt(len(a)), b.std() / math.sqrt(smc.effective))
        assert abs(a.mean() - b.mean()) < 4 * se, (p, a.mean(), b.mean(), se)
        assert abs(a.std() - b.std()) < 4 * se * math.sqrt(2), (p, a.std(), b.std())
    # the record informs the start: the check compares posteriors, not two copies of the prior
    assert smc.values["ties.0.A.B"].std() < 0.8 / math.sqrt(12)
    se = math.hypot(rej.log_evidence_se, smc.log_evidence_se)
    assert abs(rej.log_evidence - smc.log_evidence) < 4 * se, (rej.log_evidence, smc.log_evidence, se)
    assert smc.effective >= 200 and len(smc.dates) == 4
    assert all(d.ess > 0 for d in smc.dates)


def test_same_seed_same_bytes_on_one_or_two_workers(two_record, tmp_path):
    """An SMC calibration gives the same posterior table and states with one worker or two (one
    kept-alive pool for every stretch), and with the same seed again."""
    path, _ = two_record
    outs = []
    for name, workers in (("a", 1), ("b", 2), ("c", 1)):
        calibrate(
            TWO,
            path,
            method="smc",
            particles=64,
            seed=4,
            out=tmp_path / name,
            workers=workers,
            min_accepted=20,
        )
        outs.append(tmp_path / name)
    for f in ("posterior.parquet", "states.npz", "posterior.toml", "assimilation.csv"):
        first = (outs[0] / f).read_bytes()
        assert all((o / f).read_bytes() == first for o in outs[1:]), f


def test_workers_are_started_once_and_kept_warm_across_stretches(two_record, monkeypatch):
    """Every stretch of the sampler runs on one warm pool, and a second calibration reuses it: the
    same executor for every `run_design` call and the same worker processes throughout (no
    process start per stretch or per call)."""
    from sim.run.executors import WarmPool

    path, _ = two_record
    seen = []
    real_design = particle_filter.run_design

    def spy(*args, **kw):
        seen.append(kw["executor"])
        return real_design(*args, **kw)

    monkeypatch.setattr(particle_filter, "run_design", spy)
    scenario = load_scenario(TWO)
    record = load_record(path, scenario)
    smc2(scenario, record, particles=32, seed=1, workers=2)
    pool = seen[0]
    assert isinstance(pool, WarmPool) and len(seen) > 10
    pids = set(pool._processes)
    smc2(scenario, record, particles=32, seed=2, workers=2)
    assert all(e is pool for e in seen) and set(pool._processes) == pids


def test_the_sampler_runs_on_the_compiled_engine(two_record):
    """The compiled engine continues saved states, so SMC² runs on it too; with the same seed it
    gives the same draws on one worker and on two."""
    pytest.importorskip("numba")
    path, _ = two_record
    scenario = load_scenario(TWO)
    record = load_record(path, scenario)
    runs = [smc2(scenario, record, particles=32, seed=3, workers=w, engine="numba") for w in (1, 2)]
    for p in ("mechanisms.affinity", "ties.0.A.B"):
        assert np.array_equal(runs[0].values[p], runs[1].values[p])
    assert runs[0].log_evidence == runs[1].log_evidence and runs[0].effective > 5


def test_an_engine_that_cannot_continue_saved_states_is_one_line(two_record, monkeypatch):
    """Asking SMC for an engine that cannot continue saved states is a one-line error before any
    work (an engine that refuses saved states stands in for one)."""
    path, _ = two_record
    from sim.model import engines

    class NoSavedStates(engines.NumpyEngine):
        def simulate(self, params, rngs, layout=None, *, state=None, **kw):
            if state is not None:
                raise InputError("--engine stiff: expected a run from the scenario's start")
            return super().simulate(params, rngs, layout, **kw)

    monkeypatch.setitem(engines.ENGINES, "stiff", NoSavedStates)
    scenario = load_scenario(TWO)
    with pytest.raises(
        InputError, match=r"^--engine stiff: cannot continue saved states yet, .*--engine numpy"
    ):
        smc2(scenario, load_record(path, scenario), particles=16, engine="stiff")


def test_systematic_resampling_within_each_filter():
    """Each filter's ancestors stay inside the filter, and their counts are the weights times N_x
    rounded down or up (systematic resampling's property, Kitagawa 1996)."""
    rng = np.random.default_rng(0)
    log_g = np.log(rng.dirichlet(np.ones(8), size=50))
    rows = systematic_rows(log_g, rng)
    assert rows.shape == (50, 8)
    for i in range(50):
        assert ((rows[i] >= 8 * i) & (rows[i] < 8 * (i + 1))).all()
        counts = np.bincount(rows[i] - 8 * i, minlength=8)
        expected = np.exp(log_g[i]) * 8
        assert (counts >= np.floor(expected) - 1e-9).all() and (counts <= np.ceil(expected) + 1e-9).all()


def test_cli_calibrate_auto_says_which_method_and_why(two_record, tmp_path, capsys):
    """The default method is chosen by a pilot and said in one line; forcing SMC reports ESS per
    date and the evidence; the view from today writes the full report of `run`."""
    path, _ = two_record
    out = tmp_path / "cal"
    args = ["calibrate", str(TWO), "--observations", str(path), "-n", "200", "--seed", "3"]
    assert (
        cli.main([*args, "--particles", "64", "--min-accepted", "20", "--out", str(out), "--no-progress"])
        == 0
    )
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if x.startswith("method: "))
    assert line.startswith("method: smc (a pilot of 200 prior replicates expects")
    assert "log evidence" in text and "date        readings  ESS" in text
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "effective sample size (ESS)" in page and "Effective sample size at each date" in page
    assert "binding observation" in page
    code = cli.main(
        ["run", str(out / "posterior.toml"), "--from-observations", "-t", "6", "--out", str(tmp_path / "p")]
    )
    assert code == 0
    assert (tmp_path / "p" / "report.html").is_file() and (tmp_path / "p" / "replicates.parquet").is_file()
    assert "posterior draws" in capsys.readouterr().out


def test_scores_by_smc_evidence_agree_with_the_prior_mean(two_record, tmp_path, capsys):
    """`score --method smc` ranks by the SMC² evidence; on a record the prior estimates well, the
    log Bayes factor agrees with the prior-mean estimate's within 4 standard errors."""
    path, _ = two_record
    stiff = tmp_path / "stiff.toml"
    stiff.write_text(
        TWO.read_text().replace('value = {dist = "uniform", low = -0.2, high = 0.8}', "value = 0.6")
    )
    base = ["score", str(TWO), str(stiff), "--observations", str(path), "-n", "20000", "--no-progress"]
    assert cli.main([*base, "--out", str(tmp_path / "prior")]) == 0
    assert cli.main([*base, "--method", "smc", "--particles", "200", "--out", str(tmp_path / "smc")]) == 0
    import pandas as pd

    a = pd.read_csv(tmp_path / "prior" / "scores.csv").set_index("scenario")
    b = pd.read_csv(tmp_path / "smc" / "scores.csv").set_index("scenario")
    assert list(a.index) == list(b.index)
    bf_a, bf_b = a["log_bf_vs_best"].iloc[1], b["log_bf_vs_best"].iloc[1]
    se = math.hypot(a["log_bf_se"].iloc[1], b["log_bf_se"].iloc[1])
    assert abs(bf_a - bf_b) < 4 * se and bf_b < -3 * b["log_bf_se"].iloc[1]


@pytest.mark.parametrize("history", ["drift_apart", "stab_in_the_back"])
def test_a_record_in_which_the_partnership_ends_is_not_refused(tmp_path, history):
    """A record whose alliance ended (drifting apart, or one partner stabbing the other in the
    back) goes through `calibrate` with its default method, which picks what the record needs: the
    posterior reproduces the ending (a small budget keeps the test short)."""
    small = ROOT / "tests" / "data" / "history_small.toml"
    scenario = load_scenario(small)
    path = tmp_path / f"{history}.toml"
    truth = write_record(path, scenario, seed=3, history=history, pairs=(("A", "B"), ("B", "A")), dates=DATES)
    assert truth.fate == history
    cal = calibrate(small, path, seed=1, replicates=8000, particles=128, min_accepted=60)
    status = len(cal.record) - 1
    assert cal.record.observations[status].kind == "alliance_ended"
    assert cal.posterior_predictive["p_happened"].iloc[status] > 0.5
    assert cal.posterior.effective >= 60


def test_a_run_whose_likelihood_estimates_stayed_noisy_is_flagged():
    """The one-line caution of `calibrate` when var(log L^) stayed above the aim at the cap."""
    from types import SimpleNamespace

    from sim.present.calibration_pages import noise_caution

    def run(*variances):
        dates = [SimpleNamespace(loglik_var=v) for v in variances]
        return SimpleNamespace(dates=dates, state_particles=128)

    assert noise_caution(run(0.5, 1.9, float("nan"))) is None
    assert noise_caution(run(float("nan"), 4.88)) is not None  # a date not measured does not hide one
    line = noise_caution(run(0.8, 4.88))
    assert (
        line is not None
        and line.startswith("caution:")
        and "4.9" in line
        and "128 state particles" in line
        and "max_state_particles" in line
    )
