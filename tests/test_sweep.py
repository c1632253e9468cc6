"""Sweeps: one slot across values on common random numbers, fates with intervals, a figure."""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.sweep import run_sweep, sweep_values
from sim.cli import main
from sim.errors import InputError
from sim.spec.scenario import load_scenario
from tests.conftest import ROOT


@pytest.fixture(scope="module")
def scenario():
    return load_scenario(ROOT / "scenarios" / "stab_in_the_back.toml").with_run(steps=36)


def test_points_share_their_random_numbers(scenario):
    """Two points with the same value see the same draws: identical fates, a paired difference of
    exactly zero. A third value differs."""
    sw = run_sweep(scenario, "mechanisms.pressure", np.array([0.1, 0.1, 0.3]), replicates=300, progress=False)
    assert sw.table.iloc[:3]["count"].tolist() == sw.table.iloc[3:6]["count"].tolist()
    second = sw.paired.iloc[3:6]
    assert (second["diff"] == 0).all() and (second["high"] - second["low"] == 0).all()
    np.testing.assert_allclose(sw.table["p"].to_numpy().reshape(3, 3).sum(axis=1), 1.0)
    assert sw.table.iloc[6:9]["count"].tolist() != sw.table.iloc[:3]["count"].tolist()
    assert sw.table["count"].sum() == 3 * 300


def test_unknown_paths_and_values_out_of_bounds_are_refused(scenario):
    with pytest.raises(InputError, match="did you mean mechanisms.pressure"):
        run_sweep(scenario, "mechanisms.presure", np.array([0.1, 0.2]), replicates=10, progress=False)
    with pytest.raises(InputError, match="expected values in"):
        run_sweep(scenario, "mechanisms.pressure", np.array([-1.0, 0.2]), replicates=10, progress=False)
    with pytest.raises(InputError, match="at least two"):
        sweep_values([0.1])
    np.testing.assert_allclose(sweep_values(low=0, high=1, points=5), [0, 0.25, 0.5, 0.75, 1])


def test_sweep_command_writes_table_figure_page_and_refuses_to_overwrite(tmp_path, capsys):
    out = tmp_path / "sw"
    args = [
        "sweep",
        "stab_in_the_back",
        "mechanisms.pressure",
        "--range",
        "0",
        "0.2",
        "--points",
        "3",
        "-n",
        "50",
        "-t",
        "12",
        "--out",
        str(out),
        "--no-progress",
        "-j",
        "1",
    ]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "common random numbers" in text and "holds" in text
    assert (out / "sweep.csv").exists() and (out / "report.html").exists()
    assert (out / "report_figures" / "sweep.png").read_bytes()[:4] == b"\x89PNG"
    page = (out / "report.html").read_text()
    assert "not a forecast" in page
    # the figure comes before the tables; the value is named in words; only its own methods cited
    assert page.index("report_figures/sweep.png") < page.index("<table")
    assert "external pressure coefficient" in page
    assert "the scenario itself draws it from" in page
    footer = page[page.index("<footer>") :]
    assert "Wilson" in footer and "Sobol" not in footer and "PRIM" not in footer and "Morris" not in footer
    assert main(args) == 2
    assert "--force" in capsys.readouterr().err
