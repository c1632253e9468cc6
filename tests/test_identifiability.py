"""What a record can tell before calibration (sim.analysis.identifiability): the regression bound
against exact posterior moments, and the command `identify`."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from sim import cli, load_scenario
from sim.analysis import synthetic
from sim.analysis.identifiability import reach_from_draws, record_reach

ROOT = Path(__file__).resolve().parents[1]
SMALL = ROOT / "tests" / "data" / "history_small.toml"
STATUS_QUO = ROOT / "scenarios" / "status_quo.toml"


def close(estimate: float, error: float, exact: float, slack: float = 0.0) -> bool:
    return abs(estimate - exact) <= 4 * error + slack


def test_a_linear_gaussian_record_gives_the_exact_posterior_sd_and_direction():
    """theta ~ N(0, 1) read four times with N(0, 1) errors: the posterior variance is 1 / (1 + 4),
    so the sd ratio is sqrt(0.2) = 0.447; the posterior mean is 0.8 x-bar, correlated with theta by
    rho = sqrt(0.8), so it lies on the truth's side of 0 with probability 1/2 + asin(rho)/pi = 0.852."""
    rng = np.random.default_rng(1)
    n = 20_000
    theta = rng.standard_normal(n)
    x = theta[:, None] + rng.standard_normal((n, 4))
    r = reach_from_draws(x, {"theta": theta})
    assert close(r.sd_ratio["theta"], r.sd_ratio_error["theta"], math.sqrt(0.2), slack=0.005)
    assert close(r.toward["theta"], r.toward_error["theta"], 0.5 + math.asin(math.sqrt(0.8)) / math.pi)
    assert r.halves("theta") == "yes"


def test_a_value_the_record_does_not_read_keeps_its_prior_spread():
    rng = np.random.default_rng(2)
    n = 8_000
    read, unread = rng.standard_normal(n), rng.uniform(0, 1, n)
    r = reach_from_draws(read[:, None] + 0.1 * rng.standard_normal((n, 3)), {"read": read, "unread": unread})
    assert r.sd_ratio["unread"] > 0.99 and r.halves("unread") == "no"
    assert close(r.toward["unread"], r.toward_error["unread"], 0.5)
    assert r.sd_ratio["read"] < 0.1 and r.ranked()[0] == "read"


def test_a_nonlinear_reading_and_readings_a_replicate_never_reached():
    """A cube of the value is read exactly where the polynomial reaches it; NaN readings (a replicate
    whose alliance had ended, say) count as missing, with an indicator."""
    rng = np.random.default_rng(3)
    n = 6_000
    theta = rng.uniform(-1, 1, n)
    x = np.column_stack([theta**3, np.where(theta > 0.5, np.nan, theta)])
    r = reach_from_draws(x, {"theta": theta})
    assert r.sd_ratio["theta"] < 0.2 and r.readings == 2
    with pytest.raises(ValueError, match="at least 40 replicates"):
        reach_from_draws(x[:20], {"theta": theta[:20]})


def test_eight_ties_at_four_dates_cannot_halve_the_prior_sd_of_the_coefficients():
    """The informative record of the README (8 ties at 4 yearly dates and the alliance's status),
    read exactly, leaves competition, threat and pressure above half their prior sd."""
    scenario = load_scenario(STATUS_QUO)
    record = synthetic._raw(synthetic.PAIRS, synthetic.DATES, scenario.focal_alliance, scenario)
    r = record_reach(scenario, record, replicates=6_000, seed=1)
    assert r.readings == 33
    for p in ("mechanisms.competition", "mechanisms.threat", "mechanisms.pressure"):
        assert r.halves(p) == "no", (p, r.sd_ratio[p], r.sd_ratio_error[p])
    assert r.sd_ratio["mechanisms.competition"] < r.sd_ratio["mechanisms.pressure"]


def test_cli_identify_prints_the_table_and_refuses_unknown_values(tmp_path, capsys):
    obs = tmp_path / "obs.toml"
    obs.write_text(
        'start = 2022-02-04\nunit = "month"\n[[observations]]\nid = "t1"\ndate = 2023-02-10\n'
        'kind = "tie_range"\nfrom = "A"\nto = "B"\nlow = 0.2\nhigh = 0.6\nwidth = 0.05\nbasis = "test"\n'
        '[observations.source]\noutlet = "x"\npublished = 2023-02-10\nurl = "https://example.org/t1"\n'
        'paraphrase = "the two partners were reported on at that time"\n'
    )
    args = ["identify", str(SMALL), "--observations", str(obs), "-n", "2000", "--no-progress"]
    assert cli.main(args) == 0
    out = capsys.readouterr().out
    assert "1 readings, 2,000 prior replicates" in out and "post sd / prior sd" in out
    assert "mechanisms.affinity" in out
    assert cli.main([*args, "--values", "mechanisms.nonesuch"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "mechanisms.nonesuch" in err[0] and "alliance-sim show" in err[0]
    assert (
        cli.main(["identify", str(SMALL), "--observations", str(tmp_path / "none.toml"), "--no-progress"])
        == 2
    )
    assert "none.toml" in capsys.readouterr().err


def test_record_reach_of_a_small_scenario_covers_its_uncertain_values():
    scenario = load_scenario(SMALL)
    record = synthetic._raw((("A", "B"),), synthetic.DATES[:2], None, scenario)
    r = record_reach(scenario, record, replicates=1_000)
    assert r.readings == 2 and "mechanisms.affinity" in r.params and set(r.params) == set(r.prior_sd)
    assert all(0 < r.sd_ratio[p] for p in r.params)
