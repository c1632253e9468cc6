"""Sensitivity from a finished run: Borgonovo's delta and PAWN on the replicate table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.analysis.given_data import DUMMY, delta_discrete, given_data, pawn_discrete
from sim.cli import main
from sim.run.ensemble import run_ensemble


def test_delta_of_a_threshold_output_is_one_half_and_of_an_unrelated_input_near_zero():
    """y = 1[x0 > 1/2] with P(y) = 1/2: every class of x0 is pure, so delta = 1/2 (Borgonovo 2007)."""
    rng = np.random.default_rng(1)
    X = rng.random((20_000, 2))
    y = X[:, 0] > 0.5
    d = delta_discrete(X, y, classes=50)
    assert d[0] == pytest.approx(0.5, abs=0.01)
    assert d[1] < 0.03


def test_pawn_from_counts_equals_salib():
    pawn = pytest.importorskip("SALib.analyze.pawn")
    rng = np.random.default_rng(2)
    X = rng.random((2_000, 4))
    X[:, 3] = np.round(X[:, 3] * 3)  # ties in an input
    y = (rng.random(2_000) < 0.2 + 0.5 * X[:, 0]).astype(float) + (X[:, 1] > 0.5)
    problem = {"num_vars": 4, "names": list("abcd"), "bounds": [[0, 1]] * 4}
    expected = pawn.analyze(problem, X, y, S=10, seed=1)["median"]
    assert np.allclose(pawn_discrete(X, y, 10), expected, atol=1e-12)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    out = tmp_path_factory.mktemp("gd") / "run"
    run_ensemble(
        "scenarios/stab_in_the_back.toml",
        replicates=600,
        steps=40,
        seed=2,
        out=out,
        progress=False,
        why=False,
    )
    return out


@pytest.mark.parametrize("method", ["delta", "pawn"])
def test_given_data_on_a_run(finished, method):
    from sim.run.store import load_results

    r = given_data(load_results(finished), method)
    assert DUMMY in r.indices.index and len(r.indices) == r.settings["parameters"] + 1
    assert ((r.indices >= 0) & (r.indices <= 1)).all().all()
    assert list(r.over_time.columns) == r.names and r.over_time.index[0] == 0
    assert len(r.ranking("stab", 5)) == 5 and DUMMY not in r.ranking("stab", 50)


def test_cli_reads_a_result_directory(finished, tmp_path, capsys):
    assert main(["sensitivity", str(finished), "--method", "pawn", "--out", str(tmp_path / "s")]) == 0
    assert "no new runs" in capsys.readouterr().out
    table = pd.read_csv(tmp_path / "s" / "indices.csv", index_col=0)
    assert {"fate", "stab", "holds", "end"} <= set(table.columns)
    assert (tmp_path / "s" / "over_time.png").stat().st_size > 1000
    assert main(["sensitivity", str(finished), "--method", "sobol"]) == 2
    assert main(["sensitivity", "scenarios/status_quo.toml", "--method", "delta"]) == 2


def test_sobol_over_time_counts_active_replicates(tmp_path):
    """The time-resolved design counts exactly the replicates still active after each step, and
    its indices are finite for every step of the grid."""
    pytest.importorskip("SALib")
    from sim.analysis.over_time import sobol_over_time, time_grid

    r = sobol_over_time(
        "scenarios/stab_in_the_back.toml",
        samples=8,
        replicates=4,
        steps=30,
        include=["mechanisms.*"],
        workers=1,
        progress=False,
        resamples=20,
    )
    assert list(r.steps) == list(time_grid(30))
    assert r.shares.shape == (8 * (7 + 2), len(r.steps))
    assert np.all(np.diff(r.shares, axis=1) <= 0)  # P(active after t) never rises
    assert ((r.shares >= 0) & (r.shares <= 1)).all() and np.isfinite(r.ST.to_numpy()).all()
    assert set(r.ST.columns) == {
        f"mechanisms.{m}"
        for m in ("affinity", "balance", "threat", "pressure", "competition", "dependence", "noise")
    }
    assert (
        main(
            [
                "sensitivity",
                "scenarios/stab_in_the_back.toml",
                "--over-time",
                "--samples",
                "8",
                "-R",
                "2",
                "-t",
                "20",
                "--include",
                "mechanisms.*",
                "-j",
                "1",
                "--no-progress",
                "--out",
                str(tmp_path / "t"),
            ]
        )
        == 0
    )
    assert (tmp_path / "t" / "sobol_over_time.png").exists()


def test_a_planted_input_stands_out_and_the_rest_is_noise():
    """An outcome driven by one input among thirty: delta gives it a verdict above the noise level
    (the made-up inputs' mean plus a Bonferroni number of their standard deviations), the others
    fall within noise, and the terminal prints one table for every outcome, not one per outcome."""
    from types import SimpleNamespace

    from sim.present.text import format_given_data

    rng = np.random.default_rng(3)
    n = 4000
    X = rng.random((n, 30))
    fate = np.where(rng.random(n) < 0.2 + 0.6 * X[:, 0], "holds", "stab_in_the_back")
    table = pd.DataFrame({f"param:p{k}": X[:, k] for k in range(30)})
    table["al.fate"] = fate
    table["al.end_step"] = np.where(fate == "holds", 10, 5)

    class Run(SimpleNamespace):
        def read(self, cols):
            return table[cols]

    run = Run(columns=list(table.columns), focal="al", alliances=["al"], steps=10, directory="planted")
    r = given_data(run, "delta")
    v = r.verdict("fate")
    assert v.index[0] == "p0" and not v.within_noise.iloc[0]
    assert v.within_noise.iloc[1:].mean() > 0.9  # a Bonferroni bar: few inputs pass by chance
    from statistics import NormalDist

    assert r.settings["noise_z"] == pytest.approx(NormalDist().inv_cdf(1 - 0.05 / 30))
    assert r.noise.loc["fate", "level"] > r.noise.loc["fate", "mean"]
    text = format_given_data(r)
    rows = text.splitlines()
    assert sum(line.strip().startswith("noise level") for line in rows) == 1  # one table
    assert sum("parameter" in line for line in rows) == 1
    assert "verdict: 1 of the 12 shown stand out" in text
