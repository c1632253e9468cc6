"""``alliance-sim experiment``: a multi-factor design on common random numbers in one result
folder, with main effects, interactions and PRIM over the factors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from sim.analysis.experiment import Factor, design_points, parse_factor, read_experiment
from sim.cli import main
from sim.errors import InputError
from tests.conftest import ROOT

FACTORS = ["-f", "mechanisms.pressure=0,0.1", "-f", "mechanisms.competition=0,0.2"]
SMALL = ["-n", "30", "-t", "6", "-j", "1", "--no-progress"]


def test_full_and_lhs_designs():
    f = [Factor("a", (0.0, 1.0, 2.0)), Factor("b", (5.0, 6.0))]
    full = design_points(f)
    assert len(full) == 6 and list(full.iloc[1]) == [0.0, 6.0]  # the last factor fastest
    lhs = design_points(f, "lhs", 10, seed=3)
    assert len(lhs) == 10 and lhs.a.between(0, 2).all() and lhs.b.between(5, 6).all()
    # one value in each tenth of every factor's range
    assert sorted(np.floor(lhs.a.to_numpy() / 0.2).astype(int)) == list(range(10))
    assert design_points(f, "lhs", 10, seed=3).equals(lhs)
    with pytest.raises(InputError, match="--points applies with --design lhs"):
        design_points(f, "full", 4)
    with pytest.raises(ValueError, match="at least two finite values"):
        parse_factor("mechanisms.pressure=0.1")


def test_experiment_end_to_end(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "e"
    argv = ["experiment", "stab_in_the_back", *FACTORS, *SMALL, "--seed", "5"]
    assert main([*argv, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "mechanisms.competition" in printed and "pp [" in printed and "interaction" in printed
    reps = pd.read_parquet(out / "replicates.parquet")
    assert len(reps) == 4 * 30 and sorted(reps.point.unique()) == [0, 1, 2, 3]
    # common random numbers: replicate r of every point draws the same values not in the design
    drawn = [
        c for c in reps.columns if c.startswith("param:") and "pressure" not in c and "competition" not in c
    ]
    assert drawn
    by_point = [reps[reps.point == p].sort_values("replicate")[drawn].to_numpy() for p in range(4)]
    assert all(np.array_equal(by_point[0], other) for other in by_point[1:])
    assert set(reps["param:mechanisms.competition"]) == {np.float32(0.0), np.float32(0.2)}
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["settings"]["kind"] == "experiment" and manifest["settings"]["points"] == 4
    # the tables: 4 points x 3 fates with intervals; a paired effect per factor; one interaction
    table = pd.read_csv(out / "experiment.csv")
    assert len(table) == 12 and (table.low <= table.p).all() and (table.p <= table.high).all()
    e = read_experiment(out)
    comp = e.effects.set_index("factor").loc["mechanisms.competition"]
    assert comp.paired and comp.low <= comp["diff"] <= comp.high
    # P(holds) at the levels of a factor, pooled: its effect is the difference of the two
    m = e.main[e.main.factor == "mechanisms.competition"].set_index("level").p
    assert comp["diff"] == pytest.approx(m[0.2] - m[0.0])
    assert list(e.interactions[["a", "b"]].iloc[0]) == ["mechanisms.pressure", "mechanisms.competition"]
    page = (out / "report.html").read_text()
    assert "not a forecast" in page and "Main effects" in page and "interaction" in page
    assert (out / "report_figures" / "main_effects.png").is_file()
    assert (out / "report_figures" / "interaction_1.png").is_file()
    # the folder reads as a run's: verify, show
    assert main(["verify", str(out), "--no-replay"]) == 0
    assert main(["show", str(out)]) == 0
    assert "(experiment; seal and checksums checked)" in capsys.readouterr().out
    # same seed, same bytes
    again = tmp_path / "again"
    assert main([*argv, "--out", str(again)]) == 0
    assert (again / "replicates.parquet").read_bytes() == (out / "replicates.parquet").read_bytes()
    assert (again / "experiment.csv").read_bytes() == (out / "experiment.csv").read_bytes()


def test_lhs_experiment(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "l"
    argv = [
        "experiment",
        "status_quo",
        *FACTORS,
        "--design",
        "lhs",
        "--points",
        "6",
        *SMALL[:4],
        "--no-progress",
    ]
    assert main([*argv, "--out", str(out)]) == 0
    e = read_experiment(out)
    assert len(e.points) == 6 and e.interactions.empty and not e.effects.paired.any()
    assert "Latin hypercube of 6 points" in (out / "report.html").read_text()


@pytest.mark.parametrize(
    "extra, words",
    [
        (["-f", "mechanisms.presure=0,1"], "did you mean mechanisms.pressure"),
        (["-f", "mechanisms.pressure=0,-1"], "mechanisms.pressure: expected values in"),
        (["-f", "mechanisms.noise=0,0.1", "--points", "4"], "--points applies with --design lhs"),
        (["-f", "mechanisms.noise=0,0.1", "-f", "mechanisms.noise=0,0.2"], "each path once"),
    ],
)
def test_bad_factors_get_one_line(extra, words, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    assert main(["experiment", "status_quo", *extra, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err


def test_a_factor_that_is_not_numbers_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit) as e:
        main(["experiment", "status_quo", "-f", "mechanisms.pressure=a,b"])
    assert e.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "expected comma-separated numbers" in err


def test_a_sweep_is_the_one_factor_experiment(tmp_path):
    """`sweep` and a one-factor experiment run the same design on the same draws: the same fates."""
    from sim.analysis.experiment import run_experiment
    from sim.analysis.sweep import run_sweep
    from sim.spec.scenario import load_scenario

    s = load_scenario(ROOT / "scenarios" / "stab_in_the_back.toml").with_run(steps=6)
    values = (0.0, 0.1, 0.2)
    sw = run_sweep(s, "mechanisms.competition", np.array(values), replicates=40, workers=1, progress=False)
    e = run_experiment(
        s,
        [Factor("mechanisms.competition", values)],
        replicates=40,
        out=tmp_path / "e",
        workers=1,
        progress=False,
    )
    swept = sw.table.sort_values(["value", "fate"])["count"].to_numpy()
    designed = e.table.sort_values(["mechanisms.competition", "fate"])["count"].to_numpy()
    assert swept.sum() == 3 * 40 and np.array_equal(swept, designed)


def test_report_refuses_an_experiment_folder(tmp_path, capsys):
    folder = tmp_path / "e"
    folder.mkdir()
    (folder / "manifest.json").write_text(
        json.dumps({"scenario_hash": "0" * 64, "settings": {"kind": "experiment"}})
    )
    assert main(["report", str(folder)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "an experiment folder" in err
