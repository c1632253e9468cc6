"""Several runs side by side, a process each.

A comparison runs several scenarios, and a run of a few thousand replicates is one chunk: run in
turn, each keeps one core busy and leaves the others idle. :func:`side_by_side` deals the runs to
lanes, as many as the workers allow, runs each lane in a forked process of its own (a run's
driver installs signal handlers and keeps its chunks on an interrupt, so a second run at the same
time needs a process, not a thread) and hands each finished run back here as it finishes, while
this process does what it can meanwhile (the command line loads what its report needs).

A lane's process writes its runs to disk and says which are done through a pipe; this process
reads them back (``fetch``). An error in a lane's process comes back as the same error (its kind
among the program's errors, its words and the values that say how to finish the run, sent as JSON:
nothing that crosses the pipe is unpickled). An interrupt here (Ctrl-C, SIGTERM,
SIGHUP) or an error stops the lanes with SIGTERM, and each keeps what its run finished, as any
interrupted run does; a lane's process also ends when this one dies
(:func:`sim.run.executors.die_with`).
"""

from __future__ import annotations

import json
import os
import signal
import threading
from collections.abc import Callable, Sequence
from contextlib import suppress
from typing import Any

from sim.errors import AllianceError, InputError, Interrupted, RunError

#: seconds a stopped lane is given to keep what it finished before it is killed
STOP_SECONDS = 30.0
#: the signals held while a lane is forked: those that stop a run, and Ctrl-C's
_HELD = {signal.SIGINT, *(getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n))}


def fork_available() -> bool:
    """Whether this system starts processes by forking (Linux, macOS on request)."""
    import multiprocessing

    return "fork" in multiprocessing.get_all_start_methods()


def can_fork() -> bool:
    """Whether runs may go to forked processes here: the system forks and this is not a Jupyter
    kernel, whose threads and widget progress bars a forked process cannot use (there the runs go
    one after the other, as they always did)."""
    return fork_available() and not in_jupyter_kernel()


def in_jupyter_kernel() -> bool:
    """Whether this process is a Jupyter kernel (an IPython shell talking over ZeroMQ)."""
    import sys

    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None and "ipykernel" in sys.modules else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def cores() -> int:
    """The cores this process may run on (its CPU affinity where the system tells it)."""
    try:
        return max(len(os.sched_getaffinity(0)), 1)
    except (AttributeError, OSError):  # pragma: no cover - systems without affinity
        return os.cpu_count() or 1


def lane_count(runs: int, workers: int | None, local: bool = True) -> int:
    """How many lanes ``runs`` runs get on ``workers`` local worker processes (None: the cores):
    one run per core at most, and one lane where processes cannot be forked or the runs go to
    an executor the caller gave (whose workers decide)."""
    if not local or runs < 2 or not can_fork():
        return 1
    return max(1, min(runs, cores() if workers is None else int(workers)))


def side_by_side[T](
    jobs: Sequence[int],
    run: Callable[[int], T],
    fetch: Callable[[int], T],
    lanes: int,
    done: Callable[[int, T], object] | None = None,
    meanwhile: Callable[[], object] | None = None,
    away: bool = False,
) -> dict[int, T]:
    """Run ``run(k)`` for each ``k`` of ``jobs`` in ``lanes`` lanes and return every result.

    With one lane the jobs run here, in turn, and their results are what ``run`` returns, unless
    ``away`` asks for a process all the same (this process has work of its own meanwhile). With
    more, job ``jobs[i]`` goes to lane ``i % lanes``, each lane a forked process whose progress
    bars use row ``i % lanes`` (:data:`sim.run.executors.BAR_ROW`); ``run``'s result is dropped
    there and the job's result is ``fetch(k)``, called here once the job is done (``run`` must
    leave on disk what ``fetch`` reads). ``done(k, result)`` is called here as each job finishes.
    ``meanwhile()`` is called here once, while the lanes run (before the first job with one lane):
    work of this process's own that needs no result yet.

    Raises
    ------
    The first error of a job (a lane's comes back as the same error); the other lanes are
    stopped first.
    """
    lanes = max(1, min(int(lanes), len(jobs)))
    out: dict[int, T] = {}
    if lanes == 1 and not (away and jobs and can_fork()):
        if meanwhile is not None:
            meanwhile()
        for k in jobs:
            out[k] = run(k)
            if done is not None:
                done(k, out[k])
        return out
    from sim.run.executors import stop_signals

    with stop_signals(), _Lanes([list(jobs[lane::lanes]) for lane in range(lanes)], run) as far:
        if meanwhile is not None:
            meanwhile()
        far.collect(out, fetch, done)
    return out


class _Lanes:
    """The forked lanes of :func:`side_by_side`: their processes and pipes, and how many jobs
    are left."""

    def __init__(self, lanes: list[list[int]], run: Callable[[int], Any]):
        self.lanes, self.run = lanes, run
        self.processes: list[Any] = []
        self.pipes: list[Any] = []
        self.left = sum(len(lane) for lane in lanes)

    def __enter__(self) -> _Lanes:
        import multiprocessing

        from sim.run.background import settle

        settle()  # no fork while a thread of this process loads a module
        context = multiprocessing.get_context("fork")
        dies = (os.getpid(), threading.current_thread() is threading.main_thread())
        # the signals that stop a run are held while a lane is forked: the lane sets its own
        # handlers before it takes them (it inherits this process's, which raise an interrupt
        # wherever it is, threading's fork hooks included)
        held = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
        try:
            self._start(context, dies, held)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        return self

    def _start(self, context, dies: tuple[int, bool], held) -> None:
        import warnings

        for row, lane in enumerate(self.lanes):
            row_of = row if len(self.lanes) > 1 else None  # one run away: its bar as it always was
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(
                target=_lane,
                args=(lane, self.run, writer, row_of, dies, held),
                name="alliance-sim-lane",
                daemon=False,
            )  # not a daemon: a lane with more than one worker starts a pool of its own
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)  # fork with library threads idle
                process.start()
            writer.close()
            self.processes.append(process)
            self.pipes.append(reader)

    def collect(self, out: dict, fetch: Callable[[int], Any], done) -> None:
        """Take the lanes' reports until every lane is over, fetching each job done; raises the
        first error a lane reported."""
        from multiprocessing.connection import Connection, wait

        while self.pipes:
            for pipe in wait(self.pipes):
                assert isinstance(pipe, Connection)
                try:
                    told = json.loads(pipe.recv_bytes())
                except (EOFError, OSError):  # the lane is over (its jobs done, or it died)
                    self.pipes.remove(pipe)
                    continue
                if "message" in told:
                    raise _error(told)
                k = int(told["k"])
                self.left -= 1
                out[k] = fetch(k)
                if done is not None:
                    done(k, out[k])
        self._check_exits()

    def _check_exits(self) -> None:
        """Raise for a lane's process that ended without reporting every job."""
        for process in self.processes:
            process.join()
        if self.left:
            codes = ", ".join(str(p.exitcode) for p in self.processes if p.exitcode)
            raise RunError(
                f"{self.left} run(s) ended without a word from the process running them "
                f"(exit code {codes or 'unknown'}); run the command again"
            )

    def __exit__(self, kind, error, tb) -> None:
        if kind is None:
            return
        for process in self.processes:  # an error or an interrupt here: the other lanes stop
            if process.is_alive() and process.pid is not None:
                with suppress(OSError):  # ended meanwhile
                    os.kill(process.pid, signal.SIGTERM)
        for process in self.processes:
            process.join(STOP_SECONDS)
            if process.is_alive():
                process.kill()
                process.join()
        if issubclass(kind, KeyboardInterrupt) and not isinstance(error, Interrupted):
            # an interrupt while waiting: the lanes' runs say how to finish them
            said: list[BaseException] = []
            for pipe in self.pipes:
                with suppress(OSError, EOFError, ValueError):
                    while pipe.poll():
                        told = json.loads(pipe.recv_bytes())
                        if "message" in told:
                            said.append(_error(told))
            signum = getattr(error, "signum", signal.SIGINT)
            kept = [e for e in said if isinstance(e, AllianceError) and e.resume]
            if kept:
                first, others = kept[0], kept[1:]
                template = _stopped_by(first.template, signum)
                for other in others:  # said once, the way to finish the first run names the rest
                    out = other.resume.get("out") if isinstance(other.resume, dict) else None
                    template += (
                        f" (the run in {out} stopped too and keeps its chunks; the comparison run "
                        "again finishes it)"
                    )
                raise Interrupted(template, signum, hint=first.hint, resume=first.resume) from None
            raise Interrupted("interrupted", signum) from None


def _stopped_by(template: str, signum: int) -> str:
    """A lane's interruption said as the command's own: the lanes are stopped with SIGTERM
    whatever stopped the command (Ctrl-C, SIGTERM, SIGHUP)."""
    said = f"interrupted by {signal.SIGTERM.name}"
    how = "interrupted" if signum == signal.SIGINT else f"interrupted by {signal.Signals(signum).name}"
    return how + template[len(said) :] if template.startswith(said) else template


def _lane(
    jobs: list[int], run: Callable[[int], Any], pipe, row: int | None, dies: tuple[int, bool], held
) -> None:
    """A lane's process: run its jobs in turn, saying each one done (or its error, then stop)."""
    from sim.run import executors

    # Ctrl-C reaches every process of the terminal's group: the lane stops as a SIGTERM stops a
    # run, sent by the command's process, which answers the interrupt (one signal, one report);
    # SIGTERM and SIGHUP raise an interrupt here from the start, so that what a run cleans up
    # when it stops (its lock, a folder it made) is cleaned up whenever the lane is stopped
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    k = jobs[0] if jobs else -1
    try:
        with executors.stop_signals():
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            executors.die_with(*dies)
            executors.BAR_ROW = row
            for k in jobs:
                run(k)
                pipe.send_bytes(_said(k))
    except BaseException as e:  # noqa: BLE001 - reported to the command's process, which raises it
        with suppress(OSError):
            pipe.send_bytes(_said(k, e))
        pipe.close()
        os._exit(1)
    for stop in executors.STOP_SIGNALS:  # its jobs done, the lane ends as any process ends
        signal.signal(stop, signal.SIG_DFL)
    pipe.close()


def _said(k: int, error: BaseException | None = None) -> bytes:
    """A lane's report, as JSON: job ``k`` done, or its error as plain values (its kind, its
    words, the values that say how to finish its run); nothing a reader could run."""
    if error is None:
        return json.dumps({"k": k}).encode()
    if isinstance(error, KeyboardInterrupt):
        error = Interrupted("interrupted", getattr(error, "signum", signal.SIGINT))
    told: dict[str, Any] = {"k": k, "message": str(error)}
    if isinstance(error, AllianceError):
        kind = next(c for c in (Interrupted, InputError, RunError, AllianceError) if isinstance(error, c))
        told |= {
            "kind": kind.__name__,
            "template": error.template,
            "hint": error.hint,
            "resume": error.resume,
        }
        told["signum"] = getattr(error, "signum", None)
    else:  # not one of the program's errors: its kind is said in its words
        told |= {"kind": "RunError", "message": f"{type(error).__name__}: {error}"}
    return json.dumps(told, default=str).encode()


def _error(told: dict) -> BaseException:
    """The error a lane reported (:func:`_said`), as this process raises it."""
    kind = told.get("kind")
    if kind == "Interrupted":
        return Interrupted(
            told["template"], told.get("signum") or signal.SIGINT, hint=told["hint"], resume=told["resume"]
        )
    cls = {"InputError": InputError, "RunError": RunError, "AllianceError": AllianceError}.get(
        str(kind), RunError
    )
    if "template" in told:
        return cls(told["template"], hint=told["hint"], resume=told["resume"])
    return cls(told["message"])
