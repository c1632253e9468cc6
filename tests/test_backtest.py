"""Out-of-sample skill (sim/analysis/backtest.py): calibrate up to a date, predict the later
readings, score them with proper scores against the prior predictive and persistence, every score
with its Monte Carlo error."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.stats import norm

from sim import cli, load_scenario
from sim.analysis.backtest import backtest, persistence, split
from sim.analysis.scoring import crps_ensemble
from sim.errors import InputError
from sim.spec.observations import load_record

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "history_small.toml"


def reading(id, date, body):
    return (
        f'[[observations]]\nid = "{id}"\ndate = {date}\n{body}basis = "test"\n[observations.source]\n'
        f'outlet = "x"\npublished = {date}\nurl = "https://example.org/{id}"\n'
        'paraphrase = "the two partners were reported on at that time"\n'
    )


def tie(low, high):
    return f'kind = "tie_range"\nfrom = "A"\nto = "B"\nlow = {low}\nhigh = {high}\nwidth = 0.05\n'


ACTIVE = 'kind = "alliance_active"\nalliance = "ab"\nerror = 0.05\n'


@pytest.fixture
def record_path(tmp_path):
    """The A-B tie sinking from about 0.5 to about -0.15 over two years, the alliance in force."""
    body = "".join(
        [
            reading("t1", "2022-06-10", tie(0.3, 0.6)),
            reading("t2", "2022-12-10", tie(0.05, 0.35)),
            reading("a1", "2022-12-10", ACTIVE),
            reading("t3", "2023-06-10", tie(-0.15, 0.15)),
            reading("t4", "2023-12-10", tie(-0.25, 0.0)),
            reading("a2", "2023-12-10", ACTIVE),
        ]
    )
    path = tmp_path / "obs.toml"
    path.write_text('start = 2022-02-04\nunit = "month"\n' + body)
    return path


def test_crps_of_an_ensemble_matches_the_normal_closed_form():
    """Gneiting & Raftery (2007): CRPS(N(mu, s^2), y) = s (z (2 Phi(z) - 1) + 2 phi(z) - 1/sqrt(pi))."""
    draws = norm.ppf((np.arange(20_000) + 0.5) / 20_000, loc=0.3, scale=0.2)
    for y in (-0.4, 0.3, 0.9):
        z = (y - 0.3) / 0.2
        exact = 0.2 * (z * (2 * norm.cdf(z) - 1) + 2 * norm.pdf(z) - 1 / math.sqrt(math.pi))
        assert crps_ensemble(draws, y) == pytest.approx(exact, abs=1e-4)


def test_split_needs_readings_on_both_sides(record_path):
    record = load_record(record_path, load_scenario(SMALL))
    fit, test = split(record, dt.date(2022, 12, 31))
    assert [o.id for o in fit.observations] == ["t1", "t2", "a1"]
    assert [o.id for o in test.observations] == ["t3", "t4", "a2"]
    for until in (dt.date(2022, 1, 1), dt.date(2024, 1, 1)):
        with pytest.raises(
            InputError, match=r"^--until: expected a date between the record's first and last"
        ):
            split(record, until)


def test_persistence_carries_the_last_reading_of_the_same_thing(record_path):
    record = load_record(record_path, load_scenario(SMALL))
    fit, test = split(record, dt.date(2022, 12, 31))
    draws = persistence(fit, test, np.random.default_rng(0), n=20_000)
    # the tie drawn uniformly in the last range read of it, [0.05, 0.35]
    assert draws[:, 0].min() >= 0.05 and draws[:, 0].max() <= 0.35
    assert draws[:, 0].mean() == pytest.approx(0.2, abs=0.01)
    # the alliance in force as last read, unless that reading was a misreading (error 0.05)
    assert draws[:, 2].mean() == pytest.approx(0.95, abs=0.01)


def test_the_calibrated_forecast_beats_the_prior_on_a_predictable_record(record_path):
    """Readings that keep the early trend are predicted better after calibrating on the early
    ones than by the prior (log score, beyond twice the Monte Carlo error), and every score comes
    with its Monte Carlo error."""
    bt = backtest(SMALL, record_path, dt.date(2022, 12, 31), replicates=4000, seed=2, method="rejection")
    table = bt.table.set_index(["forecaster", "score"])
    assert set(bt.draws) == {"calibrated", "prior", "persistence"}
    assert (table["mc_se"] > 0).all() and np.isfinite(table["mean"]).all()
    log = bt.differences.set_index(["score", "against"]).loc[("log", "prior")]
    assert log["difference"] > 2 * log["mc_se"] and log["verdict"] == "calibrated better"
    assert len(bt.common) == 3 and list(bt.readings["id"]) == ["t3", "t4", "a2"]
    assert set(bt.differences["readings"]) == {1, 2, 3}  # Brier: the fact; CRPS: the ranges; log: all


def test_cli_backtest_prints_the_table_and_writes_the_page(record_path, tmp_path, capsys):
    out = tmp_path / "bt"
    args = ["backtest", str(SMALL), "--observations", str(record_path), "--until", "2022-12-31"]
    assert cli.main([*args, "-n", "3000", "--method", "rejection", "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    assert "calibrated" in text and "persistence" in text and "log score (higher is better)" in text
    assert "Monte Carlo error" in text
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "Does the calibrated model predict what it has not seen?" in page and "<script" not in page.lower()
    assert (out / "backtest.csv").is_file() and (out / "backtest_readings.csv").is_file()
    assert cli.main([*args[:-1], "2030-01-01", "--no-progress"]) == 2
