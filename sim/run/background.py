"""Work a command starts in a background thread of its own process so that the user does not wait
for it later: the compiled kernel's load (:func:`prewarm`) and the modules a command needs once its
run is over (:func:`preload`). Code that forks a process calls :func:`settle` first.

This module imports nothing heavy, so that a command can start both before it loads the run's
own modules: its threads import what they need, and the command's thread finds a module already
loaded (or waits for the thread that is loading it, as Python's import locks make every thread do).
Whatever fails here fails again, and is reported in one line, where the command itself needs it.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

_PREWARM: dict[tuple[str, str], threading.Thread] = {}
_PRELOADS: list[threading.Thread] = []
_LOCK = threading.Lock()


def prewarm(engine: str, dtype: str, workers: int | None, executor: object | None) -> None:
    """Start loading ``engine``'s kernel for ``dtype`` in a background thread of this process when
    its chunks will run here (one local worker), so that the load (about a second for the
    compiled engine: importing numba, reading its cache) overlaps the run's preparation. Once per
    engine and precision in a process."""
    size = (os.cpu_count() or 1) if workers is None else workers
    if engine == "numpy" or executor is not None or size > 1:
        return

    def load() -> None:
        try:
            from sim.model.engines import get_engine

            get_engine(engine).warm(dtype)
        except Exception:  # noqa: BLE001 - the first chunk reports what is wrong, in one line
            pass

    with _LOCK:
        if (engine, dtype) in _PREWARM:
            return
        thread = threading.Thread(target=load, name="alliance-sim-prewarm", daemon=True)
        _PREWARM[(engine, dtype)] = thread
    thread.start()


def preload(load: Callable[[], object]) -> threading.Thread:
    """Call ``load`` (which imports what a command needs later) in a background thread, once the
    kernels :func:`prewarm` started have loaded (the compiled kernel steps without Python's lock,
    so the thread then takes time only from a core the run leaves idle). Returns the thread, a
    daemon: the command's exit does not wait for it, a fork does (:func:`settle`)."""

    def run() -> None:
        with _LOCK:
            warming = list(_PREWARM.values())
        for thread in warming:
            thread.join()
        try:
            load()
        except Exception:  # noqa: BLE001 - the command's own import reports it, in one line
            pass

    thread = threading.Thread(target=run, name="alliance-sim-preload", daemon=True)
    with _LOCK:
        _PRELOADS.append(thread)
    thread.start()
    return thread


def settle() -> None:
    """Wait for the loads this module started in this process. Called before a process is
    forked: a fork taken while a thread imports a module (or compiles) gives the child locks that
    nobody in it will release, and the child hangs on the first import that needs one."""
    with _LOCK:
        threads = [*_PREWARM.values(), *_PRELOADS]
        _PRELOADS[:] = [t for t in _PRELOADS if t.is_alive()]
    for thread in threads:
        if thread.is_alive() and thread is not threading.current_thread():
            thread.join()
