"""One writer at a time per output folder.

A command that writes a folder (a run, a comparison, a report, levers, a calibration, a sweep...)
holds an exclusive lock on it for as long as it runs: an OS file lock (``flock``) on the hidden
file ``.alliance-sim.lock`` inside the folder, which records the holder's process id and command
line. The kernel drops the lock when the process ends, however it ends (a kill included), so a
crash never leaves a folder locked; the lock file is removed when the holder lets go. A second
writer is refused at once with one line naming the holder, and readers of an unfinished result
folder can tell a run in progress (:func:`holder_of` finds the lock held) from an interrupted one.

Within one process the lock is re-entrant: a command that holds its output folder may call a
library function that locks the same folder again.

Where ``fcntl`` does not exist (Windows) the fallback is an exclusively created lock file: it
keeps a second writer out just the same, but a process that dies without letting go leaves it
behind, so the refusal then says which file to remove once no such process runs.
"""

from __future__ import annotations

import atexit
import errno
import functools
import inspect
import json
import os
import shlex
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ParamSpec, TypeVar

from sim.errors import printable
from sim.run.store import ResultsError

try:  # POSIX
    import fcntl as _fcntl
except ImportError:  # pragma: no cover - Windows
    _fcntl = None  # type: ignore[assignment]

fcntl = _fcntl  # the lock mechanism in use (None: the exclusive-file fallback)

LOCK_FILE = ".alliance-sim.lock"
#: how often, and how long apart, a writer tries a busy lock before it gives up (a holder that is
#: just letting go, or a reader probing the lock, is gone within these 0.2 s)
ATTEMPTS, PAUSE = 5, 0.05

P = ParamSpec("P")
R = TypeVar("R")


class FolderBusyError(ResultsError):
    """Another process writes the folder (one line naming it; exit 2)."""


@dataclass
class _Held:
    path: Path  # the lock file
    fd: int | None  # open descriptor holding the flock (None in the fallback)
    count: int
    created: bool  # whether the folder was made for this lock (removed again if left empty)


_held: dict[str, _Held] = {}
_guard = threading.RLock()
_scopes: list[list[Path]] = []


def command_line() -> str:
    """This process's command line as a user would type it (printable characters only)."""
    name = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "python"
    if name in ("cli.py", "__main__.py", "-m", "-c"):
        name = "alliance-sim"
    text = shlex.join([name, *sys.argv[1:]])
    text = printable(text, newlines=False)
    return text if len(text) <= 300 else text[:297] + "..."


def _key(directory: Path) -> str:
    return os.path.realpath(directory)


def holder_of(directory: str | Path) -> dict | None:
    """``{"pid", "command", "since"}`` of the process that holds ``directory``'s lock now, or
    None when no other process holds it."""
    directory = Path(directory)
    path = directory / LOCK_FILE
    with _guard:
        if _key(directory) in _held:
            return None  # this process holds it
    if fcntl is None:
        return _record(path) if path.exists() else None
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return _record(path) or {"pid": None, "command": None}
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _record(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def describe(holder: dict | None) -> str:
    """``PID 123: alliance-sim run ...`` for a lock's holder."""
    holder = holder or {}
    pid = holder.get("pid")
    command = str(holder.get("command") or "command unknown")
    command = printable(command, newlines=False)[:300]
    return f"PID {pid if isinstance(pid, int) else 'unknown'}: {command}"


def acquire(directory: str | Path, command: str | None = None) -> None:
    """Take ``directory``'s lock (creating the folder if needed), or raise :class:`FolderBusyError`
    naming the holder; re-entrant within a process (each call needs its :func:`release`)."""
    directory = Path(directory)
    with _guard:
        key = _key(directory)
        if key in _held:
            _held[key].count += 1
            return
        created = not directory.exists()
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd = _lock(directory / LOCK_FILE)
        except FolderBusyError:
            _remove_if_empty(directory, created)
            raise
        except OSError as e:
            _remove_if_empty(directory, created)
            raise ResultsError(
                f"{directory}: cannot write results there ({e.strerror}); choose another --out"
            ) from None
        record = json.dumps(
            {"pid": os.getpid(), "command": command or command_line(), "since": time.time()}
        ).encode()
        if fd is not None:
            os.ftruncate(fd, 0)
            os.pwrite(fd, record, 0)
        _held[key] = _Held(directory / LOCK_FILE, fd, 1, created)


def _lock(path: Path) -> int | None:
    """Lock ``path`` (an open descriptor holding the flock), or raise :class:`FolderBusyError`."""
    if fcntl is None:
        return _lock_fallback(path)
    for attempt in range(ATTEMPTS):
        fd = os.open(path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as e:
            os.close(fd)
            if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise
            if attempt + 1 < ATTEMPTS:
                time.sleep(PAUSE)
                continue
            raise FolderBusyError(
                f"{path.parent}: in use by another command ({describe(_record(path))}); wait for "
                "it to finish or choose another --out"
            ) from None
        # The holder removes the file as it lets go: a lock on a file no longer at ``path``
        # guards nothing, so try again with the file there now.
        try:
            same = os.stat(path).st_ino == os.fstat(fd).st_ino
        except FileNotFoundError:
            same = False
        if same:
            return fd
        os.close(fd)
    raise FolderBusyError(f"{path.parent}: its lock keeps changing hands; try again")  # pragma: no cover


def _lock_fallback(path: Path) -> None:
    """The lock as an exclusively created file (systems without ``flock``)."""
    for attempt in range(ATTEMPTS):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            if attempt + 1 < ATTEMPTS:
                time.sleep(PAUSE)
                continue
            raise FolderBusyError(
                f"{path.parent}: in use by another command ({describe(_record(path))}); wait for "
                f"it to finish, or remove {path} if no such process runs"
            ) from None
        record = {"pid": os.getpid(), "command": command_line(), "since": time.time()}
        os.write(fd, json.dumps(record).encode())
        os.close(fd)
        return None
    raise AssertionError("unreachable")  # pragma: no cover


def release(directory: str | Path) -> None:
    """Let go of ``directory``'s lock (the last release of a re-entrant hold removes the lock
    file, and the folder itself when the lock made it and nothing was written)."""
    with _guard:
        key = _key(Path(directory))
        held = _held.get(key)
        if held is None:
            return
        held.count -= 1
        if held.count > 0:
            return
        del _held[key]
        try:
            held.path.unlink(missing_ok=True)  # while still held, so no one locks a stale file
        finally:
            if held.fd is not None:
                os.close(held.fd)  # the kernel drops the flock
        _remove_if_empty(held.path.parent, held.created)


def _remove_if_empty(directory: Path, created: bool) -> None:
    """Remove a folder made for a lock when nothing else was put in it (a refused command
    leaves no empty folder behind)."""
    if not created:
        return
    try:
        directory.rmdir()
    except OSError:
        pass  # not empty: something was written


@contextmanager
def lock_folder(directory: str | Path, command: str | None = None) -> Iterator[Path]:
    """Hold ``directory``'s lock for the body (see :func:`acquire`)."""
    acquire(directory, command)
    try:
        yield Path(directory)
    finally:
        release(directory)


def locks(argument: str = "out") -> Callable[[Callable[P, R]], Callable[P, R]]:
    """Decorator: hold the lock of the folder passed as ``argument`` (when not None) for the
    whole call."""

    def wrap(fn: Callable[P, R]) -> Callable[P, R]:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def locked(*args: P.args, **kwargs: P.kwargs) -> R:
            where = signature.bind_partial(*args, **kwargs).arguments.get(argument)
            if where is None:
                return fn(*args, **kwargs)
            with lock_folder(where):
                return fn(*args, **kwargs)

        return locked

    return wrap


@contextmanager
def command_scope() -> Iterator[None]:
    """The life of one command: every folder :func:`hold` takes inside is let go at its end."""
    _scopes.append([])
    try:
        yield
    finally:
        for directory in reversed(_scopes.pop()):
            release(directory)


def hold(
    directory: str | Path,
    *,
    own: str | tuple[str, ...] | Callable[[Path], bool] | None = None,
    force: bool = False,
    what: str = "this command's output",
) -> Path:
    """Lock ``directory`` for the rest of the command (:func:`command_scope`; the process when
    there is none) and, with ``own``, refuse a folder that holds something other than this
    command's output unless ``force``.

    ``own`` says what marks the command's own folder: a file name (or several, or a glob) found in
    it, or a test of the folder. A folder that is new, empty (hidden files aside) or so marked is
    the command's to write; any other is refused with one line.
    """
    directory = Path(directory)
    acquire(directory)
    if own is not None and not force:
        try:
            refuse_foreign(directory, own, what)
        except ResultsError:
            release(directory)
            raise
    if _scopes:
        _scopes[-1].append(directory)
    else:
        atexit.register(release, directory)
    return directory


def refuse_foreign(directory: Path, own: str | tuple[str, ...] | Callable[[Path], bool], what: str) -> None:
    """Raise when ``directory`` holds visible entries but none of the marks of ``own``."""
    try:
        entries = sorted(p.name for p in directory.iterdir() if not p.name.startswith("."))
    except OSError:
        return  # not a folder yet, or unreadable: the writer says so
    if not entries:
        return
    if callable(own):
        ours = own(directory)
    else:
        marks = (own,) if isinstance(own, str) else own
        ours = any(any(directory.glob(m)) for m in marks)
    if not ours:
        raise ResultsError(
            f"{directory}: holds files that are not {what} (e.g. {entries[0]}); choose another "
            "--out or pass --force to write there anyway"
        )
