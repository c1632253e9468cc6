"""Work started in a background thread of the process so that the user does not wait for it later:
the compiled kernel's load (:func:`prewarm`), once the run's own modules are loaded. Code that
forks a process calls :func:`settle` first, and the command line ends through :func:`wait_or_exit`.

Nothing but the kernel is loaded in the background, and only once the runner's modules are: a
thread importing modules while the command's thread imports others can leave both waiting on each
other's import locks for good (seen when a command loaded its summary's modules so, under load,
with a Ctrl-C). Whatever fails here fails again, and is reported in one line, where the command
itself needs it.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
import time

_PREWARM: dict[tuple[str, str], threading.Thread] = {}
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
        if not _PREWARM:  # a program that ends while the kernel loads waits for it (see wait_or_exit)
            atexit.register(settle)
        _PREWARM[(engine, dtype)] = thread
    thread.start()


def _running() -> list[threading.Thread]:
    """The loads this module started that are still under way (from another thread)."""
    with _LOCK:
        threads = list(_PREWARM.values())
    return [t for t in threads if t.is_alive() and t is not threading.current_thread()]


def settle() -> None:
    """Wait for the loads this module started in this process. Called before a process is
    forked: a fork taken while a thread imports a module (or compiles) gives the child locks that
    nobody in it will release, and the child hangs on the first import that needs one."""
    for thread in _running():
        thread.join()


#: seconds an ending command waits for a kernel load still under way (a load from numba's cache
#: takes about a second; a first compilation, without the cache, about twenty)
EXIT_WAIT = 2.0


def wait_or_exit(status: int, wait: float = EXIT_WAIT) -> None:
    """End of a command (the command line calls it with the exit status): a kernel load still
    under way (the command ended within a second or so of starting a compiled run, by Ctrl-C or an
    error) is waited for up to ``wait`` seconds; if it is still going then, the process ends here
    with ``status``, its output flushed. The interpreter's own exit would otherwise free LLVM's
    objects while the loading thread, which holds no lock Python knows of, still works on them:
    that aborted the process with an LLVM assertion in two of about sixty Ctrl-Cs a second into a
    run. Files are all closed by then (every file is written atomically and the folders' locks
    are the kernel's, released with the process); only the interpreter's clean-up is skipped.

    A program that uses the package (not the command line) and ends while a load is under way
    waits for it at exit instead (:func:`settle` is registered with :mod:`atexit` when the first
    load starts)."""
    threads = _running()
    if not threads:
        return
    deadline = time.monotonic() + wait
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    if any(thread.is_alive() for thread in threads):
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # closed, or a reader that went away
                pass
        os._exit(status)
