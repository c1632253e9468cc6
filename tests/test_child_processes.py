"""Worker processes: kept warm across calls, and never outliving the command that started them.

A killed or terminated ``alliance-sim run -j 2`` must not leave its workers (about 200 MB each)
or the multiprocessing resource tracker running: SIGKILL of the driver alone (the workers watch
it), and SIGTERM or SIGHUP (the driver stops the pool, keeps the finished chunks and exits with
``128 + signal`` and one line, and the run can be resumed).
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.run.chunks import run_chunk
from sim.run.collectors import OutcomeCollector
from sim.run.designs import Design
from sim.run.ensemble import run_design
from sim.run.executors import warm_executor
from sim.run.store import chunk_paths, sha256_file
from sim.spec.scenario import load_scenario
from tests.conftest import ROOT

pytestmark = pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="reads /proc (Linux)")

STATUS_QUO = ROOT / "scenarios" / "status_quo.toml"


def alliance_sim() -> list[str]:
    script = Path(sys.executable).parent / "alliance-sim"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sim.cli"]


def children(pid: int) -> list[int]:
    """The live child processes of ``pid``."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            found += [int(c) for c in (task / "children").read_text().split()]
    return [c for c in found if alive(c)]


def alive(pid: int) -> bool:
    """Whether ``pid`` is a process that runs (a zombie has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def role(pid: int) -> str:
    """``worker``, ``tracker`` or ``other``, from the command line of a child of the driver."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "other"
    if "resource_tracker" in cmd:
        return "tracker"
    return "worker" if "spawn_main" in cmd else "other"


def start_run(out: Path, log: Path, *extra: str) -> tuple[subprocess.Popen, list[int]]:
    """``alliance-sim run status_quo -n 200000 -j 2`` in its own process group; returns it and its
    worker and tracker processes once both workers exist."""
    with open(log, "w") as err:  # a file: the tracker inherits stderr and may outlive a pipe read
        proc = subprocess.Popen(
            [
                *alliance_sim(),
                "run",
                str(STATUS_QUO),
                "-n",
                "200000",
                "-j",
                "2",
                "--out",
                str(out),
                "--no-progress",
                "--no-report",
                *extra,
            ],
            cwd=ROOT,
            start_new_session=True,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    deadline = time.time() + 180
    while time.time() < deadline and proc.poll() is None:
        kids = children(proc.pid)
        if sum(role(k) == "worker" for k in kids) >= 2:
            return proc, [k for k in kids if role(k) in ("worker", "tracker")]
        time.sleep(0.1)
    proc.kill()
    pytest.fail(f"the run's two workers never appeared (exit {proc.poll()}): {log.read_text()[-500:]}")


def gone_within(pids: list[int], seconds: float) -> list[int]:
    """The processes of ``pids`` still running after up to ``seconds``."""
    deadline = time.time() + seconds
    while time.time() < deadline and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


@contextlib.contextmanager
def cleanup(pids: list[int]):
    """Kill whatever a failed test leaves behind."""
    try:
        yield
    finally:
        for p in pids:
            with contextlib.suppress(OSError):
                os.kill(p, signal.SIGKILL)


def test_workers_and_tracker_die_with_a_sigkilled_driver(tmp_path):
    proc, kids = start_run(tmp_path / "run", tmp_path / "err")
    with cleanup([proc.pid, *kids]):
        assert {role(k) for k in kids} == {"worker", "tracker"}
        os.kill(proc.pid, signal.SIGKILL)  # the driver only, not its group
        proc.wait(timeout=30)
        assert gone_within(kids, 10) == []


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_terminated_driver_stops_its_pool_keeps_chunks_and_resumes(tmp_path, signum):
    out = tmp_path / "run"
    proc, kids = start_run(out, tmp_path / "err", "-t", "12", "--chunk-size", "2000")
    with cleanup([proc.pid, *kids]):
        deadline = time.time() + 180
        done = 0
        while time.time() < deadline and proc.poll() is None and done < 2:
            with contextlib.suppress(OSError, ValueError, KeyError):
                done = len(json.loads((out / "manifest.json").read_text())["chunks"]["done"])
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be terminated"
        os.kill(proc.pid, signum)
        assert proc.wait(timeout=60) == 128 + signum
        assert gone_within(kids, 10) == []
    lines = (tmp_path / "err").read_text().strip().splitlines()
    assert len(lines) == 1, lines
    name = signal.Signals(signum).name
    assert lines[0].startswith(f"alliance-sim: interrupted by {name}; ") and "chunks are kept in" in lines[0]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["status"] == "running" and 2 <= len(manifest["chunks"]["done"]) < 200
    for c, sums in manifest["chunks"]["done"].items():
        table, summary = chunk_paths(out, int(c))
        assert sha256_file(table) == sums["table"] and sha256_file(summary) == sums["summary"]
    if signum != signal.SIGTERM:
        return
    command = shlex.split(lines[0].split("finish with: ", 1)[1])
    assert command[:2] == ["alliance-sim", "run"] and "--resume" in command
    resumed = subprocess.run(
        [*alliance_sim(), *command[1:], "-j", "2", "--no-progress", "--no-report"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert resumed.returncode == 0, resumed.stderr
    assert json.loads((out / "manifest.json").read_text())["status"] == "complete"


# --------------------------------------------------------------------------------------------
# The warm pool
# --------------------------------------------------------------------------------------------


def with_pid(task):
    """A chunk function that also says which process ran the chunk."""
    return os.getpid(), run_chunk(task)


def kernel_loaded() -> bool:
    """Whether this process has the numba engine's compiled kernel loaded."""
    from sim.model import numba_engine

    return "run_stretch" in numba_engine._COMPILED


def _pids(scenario, seed: int, **kw) -> set[int]:
    parts = run_design(
        scenario,
        Design({}, 64),
        OutcomeCollector(),
        seed=seed,
        chunk_size=16,
        chunk_fn=with_pid,
        progress=False,
        **kw,
    )
    return {pid for pid, _ in parts}


def test_a_stopped_pool_leaves_no_thread_waiting_for_half_a_result():
    """A worker killed while it sent a chunk's result leaves half a message in the result pipe.
    Once the pool is stopped, its manager thread must not wait for the rest: the interpreter
    joins that thread at exit, and an interrupted command hung there (about one SIGHUP in fifty
    under load)."""
    import struct

    from sim.run.executors import WarmPool

    pool = WarmPool(1)
    assert pool.submit(os.getpid).result(timeout=120) != os.getpid()
    manager = pool._executor_manager_thread
    writer = pool._result_queue._writer
    os.write(writer.fileno(), struct.pack("!i", 1000) + b"x" * 10)  # a header for 1,000 bytes, and 10
    time.sleep(0.5)  # the manager thread reads them and waits for the rest
    try:
        pool.stop()
        manager.join(timeout=30)
        assert not manager.is_alive()
    finally:
        if manager.is_alive():  # end its wait, so that the tests themselves can end
            with contextlib.suppress(OSError):
                writer.close()
            manager.join(timeout=30)


def test_consecutive_designs_reuse_the_warm_pool(monkeypatch):
    """Two designs in a row with two workers run in the workers of one pool, started for the
    first (none is started for the second); a pool held by the caller is used as given; a changed
    environment (which workers inherit when they start) gets fresh workers."""
    scenario = load_scenario(ROOT / "scenarios" / "stab_in_the_back.toml").with_run(steps=6)
    first = _pids(scenario, 1, workers=2)
    pool = warm_executor(2)
    workers = set(pool._processes)  # the pool's two processes
    second = _pids(scenario, 2, workers=2)
    assert warm_executor(2) is pool and set(pool._processes) == workers and len(workers) == 2
    assert first | second <= workers and os.getpid() not in workers
    assert _pids(scenario, 3, executor=pool) <= workers
    monkeypatch.setenv("ALLIANCE_TEST_FRESH_WORKERS", "1")
    assert not _pids(scenario, 4, workers=2) & workers
    assert warm_executor(2) is not pool


def test_workers_load_the_compiled_kernel_as_they_start(monkeypatch):
    """A pool started for the numba engine has the kernel loaded before its first chunk, and a
    design on that engine runs in it."""
    pytest.importorskip("numba")
    monkeypatch.setenv("ALLIANCE_TEST_PRELOAD", "1")  # a pool of its own
    pool = warm_executor(2, "numba")
    assert all(f.result(timeout=300) for f in [pool.submit(kernel_loaded) for _ in range(4)])
    results = run_design(
        load_scenario(STATUS_QUO).with_run(steps=4),
        Design({}, 40),
        OutcomeCollector(),
        chunk_size=20,
        engine="numba",
        executor=pool,
        progress=False,
    )
    assert sum(len(next(iter(cols.values()))) for _, cols in results) == 40
