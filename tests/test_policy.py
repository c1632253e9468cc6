"""Policies on common worlds: the planted problem, common random numbers, search, vulnerability
and the commands."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import cli
from sim.analysis.levers import PolicyError, choose_policies, evaluate, load_policy_results
from sim.analysis.policy_tables import vulnerability
from sim.spec.scenario import load_scenario
from tests.conftest import DATA, ROOT

PLANTED = DATA / "planted.toml"
POLICY = ROOT / "scenarios" / "policy.toml"


@pytest.fixture(scope="module")
def planted_grid():
    return evaluate(PLANTED, grid_values=3, worlds=24, replicates=4, progress=False)


def test_levers_ranks_the_planted_policy_first(planted_grid):
    """On the planted problem (tests/data/planted.toml: P(holds) rises with 'warmth' under common
    random numbers, 'decoy' only costs), the grid's policy (warmth 0.4, decoy 0) has zero regret in
    every world on both metrics and ranks first; P(holds) never falls as warmth rises."""
    t = planted_grid.table
    best = t.sort_values("rank").iloc[0]
    assert (best["lever:warmth"], best["lever:decoy"]) == (0.4, 0.0)
    assert best["regret:holds:max"] == 0.0 and best["regret:decoy_cost:max"] == 0.0
    assert best["satisficing"] == t["satisficing"].max()
    M = planted_grid.metrics
    warmth = t["lever:warmth"].to_numpy()
    decoy0 = t["lever:decoy"].to_numpy() == 0
    order = np.argsort(warmth[decoy0], kind="stable")
    holds = M[decoy0][order, :, 0]  # (policies by warmth, worlds)
    assert (np.diff(holds, axis=0) >= 0).all()
    assert holds[-1].mean() > holds[0].mean() + 0.3  # the lever matters


def test_identical_policies_give_identical_metrics_bit_for_bit():
    """Two identical policies (in different chunks and at different rows) give the same metrics
    to the last bit; a different policy gives different ones (noise, events and ties all on)."""
    s = load_scenario(POLICY)
    given = {
        "sanctions_russia": [0.2, 0.1, 0.2],
        "belt_and_road": [-0.1, 0.3, -0.1],
        "nato_stance": [0.2, 0.2, 0.2],
    }
    r = evaluate(s, policy_values=given, worlds=3, replicates=2, steps=12, chunk_size=8, progress=False)
    M = r.metrics
    assert M.shape == (3, 3, len(s.metrics))
    tie = r.objectives.names.index("west_nato_russia")
    assert np.array_equal(M[0], M[2])
    assert not np.array_equal(M[0, :, tie], M[1, :, tie])


def test_status_quo_is_policy_zero_and_owner_restricts_levers():
    """Policy 0 is every lever at its status quo; with an owner only its levers vary and its
    metrics (with the unowned ones) judge."""
    s = load_scenario(POLICY)
    p = choose_policies(s, policies=5, owner="China", seed=1)
    assert all(v[0] == s.levers[k].status_quo_value for k, v in p.items())
    varied = {k for k, v in p.items() if np.unique(v).size > 1}
    assert varied == {"belt_and_road", "ukraine_technology"}
    with pytest.raises(PolicyError, match="unknown actor 'Atlantis'"):
        choose_policies(s, policies=5, owner="Atlantis")
    # the options lever takes only its options
    q = choose_policies(s, policies=9, owner="NATO", seed=2)
    assert set(q["nato_stance"]) <= {-0.2, 0.0, 0.2}


def test_write_and_read_back(planted_grid, tmp_path):
    """policies.parquet has lever:, metric:, regret: and satisficing columns; the folder reads
    back to the same metrics and robustness."""
    planted_grid.write(tmp_path)
    t = pd.read_parquet(tmp_path / "policies.parquet")
    for col in (
        "lever:warmth",
        "lever:decoy",
        "metric:holds",
        "regret:holds",
        "metric:decoy_cost",
        "regret:decoy_cost",
        "satisficing",
        "rank",
    ):
        assert col in t.columns
    back = load_policy_results(tmp_path)
    np.testing.assert_array_equal(back.metrics, planted_grid.metrics)
    np.testing.assert_array_equal(back.robustness.rank(), planted_grid.robustness.rank())


def test_vulnerability_finds_where_the_best_policy_fails():
    """PRIM on the worlds where the planted best policy misses P(holds) >= 0.6. The alliance
    fails where its members drift apart in interests (A's position low, B's high: affinity pulls
    the tie toward a lower similarity), where it is held to a stricter stay threshold, or where
    the tie starts low; every restriction the box makes must point that way."""
    r = evaluate(
        PLANTED, policy_values={"warmth": [0.4], "decoy": [0.0]}, worlds=300, replicates=4, progress=False
    )
    d = vulnerability(r, 0)
    assert 0 < d.cases < d.n
    box = d.boxes[0]
    assert len(box.limits) >= 1 and box.density > d.base_rate
    cuts_top = {"positions.A.x", "ties.0.A.B"}  # failures at low values
    cuts_bottom = {"positions.B.x", "alliances.ab.theta_stay"}  # failures at high values
    for dim, lim in box.limits.iterrows():
        assert dim in cuts_top | cuts_bottom, dim
        if dim in cuts_top:
            assert lim.high < lim.full_high and lim.low == lim.full_low, dim
        else:
            assert lim.low > lim.full_low and lim.high == lim.full_high, dim


def test_optimize_finds_the_planted_policy():
    """NSGA-II over the planted problem ends with a non-dominated set led by (warmth near 0.4,
    decoy near 0), its hypervolume ends at least where the first generation started, the set is
    listed once per lever setting, sorted by the first metric, with the status quo, and each
    policy is run again on fresh worlds (values and standard errors)."""
    pytest.importorskip("platypus")
    from sim.analysis.optimize import FRESH_PREFIX, optimize

    r = optimize(PLANTED, evaluations=600, population=20, worlds=16, replicates=2, seed=3, progress=False)
    best = r.pareto.iloc[0]  # sorted: the best P(holds) first
    assert best["metric:holds"] == r.pareto["metric:holds"].max()
    assert best["lever:warmth"] > 0.36
    assert abs(best["lever:decoy"]) < 0.05
    assert not r.pareto.duplicated(subset=["lever:warmth", "lever:decoy"]).any()
    assert list(r.pareto["metric:holds"]) == sorted(r.pareto["metric:holds"], reverse=True)
    assert len(r.convergence) >= 20
    hv = r.convergence["hypervolume"].to_numpy()
    assert hv[-1] >= hv[0] and hv[-1] >= 0.99 * hv.max()
    assert (r.convergence["hypervolume_se"] == 0).all()  # two objectives: exact
    sq = r.status_quo.iloc[0]
    assert sq["lever:warmth"] == 0 and sq["lever:decoy"] == 0
    fresh = r.pareto[FRESH_PREFIX + "holds"]
    se = r.pareto[FRESH_PREFIX + "holds:se"]
    assert fresh.between(0, 1).all() and (se > 0).all()
    # the fresh values are another sample of the same policies (other worlds, other seed), so
    # they agree with the search's within their noise
    assert np.all(np.abs(fresh - r.pareto["metric:holds"]) < 6 * se + 0.05)
    assert r.settings["fresh_seed"] != r.settings["seed"]
    from sim.analysis.levers import sample_worlds
    from sim.analysis.optimize import FRESH_TAG

    search, again = sample_worlds(r.scenario, 16, 3), sample_worlds(r.scenario, 16, 3, tag=FRESH_TAG)
    assert all(not np.allclose(search[k], again[k]) for k in search)


def test_hypervolume_by_hand_and_against_platypus():
    """Exact hypervolume: a staircase by hand, then a random front of three objectives against
    Platypus's own (independent) implementation on the same normalised space."""
    from sim.analysis.optimize import hypervolume

    assert hypervolume(np.array([[1.0, 0.5], [0.5, 1.0]]))[0] == pytest.approx(0.75)
    assert hypervolume(np.array([[1.0, 0.5], [0.75, 0.75], [0.5, 1.0]]))[0] == pytest.approx(0.8125)
    assert hypervolume(np.array([[0.0, 1.0]])) == (0.0, 0.0)  # on the reference point: no volume
    platypus = pytest.importorskip("platypus")
    rng = np.random.default_rng(4)
    pts = rng.random((25, 3))
    problem = platypus.Problem(1, 3)
    problem.directions[:] = platypus.Direction.MAXIMIZE
    front = []
    for p in pts:
        s = platypus.Solution(problem)
        s.objectives[:] = list(p)
        front.append(s)
    theirs = platypus.Hypervolume(minimum=[0, 0, 0], maximum=[1, 1, 1]).calculate(front)
    assert hypervolume(pts)[0] == pytest.approx(theirs, rel=1e-9)


def test_many_objective_hypervolume_is_a_monte_carlo_estimate_within_its_error():
    """Above four objectives the hypervolume is estimated (Bader & Zitzler 2011): the estimate
    falls within four standard errors of the exact value (computed slowly by slicing), and a front
    of eight objectives gets an estimate with its error."""
    from sim.analysis.optimize import EXACT_OBJECTIVES, _hso, _nondominated_max, hypervolume

    rng = np.random.default_rng(7)
    pts = 0.3 + 0.7 * rng.random((30, EXACT_OBJECTIVES + 1))
    exact = _hso(_nondominated_max(pts))
    value, se = hypervolume(pts)
    assert se > 0 and abs(value - exact) < 4 * se
    value, se = hypervolume(0.3 + 0.7 * rng.random((100, 8)))
    assert 0 < value < 1 and 0 < se < 0.05 * value


def test_levers_command_writes_its_folder(tmp_path, capsys):
    """`alliance-sim levers` prints the table and writes the parquet files, the manifest and the
    page; `discover` on that folder explains where the top policy fails."""
    out = tmp_path / "lv"
    code = cli.main(
        [
            "levers",
            str(PLANTED),
            "--grid",
            "3",
            "--worlds",
            "16",
            "-R",
            "2",
            "-j",
            "1",
            "--out",
            str(out),
            "--no-progress",
        ]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "rank" in text and "satisficing" in text
    for name in ("policies.parquet", "evaluations.parquet", "worlds.parquet", "manifest.json", "report.html"):
        assert (out / name).is_file(), name
    first = pd.read_parquet(out / "policies.parquet")
    assert cli.main(["discover", str(out), "--out", str(tmp_path / "d")]) == 0
    assert "failure to meet its thresholds" in capsys.readouterr().out
    # --resume on a finished folder reuses its runs and gives the same table
    code = cli.main(
        [
            "levers",
            str(PLANTED),
            "--grid",
            "3",
            "--worlds",
            "16",
            "-R",
            "2",
            "-j",
            "1",
            "--out",
            str(out),
            "--no-progress",
            "--resume",
            "--no-report",
        ]
    )
    assert code == 0
    pd.testing.assert_frame_equal(pd.read_parquet(out / "policies.parquet"), first)


def test_levers_command_bad_input_is_one_line(tmp_path, capsys):
    """An unknown owner and a scenario without levers are one-line errors with exit code 2."""
    code = cli.main(["levers", str(PLANTED), "--owner", "Z", "--out", str(tmp_path / "a"), "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "unknown actor 'Z'" in err
    code = cli.main(
        ["levers", str(DATA / "all_mechanisms.toml"), "--out", str(tmp_path / "b"), "--no-progress"]
    )
    err = capsys.readouterr().err
    assert code == 2 and "no [metrics]" in err


def test_lever_importance_on_the_planted_grid(planted_grid):
    """On the planted grid (orthogonal levers, common random numbers) the decoy, which no force
    reads, has exactly no coefficient on P(holds), and warmth carries it; on the decoy's own cost
    (|decoy|, symmetric around 0) the linear coefficient vanishes too, which R^2 = 0 flags."""
    from sim.analysis.policy_tables import lever_importance

    imp = lever_importance(planted_grid).set_index(["metric", "lever"])
    assert abs(imp.loc[("holds", "decoy"), "src"]) < 1e-12
    assert imp.loc[("holds", "warmth"), "src"] > 0.9
    assert imp.loc[("holds", "warmth"), "r2"] > 0.8
    assert imp.loc[("decoy_cost", "decoy"), "r2"] < 1e-12


def test_optimize_command_writes_the_front(tmp_path, capsys):
    """`alliance-sim optimize` (robust statistic: each metric's worse decile) prints the
    non-dominated policies and writes pareto.parquet, convergence.csv and the manifest."""
    pytest.importorskip("platypus")
    out = tmp_path / "opt"
    code = cli.main(
        [
            "optimize",
            str(PLANTED),
            "--evaluations",
            "60",
            "--population",
            "12",
            "--worlds",
            "8",
            "-R",
            "2",
            "-j",
            "1",
            "--statistic",
            "p10",
            "--out",
            str(out),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0
    assert "non-dominated policies" in captured.out and "generation" in captured.err
    pareto = pd.read_parquet(out / "pareto.parquet")
    assert {"lever:warmth", "lever:decoy", "metric:holds", "metric:decoy_cost"} <= set(pareto.columns)
    convergence = pd.read_csv(out / "convergence.csv")
    assert list(convergence.evaluations) == sorted(convergence.evaluations)
    assert (out / "manifest.json").is_file() and (out / "report.html").is_file()


def test_python_api_reaches_the_analysis_layer():
    """`sim.levers`, `sim.vulnerability` (reached from `import sim`) give what the functions the
    commands use give."""
    import sim

    r = sim.levers(
        PLANTED, policy_values={"warmth": [0.4], "decoy": [0.0]}, worlds=40, replicates=2, progress=False
    )
    direct = evaluate(
        PLANTED, policy_values={"warmth": [0.4], "decoy": [0.0]}, worlds=40, replicates=2, progress=False
    )
    pd.testing.assert_frame_equal(r.table, direct.table)


def test_vulnerability_can_be_limited_to_some_values():
    """``include`` keeps PRIM to the uncertain values whose paths match; a pattern matching
    nothing is an error."""
    r = evaluate(
        PLANTED, policy_values={"warmth": [0.4], "decoy": [0.0]}, worlds=200, replicates=4, progress=False
    )
    d = vulnerability(r, 0, include=["alliances.*"])
    assert d.dimensions == ["alliances.ab.theta_stay"]
    with pytest.raises(PolicyError, match="no uncertain value matches"):
        vulnerability(r, 0, include=["nothing.*"])


def test_levers_page_names_options_explains_signs_and_says_its_title_once(tmp_path):
    """The policy page of the shipped policy file: the answer states how often the most robust
    policy meets its thresholds, NATO's stance shows by its option's name, a signed sanctions lever
    says what a negative value means, and the scenario's title (which opens with "Policy levers")
    is not doubled."""
    from sim.present.policy_pages import write_policy_report

    r = evaluate(
        ROOT / "scenarios" / "policy.toml",
        owner="NATO",
        policies=4,
        worlds=6,
        replicates=2,
        steps=6,
        progress=False,
    )
    page = write_policy_report(r, tmp_path / "report.html").read_text()
    assert "Policy levers: Policy levers" not in page and page.count("<h1>Policy levers:") == 1
    assert "meets every threshold in" in page and "not a forecast" in page
    assert "as_is" in page and "nato_stance</td><td>0.2" not in page
    assert "a negative value eases the pressure" in page
    assert "regret" in page and "S1_conf" not in page


def test_a_weak_box_is_called_weak():
    """A PRIM box whose lift is near 1 is commented as weak; a clear one is not."""
    from sim.present.exploration import weak_box_comment

    assert "weak" in weak_box_comment({"lift": 1.07, "lift_low": 0.95, "lift_high": 1.2})
    assert weak_box_comment({"lift": 3.0, "lift_low": 2.5, "lift_high": 3.5}) == ""


def test_optimize_resume_finishes_a_search_as_if_never_interrupted(tmp_path, monkeypatch, capsys):
    """`optimize --resume` reuses the generations an interrupted search finished and gives the
    front the uninterrupted search gives; other settings are refused in one line."""
    pytest.importorskip("platypus")
    import sim.analysis.optimize as opt

    argv = ["optimize", str(PLANTED), "-e", "36", "--population", "12", "-S", "4", "-R", "1", "-j", "1"]
    full, cut = tmp_path / "full", tmp_path / "cut"
    assert cli.main([*argv, "--no-report", "--out", str(full)]) == 0
    generations = sorted((full / "generations").glob("*.npz"))
    assert len(generations) >= 3
    # the same search, stopped after its first generation
    assert cli.main([*argv, "--no-report", "--out", str(cut)]) == 0
    for path in sorted((cut / "generations").glob("*.npz"))[1:]:
        path.unlink()
    for name in ("pareto.parquet", "convergence.csv", "manifest.json"):
        (cut / name).unlink()
    designs = []
    simulate = opt.simulate
    monkeypatch.setattr(opt, "simulate", lambda *a, **k: designs.append(k.get("desc")) or simulate(*a, **k))
    assert cli.main([*argv, "--no-report", "--resume", "--out", str(cut)]) == 0
    assert (
        "generation 0" not in designs
        and len([d for d in designs if d.startswith("generation")]) == len(generations) - 1
    )
    pd.testing.assert_frame_equal(
        pd.read_parquet(cut / "pareto.parquet"), pd.read_parquet(full / "pareto.parquet")
    )
    capsys.readouterr()
    assert cli.main([*argv[:-2], "-j", "1", "--seed", "9", "--resume", "--out", str(cut)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "other settings" in err
