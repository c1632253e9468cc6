"""Faults: interrupts, full disks, read-only folders and damaged chunk files lose nothing.

SIGKILL followed by ``--resume`` is covered in tests/test_ensemble.py. Here: SIGINT to a real
``alliance-sim run`` (exit 130, finished chunks kept, a resume command that works and gives the
bytes of a clean run); a disk that is full before the run (refused before any work) or that fills
during it (finished chunks kept, no half-written files, resume after space is freed); a read-only
output folder; a chunk file truncated or altered after an interrupt (caught by its checksum in the
manifest and recomputed). Full and read-only disks are real tmpfs mounts when the tests run as
root, and simulated (``OSError(ENOSPC)``, ``chmod``) otherwise.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

from sim.cli import main
from sim.cli.run_commands import resume_command
from sim.run import ensemble as ensemble_module
from sim.run import store
from sim.run.chunks import run_chunk
from sim.run.ensemble import EnsembleError, run_ensemble
from sim.run.store import ResultsError, chunk_paths, sha256_file
from tests.conftest import DATA, ROOT

SCENARIO = DATA / "all_mechanisms.toml"
FILES = ("replicates.parquet", "summary.npz", "manifest.json")
Usage = namedtuple("Usage", "total used free")
# 120 chunks: enough that an interrupt sent after the third finished chunk lands before the last
RUN = ["-n", "12000", "-t", "60", "--chunk-size", "100", "--seed", "3", "--no-progress", "--no-report"]


def alliance_sim() -> list[str]:
    """The installed console script, as users run it (or the module when it is not installed)."""
    script = Path(sys.executable).parent / "alliance-sim"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sim.cli"]


def same_bytes(a: Path, b: Path, files=FILES) -> None:
    for f in files:
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def manifest(out: Path) -> dict:
    return json.loads((out / "manifest.json").read_text())


def no_temporary_files(out: Path) -> None:
    left = [p.name for p in out.rglob("*") if ".tmp-" in p.name or p.name.startswith(".write-test")]
    assert not left, left


@pytest.fixture(scope="module")
def clean_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("clean") / "run"
    subprocess.run(
        [*alliance_sim(), "run", SCENARIO, *RUN, "--out", out], check=True, capture_output=True, cwd=ROOT
    )
    return out


# --------------------------------------------------------------------------------------------
# SIGINT
# --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("workers", [1, 2])
def test_sigint_keeps_finished_chunks_and_the_printed_resume_finishes_the_run(tmp_path, clean_run, workers):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [*alliance_sim(), "run", str(SCENARIO), *RUN, "--workers", str(workers), "--out", str(out)],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        with contextlib.suppress(OSError, ValueError, KeyError):
            if len(manifest(out)["chunks"]["done"]) >= 3:
                break
        time.sleep(0.02)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)  # Ctrl-C in a terminal signals the whole group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("alliance-sim: interrupted; ") and "chunks are kept in" in lines[0]
    kept = manifest(out)
    assert kept["status"] == "running" and 3 <= len(kept["chunks"]["done"]) < 40
    for c, sums in kept["chunks"]["done"].items():
        table, summary = chunk_paths(out, int(c))
        assert sha256_file(table) == sums["table"] and sha256_file(summary) == sums["summary"]
    no_temporary_files(out)

    command = shlex.split(lines[0].split("finish with: ", 1)[1])
    assert command[:2] == ["alliance-sim", "run"] and "--resume" in command
    resumed = subprocess.run(
        [*alliance_sim(), *command[1:], "--no-progress", "--no-report"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert resumed.returncode == 0, resumed.stderr
    same_bytes(out, clean_run)


# --------------------------------------------------------------------------------------------
# Damaged chunk files
# --------------------------------------------------------------------------------------------


class Interrupt:
    """A chunk function that runs chunks normally, remembers which, and can stop at one."""

    def __init__(self, stop_at: int | None = None):
        self.stop_at, self.ran = stop_at, []

    def __call__(self, task):
        if task.index == self.stop_at:
            raise KeyboardInterrupt
        self.ran.append(task.index)
        return run_chunk(task)


def _small(out, **kw):
    kw.setdefault("chunk_fn", Interrupt())
    return run_ensemble(
        SCENARIO, out=out, replicates=300, steps=20, seed=11, chunk_size=50, workers=1, progress=False, **kw
    )


@pytest.mark.parametrize("damage", ["truncate", "flip", "delete", "swap"])
def test_damaged_chunk_is_detected_by_checksum_and_recomputed(tmp_path, damage):
    out = tmp_path / "run"
    with pytest.raises(EnsembleError, match="^interrupted; 4 of 6 chunks are kept"):
        _small(out, chunk_fn=Interrupt(stop_at=4))
    table, summary = chunk_paths(out, 1)
    if damage == "truncate":
        data = table.read_bytes()
        table.write_bytes(data[: len(data) // 2])
    elif damage == "flip":
        data = bytearray(summary.read_bytes())
        data[len(data) // 2] ^= 0xFF
        summary.write_bytes(bytes(data))
    elif damage == "delete":
        summary.unlink()
    else:  # a whole, valid chunk file in the wrong place
        table.write_bytes(chunk_paths(out, 2)[0].read_bytes())
    resumed = Interrupt()
    _small(out, resume=True, chunk_fn=resumed)
    assert resumed.ran == [1, 4, 5]  # the damaged chunk and the two never finished
    _small(tmp_path / "clean")
    same_bytes(out, tmp_path / "clean")


def test_an_interrupt_drops_the_merge_begun_and_the_resume_writes_the_same_bytes(tmp_path, monkeypatch):
    """Row groups merged while the run went on are in a temporary file: an interrupt removes it
    and keeps the chunks (a resume removes one a killed run left), and the resumed run's files are
    those of an uninterrupted run."""
    monkeypatch.setattr(store, "ROW_GROUP_ROWS", 100)
    written = []
    flush = store.Merger._flush

    def noting(self):
        flush(self)
        written.append(self.tmp.exists())

    monkeypatch.setattr(store.Merger, "_flush", noting)
    out = tmp_path / "run"
    with pytest.raises(EnsembleError, match="^interrupted; 4 of 6 chunks are kept"):
        _small(out, chunk_fn=Interrupt(stop_at=4))
    assert written and all(written)  # row groups were written before the interrupt
    no_temporary_files(out)
    (out / ".replicates.parquet.tmp-99999").write_bytes(b"PAR1")  # what a killed run leaves
    resumed = Interrupt()
    _small(out, resume=True, chunk_fn=resumed)
    assert resumed.ran == [4, 5]
    _small(tmp_path / "clean")
    same_bytes(out, tmp_path / "clean")
    no_temporary_files(out)


# --------------------------------------------------------------------------------------------
# Full disks and read-only folders
# --------------------------------------------------------------------------------------------


def _mount(where: Path, options: str) -> bool:
    """Mount a tmpfs at ``where`` (root only); says whether it worked."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or os.environ.get("ALLIANCE_TEST_NO_MOUNT"):  # the latter tries fallbacks
        return False
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)], capture_output=True)
    return proc.returncode == 0


@pytest.fixture
def tmpfs(tmp_path):
    """``make(name, options)`` mounts a tmpfs (or returns False); all are unmounted after."""
    mounted = []

    def make(name: str, options: str) -> tuple[Path, bool]:
        where = tmp_path / name
        ok = _mount(where, options)
        if ok:
            mounted.append(where)
        return where, ok

    yield make
    for where in reversed(mounted):
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_full_disk_is_refused_before_any_work(tmpfs, monkeypatch, capsys):
    disk, real = tmpfs("disk", "size=64k")
    if not real:
        monkeypatch.setattr("shutil.disk_usage", lambda p: Usage(64 * 1024, 32 * 1024, 32 * 1024))
    calls = Interrupt()
    with pytest.raises(ResultsError, match="expected at least .* MB free for the results, got"):
        run_ensemble(
            SCENARIO,
            out=disk / "run",
            replicates=2000,
            steps=60,
            chunk_size=100,
            progress=False,
            chunk_fn=calls,
        )
    assert calls.ran == []
    code = main(["run", str(SCENARIO), *RUN, "--out", str(disk / "cli")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "MB free" in err, err
    assert not (disk / "cli" / "manifest.json").exists()


class FillsUp:
    """Stands in for ``np.savez``: from the ``n``-th call on, the disk is full."""

    def __init__(self, n: int):
        self.n, self.calls, self.savez = n, 0, np.savez

    def __call__(self, *args, **kwargs):
        self.calls += 1
        if self.calls >= self.n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.savez(*args, **kwargs)


def test_disk_filling_up_during_the_run_keeps_finished_chunks(tmp_path, tmpfs, monkeypatch):
    disk, real = tmpfs("disk", "size=512k")  # room for a few chunks of ~150 kB
    out = disk / "run"
    monkeypatch.setattr(ensemble_module, "disk_need", lambda *a: 0)  # let it start
    if not real:
        monkeypatch.setattr("sim.run.store.np.savez", FillsUp(3))
    with pytest.raises(EnsembleError) as info:
        run_ensemble(
            SCENARIO, out=out, replicates=1000, steps=40, seed=2, chunk_size=50, progress=False, workers=1
        )
    message = str(info.value)
    assert "No space left on device" in message and "finished chunks are kept" in message
    assert "\n" not in message and "resume=True" in message
    # the run layer says it in plain values; the command line makes them the command to type
    assert info.value.resume["out"] == out and info.value.resume["settings"]["replicates"] == 1000
    assert "--resume --out" in str(info.value.with_hint(resume_command(**info.value.resume)))
    kept = manifest(out)["chunks"]["done"]
    assert 1 <= len(kept) < 20
    for c, sums in kept.items():
        assert sha256_file(chunk_paths(out, int(c))[0]) == sums["table"]
    no_temporary_files(out)
    # Space is freed (or the results moved to a larger disk): the run finishes where it stopped.
    monkeypatch.undo()
    if real:
        subprocess.run(["mount", "-o", "remount,size=64m", str(disk)], check=True)
    run_ensemble(
        SCENARIO,
        out=out,
        replicates=1000,
        steps=40,
        seed=2,
        chunk_size=50,
        progress=False,
        workers=1,
        resume=True,
    )
    run_ensemble(
        SCENARIO,
        out=tmp_path / "clean",
        replicates=1000,
        steps=40,
        seed=2,
        chunk_size=50,
        progress=False,
        workers=1,
    )
    same_bytes(out, tmp_path / "clean")


def test_write_failure_while_merging_keeps_every_chunk(tmp_path, monkeypatch):
    out = tmp_path / "run"
    real_savez = np.savez

    def merge_fails(path, *args, **kwargs):  # chunk summaries are written; the merged one fails
        if Path(path).name.startswith(".summary.npz"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_savez(path, *args, **kwargs)

    monkeypatch.setattr("sim.run.store.np.savez", merge_fails)
    with pytest.raises(EnsembleError, match="all 6 chunks are kept; free some space and finish"):
        _small(out)
    assert manifest(out)["status"] == "running" and len(manifest(out)["chunks"]["done"]) == 6
    assert not (out / "replicates.parquet").exists()
    no_temporary_files(out)
    monkeypatch.undo()
    resumed = Interrupt()
    _small(out, resume=True, chunk_fn=resumed)
    assert resumed.ran == []  # nothing recomputed: every chunk was kept
    _small(tmp_path / "clean")
    same_bytes(out, tmp_path / "clean")


def test_read_only_output_folder_is_one_line_before_any_work(tmpfs, capsys):
    folder, real = tmpfs("ro", "size=1m,ro")
    if not real:
        if os.geteuid() == 0:
            pytest.skip("root ignores file modes and tmpfs cannot be mounted here")
        folder.chmod(0o555)
    calls = Interrupt()
    with pytest.raises(ResultsError, match="cannot write results there"):
        run_ensemble(SCENARIO, out=folder / "run", replicates=100, steps=5, progress=False, chunk_fn=calls)
    assert calls.ran == []
    code = main(["run", str(SCENARIO), *RUN, "--out", str(folder / "run")])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "cannot write results there" in err, err
