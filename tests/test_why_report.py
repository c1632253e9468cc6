"""What broke it: fate groups, words, typical replicates re-run exactly, the report section."""

from __future__ import annotations

import numpy as np
import pytest

from sim.analysis.why import why_frame, why_groups, why_sentence
from sim.run.ensemble import run_ensemble
from sim.run.replay import replay
from sim.vocabulary import FATES, defector_column, end_step_column, fate_column


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("why") / "run"
    return run_ensemble(
        "scenarios/stab_in_the_back.toml",
        replicates=300,
        steps=60,
        seed=5,
        out=out,
        chunk_size=128,
        progress=False,
        why=True,
    )


def test_groups_cover_every_replicate_and_their_parts_add_up(results):
    table = results.replicates
    for al in results.alliances:
        groups = why_groups(table, al, results.alliances)
        assert sum(g.n for g in groups) == len(table)
        labels = [g.label for g in groups]
        assert labels[-1] == "held" or "held" not in labels
        for g in groups:
            assert np.all(g.low <= g.mean + 1e-12) and np.all(g.mean <= g.high + 1e-12)
            shares = g.shares()
            assert sum(shares.values()) == pytest.approx(1.0)
            assert g.fate in FATES
            if g.fate == FATES[1]:
                assert (
                    table.set_index("replicate").loc[g.replicates, defector_column(al)] == g.defector
                ).all()
        frame = why_frame(groups)
        assert set(frame["force"]) == set(groups[0].forces)


def test_sentence_names_the_main_forces(results):
    al = results.focal
    for g in why_groups(results.replicates, al, results.alliances):
        s = why_sentence(g)
        assert s.startswith(g.label)
        top = max(g.shares().items(), key=lambda kv: kv[1])[0]
        from sim.vocabulary import force_label

        assert force_label(top) in s
        assert ("of the fall" in s) == (g.change < 0)


def test_typical_replicates_replay_exactly(results):
    al = results.focal
    a = results.alliances.index(al)
    table = results.replicates.set_index("replicate")
    wanted = [r for g in why_groups(results.replicates, al, results.alliances) for r in g.typical(2)]
    wanted.append(299)  # the last replicate of the last (shorter) chunk
    plays = replay(results, wanted)
    words = np.array(FATES)
    for r, play in plays.items():
        assert words[play.fate[a]] == table.loc[r, fate_column(al)]
        if table.loc[r, fate_column(al)] != "holds":
            assert play.end_step[a] == table.loc[r, end_step_column(al)]
        assert play.ties.shape == (61, len(results.actors), len(results.actors))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_few_rows_replay_as_in_their_whole_chunk(dtype):
    """Rows re-run alone (with the chunk's draws) end with the very trajectories, firings and
    fates the whole chunk gives them."""
    import dataclasses

    from sim.run.chunks import replicate_task, run_chunk
    from sim.run.replay import RowRecorder, _run_rows
    from sim.spec.scenario import load_scenario
    from tests.conftest import ROOT

    scenario = load_scenario(ROOT / "scenarios" / "kazakhstan_crisis.toml").with_run(
        replicates=200, steps=40, seed=3
    )
    task = replicate_task(scenario, 1, 200, 200, 3, dtype=dtype)
    rows = [0, 17, 18, 120, 199]
    whole = run_chunk(dataclasses.replace(task, collector=RowRecorder(rows)))
    alone = _run_rows(task, rows)
    for a, b in zip(whole[:5], alone[:5], strict=True):
        assert a.dtype == b.dtype and np.array_equal(a, b)
    assert whole[5] == alone[5]
    assert alone[0].shape == (5, 41, len(scenario.actors), len(scenario.actors))
    assert not np.array_equal(alone[0][0], alone[0][1])  # each row its own draws


def test_typical_is_closest_to_the_mean(results):
    g = why_groups(results.replicates, results.focal, results.alliances)[0]
    first = g.typical(1)[0]
    d = np.sqrt(((g.parts - g.mean) ** 2).sum(axis=1))
    assert d[list(g.replicates).index(first)] == pytest.approx(d.min())


def test_report_has_the_section(results, tmp_path):
    from sim.present.report import write_report

    path = write_report([results], tmp_path / "report.html")
    page = path.read_text()
    assert "What broke it" in page and ("of the fall" in page or "of the rise" in page)
    figs = {p.name for p in (tmp_path / "report_figures").glob("*.png")}
    assert any("-why-" in f for f in figs) and any("-typical-" in f for f in figs)
