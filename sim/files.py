"""Writing files so that no reader ever sees part of one.

Every file the program writes goes through :func:`atomic_path` or a helper built on it: the bytes
go to a hidden temporary file in the destination's folder (``.NAME.tmp-PID-N.SUFFIX``), are flushed
to the disk (``fsync``), and the temporary file is renamed over the destination, a step POSIX
makes atomic; the folder is synced after, so that the rename itself survives a power cut. A full
disk, an exception or a kill therefore leaves the old file or the new one, never a truncated file
under the final name; at most a hidden temporary file stays behind (removed at once when the
failure is an exception, by ``--force`` or the next writer otherwise).

Any writer that takes a path fits: ``atomic_write(df.to_parquet, path, index=False)``,
``atomic_write(fig.savefig, path, format="png")``, ``atomic_write(np.savez, path, **arrays)``.

A set of files that only means something whole (a page and its figures, a calibration's posterior
and its manifest) is written inside :func:`all_or_nothing`: when the body fails, the new files it
wrote are removed again, so a full disk halfway leaves neither a page without its figures nor
figures without their page.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

#: the mark of a temporary file (what ``--force`` and the tests look for)
TMP_MARK = ".tmp-"
_serial = itertools.count()
#: the open :func:`all_or_nothing` groups, innermost last: the new files each has written and the
#: folders it wrote into
_groups: list[tuple[list[Path], list[Path]]] = []


def temporary_name(path: Path) -> Path:
    """A hidden name beside ``path`` for its temporary file, unique in this process, that keeps
    the suffix (writers such as ``np.savez`` add one when it is missing)."""
    path = Path(path)
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}-{next(_serial)}{path.suffix}")


def fsync_path(path: Path) -> None:
    """Flush a written file (or, for a folder, its entries) to the disk; a no-op where the system
    cannot sync a folder."""
    folder = Path(path).is_dir()
    try:
        fd = os.open(path, os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if folder else 0))
    except OSError:
        if folder:
            return  # e.g. Windows, where a folder cannot be opened
        raise
    try:
        os.fsync(fd)
    except OSError:
        if not folder:
            raise
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary path for the body to write ``path``'s new content to; when the body ends
    without an exception the file is synced and renamed to ``path``, otherwise it is removed and
    ``path`` keeps what it held."""
    path = Path(path)
    tmp = temporary_name(path)
    if _groups:
        _groups[-1][1].append(path.parent)  # removed again if the group fails and leaves it empty
    try:
        yield tmp
        if not tmp.exists():
            raise FileNotFoundError(2, "the writer wrote nothing", str(tmp))
        fsync_path(tmp)
        new = not os.path.lexists(path)
        os.replace(tmp, path)
        if new and _groups:
            _groups[-1][0].append(path)
        fsync_path(path.parent)
    except OSError as e:
        if e.filename is None:  # e.g. a full disk, reported by a write: say which file
            raise OSError(e.errno, e.strerror, str(path)) from e
        raise
    finally:
        tmp.unlink(missing_ok=True)  # left only when writing failed (e.g. a full disk)


@contextmanager
def atomic_open(path: str | Path, mode: str = "wb", **kwargs) -> Iterator[IO[Any]]:
    """``open(path, mode)`` whose content appears under ``path`` only once the body has ended
    without an exception (see :func:`atomic_path`)."""
    if not mode.startswith(("w", "x")):
        raise ValueError(f"expected a writing mode, got {mode!r}")
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh


def atomic_write(writer: Callable[..., Any], path: str | Path, *args, **kwargs) -> Path:
    """Call ``writer(tmp, *args, **kwargs)`` with a temporary path beside ``path`` and move the
    result to ``path`` atomically; returns ``path``.

    ``writer`` is any function that writes a file at the path it is given: ``DataFrame.to_csv``,
    ``DataFrame.to_parquet``, ``Figure.savefig``, ``np.savez``, ``np.save``...
    """
    with atomic_path(path) as tmp:
        writer(tmp, *args, **kwargs)
    return Path(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | Path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically."""
    atomic_write_bytes(path, text.encode(encoding))


@contextmanager
def all_or_nothing() -> Iterator[None]:
    """Files written together or not at all: when the body raises (a full disk, an interrupt, a
    refusal), every file it created through :func:`atomic_path` is removed, and every folder it
    wrote into that this leaves empty; files it replaced keep their new content. Groups nest: an
    inner group's files belong to the outer group once the inner one succeeds. Usable as a
    decorator (``@all_or_nothing()``)."""
    files: list[Path] = []
    folders: list[Path] = []
    _groups.append((files, folders))
    try:
        yield
    except BaseException:
        for path in reversed(files):
            path.unlink(missing_ok=True)
        for folder in sorted(set(folders), key=lambda f: len(f.parts), reverse=True):
            try:
                folder.rmdir()  # only when empty
            except OSError:
                pass
        files.clear()
        folders.clear()
        raise
    finally:
        _groups.pop()
        if _groups:
            _groups[-1][0].extend(files)
            _groups[-1][1].extend(folders)


class NotRegularFileError(OSError):
    """A path that is a pipe, a socket or a device where a file was expected."""


def read_regular(path: str | Path, limit: int) -> bytes:
    """The bytes of the regular file at ``path`` (symbolic links followed), refusing without
    blocking anything else: a FIFO or a device (opened without waiting for a writer, then checked)
    raises :class:`NotRegularFileError`, a file over ``limit`` bytes :class:`ValueError`."""
    import stat

    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise IsADirectoryError(21, "is a directory", str(path))
        if not stat.S_ISREG(info.st_mode):
            raise NotRegularFileError(0, "expected a regular file, got a device, pipe or socket", str(path))
        if info.st_size > limit:
            raise ValueError(f"{info.st_size} bytes, over the limit of {limit}")
        with os.fdopen(os.dup(fd), "rb") as fh:
            return fh.read(limit + 1)
    finally:
        os.close(fd)
