"""The experiment runner's designs: blocks, per-replicate values, saved starts, collectors."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import InputError
from sim.model import dynamics
from sim.run.collectors import OutcomeCollector
from sim.run.designs import Block, Design, Start, blocks, stream_seeds
from sim.run.ensemble import run_design
from sim.spec.params import compile_params
from sim.spec.scenario import load_scenario
from sim.vocabulary import fate_column
from tests.conftest import DATA, ROOT

SCENARIO = ROOT / "scenarios" / "stab_in_the_back.toml"


@pytest.mark.parametrize("points, replicates, chunk", [(1, 10, 4), (7, 3, 8), (5, 16, 16), (3, 5, 100)])
def test_blocks_cover_every_point_and_replicate_once(points, replicates, chunk):
    design = Design({"mechanisms.noise": np.linspace(0, 0.1, points)}, replicates)
    seen = np.zeros((points, replicates), dtype=int)
    for b in blocks(design, chunk):
        assert b.rows <= max(chunk, replicates)
        seen[np.ix_(b.points, np.arange(b.rep_start, b.rep_start + b.size))] += 1
        np.testing.assert_array_equal(b.point_of_row(), np.repeat(b.points, b.size))
        assert b.replicate_of_row()[: b.size].tolist() == list(range(b.rep_start, b.rep_start + b.size))
    assert (seen == 1).all()


def test_group_zero_is_the_plain_run_seed():
    """A plain run's chunk c draws from the c-th child of SeedSequence(seed); other groups differ."""
    a = stream_seeds(11, 3, 0)[0]
    assert a.spawn_key == (3, 0) and a.entropy == 11
    assert stream_seeds(11, 3, 1)[0].spawn_key == (3, 1, 0)


def _fates(parts, alliance):
    return np.concatenate([cols[fate_column(alliance)] for _, cols in parts])


def test_per_replicate_values_equal_the_same_values_per_point():
    """A (P, R) design value gives each replicate its own number: with R equal columns it is the
    (P,) design, bit for bit."""
    scenario = load_scenario(SCENARIO).with_run(steps=24)
    noise = np.array([0.0, 0.05])
    alliance = scenario.focal_alliance
    by_point = run_design(
        scenario, Design({"mechanisms.noise": noise}, 40), OutcomeCollector(), seed=3, progress=False
    )
    by_replicate = run_design(
        scenario,
        Design({"mechanisms.noise": np.repeat(noise[:, None], 40, 1)}, 40),
        OutcomeCollector(),
        seed=3,
        progress=False,
    )
    np.testing.assert_array_equal(_fates(by_point, alliance), _fates(by_replicate, alliance))
    with pytest.raises(InputError, match="per-replicate values"):
        run_design(
            scenario, Design({"mechanisms.noise": np.zeros((2, 5))}, 40), OutcomeCollector(), progress=False
        )


def test_a_design_started_from_saved_states_continues_them():
    """Replicates started from states saved at step t0 continue exactly as the kernel does from
    the same states with the same draws (the runner adds chunks and workers, not dynamics)."""
    scenario = load_scenario(DATA / "all_mechanisms.toml").with_run(steps=30, replicates=50)
    params = compile_params(scenario, 50, np.random.default_rng(1))
    half = dynamics.run(params, np.random.default_rng(2), steps=12)
    saved = {k: getattr(half, k).copy() for k in dynamics.STATE_ARRAYS}
    values = {path: x[None, :] for path, x in params.sampled.items()}
    parts = run_design(
        scenario,
        Design(values, 50, start=Start(12, saved)),
        OutcomeCollector(),
        seed=5,
        chunk_size=20,
        workers=1,
        progress=False,
        dtype="float64",
    )
    # the same continuation through the kernel, chunk by chunk with the runner's seeds
    for (block, cols), start in zip(parts, (0, 20, 40), strict=True):
        assert block.rep_start == start
        rows = slice(start, start + block.size)
        sub = params.take(rows)
        state = dynamics.restore_state(sub, 12, {k: v[rows] for k, v in saved.items()})
        rng = np.random.default_rng(stream_seeds(5, start // 20, 0)[1])
        want = dynamics.run(sub, rng, state=state)
        for a, al in enumerate(sub.alliances):
            got = cols[fate_column(al.name)]
            assert list(got) == [("holds", "stab_in_the_back", "drift_apart")[f] for f in want.fate[:, a]]


def test_saved_states_that_do_not_fit_are_refused_before_any_work():
    scenario = load_scenario(DATA / "all_mechanisms.toml").with_run(steps=30)
    params = compile_params(scenario, 4)
    state = dynamics.initial_state(params)
    saved = {k: getattr(state, k) for k in dynamics.STATE_ARRAYS}
    saved["ties"] = saved["ties"][:, :2, :2]
    with pytest.raises(InputError, match="saved states that do not fit"):
        run_design(scenario, Design({}, 4, start=Start(3, saved)), OutcomeCollector(), progress=False)
    with pytest.raises(InputError, match="one saved state per replicate"):
        run_design(scenario, Design({}, 5, start=Start(3, saved)), OutcomeCollector(), progress=False)


def test_block_is_a_plain_value():
    b = Block(0, np.arange(2), 4, 3)
    assert b.rows == 6 and b.replicate_of_row().tolist() == [4, 5, 6, 4, 5, 6]
