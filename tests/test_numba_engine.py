"""The compiled engine (sim.model.numba_engine) against the plain reference (sim.model.reference),
the numpy engine, and itself under other layouts and worker counts."""

from __future__ import annotations

import numpy as np
import pytest

from sim.model import dynamics
from sim.model.engines import NumpyEngine, get_engine
from sim.model.reference import ReferenceModel
from sim.spec.params import compile_params
from sim.spec.scenario import load_scenario
from tests.conftest import ROOT
from tests.test_reference import FLOAT32_TOLERANCE

pytest.importorskip("numba")
from sim.model import numba_engine  # noqa: E402

STEPS = 60


def _run_both(path, n=6, steps=STEPS, dtype=np.float64, seed=3, record=False):
    """The compiled engine and the reference, on the same parameters and the same draws."""
    scenario = load_scenario(path)
    params = compile_params(scenario, n, np.random.default_rng(seed))
    engine = numba_engine.NumbaEngine()
    kernel = []

    def keep(state):
        kernel.append(state.ties.astype(np.float64))

    state = engine.simulate(
        params, [np.random.default_rng(seed + 1)], dtype=dtype, steps=steps, record=keep if record else None
    )
    draws = numba_engine.replay_draws(params, [np.random.default_rng(seed + 1)], steps=steps)
    refs = []
    for r in range(n):
        stream = iter(
            [dynamics.Draws(d.noise[r : r + 1], d.events[r : r + 1], d.defect[r : r + 1]) for d in draws]
        )
        model = ReferenceModel(scenario, rng=0, params=params.take(np.array([r])), draws=stream)
        traj = [np.array(model.W)]
        for _ in range(steps):
            model.step()
            traj.append(np.array(model.W))
        refs.append((model, np.stack(traj)))
    return params, state, (np.stack(kernel, axis=1) if record else None), refs


def test_compiled_engine_matches_reference_to_1e9(full_scenario):
    """Every mechanism and event kind on, float64, 60 steps: every step's ties, the fates, end
    steps, defectors, capabilities and bargained positions agree with the reference."""
    params, state, kernel, refs = _run_both(full_scenario, record=True)
    worst = max(np.abs(kernel[r] - traj).max() for r, (_, traj) in enumerate(refs))
    assert worst < 1e-9
    for r, (model, traj) in enumerate(refs):
        np.testing.assert_allclose(state.ties[r], traj[-1], atol=1e-9)
        for a, al in enumerate(model.alliances):
            assert al["fate"] == state.fate[r, a]
            assert al["end_step"] == state.end_step[r, a]
            assert al["defector"] == state.defector[r, a]
        np.testing.assert_allclose(model.capability, state.capability[r], atol=1e-12)
        np.testing.assert_allclose(model.position, state.position[r], atol=1e-9)
    # not trivial: alliances ended by both fates, ties moved, stochastic events fired
    assert (state.end_step >= 0).any()
    assert {1, 2} <= set(np.unique(state.fate).tolist())
    assert np.abs(kernel[:, -1] - kernel[:, 0]).max() > 0.1
    stochastic = [e for e, ev in enumerate(params.events) if ev.at is None]
    assert state.fired[:, stochastic].any()


def test_one_stretch_equals_step_by_step(full_scenario):
    """The final state does not depend on where the compiled loop stops (a callback every step
    against one stretch between bargaining rounds)."""
    scenario = load_scenario(full_scenario)
    params = compile_params(scenario, numba_engine.LANES + 5, np.random.default_rng(1))
    engine = numba_engine.NumbaEngine()
    a = engine.simulate(params, [np.random.default_rng(2)], dtype=np.float64)
    b = engine.simulate(params, [np.random.default_rng(2)], dtype=np.float64, record=lambda s: None)
    for key in ("ties", "capability", "position", "fate", "end_step", "defector", "fired"):
        np.testing.assert_array_equal(getattr(a, key), getattr(b, key))


@pytest.mark.parametrize("path", ["full", "baseline"])
def test_float32_engine_stays_close_to_reference(full_scenario, path):
    """float32 tracks the float64 reference within the numpy engine's tolerance over 60 steps."""
    scenario = full_scenario if path == "full" else ROOT / "seeds" / "baseline.toml"
    _, _, kernel, refs = _run_both(scenario, dtype=np.float32, record=True)
    worst = max(np.abs(kernel[r] - traj).max() for r, (_, traj) in enumerate(refs))
    assert worst < FLOAT32_TOLERANCE


def test_draws_are_the_words_of_numpy_sfc64_streams():
    """A draw block's words are those ``random_raw`` of numpy's SFC64, seeded by the block's seed
    sequences, gives: stream q fills its quarter of every step's noise row, then of its uniform row,
    and a block drawn in two stretches continues its streams."""
    lay = numba_engine.Layout(numba_engine.LANES + 7)  # a whole block and a partial one
    pn, pu, S = 9, 5, 6
    for d, width in enumerate(lay.width):
        seqs = numba_engine.block_seeds(lay, [np.random.default_rng(11)])[d]
        state = numba_engine._block_generators(lay, [np.random.default_rng(11)])[d]
        first = numba_engine._draw_block(state, 2, pn, pu, width)
        rest = numba_engine._draw_block(state, S - 2, pn, pu, width)
        noise = np.concatenate([first[0], rest[0]])
        unif = np.concatenate([first[1], rest[1]])
        wn = -(-pn * width // (4 * numba_engine.STREAMS))
        wu = -(-pu * width // (2 * numba_engine.STREAMS))
        streams = [np.random.SFC64(ss).random_raw(S * (wn + wu)).reshape(S, wn + wu) for ss in seqs]
        want_noise = np.concatenate([x[:, :wn] for x in streams], axis=1).view(np.uint16)
        want_unif = np.concatenate([x[:, wn:] for x in streams], axis=1).view(np.uint32)
        np.testing.assert_array_equal(noise.reshape(S, -1), want_noise[:, : pn * width])
        np.testing.assert_array_equal(unif.reshape(S, -1), want_unif[:, : pu * width])


def test_rows_draw_as_their_replicate(full_scenario):
    """Under a layout, a row draws what replicate r of its group draws: shuffled rows reproduce
    the plain run's rows, two groups draw differently, and copies of a replicate agree."""
    scenario = load_scenario(full_scenario)
    n = numba_engine.LANES + 12  # two tiles, the second partial
    params = compile_params(scenario, n, np.random.default_rng(5))
    engine = numba_engine.NumbaEngine()
    plain = engine.simulate(params, [np.random.default_rng(6)], dtype=np.float64)
    perm = np.random.default_rng(0).permutation(n)
    shuffled = engine.simulate(
        params.take(perm), [np.random.default_rng(6)], (np.zeros(n, dtype=int), perm), dtype=np.float64
    )
    np.testing.assert_array_equal(shuffled.ties, plain.ties[perm])
    np.testing.assert_array_equal(shuffled.fate, plain.fate[perm])
    # two points of one group (the same parameters twice): identical rows
    both = params.take(np.concatenate([np.arange(n), np.arange(n)]))
    rep = np.concatenate([np.arange(n), np.arange(n)])
    twice = engine.simulate(
        both, [np.random.default_rng(6)], (np.zeros(2 * n, dtype=int), rep), dtype=np.float64
    )
    np.testing.assert_array_equal(twice.ties[:n], plain.ties)
    np.testing.assert_array_equal(twice.ties[n:], plain.ties)
    # the same two points in two groups: the second group has its own draws
    groups = engine.simulate(
        both,
        [np.random.default_rng(6), np.random.default_rng(7)],
        (np.repeat([0, 1], n), rep),
        dtype=np.float64,
    )
    np.testing.assert_array_equal(groups.ties[:n], plain.ties)
    assert np.abs(groups.ties[n:] - plain.ties).max() > 0.1


def test_design_points_share_tiles(full_scenario):
    """A design's chunk (20 points x 16 replicates of one group) fills whole tiles, and every
    point's replicate r draws what replicate r of a plain run draws."""
    scenario = load_scenario(full_scenario)
    params = compile_params(scenario, 16, np.random.default_rng(3))
    engine = numba_engine.NumbaEngine()
    plain = engine.simulate(params, [np.random.default_rng(4)], dtype=np.float64)
    rep = np.tile(np.arange(16), 20)
    layout = (np.zeros(rep.size, dtype=int), rep)
    assert numba_engine.Layout(rep.size, layout).tiles == -(-rep.size // numba_engine.LANES)
    design = engine.simulate(params.take(rep), [np.random.default_rng(4)], layout, dtype=np.float64)
    np.testing.assert_array_equal(design.ties, plain.ties[rep])
    np.testing.assert_array_equal(design.fate, plain.fate[rep])


def test_fused_summaries_equal_the_recorded_ones(full_scenario):
    """The summaries filled inside the compiled loop equal those the plain run's collector records
    through its per-step callback from the same run's states (histograms, active counts, balance
    share, trajectories), and a plain run's chunk takes the fused path."""
    from sim.run.collectors import ReplicateCollector
    from sim.run.designs import Block

    scenario = load_scenario(full_scenario)
    n = 150
    params = compile_params(scenario, n, np.random.default_rng(8))
    block = Block(0, np.zeros(1, dtype=np.intp), 0, n)
    engine = numba_engine.NumbaEngine()
    fused, slow = ReplicateCollector(trajectories=True), ReplicateCollector(trajectories=True)
    for c in (fused, slow):
        c.begin(block, params)
    engine.simulate(params, [np.random.default_rng(9)], dtype=np.float32, summaries=fused.summaries())
    engine.simulate(params, [np.random.default_rng(9)], dtype=np.float32, record=slow.record)
    np.testing.assert_array_equal(fused.hist, slow.hist)
    np.testing.assert_array_equal(fused.active, slow.active)
    np.testing.assert_allclose(fused.balance_sum, slow.balance_sum, rtol=1e-12)
    np.testing.assert_array_equal(fused.traj, slow.traj)
    assert fused.active[-1].sum() < fused.active[0].sum()
    assert fused.hist.sum() == (params.steps + 1) * n * len(params.alliances)


SHIPPED = sorted((ROOT / "scenarios").glob("*.toml")) + [ROOT / "seeds" / "baseline.toml"]
FATE_N = 2000


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_engines_agree_on_fate_probabilities(path):
    """Both engines, 2,000 replicates each with their own draws: every alliance's probability of
    each fate agrees within |p1 - p2| < 4 sqrt(p (1 - p) 2 / n), four standard errors of the
    difference of two independent estimates (a false alarm about once in 16,000 comparisons)."""
    scenario = load_scenario(path)
    params = compile_params(scenario, FATE_N, np.random.default_rng(11))
    a = NumpyEngine().simulate(params, [np.random.default_rng(12)], dtype=np.float32)
    b = numba_engine.NumbaEngine().simulate(params, [np.random.default_rng(12)], dtype=np.float32)
    for al in range(len(params.alliances)):
        for fate in (0, 1, 2):
            p1, p2 = (a.fate[:, al] == fate).mean(), (b.fate[:, al] == fate).mean()
            p = 0.5 * (p1 + p2)
            tolerance = 4 * np.sqrt(max(p * (1 - p), 1.0 / FATE_N) * 2 / FATE_N)
            assert abs(p1 - p2) < tolerance, (params.alliances[al].name, fate, p1, p2)
    # the stochastic events' bookkeeping (the results' event columns): the share of replicates in
    # which each fired agrees within the same tolerance, and first steps are consistent with counts
    for e, ev in enumerate(params.events):
        for x in (a, b):
            assert ((x.first_fired[:, e] >= 0) == (x.fire_count[:, e] > 0)).all()
        p1, p2 = (a.fire_count[:, e] > 0).mean(), (b.fire_count[:, e] > 0).mean()
        p = 0.5 * (p1 + p2)
        tolerance = 4 * np.sqrt(max(p * (1 - p), 1.0 / FATE_N) * 2 / FATE_N)
        assert abs(p1 - p2) < tolerance, (ev.name, p1, p2)


# --------------------------------------------------------------------------------------------
# Saved states: the view from a date and sequential Monte Carlo continue them on this engine too
# --------------------------------------------------------------------------------------------

SAVED_AT = 17  # mid-run, between two bargaining rounds (every 12 steps)


def test_compiled_engine_continues_a_saved_state_as_the_reference_does(full_scenario):
    """float64: the engine runs 17 steps, its state is saved and restored, and the restored state
    continues 43 steps with fresh streams; the reference, fed the same draws (the first run's,
    then the continuation's), agrees at 1e-9 on every step's ties after the save, the fates, end
    steps, defectors, capabilities, bargained positions and the events' bookkeeping."""
    import itertools

    scenario = load_scenario(full_scenario)
    n = 6
    params = compile_params(scenario, n, np.random.default_rng(3))
    engine = numba_engine.NumbaEngine()
    first = engine.simulate(params, [np.random.default_rng(4)], dtype=np.float64, steps=SAVED_AT)
    saved = {k: getattr(first, k).copy() for k in dynamics.STATE_ARRAYS}
    state = dynamics.restore_state(params, SAVED_AT, saved, np.float64)
    kernel = []
    final = engine.simulate(
        params,
        [np.random.default_rng(5)],
        dtype=np.float64,
        state=state,
        record=lambda s: kernel.append(s.ties.astype(np.float64)),
    )
    assert final.t == params.steps == SAVED_AT + len(kernel) - 1
    before = numba_engine.replay_draws(params, [np.random.default_rng(4)], steps=SAVED_AT)
    after = numba_engine.replay_draws(params, [np.random.default_rng(5)], steps=params.steps - SAVED_AT)
    for r in range(n):
        stream = (
            dynamics.Draws(d.noise[r : r + 1], d.events[r : r + 1], d.defect[r : r + 1])
            for d in itertools.chain(before, after)
        )
        model = ReferenceModel(scenario, rng=0, params=params.take(np.array([r])), draws=stream)
        for _ in range(SAVED_AT):
            model.step()
        worst = 0.0
        for t in range(SAVED_AT, params.steps + 1):
            worst = max(worst, np.abs(kernel[t - SAVED_AT][r] - np.array(model.W)).max())
            if t < params.steps:
                model.step()
        assert worst < 1e-9
        for a, al in enumerate(model.alliances):
            assert (al["fate"], al["end_step"], al["defector"]) == (
                final.fate[r, a],
                final.end_step[r, a],
                final.defector[r, a],
            )
        np.testing.assert_allclose(model.capability, final.capability[r], atol=1e-12)
        np.testing.assert_allclose(model.position, final.position[r], atol=1e-9)
        assert model.fired == final.fired[r].tolist()
    # not trivial: the continuation moved the ties and ended alliances after the save
    assert np.abs(kernel[-1] - kernel[0]).max() > 0.1
    assert (final.end_step >= SAVED_AT).any()


def _continued_fates(scenario, engine: str, n: int, seed: int, workers: int = 1, chunk_size: int = 4096):
    """Each engine's run to SAVED_AT from the scenario's start, then the saved states continued
    to the horizon through the runner (a one-point design with per-replicate values and a Start)."""
    from sim.run.collectors import OutcomeCollector
    from sim.run.designs import Design, Start
    from sim.run.ensemble import run_design

    params = compile_params(scenario, n, np.random.default_rng(seed))
    half = get_engine(engine).simulate(params, [np.random.default_rng(seed + 1)], steps=SAVED_AT)
    saved = {k: getattr(half, k).copy() for k in dynamics.STATE_ARRAYS}
    values = {path: x[None, :] for path, x in params.sampled.items()}
    parts = run_design(
        scenario,
        Design(values, n, start=Start(SAVED_AT, saved)),
        OutcomeCollector(),
        seed=seed + 2,
        engine=engine,
        workers=workers,
        chunk_size=chunk_size,
        progress=False,
    )
    return {k: np.concatenate([cols[k] for _, cols in parts]) for k in parts[0][1]}


def test_run_then_continue_agrees_with_the_numpy_engine_in_distribution():
    """status_quo, 2,000 replicates per engine, each engine running to step 17 and continuing
    its saved states to the horizon through run_design: every alliance's probability of each fate
    agrees within four standard errors of the difference (as the engines' full runs do)."""
    from sim.vocabulary import FATES, fate_column

    scenario = load_scenario(ROOT / "scenarios" / "status_quo.toml")
    fates = {e: _continued_fates(scenario, e, FATE_N, 21) for e in ("numpy", "numba")}
    ended = 0
    for al in scenario.alliances:
        for fate in FATES:
            p1, p2 = ((fates[e][fate_column(al)] == fate).mean() for e in ("numpy", "numba"))
            p = 0.5 * (p1 + p2)
            assert abs(p1 - p2) < 4 * np.sqrt(max(p * (1 - p), 1.0 / FATE_N) * 2 / FATE_N), (al, fate, p1, p2)
            ended += fate != "holds" and p2 > 0
    assert ended >= 2  # alliances do end after the save, on the compiled engine too


def test_continued_states_give_the_same_bytes_on_one_and_two_workers():
    """A design continuing saved states on the compiled engine gives the same outcomes with one
    worker and with two (three chunks), and not the outcomes of another seed."""
    scenario = load_scenario(ROOT / "scenarios" / "stab_in_the_back.toml").with_run(steps=48)
    one = _continued_fates(scenario, "numba", 300, 7, workers=1, chunk_size=128)
    two = _continued_fates(scenario, "numba", 300, 7, workers=2, chunk_size=128)
    other = _continued_fates(scenario, "numba", 300, 8, workers=1, chunk_size=128)
    assert one.keys() == two.keys()
    for k in one:
        np.testing.assert_array_equal(one[k], two[k])
    assert any((one[k] != other[k]).any() for k in one)


def test_missing_numba_is_one_line_naming_the_extra(monkeypatch):
    """Without numba, asking for the engine is a one-line InputError naming the extra."""
    from sim.errors import InputError

    monkeypatch.setattr(numba_engine, "available", lambda: False)
    with pytest.raises(InputError) as e:
        get_engine("numba")
    assert "alliance-sim[fast]" in str(e.value) and "\n" not in str(e.value)
    with pytest.raises(InputError):
        get_engine("fortran")


def test_same_seed_same_bytes_for_one_and_two_workers(full_scenario, tmp_path):
    """`run --engine numba` writes the same replicate table and summaries with 1 and 2 workers
    (three chunks), records the engine in the manifest, and differs from the numpy engine's run."""
    from sim.cli import main

    def run(name, *extra):
        out = tmp_path / name
        assert (
            main(
                [
                    "run",
                    str(full_scenario),
                    "-n",
                    "300",
                    "-t",
                    "20",
                    "--seed",
                    "5",
                    "--chunk-size",
                    "128",
                    "--out",
                    str(out),
                    "--no-progress",
                    "--no-report",
                    *extra,
                ]
            )
            == 0
        )
        return out

    one = run("one", "--engine", "numba", "-j", "1")
    two = run("two", "--engine", "numba", "-j", "2")
    numpy = run("numpy", "-j", "1")
    for f in ("replicates.parquet", "summary.npz"):
        assert (one / f).read_bytes() == (two / f).read_bytes()
        assert (one / f).read_bytes() != (numpy / f).read_bytes()
    from sim.run.store import load_results

    assert load_results(one).manifest["settings"]["engine"] == "numba"


KERNEL_AS_PYTHON = """
import sys
import numpy as np
from sim.model import numba_engine
from sim.run.collectors import ReplicateCollector
from sim.run.designs import Block
from sim.spec.params import compile_params
from sim.spec.scenario import load_scenario

# 26 steps: two bargaining rounds, then two more steps
params = compile_params(load_scenario(sys.argv[1]).with_run(steps=26), 3, np.random.default_rng(1))
collector = ReplicateCollector(trajectories=True)
collector.begin(Block(0, np.zeros(1, dtype=np.intp), 0, 3), params)
state = numba_engine.NumbaEngine().simulate(params, [np.random.default_rng(2)], dtype=np.float64,
                                            summaries=collector.summaries())
np.savez(sys.argv[2], ties=state.ties, fate=state.fate, hist=collector.hist, traj=collector.traj)
"""


def test_kernel_source_runs_as_python(full_scenario, tmp_path):
    """The kernel's Python source (NUMBA_DISABLE_JIT=1, which also lets coverage see its lines)
    computes what the compiled kernel computes (to rounding: the compiled one fuses multiply-adds)."""
    import os
    import subprocess
    import sys

    script = tmp_path / "kernel.py"
    script.write_text(KERNEL_AS_PYTHON)
    out = tmp_path / "python.npz"
    env = {**os.environ, "NUMBA_DISABLE_JIT": "1"}
    subprocess.run(
        [sys.executable, str(script), str(full_scenario), str(out)],
        env=env,
        check=True,
        cwd=ROOT,
        timeout=600,
    )
    compiled = tmp_path / "compiled.npz"
    subprocess.run(
        [sys.executable, str(script), str(full_scenario), str(compiled)], check=True, cwd=ROOT, timeout=600
    )
    a, b = np.load(out), np.load(compiled)
    np.testing.assert_allclose(a["ties"], b["ties"], atol=1e-12)
    np.testing.assert_array_equal(a["fate"], b["fate"])
    np.testing.assert_array_equal(a["hist"], b["hist"])
    np.testing.assert_allclose(a["traj"], b["traj"], atol=1e-6)


def test_why_needs_the_numpy_engine(full_scenario, tmp_path, capsys):
    """A small run books the forces by default on numpy, not on numba (which does not book them);
    asking numba for them is a one-line error naming what to do."""
    from sim.cli import main

    out = tmp_path / "r"
    args = [
        "run",
        str(full_scenario),
        "-n",
        "20",
        "-t",
        "5",
        "--out",
        str(out),
        "--no-progress",
        "--no-report",
    ]
    assert main([*args, "--engine", "numba"]) == 0
    from sim.run.store import load_results

    assert load_results(out).manifest["settings"]["why"] == 0
    capsys.readouterr()
    assert main([*args, "--engine", "numba", "--why", "--force"]) == 2
    err = capsys.readouterr().err.strip()
    assert "--engine numpy" in err and "\n" not in err


# --------------------------------------------------------------------------------------------
# Every command that simulates takes --engine
# --------------------------------------------------------------------------------------------


def test_levers_on_the_compiled_engine_rank_the_planted_policy_first():
    """Policy evaluation through the compiled engine finds the planted best policy too (the
    ranking is a property of the model, not of one engine's random numbers)."""
    from sim.analysis.levers import evaluate

    result = evaluate(
        ROOT / "tests" / "data" / "planted.toml",
        grid_values=3,
        worlds=24,
        replicates=4,
        progress=False,
        engine="numba",
    )
    best = result.table.sort_values("rank").iloc[0]
    assert (best["lever:warmth"], best["lever:decoy"]) == (0.4, 0.0)


def test_sweep_and_calibration_run_on_the_compiled_engine(tmp_path):
    """A sweep's shares move with its value on either engine and agree within Monte Carlo error;
    a prior ensemble for a calibration runs on the compiled engine (its observations are read
    at their steps through the per-step record)."""
    from sim.analysis.calibration import simulate
    from sim.analysis.sweep import run_sweep
    from sim.spec.observations import load_record

    scenario = load_scenario(ROOT / "scenarios" / "stab_in_the_back.toml").with_run(steps=48)
    values = np.array([0.0, 0.2])
    n = 1500
    shares = {}
    for engine in ("numpy", "numba"):
        sw = run_sweep(
            scenario, "mechanisms.competition", values, replicates=n, seed=2, progress=False, engine=engine
        )
        holds = sw.table[sw.table["fate"] == "holds"].sort_values("value")
        shares[engine] = holds["p"].to_numpy()
    for a, b in zip(shares["numpy"], shares["numba"], strict=True):
        p = 0.5 * (a + b)
        assert abs(a - b) < 4 * np.sqrt(max(p * (1 - p), 1 / n) * 2 / n)
    assert shares["numba"][0] > shares["numba"][1]  # more rivalry, fewer alliances hold
    from tests.test_calibration import ACTIVE, entry, record_file

    small = load_scenario(ROOT / "tests" / "data" / "history_small.toml")
    record = load_record(record_file(tmp_path, entry("still", "2024-01-05", ACTIVE)), small)
    ens = {
        e: simulate(small, record, replicates=2000, seed=1, keep_states=False, engine=e)
        for e in ("numpy", "numba")
    }
    p1, p2 = ens["numpy"].accepted.mean(), ens["numba"].accepted.mean()
    assert 0 < p2 < 1 and abs(p1 - p2) < 4 * np.sqrt(max(p1 * (1 - p1), 1e-3) * 2 / 2000)
