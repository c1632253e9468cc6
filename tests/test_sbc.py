"""Simulation-based calibration (Talts et al. 2018) of the conditioning on the observed record, on
the small case of tests/data/history_small.toml: truths drawn from the prior, tie observations
simulated from them with the error model, posteriors by ABC rejection from one reference ensemble.
The truth must fall inside the central 90 % posterior interval in about 90 % of 100 repetitions,
and more observations must give narrower posteriors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from sim.analysis.sbc import binned, run_sbc, tie_record

SMALL = Path(__file__).resolve().parent / "data" / "history_small.toml"
ONE = [("A", "B", 23)]
THREE = [("A", "B", 3), ("A", "B", 10), ("A", "B", 23)]


@pytest.fixture(scope="module")
def results():
    return {
        n: run_sbc(SMALL, pairs, repetitions=100, reference=50_000, seed=0)
        for n, pairs in ((1, ONE), (3, THREE))
    }


@pytest.mark.parametrize("n", [1, 3])
def test_truth_inside_the_central_90_percent_interval_about_90_percent_of_the_time(results, n):
    """100 repetitions: a binomial share with sd 3 points; 0.80-0.97 is about -3 to +2.3 sd."""
    r = results[n]
    assert r.repetitions == 100
    for path in ("mechanisms.affinity", "ties.0.A.B", "events.quarrel.hazard"):
        assert 0.80 <= r.coverage[path] <= 0.97, (path, r.coverage)


def test_coverage_with_a_discrete_observation_in_the_record():
    """A mixed record, a tie at step 3 and the alliance reported active or ended at step 23
    (misreported with probability 0.05), covers at the nominal rate too."""
    r = run_sbc(SMALL, [("A", "B", 3)], alliances=(("ab", 23),), repetitions=100, reference=50_000, seed=0)
    for path in ("mechanisms.affinity", "ties.0.A.B", "events.quarrel.hazard"):
        assert 0.80 <= r.coverage[path] <= 0.97, (path, r.coverage)


def test_ranks_of_the_truth_are_uniform(results):
    """Talts et al.'s rank statistic: the truth's rank among posterior draws is uniform, so its
    mean is near 1/2 and no decile is empty or holds a third of the repetitions."""
    for r in results.values():
        for path in ("mechanisms.affinity", "ties.0.A.B"):
            ranks = r.ranks[path]
            assert abs(ranks.mean() - 0.5) < 0.1, (path, ranks.mean())
            counts = np.bincount(np.minimum((ranks * 10).astype(int), 9), minlength=10)
            assert counts.min() >= 1 and counts.max() <= 33, (path, counts)


def test_the_posterior_narrows_with_more_observations(results):
    one, three = results[1], results[3]
    for path in ("mechanisms.affinity", "ties.0.A.B"):
        assert one.posterior_sd[path] < one.prior_sd[path]
        assert three.posterior_sd[path] < 0.9 * one.posterior_sd[path], path
    # a value no observation sees keeps its prior spread
    hazard = "events.quarrel.hazard"
    assert three.posterior_sd[hazard] == pytest.approx(three.prior_sd[hazard], rel=0.1)


def test_a_check_with_a_wrong_error_model_fails():
    """The coverage check can fail: readings with six times the error the likelihood assumes make
    the posterior too narrow, and the truth falls outside its 90 % interval far more often."""
    r = run_sbc(SMALL, THREE, repetitions=100, reference=50_000, seed=0, width=0.15, assumed_width=0.025)
    assert min(r.coverage["ties.0.A.B"], r.coverage["mechanisms.affinity"]) < 0.75, r.coverage


def test_bins_cover_the_scale_and_open_at_its_ends():
    assert binned(np.array([-1.3, -0.95, 0.0, 0.04, 0.99, 1.2]), 0.1) == [
        (-1.0, -0.9),
        (-1.0, -0.9),
        (0.0, 0.1),
        (0.0, 0.1),
        (0.9, 1.0),
        (0.9, 1.0),
    ]
    rec = tie_record(ONE, [(0.9, 1.0)])
    assert rec.observations[0].bounds == (0.9, float("inf"))


def test_sequential_assimilation_covers_at_the_nominal_rate_on_a_small_case():
    """SBC of SMC² (sim.analysis.sbc.sbc_repetition) on the two-parameter case: 24 truths from the
    prior, each read at 4 dates (+-0.1 around the true tie, width 0.05), 64 parameter particles.
    The count of truths inside the central 90 % interval is Binomial(24, 0.9) if the sampler is
    right (mean 21.6, sd 1.5): at least 18 (below that is 2.4 sd short; a posterior half as wide
    as it should be would cover about 60 %). The truth's mean rank is 1/2 within 3 sd of a mean
    of 24 uniforms (0.18). The full check on the informative 33-reading records of the status quo
    is benchmarks/sbc_informative.py."""
    import datetime as dt

    from sim.analysis.sbc import sbc_repetition, summarise_repetitions

    two = Path(__file__).resolve().parent / "data" / "two_params.toml"
    dates = (dt.date(2022, 6, 4), dt.date(2022, 12, 4), dt.date(2023, 6, 4), dt.date(2024, 1, 4))
    params = ("mechanisms.affinity", "ties.0.A.B")
    reps = [
        sbc_repetition(two, i, params=params, particles=64, pairs=(("A", "B"),), dates=dates, half_width=0.1)
        for i in range(24)
    ]
    r = summarise_repetitions(reps, {p: 1.0 for p in params})
    for p in params:
        assert round(r.coverage[p] * 24) >= 18, (p, r.coverage)
        assert abs(r.ranks[p].mean() - 0.5) < 0.18, (p, r.ranks[p].mean())
    assert r.posterior_sd["ties.0.A.B"] < 0.7 * 1.0 / np.sqrt(12)  # the record informs the start


def test_a_series_record_is_drawn_from_the_error_model_the_likelihood_assumes(tmp_path):
    """The informative SBC's series record: 32 rows read as tie + N(0, sd) and the alliance's status,
    loadable against the status quo read on the tie's scale; the rows' errors have the stated sd."""
    from sim import load_scenario
    from sim.analysis import synthetic
    from sim.analysis.sbc import series_observations
    from sim.spec.observations import load_record

    root = Path(__file__).resolve().parents[1]
    scenario = load_scenario(root / "benchmarks" / "status_quo_series.toml")
    truth = synthetic.draw_truth(scenario, seed=3, candidates=1)
    text = series_observations(
        truth, tmp_path, pairs=synthetic.PAIRS, dates=synthetic.DATES, sd=0.1, seed=3, alliance="china_russia"
    )
    (tmp_path / "record.toml").write_text(text, encoding="utf-8")
    record = load_record(tmp_path / "record.toml", scenario)
    assert len(record.observations) == 33
    kinds = [o.kind for o in record.observations]
    assert (
        kinds.count("tie_series") == 32
        and kinds.count("alliance_active") + kinds.count("alliance_ended") == 1
    )
    values = np.array([o.value for o in record.observations if o.kind == "tie_series"])
    errors = values - truth.ties.ravel()
    assert 0.05 < errors.std() < 0.15 and abs(errors.mean()) < 0.06  # 32 draws of N(0, 0.1)


def test_summary_of_repetitions_counts_means_moved_toward_the_truth():
    from sim.analysis.sbc import Repetition, summarise_repetitions

    def rep(truth, mean, sd):
        return Repetition({"x": truth}, {"x": True}, {"x": sd}, {"x": 0.5}, 100.0, "holds", 1.0, {"x": mean})

    reps = [rep(1.0, 0.5, 0.1), rep(-1.0, -0.2, 0.3), rep(1.0, -0.1, 0.1), rep(-1.0, 0.4, 0.1)]
    res = summarise_repetitions(reps, {"x": 1.0}, {"x": 0.0})
    assert res.toward["x"] == 0.5
    assert res.posterior_sd["x"] == pytest.approx(0.15)
    assert res.rms_sd["x"] == pytest.approx(np.sqrt((0.01 * 3 + 0.09) / 4))
