"""Sensitivity analysis and scenario discovery (sim.analysis.sensitivity).

What these protect: the SALib path gives the known Sobol indices of the Ishigami function; every
uncertain value set through :func:`sim.analysis.sensitivity.override` lands where ``compile_params`` puts it;
design outputs are matched to design rows by index, whatever order the workers finish in; the
factors follow the scenario's distributions; PRIM finds a planted box; the CLI commands work.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("SALib")

from sim.analysis import discovery as disc  # noqa: E402
from sim.analysis import sensitivity as an  # noqa: E402
from sim.cli import main  # noqa: E402
from sim.present import text  # noqa: E402
from sim.spec.parammap import slots  # noqa: E402
from sim.spec.params import assemble, compile_params  # noqa: E402
from sim.spec.scenario import Scenario, ScenarioError, load_scenario  # noqa: E402
from sim.spec.values import Beta, Normal, Triangular  # noqa: E402
from tests.conftest import DATA, ROOT, set_path, stand_in_run  # noqa: E402

# --------------------------------------------------------------------------------------------
# Ishigami: known indices through the same design/analysis code the model uses
# --------------------------------------------------------------------------------------------

ISHIGAMI_A, ISHIGAMI_B = 7.0, 0.1


def ishigami(X):
    x1, x2, x3 = X[:, 0], X[:, 1], X[:, 2]
    return np.sin(x1) + ISHIGAMI_A * np.sin(x2) ** 2 + ISHIGAMI_B * x3**4 * np.sin(x1)


def ishigami_indices():
    """Analytic first-order and total indices (Ishigami & Homma 1990; Sobol' & Levitan 1999)."""
    a, b, pi = ISHIGAMI_A, ISHIGAMI_B, math.pi
    v1 = 0.5 * (1 + b * pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * pi**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


def test_ishigami_sobol_indices_match_the_analytic_values_within_salib_intervals():
    factors = [an.Factor.uniform(f"x{i}", -math.pi, math.pi) for i in (1, 2, 3)]
    U = an.sobol_design(factors, 4096, seed=3)
    assert U.shape == (4096 * 5, 3)
    Y = ishigami(an.to_scale(factors, U))
    df = an.sobol_indices(factors, Y, seed=3).loc[["x1", "x2", "x3"]]
    s1, st = ishigami_indices()
    assert np.all(np.abs(df.S1.to_numpy() - s1) <= df.S1_conf.to_numpy()), df
    assert np.all(np.abs(df.ST.to_numpy() - st) <= df.ST_conf.to_numpy()), df
    # and the intervals are informative, not wide enough to hold anything
    assert df.S1_conf.max() < 0.1 and df.ST_conf.max() < 0.1


def test_morris_ranks_the_ishigami_factors():
    factors = [an.Factor.uniform(f"x{i}", -math.pi, math.pi) for i in (1, 2, 3)]
    U = an.morris_design(factors, 200, seed=1)
    df = an.morris_indices(factors, U, ishigami(an.to_scale(factors, U)), seed=1)
    # x2 has the largest elementary effects, x3 acts only through its interaction with x1
    assert list(df.index[:1]) == ["x2"]
    assert df.loc["x3", "mu"] == pytest.approx(0.0, abs=0.5)


# --------------------------------------------------------------------------------------------
# Factors follow the scenario's distributions
# --------------------------------------------------------------------------------------------


def test_factor_ppf_follows_each_distribution():
    from scipy import stats

    u = np.linspace(0.001, 0.999, 41)
    tri = an.Factor("t", Triangular(dist="triangular", low=1.0, mode=1.5, high=4.0), 1.0, 4.0)
    np.testing.assert_allclose(tri.ppf(u), stats.triang(c=0.5 / 3, loc=1, scale=3).ppf(u))
    beta = an.Factor("b", Beta(dist="beta", a=2.0, b=5.0, low=-1.0, high=1.0), -1.0, 1.0)
    np.testing.assert_allclose(beta.ppf(u), -1 + 2 * stats.beta(2, 5).ppf(u))
    norm = an.Factor("n", Normal(dist="normal", mean=0.4, sd=0.2), 0.0, 1.0)
    x = norm.ppf(u)
    assert x.min() >= 0.0 and x.max() <= 1.0 and np.all(np.diff(x) > 0)
    assert norm.ppf(0.5) == pytest.approx(
        0.4 + 0.2 * stats.norm.ppf(0.5 * (stats.norm.cdf(-2) + stats.norm.cdf(3))), abs=1e-9
    )


def test_normal_factor_is_cut_at_three_sd_and_the_bounds(write):
    path = write("""
        [actors.A]
        capability = 0.5
        [actors.B]
        capability = 0.5
        [[ties]]
        from = "A"
        to = "B"
        value = {dist = "normal", mean = 0.9, sd = 0.1}
        [mechanisms]
        noise = {dist = "normal", mean = 0.5, sd = 0.1}
        """)
    factors = {f.name: f for f in an.scenario_factors(load_scenario(path))}
    assert (factors["ties.0.A.B"].low, factors["ties.0.A.B"].high) == pytest.approx((0.6, 1.0))
    assert (factors["mechanisms.noise"].low, factors["mechanisms.noise"].high) == pytest.approx((0.2, 0.8))


def test_include_selects_factors_by_glob():
    s = load_scenario(ROOT / "seeds" / "baseline.toml")
    names = [f.name for f in an.scenario_factors(s, ["mechanisms.*", "alliances.china_russia.h0"])]
    assert names == [
        f"mechanisms.{c}"
        for c in ("affinity", "balance", "threat", "pressure", "competition", "dependence", "noise")
    ] + ["alliances.china_russia.h0"]


# --------------------------------------------------------------------------------------------
# override() puts each value where compile_params would
# --------------------------------------------------------------------------------------------

DISTS = ("uniform", "triangular", "normal", "beta")


def _all_uncertain(scenario: Scenario) -> Scenario:
    """The scenario with every numeric value made uncertain (cycling through the four kinds)."""
    data = scenario.model_dump(by_alias=True, exclude_none=True)
    actors = scenario.actor_names
    for n, slot in enumerate(slots(scenario)):
        path, v = slot.path, slot.value
        v = float(v) if isinstance(v, (int, float)) else v.point()
        lo, hi = slot.bounds
        lo, hi = max(lo, -1e9), min(hi, 1e9)
        d = 0.1 * max(abs(v), 0.1)
        a, b = max(lo, v - d), min(hi, v + d)
        kind = DISTS[n % 4]
        spec = {
            "uniform": {"dist": "uniform", "low": a, "high": b},
            "triangular": {"dist": "triangular", "low": a, "mode": v, "high": b},
            "normal": {"dist": "normal", "mean": v, "sd": d},
            "beta": {"dist": "beta", "a": 2.0, "b": 3.0, "low": a, "high": b},
        }[kind]
        set_path(data, path, spec, actors)
    return Scenario.model_validate(data)


def _arrays(p):
    out = {
        k: getattr(p, k)
        for k in (
            "capability",
            "growth",
            "position",
            "salience",
            "ties",
            "ambition",
            "strategic_value",
            "dependence",
            "pressure_values",
        )
    }
    out.update({f"coef.{k}": v for k, v in p.coef.items()})
    for e in p.events:
        if e.hazard is not None:
            out[f"event.{e.name}.hazard"] = e.hazard
        for i, f in enumerate(e.effects):
            out[f"event.{e.name}.{i}"] = f.value
    for a in p.alliances:
        for k in ("theta_stay", "theta_trust", "h0", "beta", "power_shift", "betrayal_shock", "reputation"):
            out[f"alliance.{a.name}.{k}"] = getattr(a, k)
    return out


@pytest.mark.parametrize("source", ["all_mechanisms", "baseline"])
def test_assemble_puts_every_design_value_where_compile_params_would(source):
    path = DATA / "all_mechanisms.toml" if source == "all_mechanisms" else ROOT / "seeds" / "baseline.toml"
    scenario = load_scenario(path)
    if source == "all_mechanisms":
        scenario = _all_uncertain(scenario)
    factors = an.scenario_factors(scenario)
    heads = {f.name.split(".")[0] for f in factors}
    if source == "all_mechanisms":  # every kind of parameter, every distribution
        assert heads == {
            "actors",
            "positions",
            "salience",
            "ties",
            "spheres",
            "dependence",
            "pressure",
            "mechanisms",
            "events",
            "alliances",
        }
        assert {f.dist for f in factors} == set(DISTS)
        assert any(f.name.startswith("pressure.A.") for f in factors)  # a schedule's knots
    else:
        assert len(factors) >= 180
    rng = np.random.default_rng(5)
    x = {f.name: float(f.ppf(rng.random())) for f in factors}
    data = scenario.model_dump(by_alias=True, exclude_none=True)
    for name, value in x.items():
        set_path(data, name, value, scenario.actor_names)
    expected = compile_params(Scenario.model_validate(data), 2)
    drawn = compile_params(scenario, 2, np.random.default_rng(9)).sampled
    got = assemble(scenario, 2, {**drawn, **{k: np.full(2, v) for k, v in x.items()}})
    want, have = _arrays(expected), _arrays(got)
    assert want.keys() == have.keys()
    for key in want:
        np.testing.assert_allclose(have[key], want[key], rtol=1e-12, atol=1e-15, err_msg=key)
    for name, value in x.items():
        assert got.sampled[name] == pytest.approx([value, value])


def test_assemble_rejects_unknown_paths():
    scenario = load_scenario(DATA / "all_mechanisms.toml")
    with pytest.raises(ScenarioError, match="mechanisms.nosuch"):
        assemble(scenario, 1, {"mechanisms.nosuch": np.ones(1)})


def test_assemble_of_the_drawn_values_is_compile_params():
    """Compiling is drawing every uncertain slot and assembling: the two paths give the same arrays."""
    scenario = _all_uncertain(load_scenario(DATA / "all_mechanisms.toml"))
    direct = compile_params(scenario, 5, np.random.default_rng(3))
    again = assemble(scenario, 5, direct.sampled)
    want, have = _arrays(direct), _arrays(again)
    for key in want:
        np.testing.assert_array_equal(have[key], want[key], err_msg=key)


# --------------------------------------------------------------------------------------------
# Running a design: by index, not by completion order
# --------------------------------------------------------------------------------------------


def test_design_outputs_do_not_depend_on_blocks_or_workers():
    scenario = load_scenario(DATA / "all_mechanisms.toml")
    factors = an.scenario_factors(_all_uncertain(scenario), ["mechanisms.*"])
    scenario = _all_uncertain(scenario)
    X = an.to_scale(factors, np.random.default_rng(0).random((12, len(factors))))
    a = an.evaluate_design(
        scenario, factors, X, replicates=8, workers=1, progress=False, block_rows=32, crn_stride=3
    )
    b = an.evaluate_design(
        scenario, factors, X, replicates=8, workers=2, progress=False, block_rows=16, crn_stride=3
    )
    pd.testing.assert_frame_equal(a, b)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    assert a.p_stab.nunique() > 1  # the design moves the outcome


def test_common_random_numbers_within_a_stride_and_independent_draws_across():
    """Equal design rows give equal shares when they share their random numbers (same stride
    group) and, in general, different shares when they do not: the engine really is stochastic
    and the common random numbers really are common."""
    scenario = load_scenario(ROOT / "scenarios" / "stab_in_the_back.toml").with_run(steps=48)
    factors = an.scenario_factors(scenario, ["mechanisms.*"])
    row = an.to_scale(factors, np.full((1, len(factors)), 0.5))
    X = np.repeat(row, 8, axis=0)
    shared = an.evaluate_design(scenario, factors, X, replicates=64, workers=1, progress=False, crn_stride=8)
    assert shared.p_holds.nunique() == 1
    apart = an.evaluate_design(scenario, factors, X, replicates=64, workers=1, progress=False, crn_stride=1)
    assert apart.p_holds.nunique() > 1


def test_design_means_agree_with_the_ensemble_engine():
    """Averaged over design points drawn from the scenario's distributions, the shares match a
    plain ensemble run (same model, different random numbers)."""
    from sim.run.ensemble import run_ensemble

    scenario = load_scenario(ROOT / "scenarios" / "stab_in_the_back.toml").with_run(steps=60)
    factors = an.scenario_factors(scenario)
    X = an.to_scale(factors, np.random.default_rng(4).random((64, len(factors))))
    out = an.evaluate_design(scenario, factors, X, replicates=64, workers=1, progress=False, crn_stride=1)
    table = run_ensemble(scenario, replicates=4096, seed=11, progress=False).replicates
    fate = table[f"{scenario.focal_alliance}.fate"]
    for k, col in an.OUTPUTS.items():
        assert out[col].mean() == pytest.approx((fate == k).mean(), abs=0.05), k


# --------------------------------------------------------------------------------------------
# Scenario discovery
# --------------------------------------------------------------------------------------------


def _planted(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    reps = pd.DataFrame(
        {
            "param:a": rng.random(n),
            "param:b": rng.random(n),
            "param:c": rng.random(n),
            "param:k": rng.integers(0, 5, n),
            "param:fixed": np.ones(n),
        }
    )
    inside = (reps["param:a"] > 0.7) & (reps["param:b"] < 0.3)
    hit = np.where(inside, rng.random(n) < 0.8, rng.random(n) < 0.03)
    reps["al.fate"] = np.where(hit, "stab_in_the_back", "holds")
    reps["al.defector"] = np.where(hit, "X", "")
    return stand_in_run(reps, directory="planted")


def test_prim_finds_a_planted_box_from_float_and_integer_parameters():
    d = disc.discover(_planted(), "stab_in_the_back", boxes=1, min_coverage=0.6)
    box = d.boxes[0]
    assert set(box.limits.index) == {"a", "b"}
    assert box.limits.loc["a", "low"] == pytest.approx(0.7, abs=0.05)
    assert box.limits.loc["b", "high"] == pytest.approx(0.3, abs=0.05)
    assert box.density > 0.6 and box.coverage >= 0.6
    assert "fixed" not in d.dimensions
    table = d.table()
    assert list(table.dimension) == list(box.limits.index)
    assert "2 restricted dimensions" in text.format_discovery(d)


def test_discover_refuses_unknown_outcomes_and_alliances():
    with pytest.raises(an.AnalysisError, match="outcome"):
        disc.discover(_planted(), "betrayal")
    with pytest.raises(an.AnalysisError, match="alliance"):
        disc.discover(_planted(), alliance="nato")


# --------------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------------


def test_cli_sensitivity_writes_tables_figure_and_page(tmp_path, capsys):
    out = tmp_path / "sens"
    code = main(
        [
            "sensitivity",
            str(DATA / "all_mechanisms.toml"),
            "--samples",
            "8",
            "-R",
            "4",
            "--include",
            "alliances.*",
            "--include",
            "actors.*",
            "--alliance",
            "ab",
            "-j",
            "1",
            "--steps",
            "20",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "P(stab in the back) of ab" in text and "actors.B.capability" in text
    indices = pd.read_csv(out / "indices.csv")
    assert set(indices.output) == {"p_holds", "p_stab", "p_drift"}
    design = pd.read_parquet(out / "design.parquet")
    assert len(design) == 8 * (1 + 2) and "p_stab" in design
    assert (out / "report_figures" / "sensitivity.png").stat().st_size > 1000
    page = (out / "report.html").read_text()
    assert "<script" not in page and "not a forecast" in page
    assert "S1_conf" not in page and "ST_conf" not in page  # headers in words


def test_cli_sensitivity_reports_bad_input_in_one_line(capsys):
    code = main(["sensitivity", str(DATA / "all_mechanisms.toml"), "--include", "nothing.*", "--no-progress"])
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "nothing.*" in err and len(err.splitlines()) == 1


def test_cli_discover_on_a_run(tmp_path, capsys):
    from sim.run.ensemble import run_ensemble

    run = tmp_path / "run"
    run_ensemble(
        ROOT / "scenarios" / "stab_in_the_back.toml",
        replicates=3000,
        steps=48,
        out=run,
        progress=False,
        workers=1,
    )
    code = main(["discover", str(run), "--outcome", "stab_in_the_back"])
    assert code == 0
    text = capsys.readouterr().out
    assert ("box 1: coverage" in text and "lift" in text) or "box 1: no region can be named" in text
    boxes = pd.read_csv(run / "discovery" / "prim_stab_in_the_back.csv")
    assert list(boxes.columns[:5]) == ["box", "coverage", "density", "mass", "dimension"]
    assert (boxes.low <= boxes.high).all()
    assert "<script" not in (run / "discovery" / "discovery_stab_in_the_back.html").read_text()
    assert main(["discover", str(run), "--outcome", "nonsense"]) == 2
    # --include is honoured for a run folder: PRIM sees only the mechanisms
    capsys.readouterr()
    assert main(["discover", str(run), "--include", "mechanisms.*", "--out", str(tmp_path / "d")]) == 0
    assert "7 uncertain parameters" in capsys.readouterr().out
    assert main(["discover", str(run), "--include", "nothing.*"]) == 2
    assert "nothing.*" in capsys.readouterr().err


def test_every_slot_has_finite_ordered_bounds():
    for slot in slots(load_scenario(DATA / "all_mechanisms.toml")):
        lo, hi = slot.bounds
        assert np.isfinite(lo) and np.isfinite(hi) and lo < hi, slot.path
