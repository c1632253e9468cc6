"""Work started in a background thread: the compiled kernel's load (sim.run.background)."""

from __future__ import annotations

import subprocess
import sys
import threading
import time

import pytest

from sim.run import background
from tests.conftest import ROOT


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


def test_an_ending_command_waits_for_a_load_that_finishes_soon(no_warming):
    """A load that ends within the wait is waited for, and the command then ends as usual."""
    warming = threading.Thread(target=lambda: time.sleep(0.3), daemon=True)
    no_warming[("numba", "float32")] = warming
    warming.start()
    assert warming.is_alive()
    background.wait_or_exit(130, wait=30)  # returns: nothing is cut short
    assert not warming.is_alive()
    background.wait_or_exit(130)  # nothing under way: returns at once


def test_an_ending_command_with_a_load_still_under_way_ends_there_with_its_status():
    """A load still going after the wait: the process ends with the command's status at once, its
    buffered output written (the interpreter's exit would tear LLVM's objects down under the
    loading thread)."""
    code = (
        "import threading, time\n"
        "from sim.run import background\n"
        "stuck = threading.Thread(target=time.sleep, args=(60,), daemon=True)\n"
        "background._PREWARM[('numba', 'float32')] = stuck\n"
        "stuck.start()\n"
        "print('the run said this')\n"
        "background.wait_or_exit(130, wait=0.2)\n"
        "print('not reached')\n"
    )
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 130, done.stderr
    assert done.stdout == "the run said this\n"
    assert time.monotonic() - start < 30


def test_a_program_that_ends_while_the_kernel_loads_waits_for_the_load(tmp_path):
    """Used as a library, a program ending while the load is under way waits for it at exit
    (the load runs in a daemon thread, which the interpreter would otherwise stop part way, inside
    LLVM)."""
    marker = tmp_path / "loaded"
    code = (
        "import time\n"
        "from sim.run import background\n"
        "class Engine:\n"
        "    def warm(self, dtype):\n"
        "        time.sleep(0.5)\n"
        f"        open({str(marker)!r}, 'w').close()\n"
        "import sim.model.engines as engines\n"
        "engines.get_engine = lambda name: Engine()\n"
        "background.prewarm('numba', 'float32', 1, None)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert marker.exists()
