"""Work a command starts in background threads: the compiled kernel's load and the modules needed
after a run (sim.run.background)."""

from __future__ import annotations

import threading

import pytest

from sim.run import background


@pytest.fixture
def no_warming(monkeypatch):
    """An empty record of started loads, and the threads started meanwhile."""
    monkeypatch.setattr(background, "_PREWARM", {})
    return background._PREWARM


def test_prewarm_only_when_the_compiled_kernel_runs_here(no_warming, monkeypatch):
    """The numpy engine has nothing to load; chunks that run on other processes (more than one
    worker, all cores of a machine with more than one, an executor) load it there."""
    monkeypatch.setattr(background.os, "cpu_count", lambda: 2)
    background.prewarm("numpy", "float32", 1, None)
    background.prewarm("numba", "float32", 2, None)
    background.prewarm("numba", "float32", None, None)
    background.prewarm("numba", "float32", 1, object())
    assert no_warming == {}


def test_prewarm_starts_one_thread_per_engine_and_precision(no_warming, monkeypatch):
    """The load runs in a daemon thread, once per engine and precision however often it is
    asked for; a load that fails is left for the first chunk to report."""
    loaded: list[str] = []

    class Engine:
        def warm(self, dtype):
            loaded.append(dtype)
            raise RuntimeError("no kernel here")

    monkeypatch.setattr("sim.model.engines.get_engine", lambda name: Engine())
    for _ in range(3):
        background.prewarm("numba", "float32", 1, None)
    background.prewarm("numba", "float64", 1, None)
    assert sorted(no_warming) == [("numba", "float32"), ("numba", "float64")]
    for thread in no_warming.values():
        assert thread.daemon
        thread.join(10)
    assert sorted(loaded) == ["float32", "float64"]


def test_preload_loads_after_the_kernel(no_warming):
    """The loading function runs once the kernel's load is over; an error in it is left for the
    command's own import to report."""
    release = threading.Event()
    order: list[str] = []

    def warm():
        release.wait(10)
        order.append("warmed")

    warming = threading.Thread(target=warm, daemon=True)
    no_warming[("numba", "float32")] = warming
    warming.start()

    def load():
        order.append("loaded")
        raise ImportError("no such module")

    thread = background.preload(load)
    assert thread.daemon
    release.set()
    thread.join(10)
    assert order == ["warmed", "loaded"]


def test_run_without_a_page_loads_its_summary_meanwhile(monkeypatch, tmp_path, capsys):
    """`run --no-report` hands the loading of its summary's modules to a background thread."""
    from sim.cli import main, run_commands

    handed: list = []
    monkeypatch.setattr(background, "preload", handed.append)
    argv = ["run", "status_quo", "-n", "50", "-t", "2", "-j", "1", "--no-progress"]
    assert main([*argv, "--no-report", "--out", str(tmp_path / "a")]) == 0
    assert handed == [run_commands._load_summary]
    handed[0]()  # the modules it names exist
    assert "status_quo: 50 replicates" in capsys.readouterr().out


def test_settle_waits_for_every_load_started_here(no_warming, monkeypatch):
    """Before a fork: the kernel's load and the imports under way are waited for."""
    monkeypatch.setattr(background, "_PRELOADS", [])
    release = threading.Event()
    warming = threading.Thread(target=lambda: release.wait(10), daemon=True)
    no_warming[("numba", "float32")] = warming
    warming.start()
    preloading = background.preload(lambda: None)
    threading.Timer(0.2, release.set).start()
    background.settle()
    assert not warming.is_alive() and not preloading.is_alive()
    assert release.is_set()
