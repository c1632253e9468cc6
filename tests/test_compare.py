"""Comparisons that compare: B − A per fate with paired and unpaired intervals, the parameters
that differ, per-scenario details folded away, and ``alliance-sim diff``."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.analysis.compare import fate_differences, newcombe_interval, paired_interval
from sim.cli import main
from sim.present.report import write_report
from sim.spec.diff import parameter_differences, structure_differences
from sim.spec.scenario import load_scenario
from tests.conftest import ROOT

#: a run's result files that hold its numbers (its manifest differs by folder and date)
RUN_FILES = ("replicates.parquet", "summary.npz")

VARIANT = """
extends = "alliance-sim:scenarios/stab_in_the_back.toml"
title = "weaker dependence"
[dependence.China]
Ukraine = {dist = "uniform", low = 0.1, high = 0.4}
"""


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """stab_in_the_back and a variant that changes one value: same draws, same seed."""
    tmp = tmp_path_factory.mktemp("cmp")
    variant = tmp / "weaker.toml"
    variant.write_text(VARIANT)
    a = sim.run_ensemble(
        ROOT / "scenarios" / "stab_in_the_back.toml", replicates=400, steps=60, out=tmp / "a", progress=False
    )
    b = sim.run_ensemble(variant, replicates=400, steps=60, out=tmp / "b", progress=False)
    return a, b, variant


def test_newcombe_interval_matches_the_published_example():
    # Newcombe (1998), table II, example (a): 56/70 vs 48/80 -> difference 0.2, 95 % CI 0.0524 to 0.3339
    low, high = newcombe_interval(48, 80, 56, 70)
    assert low == pytest.approx(0.0524, abs=5e-4) and high == pytest.approx(0.3339, abs=5e-4)


def test_paired_interval_is_the_interval_of_the_mean_difference():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 2, 1000)
    y = x.copy()
    y[:50] = 1 - y[:50]
    mean, low, high = paired_interval(x, y)
    d = y - x
    assert mean == pytest.approx(d.mean())
    assert high - low == pytest.approx(2 * 1.959964 * d.std(ddof=1) / np.sqrt(1000), rel=1e-6)


def test_paired_difference_is_narrower_on_common_random_numbers(pair):
    a, b, _ = pair
    table = fate_differences(a, b).set_index("fate")
    holds = table.loc["holds"]
    assert holds["diff"] == pytest.approx(holds["p_b"] - holds["p_a"])
    assert holds["paired_low"] <= holds["diff"] <= holds["paired_high"]
    assert holds["paired_width"] < 0.6 * holds["unpaired_width"]


def test_runs_with_other_seeds_are_compared_unpaired(pair, tmp_path):
    a, _, variant = pair
    c = sim.run_ensemble(variant, replicates=400, steps=60, seed=99, out=tmp_path / "c", progress=False)
    table = fate_differences(a, c)
    assert table["paired_low"].isna().all() and table["unpaired_low"].notna().all()


def test_parameter_differences_name_exactly_the_changed_values(pair):
    _, _, variant = pair
    a = load_scenario(ROOT / "scenarios" / "stab_in_the_back.toml")
    b = load_scenario(variant)
    diffs = parameter_differences(a, b)
    assert [d.path for d in diffs] == ["dependence.China.Ukraine"]
    assert structure_differences(a, b) == []
    other = load_scenario(ROOT / "scenarios" / "back_to_back.toml")
    assert "events only in B: belt_and_road_push" in structure_differences(other, a)


def test_comparison_report_gives_the_difference_the_parameters_and_folds_details(pair, tmp_path):
    a, b, _ = pair
    page = write_report([a, b], tmp_path / "cmp.html").read_text(encoding="utf-8")
    assert (
        page.index("id='answer'")
        < page.index("id='difference'")
        < page.index("id='parameter-differences'")
        < page.index("id='comparison'")
        < page.index("id='details-1'")
    )
    diff = page[page.index("id='difference'") : page.index("id='parameter-differences'")]
    assert "95 % CI, paired" in diff and "95 % CI, unpaired" in diff and "Paired by replicate" in diff
    params = page[page.index("id='parameter-differences'") : page.index("id='comparison'")]
    assert "1 parameters differ" in params and "<code>dependence.China.Ukraine</code>" in params
    assert "s-sib-dependence" in params
    assert page.count("<details class='scenario-fold'") == 2


@pytest.mark.parametrize("order", [(0, 1), (1, 0)], ids=["in-order", "second-first"])
def test_parts_made_as_each_run_finishes_make_the_same_page(pair, tmp_path, order):
    """A comparison whose scenario parts were made as each run finished, in either order (runs
    side by side finish in any order), with their figures drawn meanwhile, writes the page and
    figures it writes without them; early parts of other runs are refused."""
    import re

    from sim.present.early import EarlyFigures

    a, b, _ = pair
    plain = write_report([a, b], tmp_path / "plain" / "cmp.html").read_text(encoding="utf-8")
    early = EarlyFigures()
    early.prepare()
    for k in order:
        early.start(k, (a, b)[k])
    drawn = write_report([a, b], tmp_path / "early" / "cmp.html", early=early).read_text(encoding="utf-8")
    assert drawn == plain
    names = sorted(p.name for p in (tmp_path / "plain" / "cmp_figures").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "early" / "cmp_figures").iterdir())
    assert any(re.match(r"02-.*-ties\.png", n) for n in names)
    for n in names:
        assert (tmp_path / "plain" / "cmp_figures" / n).read_bytes() == (
            tmp_path / "early" / "cmp_figures" / n
        ).read_bytes(), n
    swapped = EarlyFigures()
    swapped.start(0, b)
    with pytest.raises(ValueError, match="are not those of the results"):
        write_report([a, b], tmp_path / "swapped" / "cmp.html", early=swapped)
    assert not any(c.is_alive() for c in swapped.queue.drawing.children)


def test_diff_command_prints_the_parameter_difference(capsys):
    assert main(["diff", "back_to_back", "stab_in_the_back", "--wide"]) == 0
    out = capsys.readouterr().out
    assert "dependence.China.Ukraine" in out and "s-sib-dependence" in out
    assert "10 parameters differ" in out and "events only in B: belt_and_road_push" in out


def test_compare_command_prints_the_difference(tmp_path, capsys):
    assert (
        main(
            [
                "compare",
                "back_to_back",
                "stab_in_the_back",
                "-n",
                "200",
                "-t",
                "24",
                "--out",
                str(tmp_path / "cmp"),
                "--no-progress",
                "-j",
                "1",
            ]
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "stab_in_the_back − back_to_back, alliance china_russia" in out
    assert "paired [" in out and "unpaired [" in out
    assert (tmp_path / "cmp" / "report.html").exists()


def test_compare_command_side_by_side_writes_the_page_of_one_run_after_the_other(tmp_path, capsys):
    """The README's first command on two workers: the runs go side by side (a lane each), the
    report is written, and the runs' files are those of the same comparison on one worker."""
    from tests.test_faults import same_bytes

    def compare_on(workers: str, out: str) -> str:
        argv = ["compare", "back_to_back", "stab_in_the_back", "-n", "200", "-t", "12"]
        assert main([*argv, "--out", str(tmp_path / out), "--no-progress", "-j", workers]) == 0
        return capsys.readouterr().out

    side = compare_on("2", "side")
    compare_on("1", "after")
    assert "back_to_back: 200 replicates" in side and "stab_in_the_back: 200 replicates" in side
    assert (tmp_path / "side" / "report.html").exists()
    for run in ("back_to_back", "stab_in_the_back"):
        same_bytes(tmp_path / "side" / run, tmp_path / "after" / run, RUN_FILES)


def test_a_comparison_run_again_finishes_a_run_stopped_part_way(tmp_path, monkeypatch, capsys):
    """A run of the comparison stopped part way (its finished chunks kept) is finished by the
    same comparison run again, which runs only the chunks left, and gives the bytes of a
    comparison never stopped; a run of other settings in the folder is replaced."""
    import sim.run.chunks
    from sim.errors import AllianceError
    from tests.test_faults import Interrupt, same_bytes

    paths = [ROOT / "scenarios" / f"{name}.toml" for name in ("back_to_back", "stab_in_the_back")]
    settings = {"replicates": 200, "steps": 12, "seed": 5, "chunk_size": 50, "workers": 1, "progress": False}
    whole = sim.compare(paths, tmp_path / "whole", **settings)
    assert whole.resumed == [False, False]

    out = tmp_path / "stopped"
    with pytest.raises(AllianceError, match="interrupted; 2 of 4 chunks are kept"):
        sim.run_ensemble(paths[1], out=out / "stab_in_the_back", chunk_fn=Interrupt(stop_at=2), **settings)
    begun = []
    real = sim.run.chunks.begin_chunk
    monkeypatch.setattr(sim.run.chunks, "begin_chunk", lambda task: begun.append(task.index) or real(task))
    argv = ["compare", *map(str, paths), "-n", "200", "-t", "12", "--seed", "5", "--chunk-size", "50"]
    assert main([*argv, "-j", "1", "--out", str(out), "--no-progress"]) == 0
    said = capsys.readouterr().out
    assert f"stab_in_the_back: finished the run stopped part way in {out / 'stab_in_the_back'}" in said
    assert "back_to_back: finished" not in said and "reusing" not in said
    assert sorted(begun) == [0, 1, 2, 2, 3, 3]  # the first run's four chunks, the second's last two
    for run in ("back_to_back", "stab_in_the_back"):
        same_bytes(tmp_path / "whole" / run, out / run, RUN_FILES)

    other = tmp_path / "other"
    with pytest.raises(AllianceError, match="interrupted"):
        sim.run_ensemble(paths[1], out=other / "stab_in_the_back", chunk_fn=Interrupt(stop_at=2), **settings)
    begun.clear()
    replaced = sim.compare(paths, other, **{**settings, "seed": 6})  # other settings: run afresh
    assert replaced.resumed == [False, False] and sorted(begun) == [0, 0, 1, 1, 2, 2, 3, 3]


def test_an_interrupted_comparison_names_itself_as_the_way_to_finish(tmp_path, monkeypatch, capsys):
    """Ctrl-C during a comparison: the command says to run the same comparison again (with the
    run settings it had), and that command finishes it."""
    import sim.run.chunks

    real = sim.run.chunks.begin_chunk

    def stop_at_the_second_chunk(task):
        if task.index == 1:
            raise KeyboardInterrupt
        return real(task)

    monkeypatch.setattr(sim.run.chunks, "begin_chunk", stop_at_the_second_chunk)
    out = tmp_path / "cmp"
    argv = ["compare", "back_to_back", "stab_in_the_back", "-n", "200", "-t", "12", "--chunk-size", "50"]
    argv += ["-j", "1", "--no-progress", "--out", str(out)]
    assert main(argv) == 130
    said = capsys.readouterr().err
    typed = "alliance-sim compare scenarios/back_to_back.toml scenarios/stab_in_the_back.toml"
    assert said.startswith("alliance-sim: interrupted; ") and "--resume" not in said
    assert f"finish with: {typed} --out {out} -n 200 -t 12 --seed 20220204 --chunk-size 50" in said
    monkeypatch.undo()
    assert main(argv) == 0
    assert "back_to_back: finished the run stopped part way" in capsys.readouterr().out
