"""The experiment runner: chunk seeding, executors, exact reproducibility, resume, retries."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from sim.run.chunks import replicate_task, run_chunk
from sim.run.ensemble import EnsembleError, run_ensemble
from sim.run.store import ResultsError, load_results, merge_summaries
from sim.spec.scenario import load_scenario
from tests.conftest import DATA, ROOT

SCENARIO = DATA / "all_mechanisms.toml"
FILES = ("replicates.parquet", "summary.npz", "manifest.json")


def _run(out, **kw):
    kw.setdefault("replicates", 300)
    kw.setdefault("steps", 20)
    kw.setdefault("chunk_size", 64)
    return run_ensemble(SCENARIO, out=out, seed=11, progress=False, **kw)


def _same_bytes(a, b, files=("replicates.parquet", "summary.npz")):
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_one_and_two_workers_give_identical_bytes(tmp_path):
    _run(tmp_path / "one", workers=1)
    _run(tmp_path / "two", workers=2)
    _same_bytes(tmp_path / "one", tmp_path / "two", FILES)


def test_dask_local_cluster_gives_identical_bytes(tmp_path):
    distributed = pytest.importorskip("distributed")
    _run(tmp_path / "one", workers=1)
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        _run(tmp_path / "dask", executor=client.get_executor())
    _same_bytes(tmp_path / "one", tmp_path / "dask", FILES)


def test_chunks_are_seeded_independently_of_their_neighbours(tmp_path):
    """Chunk c's replicates are the same whether or not the other chunks run."""
    scenario = load_scenario(SCENARIO).with_run(steps=20)
    whole = _run(tmp_path / "all").replicates
    alone = run_chunk(replicate_task(scenario, 2, 128, 64, 11, why=12)).table  # a small run books why
    pd.testing.assert_frame_equal(whole.iloc[128:192].reset_index(drop=True), alone)


def test_summaries_merge_exactly_across_chunks(tmp_path):
    scenario = load_scenario(SCENARIO).with_run(steps=20)
    parts = [run_chunk(replicate_task(scenario, c, 64 * c, 64, 11)).summary for c in range(3)]
    merged = merge_summaries(parts)
    results = _run(tmp_path / "r", replicates=192)
    for key, value in merged.items():
        np.testing.assert_array_equal(results.summary[key], value)
    assert merged["cohesion_hist"][:, 0].sum(axis=1).tolist() == [192] * 21


def test_load_results_roundtrip(tmp_path):
    res = _run(tmp_path / "r")
    again = load_results(tmp_path / "r")
    pd.testing.assert_frame_equal(res.replicates, again.replicates)
    assert again.actors == ["A", "B", "C", "D"]
    assert again.manifest["settings"]["chunk_size"] == 64
    assert again.manifest["status"] == "complete"
    assert not (tmp_path / "r" / "chunks").exists()


def test_resume_refuses_another_scenario(tmp_path):
    _run(tmp_path / "r")
    with pytest.raises(ResultsError, match="another scenario"):
        _run(tmp_path / "r", steps=21, resume=True)
    with pytest.raises(ResultsError, match="already holds results"):
        _run(tmp_path / "r")


def test_trajectories_for_small_runs(tmp_path):
    res = _run(tmp_path / "r", replicates=70, trajectories=True)
    traj = res.trajectories()
    assert traj.shape == (70, 21, 4, 4)
    final = traj[:, -1]
    np.testing.assert_allclose(final.mean(axis=0), res.summary["ties_sum"] / 70, atol=1e-5)


def crash_once(task):
    """Kill the worker process the first time chunk 1 runs (a marker file remembers)."""
    marker = os.environ["ALLIANCE_TEST_MARKER"]
    if task.index == 1 and not os.path.exists(marker):
        open(marker, "w").close()
        os._exit(17)
    return run_chunk(task)


def fail_always(task):
    if task.index == 2:
        raise RuntimeError("simulated fault")
    return run_chunk(task)


def test_dead_worker_has_its_chunk_retried(tmp_path, monkeypatch):
    monkeypatch.setenv("ALLIANCE_TEST_MARKER", str(tmp_path / "crashed"))
    _run(tmp_path / "clean", workers=1)
    _run(tmp_path / "crashy", workers=2, chunk_fn=crash_once)
    assert (tmp_path / "crashed").exists()
    _same_bytes(tmp_path / "clean", tmp_path / "crashy")


def test_chunk_failing_twice_fails_the_run_and_keeps_the_rest(tmp_path):
    out = tmp_path / "r"
    with pytest.raises(EnsembleError, match="chunk 2 failed 2 times"):
        _run(out, workers=1, chunk_fn=fail_always)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "running"
    assert set(manifest["chunks"]["done"]) == {"0", "1", "3", "4"}
    # the kept chunks let a resume finish the run with the same bytes as a clean one
    _run(out, resume=True)
    _run(tmp_path / "clean")
    _same_bytes(out, tmp_path / "clean", FILES)


def test_sigkill_then_resume_gives_identical_bytes(tmp_path):
    """Kill the whole run (and its workers) mid-way, resume, compare with an uninterrupted run."""
    args = [
        sys.executable,
        "-m",
        "sim.cli",
        "run",
        str(ROOT / "scenarios" / "back_to_back.toml"),
        "-n",
        "6000",
        "-t",
        "60",
        "--chunk-size",
        "200",
        "--seed",
        "5",
        "--workers",
        "2",
        "--no-progress",
        "--no-report",
    ]
    killed = tmp_path / "killed"
    proc = subprocess.Popen(
        [*args, "--out", str(killed)],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 120
    done = 0
    while time.time() < deadline and proc.poll() is None:
        try:
            done = len(json.loads((killed / "manifest.json").read_text())["chunks"]["done"])
        except (OSError, ValueError, KeyError):
            done = 0
        if done >= 3:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the run finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    manifest = json.loads((killed / "manifest.json").read_text())
    assert manifest["status"] == "running" and 0 < len(manifest["chunks"]["done"]) < 30
    subprocess.run([*args, "--out", str(killed), "--resume"], cwd=ROOT, check=True, capture_output=True)
    clean = tmp_path / "clean"
    subprocess.run([*args, "--out", str(clean)], cwd=ROOT, check=True, capture_output=True)
    _same_bytes(killed, clean, FILES)


def test_blas_threads_given_back():
    """The pipeline lets OpenBLAS run one thread while it runs chunks and restores the count."""
    from sim.run import executors

    libs = executors._openblas()
    before = [get() for _, get in libs]
    pipeline = executors.PipelineExecutor()
    assert all(get() == 1 for _, get in libs)
    pipeline.shutdown()
    pipeline.shutdown()  # a second shutdown gives back nothing more
    assert [get() for _, get in libs] == before


def _pandas_loaded_after(code: str) -> list[str]:
    """The lines a fresh Python prints running ``code`` (from the clone), then whether pandas was
    loaded (``True``/``False``, the last line)."""
    import subprocess
    import sys

    code += "import sys\nprint('pandas' in sys.modules)\n"
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()


def test_a_run_without_a_page_prints_its_fate_counts_without_pandas():
    """`run --no-report` counts the fates it prints from the stored table's row groups, with
    pyarrow alone (pandas took about a fifth of a second at the end of every such command)."""
    lines = _pandas_loaded_after(
        "import tempfile\n"
        "from sim.cli import main\n"
        "out = tempfile.mkdtemp() + '/r'\n"
        "main(['run', 'scenarios/status_quo.toml', '-n', '300', '-t', '6', '--out', out, '--no-report',"
        " '--no-progress'])\n"
    )
    assert any(line.lstrip().startswith("holds") for line in lines), lines  # the counts were printed
    assert lines[-1] == "False"


@pytest.mark.parametrize("kind", ["int8", "int16", "int32", "int64", "uint8", "float32", "float64"])
def test_numbers_read_from_arrow_buffers_equal_to_numpy(kind):
    """``numeric_values`` reads a column's buffers, offsets of sliced arrays and several chunks
    included, and gives what ``to_numpy`` gives; nulls and booleans go through ``to_numpy``."""
    import pyarrow as pa

    from sim.run.replicate_table import numeric_values

    values = (np.arange(-5, 20) % 100).astype(kind)
    whole = pa.array(values)
    cases = [
        whole,
        whole.slice(3, 9),
        pa.chunked_array([whole.slice(2, 5), whole.slice(11)]),
        pa.chunked_array([], whole.type),
        whole.slice(len(whole)),  # empty, at the end of its buffer
    ]
    for column in cases:
        got, expected = numeric_values(column), column.to_numpy()
        assert got.dtype == expected.dtype
        np.testing.assert_array_equal(got, expected)
    with_null = pa.array([1, None, 3], type=whole.type)
    np.testing.assert_array_equal(numeric_values(with_null), with_null.to_numpy(zero_copy_only=False))
    flags = pa.array([True, False, True])
    np.testing.assert_array_equal(numeric_values(flags), flags.to_numpy(zero_copy_only=False))


def test_chunk_tables_built_from_buffers_equal_what_pyarrow_makes():
    """Every column kind a chunk stores is the Arrow array ``pyarrow.array`` makes of it (values,
    type, no nulls); what it cannot build from buffers it leaves to ``pyarrow.array``."""
    import pyarrow as pa

    from sim.run.store import _arrow_array, decode_table, encode_table

    rng = np.random.default_rng(3)
    columns = {
        "replicate": np.arange(10, 17, dtype=np.int64),
        "bloc": rng.integers(-1, 3, 7).astype(np.int8),
        "end_step": rng.integers(0, 120, 7).astype(np.int32),
        "sampled": rng.random(7).astype(np.float32),
        "cohesion": np.r_[rng.random(6), np.nan],
        "fired": rng.random(7) < 0.5,
        "fate": np.array(["holds", "stab_in_the_back", "drift_apart", "holds", "", "holds", "é"]),
        "defector": np.array(["", "China", "Russia", "", "Kazakhstan", "", "Mongolia"], dtype=object),
        "mixed": np.array(["a", None, "b", "c", "d", "e", "f"], dtype=object),
    }
    for name, values in columns.items():
        built, made = _arrow_array(values), pa.array(values)
        assert built.type == made.type and built.null_count == made.null_count, name
        assert built.equals(made) or name == "cohesion", name  # NaN != NaN in Arrow's equality
    cohesion = _arrow_array(columns["cohesion"]).to_numpy(zero_copy_only=False)
    np.testing.assert_array_equal(cohesion, columns["cohesion"])
    decoded, made = decode_table(encode_table(columns)), pa.table(columns)
    assert decoded.schema.equals(made.schema)
    assert decoded.drop_columns(["cohesion"]).equals(made.drop_columns(["cohesion"]))


def test_a_run_does_not_load_pandas():
    """A run stores and merges its chunks with pyarrow alone (pandas takes a third of a second to
    load in every process that would)."""
    lines = _pandas_loaded_after(
        "import tempfile\n"
        "from sim.run.ensemble import run_ensemble\n"
        "out = tempfile.mkdtemp()\n"
        "run_ensemble('scenarios/status_quo.toml', replicates=300, steps=6, out=out + '/r', chunk_size=128,"
        " progress=False, workers=1)\n"
    )
    assert lines == ["False"]
