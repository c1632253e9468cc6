"""Work started in a background thread: the compiled kernel's load (sim.run.background)."""

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


def test_settle_waits_for_every_load_started_here(no_warming):
    """Before a fork: the kernel's load under way is waited for."""
    release = threading.Event()
    warming = threading.Thread(target=lambda: release.wait(10), daemon=True)
    no_warming[("numba", "float32")] = warming
    warming.start()
    threading.Timer(0.2, release.set).start()
    background.settle()
    assert not warming.is_alive() and release.is_set()
