"""Runs side by side (:mod:`sim.run.lanes`): each lane its own process, the results handed back as
they finish, errors and interrupts coming back as themselves, and a comparison whose runs went
side by side giving the very bytes of one run after the other."""

from __future__ import annotations

import hashlib
import os
import signal
import time
from pathlib import Path

import pytest

import sim
from sim.errors import InputError, Interrupted, RunError
from sim.run import executors
from sim.run.lanes import lane_count, side_by_side
from tests.conftest import ROOT


def test_lane_count_uses_the_workers_and_never_more_lanes_than_runs():
    assert lane_count(2, 2) == 2
    assert lane_count(5, 3) == 3
    assert lane_count(2, 8) == 2
    assert lane_count(1, 4) == 1  # one run needs no lane of its own
    assert lane_count(3, 1) == 1  # one worker: one run after the other, here
    assert lane_count(3, 4, local=False) == 1  # an executor the caller gave decides


def test_a_jupyter_kernel_runs_one_after_the_other(monkeypatch):
    import sys
    import types

    class ZMQInteractiveShell:  # the shell a Jupyter kernel runs (ipykernel.zmqshell)
        pass

    monkeypatch.setitem(sys.modules, "ipykernel", types.ModuleType("ipykernel"))
    fake = types.ModuleType("IPython")
    fake.get_ipython = lambda: ZMQInteractiveShell()  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "IPython", fake)
    assert lane_count(2, 2) == 1
    ran = side_by_side([0], lambda k: os.getpid(), lambda k: pytest.fail("nothing to fetch"), 1, away=True)
    assert ran == {0: os.getpid()}


def test_each_lane_is_a_process_and_every_result_comes_back(tmp_path):
    here = os.getpid()

    def run(k: int) -> None:
        (tmp_path / f"{k}.txt").write_text(f"{os.getpid()} {executors.BAR_ROW}")

    done: list[int] = []
    calls: list[int] = []
    out = side_by_side(
        [0, 1, 2, 3, 4],
        run,
        lambda k: (tmp_path / f"{k}.txt").read_text().split(),
        lanes=2,
        done=lambda k, result: done.append(k),
        meanwhile=lambda: calls.append(os.getpid()),
    )
    assert sorted(out) == sorted(done) == [0, 1, 2, 3, 4] and calls == [here]
    pids = {k: int(v[0]) for k, v in out.items()}
    assert here not in pids.values()
    assert pids[0] == pids[2] == pids[4] != pids[1] == pids[3]  # jobs dealt to lanes in turn
    assert {k: v[1] for k, v in out.items()} == {0: "0", 1: "1", 2: "0", 3: "1", 4: "0"}  # bar rows
    assert executors.BAR_ROW is None  # this process's bars are as they were


def test_one_run_away_goes_to_a_process_while_this_one_works(tmp_path):
    def run(k: int) -> None:
        (tmp_path / "run.txt").write_text(f"{os.getpid()} {executors.BAR_ROW}")

    calls: list[int] = []
    out = side_by_side(
        [0],
        run,
        lambda k: (tmp_path / "run.txt").read_text().split(),
        lanes=1,
        meanwhile=lambda: calls.append(os.getpid()),
        away=True,
    )
    assert calls == [os.getpid()] and int(out[0][0]) != os.getpid()
    assert out[0][1] == "None"  # one run: its progress bar where a run's always is


def test_one_lane_runs_here_in_turn():
    order: list[str] = []
    out = side_by_side(
        [3, 1],
        lambda k: order.append(f"run {k}") or os.getpid(),
        lambda k: pytest.fail("nothing to fetch"),
        lanes=1,
        done=lambda k, r: order.append(f"done {k}"),
        meanwhile=lambda: order.append("meanwhile"),
    )
    assert out == {3: os.getpid(), 1: os.getpid()}
    assert order == ["meanwhile", "run 3", "done 3", "run 1", "done 1"]


def test_an_error_in_a_lane_comes_back_as_itself_and_stops_the_others(tmp_path):
    def run(k: int) -> None:
        if k == 1:
            raise InputError(f"{tmp_path}/b.toml: expected a number at run.steps, got 'x'")
        time.sleep(60)  # the other lane: stopped, not waited for
        (tmp_path / "finished").touch()

    started = time.perf_counter()
    with pytest.raises(InputError, match=r"b\.toml: expected a number at run\.steps") as caught:
        side_by_side([0, 1], run, lambda k: None, lanes=2)
    assert caught.value.exit_code == 2
    assert time.perf_counter() - started < 30 and not (tmp_path / "finished").exists()


def test_a_lane_that_dies_without_a_word_is_a_run_error():
    def run(k: int) -> None:
        if k == 1:
            os._exit(9)

    with pytest.raises(
        RunError, match=r"1 run\(s\) ended without a word from the process running them \(exit code 9\)"
    ):
        side_by_side([0, 1], run, lambda k: None, lanes=2)


def test_an_interrupt_here_stops_the_lanes_which_say_how_to_finish(tmp_path):
    """Ctrl-C reaches the command's process (the lanes ignore it): they are stopped with SIGTERM,
    keep what they finished, and the interruption raised names the way to finish a run."""

    def run(k: int) -> None:
        with executors.stop_signals():
            try:
                (tmp_path / f"started-{k}").touch()
                time.sleep(60)
            except KeyboardInterrupt as e:  # as a run says it (:class:`sim.run.ensemble._Stored`)
                how = f"interrupted by {signal.Signals(e.signum).name}"
                raise Interrupted(
                    how + f"; run {k} kept; finish with: {{hint}}",
                    e.signum,
                    hint="resume it",
                    resume={"out": f"run-{k}"},
                ) from None

    def meanwhile() -> None:
        while len(list(tmp_path.glob("started-*"))) < 2:
            time.sleep(0.05)
        raise KeyboardInterrupt  # as Ctrl-C raises it here

    started = time.perf_counter()
    with pytest.raises(Interrupted) as caught:
        side_by_side([0, 1], run, lambda k: None, lanes=2, meanwhile=meanwhile)
    assert time.perf_counter() - started < 30
    error = caught.value
    assert error.exit_code == 130 and error.resume["out"] in {"run-0", "run-1"} and "resume it" in str(error)
    # said as Ctrl-C, not as the SIGTERM that stopped the lanes, and the other run named too
    assert str(error).startswith("interrupted; run ") and "SIGTERM" not in str(error)
    other = {"run-0", "run-1"} - {error.resume["out"]}
    assert f"the run in {other.pop()} stopped too and keeps its chunks" in str(error)


def test_an_error_here_right_after_the_fork_stops_the_lanes_quietly(capfd):
    """The lanes are stopped at once, before their runs began: no traceback from them, and the
    error raised is this process's own."""

    def run(k: int) -> None:
        time.sleep(60)

    def meanwhile() -> None:
        raise ValueError("the report's modules could not be loaded")

    started = time.perf_counter()
    with pytest.raises(ValueError, match="could not be loaded"):
        side_by_side([0, 1], run, lambda k: None, lanes=2, meanwhile=meanwhile)
    assert time.perf_counter() - started < 30
    assert "Traceback" not in capfd.readouterr().err


def test_a_stopped_lane_cleans_up_as_a_stopped_run_does(tmp_path):
    """A lane stopped while its run holds a folder it made lets go of it as an interrupted run
    does: the lock file and the empty folder are gone (a refused comparison leaves nothing)."""
    from sim.run.lock import lock_folder

    def run(k: int) -> None:
        with lock_folder(tmp_path / "out" / f"run-{k}"):
            (tmp_path / f"holding-{k}").touch()
            time.sleep(60)

    def meanwhile() -> None:
        while len(list(tmp_path.glob("holding-*"))) < 2:
            time.sleep(0.05)
        raise InputError("b.toml: expected a number at run.steps")

    with pytest.raises(InputError):
        side_by_side([0, 1], run, lambda k: None, lanes=2, meanwhile=meanwhile)
    assert not (tmp_path / "out" / "run-0").exists() and not (tmp_path / "out" / "run-1").exists()


def _digest(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_comparison_side_by_side_gives_the_bytes_of_one_run_after_the_other(tmp_path):
    scenarios = [ROOT / "scenarios" / "back_to_back.toml", ROOT / "scenarios" / "stab_in_the_back.toml"]
    settings = {"replicates": 300, "steps": 24, "seed": 4, "chunk_size": 128, "progress": False}
    seen: list[tuple[int, str]] = []
    apart = sim.compare(
        scenarios, tmp_path / "apart", workers=2, on_run=lambda k, r: seen.append((k, r.name)), **settings
    )
    after = sim.compare(scenarios, tmp_path / "after", workers=1, **settings)
    assert sorted(seen) == [(0, "back_to_back"), (1, "stab_in_the_back")]
    for a, b in zip(apart.runs, after.runs, strict=True):
        assert a.name == b.name
        for name in ("replicates.parquet", "summary.npz"):
            assert _digest(Path(a.directory) / name) == _digest(Path(b.directory) / name), (a.name, name)
    again: list[int] = []  # finished runs are found, not run again, and still handed over
    reused = sim.compare(
        scenarios, tmp_path / "apart", workers=2, on_run=lambda k, r: again.append(k), **settings
    )
    assert reused.reused == [True, True] and sorted(again) == [0, 1]
