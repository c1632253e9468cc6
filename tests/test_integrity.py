"""Results that cannot be mixed, forged or lost.

Two writers on one folder: one is refused with the holder's PID and command, the other's bytes are
a lone run's. A killed writer leaves no lock behind. Readers of an unfinished folder say whether a
run is in progress or was interrupted. One flipped byte in any final file (the replicate table,
the summaries, the trajectories, a calibration's states and posterior, a levers folder's tables)
or an edited manifest field is refused by every reader with the file's name, and a manifest of the
wrong shape is one line. A full disk leaves no truncated file under a final name. ``verify``
re-runs chunks, so even a consistently re-sealed forgery is caught. ``score`` does not invent a
probability for a record no replicate reproduced.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import cli
from sim.files import atomic_write, atomic_write_bytes
from sim.run import lock as lock_module
from sim.run.integrity import SEAL, IntegrityError, manifest_digest, verify
from sim.run.lock import LOCK_FILE, FolderBusyError, holder_of, lock_folder
from sim.run.store import ResultsError, load_results
from tests.conftest import DATA, ROOT
from tests.test_calibration import ACTIVE, SMALL, TIE_LOW, entry, record_file

SCENARIO = DATA / "all_mechanisms.toml"
PLANTED = DATA / "planted.toml"
FINAL = ("replicates.parquet", "summary.npz", "manifest.json")
SMALL_RUN = ["-n", "300", "-t", "24", "--chunk-size", "100", "--seed", "3", "--no-progress", "--no-report"]
# long enough (about 40 chunks) for two writers started together to overlap
LONG_RUN = ["-n", "4000", "-t", "60", "--chunk-size", "100", "-j", "1", "--no-progress", "--no-report"]


def alliance_sim() -> list[str]:
    """The installed console script, as users run it (or the module when it is not installed)."""
    script = Path(sys.executable).parent / "alliance-sim"
    return [str(script)] if script.exists() else [sys.executable, "-m", "sim.cli"]


def run_cli(argv, capsys) -> tuple[int, str]:
    code = cli.main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.err


def one_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def no_temporary_files(folder: Path) -> None:
    left = [p.name for p in folder.rglob("*") if ".tmp-" in p.name]
    assert not left, left


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A small finished run with trajectories (every kind of final file)."""
    out = tmp_path_factory.mktemp("finished") / "run"
    assert cli.main(["run", str(SCENARIO), *SMALL_RUN, "--trajectories", "--out", str(out)]) == 0
    return out


@pytest.fixture
def copy(finished, tmp_path):
    def make(name: str = "run") -> Path:
        target = tmp_path / name
        shutil.copytree(finished, target)
        return target

    return make


# --------------------------------------------------------------------------------------------
# One writer at a time
# --------------------------------------------------------------------------------------------


def test_two_writers_on_one_folder_one_is_refused_naming_the_holder_the_other_is_a_lone_run(tmp_path):
    out = tmp_path / "shared"
    procs = {
        seed: subprocess.Popen(
            [*alliance_sim(), "run", str(SCENARIO), *LONG_RUN, "--seed", str(seed), "--out", str(out)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for seed in (7, 8)
    }
    results = {seed: (p.wait(timeout=600), p.communicate()[1]) for seed, p in procs.items()}
    codes = sorted(code for code, _ in results.values())
    assert codes == [0, 2], results
    winner = next(seed for seed, (code, _) in results.items() if code == 0)
    loser = 15 - winner
    line = one_line(results[loser][1])
    assert f"{out}: in use by another command (PID {procs[winner].pid}: " in line, line
    assert f"--seed {winner}" in line and " run " in line, line  # the holder's command line
    assert not (out / LOCK_FILE).exists()  # let go when the winner ended
    lone = tmp_path / "lone"
    alone = subprocess.run(
        [*alliance_sim(), "run", str(SCENARIO), *LONG_RUN, "--seed", str(winner), "--out", str(lone)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert alone.returncode == 0, alone.stderr
    for name in FINAL:
        assert (out / name).read_bytes() == (lone / name).read_bytes(), name
    assert load_results(out).manifest["seed"] == winner


def test_readers_tell_a_run_in_progress_from_an_interrupted_one_and_a_kill_leaves_no_lock(tmp_path, capsys):
    out = tmp_path / "run"
    proc = subprocess.Popen(
        [*alliance_sim(), "run", str(SCENARIO), *LONG_RUN, "--seed", "5", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and not (out / "manifest.json").exists():
            time.sleep(0.05)
        assert proc.poll() is None, "the run finished before it could be read"
        holder = holder_of(out)
        assert holder is not None and holder["pid"] == proc.pid
        code, err = run_cli(["report", out, "--out", tmp_path / "r.html"], capsys)
        assert code == 2
        assert f"a run is in progress there (PID {proc.pid}: " in one_line(err)
        with pytest.raises(ResultsError, match="a run is in progress there"):
            load_results(out)
        # a second writer, even with --force, is refused while the first holds the folder
        code, err = run_cli(["run", SCENARIO, *SMALL_RUN, "--force", "--out", out], capsys)
        assert code == 2 and f"(PID {proc.pid}: " in one_line(err)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    assert holder_of(out) is None  # the kernel let go of the lock with the process
    code, err = run_cli(["report", out, "--out", tmp_path / "r.html"], capsys)
    line = one_line(err)
    assert code == 2 and "the run was interrupted (" in line and "--resume --out" in line, line
    code, _ = run_cli(["run", SCENARIO, *LONG_RUN, "--seed", "5", "--resume", "--out", out], capsys)
    assert code == 0 and not (out / LOCK_FILE).exists()


def test_the_lock_is_reentrant_in_a_process_and_refuses_another(tmp_path):
    folder = tmp_path / "f"
    with lock_folder(folder):
        with lock_folder(folder):  # a command that holds its folder calls a library function
            assert (folder / LOCK_FILE).exists()
        assert (folder / LOCK_FILE).exists()
        child = subprocess.run(
            [sys.executable, "-c", f"from sim.run.lock import acquire; acquire({str(folder)!r})"],
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert child.returncode != 0 and f"PID {os.getpid()}" in child.stderr
        assert "FolderBusyError" in child.stderr
    assert not (folder / LOCK_FILE).exists()
    assert not folder.exists()  # made for the lock and left empty: removed


def test_without_flock_the_fallback_still_keeps_a_second_writer_out(tmp_path, monkeypatch):
    monkeypatch.setattr(lock_module, "fcntl", None)
    monkeypatch.setattr(lock_module, "PAUSE", 0.0)
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / LOCK_FILE).write_text(json.dumps({"pid": 424242, "command": "alliance-sim run x"}))
    with pytest.raises(FolderBusyError, match=r"PID 424242: alliance-sim run x\); .* remove .* if no such"):
        lock_folder(folder).__enter__()
    (folder / LOCK_FILE).unlink()
    with lock_folder(folder):
        assert json.loads((folder / LOCK_FILE).read_text())["pid"] == os.getpid()
        assert holder_of(folder) is None  # this process's own lock
    assert not (folder / LOCK_FILE).exists()


def test_a_refused_run_leaves_no_empty_folder(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("sim.run.ensemble.disk_need", lambda *a: 1 << 60)
    out = tmp_path / "new" / "run"
    code, err = run_cli(["run", SCENARIO, *SMALL_RUN, "--out", out], capsys)
    assert code == 2 and "MB free" in one_line(err)
    assert not out.exists()


# --------------------------------------------------------------------------------------------
# Checksums: every reader refuses a changed file, naming it
# --------------------------------------------------------------------------------------------


READERS = {
    "load_results": None,
    "report": lambda d, t: ["report", d, "--out", t / "page.html"],
    "sensitivity": lambda d, t: ["sensitivity", d, "--out", t / "sens"],
    "discover": lambda d, t: ["discover", d, "--out", t / "disc"],
    "landscape": lambda d, t: ["landscape", d],
    "verify": lambda d, t: ["verify", d, "--no-replay"],
}


def _edit_manifest(**changes):
    def edit(folder: Path) -> str:
        m = json.loads((folder / "manifest.json").read_text())
        for dotted, value in changes.items():
            *parents, key = dotted.split(".")
            node = m
            for p in parents:
                node = node[p]
            node[key] = value
        (folder / "manifest.json").write_text(json.dumps(m))
        return "manifest.json"

    return edit


def _flip(name: str):
    def edit(folder: Path) -> str:
        flip_byte(folder / name)
        return name

    return edit


def _other_seed(folder: Path) -> str:
    other = folder.parent / "other"
    assert cli.main(["run", str(SCENARIO), *SMALL_RUN, "--seed", "4", "--out", str(other)]) == 0
    shutil.copy(other / "replicates.parquet", folder / "replicates.parquet")
    return "replicates.parquet"


DAMAGE = {
    "replicates.parquet": _flip("replicates.parquet"),
    "summary.npz": _flip("summary.npz"),
    "trajectories.npy": _flip("trajectories.npy"),
    "parquet of another seed": _other_seed,
    "seed": _edit_manifest(seed=4),
    "scenario_hash": _edit_manifest(scenario_hash="0" * 64),
    "settings.replicates": _edit_manifest(**{"settings.replicates": 5}),
    "title": _edit_manifest(**{"scenario.title": "another story"}),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_one_changed_file_or_field_is_refused_by_every_reader_naming_it(damage, copy, tmp_path, capsys):
    folder = copy()
    name = DAMAGE[damage](folder)
    for reader, argv in READERS.items():
        if argv is None:
            with pytest.raises(IntegrityError) as info:
                load_results(folder)
            line = str(info.value)
        else:
            code, err = run_cli(argv(folder, tmp_path), capsys)
            line = one_line(err)
            assert code == 2, (reader, line)
        assert f"{folder / name}: " in line, (reader, line)
    assert not (tmp_path / "page.html").exists() and not (tmp_path / "sens").exists()


def test_the_messages_say_what_changed(copy, capsys):
    folder = copy()
    flip_byte(folder / "summary.npz")
    with pytest.raises(IntegrityError, match=r"summary.npz: its SHA-256 differs from the one manifest.json"):
        load_results(folder)
    folder = copy("b")
    with open(folder / "replicates.parquet", "r+b") as fh:
        fh.truncate(1000)
    with pytest.raises(IntegrityError, match=r"replicates.parquet: 1000 bytes where manifest.json records"):
        load_results(folder)
    folder = copy("c")
    _edit_manifest(seed=4)(folder)
    with pytest.raises(IntegrityError, match=r"manifest.json: seed 4 differs from settings.seed 3"):
        load_results(folder)
    folder = copy("d")
    _edit_manifest(**{"settings.replicates": 5})(folder)
    with pytest.raises(IntegrityError, match=r"manifest.json: its fields were edited after the run"):
        load_results(folder)


@pytest.mark.parametrize(
    "content, expected",
    [
        ("[1, 2]", "expected a JSON object, got a JSON list"),
        ('"text"', "expected a JSON object, got a JSON str"),
        ("{", "unreadable manifest"),
        (None, "scenario_hash: required but missing"),
        ("replicates='300'", "settings.replicates: Input should be a valid integer (got '300')"),
        ("status=3", "status: Input should be 'running' or 'complete' (got 3)"),
        ("files=[]", "files: Input should be a valid dictionary"),
    ],
)
def test_a_manifest_of_the_wrong_shape_is_one_line(content, expected, copy, tmp_path, capsys):
    folder = copy()
    path = folder / "manifest.json"
    m = json.loads(path.read_text())
    if content is None:
        del m["scenario_hash"]
        path.write_text(json.dumps(m))
    elif content.startswith("replicates="):
        m["settings"]["replicates"] = "300"
        path.write_text(json.dumps(m))
    elif "=" in content:
        key, value = content.split("=")
        m[key] = json.loads(value)
        path.write_text(json.dumps(m))
    else:
        path.write_text(content)
    for argv in (["report", folder, "--out", tmp_path / "p.html"], ["verify", folder], ["landscape", folder]):
        code, err = run_cli(argv, capsys)
        line = one_line(err)
        assert code == 2 and f"{path}: " in line and expected in line, line


def test_a_manifest_that_is_a_fifo_is_refused_without_blocking(copy, capsys):
    folder = copy()
    (folder / "manifest.json").unlink()
    os.mkfifo(folder / "manifest.json")
    code, err = run_cli(["verify", folder], capsys)
    assert code == 2 and "expected a regular file, got a special file" in one_line(err)


def test_verify_reports_what_it_checked_and_rerunning_chunks_catches_a_resealed_forgery(copy, capsys):
    folder = copy()
    code = cli.main(["verify", str(folder)])
    out = capsys.readouterr().out
    assert code == 0 and f"{folder}: intact" in out
    for what in ("replicates.parquet: 300 rows", "trajectories.npy: SHA-256", "scenario_hash", "run again"):
        assert what in out, what
    # A forger rewrites the seed everywhere and re-seals the manifest: every recorded checksum
    # and field agrees, but the rows are not those the claimed seed gives.
    m = json.loads((folder / "manifest.json").read_text())
    m["seed"] = m["settings"]["seed"] = m["scenario"]["run"]["seed"] = 4
    from sim.spec.scenario import stored_scenario

    m["scenario_hash"] = stored_scenario(m["scenario"]).digest()
    m[SEAL] = manifest_digest(m)
    (folder / "manifest.json").write_text(json.dumps(m))
    load_results(folder)  # the checks on load cannot tell
    code, err = run_cli(["verify", folder], capsys)
    line = one_line(err)
    assert code == 2 and "run again with the stored scenario and seed 4 differ from the stored rows" in line


def test_a_folder_written_before_checksums_is_refused_with_what_to_do(copy):
    folder = copy()
    m = json.loads((folder / "manifest.json").read_text())
    del m["files"], m[SEAL]
    (folder / "manifest.json").write_text(json.dumps(m))
    with pytest.raises(IntegrityError, match="a complete run records the checksums of"):
        load_results(folder)


# --------------------------------------------------------------------------------------------
# Calibration and levers folders
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("cal")
    record = record_file(
        base,
        entry("early", "2022-08-10", TIE_LOW.replace("-0.25", "-0.2").replace("-0.12\n", "0.4\n")),
        entry("late", "2024-01-05", TIE_LOW),
        entry("still", "2024-01-05", ACTIVE),
    )
    out = base / "cal"
    args = ["calibrate", SMALL, "--observations", record, "-n", "1000", "--seed", "8", "--out", out]
    assert cli.main([str(a) for a in [*args, "--min-accepted", "10", "--no-progress", "--no-report"]]) == 0
    return out


@pytest.mark.parametrize("name", ["states.npz", "posterior.parquet", "posterior.toml", "calibration.json"])
def test_a_changed_calibration_file_is_refused_naming_it(name, calibrated, tmp_path, capsys):
    folder = tmp_path / "cal"
    shutil.copytree(calibrated, folder)
    if name == "calibration.json":
        _edit = json.loads((folder / name).read_text())
        _edit["last_step"] = "23"
        (folder / name).write_text(json.dumps(_edit))
    else:
        flip_byte(folder / name)
    argv = ["run", folder / "posterior.toml", "--from-observations", "-t", "3", "--out", tmp_path / "p"]
    for reader in (argv, ["verify", folder]):
        code, err = run_cli(reader, capsys)
        line = one_line(err)
        assert code == 2 and f"{folder / name}: " in line, line
    assert not (tmp_path / "p").exists()


def test_verify_checks_a_calibration_folder(calibrated, capsys):
    assert cli.main(["verify", str(calibrated)]) == 0
    out = capsys.readouterr().out
    assert "states.npz: the states of the same replicates" in out and "posterior.toml: SHA-256" in out


@pytest.fixture(scope="module")
def levers(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lv") / "lv"
    argv = ["levers", PLANTED, "--grid", "2", "--worlds", "8", "-R", "2", "-j", "1", "--no-progress"]
    assert cli.main([str(a) for a in [*argv, "--no-report", "--out", out]]) == 0
    return out


@pytest.mark.parametrize("name", ["policies.parquet", "evaluations.parquet", "worlds.parquet"])
def test_a_changed_levers_file_is_refused_naming_it(name, levers, tmp_path, capsys):
    folder = tmp_path / "lv"
    shutil.copytree(levers, folder)
    flip_byte(folder / name)
    for reader in (["discover", folder, "--out", tmp_path / "d"], ["verify", folder, "--no-replay"]):
        code, err = run_cli(reader, capsys)
        line = one_line(err)
        assert code == 2 and f"{folder / name}: " in line, line


def test_verify_checks_a_levers_folder_and_its_runs(levers, capsys):
    assert cli.main(["verify", str(levers), "--no-replay"]) == 0
    out = capsys.readouterr().out
    assert "policies.parquet: SHA-256" in out and "runs: replicates.parquet:" in out


# --------------------------------------------------------------------------------------------
# Nothing half-written, nothing overwritten that is not ours
# --------------------------------------------------------------------------------------------


def test_report_refuses_to_overwrite_a_file_that_is_not_a_report(copy, tmp_path, capsys):
    folder = copy()
    manifest = (folder / "manifest.json").read_bytes()
    for target in (folder / "manifest.json", folder / "replicates.parquet"):
        for force in ([], ["--force"]):
            code, err = run_cli(["report", folder, "--out", target, *force], capsys)
            assert code == 2 and "is part of the result folder" in one_line(err)
    assert (folder / "manifest.json").read_bytes() == manifest
    notes = tmp_path / "notes.html"
    notes.write_text("my notes")
    code, err = run_cli(["report", folder, "--out", notes], capsys)
    assert code == 2 and "exists and is not a report page; choose another --out or pass --force" in err
    assert notes.read_text() == "my notes"
    assert cli.main(["report", str(folder), "--out", str(notes), "--force"]) == 0
    assert cli.main(["report", str(folder), "--out", str(notes)]) == 0  # its own page now: replaced
    load_results(folder)


def test_folder_commands_refuse_a_folder_of_other_files(copy, tmp_path, capsys):
    folder = copy()
    report = folder / "page.html"
    assert cli.main(["report", str(folder), "--out", str(report), "--no-progress"]) == 0
    before = report.read_bytes()
    code, err = run_cli(["discover", folder, "--out", folder], capsys)
    assert code == 2 and "holds files that are not a discovery" in one_line(err)
    code, err = run_cli(["sweep", SCENARIO, "mechanisms.noise", "--values", "0,0.1", "--out", folder], capsys)
    assert code == 2 and "holds files that are not a sweep" in one_line(err)
    assert report.read_bytes() == before


class FullDisk:
    """Stands in for the flush of a file's data: from the ``n``-th call on, the disk is full."""

    def __init__(self, n: int = 1):
        self.n, self.calls = n, 0

    def __call__(self, path):
        self.calls += 1
        if self.calls >= self.n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def _mount(where: Path, size: str) -> bool:
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or os.environ.get("ALLIANCE_TEST_NO_MOUNT"):
        return False
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)], capture_output=True
    )
    return done.returncode == 0


def test_a_full_disk_leaves_no_truncated_file_and_keeps_the_old_one(tmp_path, monkeypatch):
    old = tmp_path / "table.parquet"
    pd.DataFrame({"x": [1, 2]}).to_parquet(old)
    before = old.read_bytes()
    monkeypatch.setattr("sim.files.fsync_path", FullDisk())
    with pytest.raises(OSError, match="No space left"):
        atomic_write(pd.DataFrame({"x": np.arange(10_000)}).to_parquet, old)
    with pytest.raises(OSError, match="No space left"):
        atomic_write_bytes(tmp_path / "new.bin", b"x" * 100_000)
    assert old.read_bytes() == before and not (tmp_path / "new.bin").exists()
    no_temporary_files(tmp_path)


@pytest.mark.parametrize("command", ["report", "calibrate"])
def test_a_disk_that_fills_up_during_a_command_leaves_no_file_that_looks_complete(
    command, finished, tmp_path, monkeypatch, capsys
):
    disk = tmp_path / "disk"
    real = _mount(disk, "96k")
    try:
        if not real:
            monkeypatch.setattr("sim.files.fsync_path", FullDisk(3))
        if command == "report":
            target = disk / "report.html"
            code, err = run_cli(["report", finished, "--out", target, "--no-progress"], capsys)
            assert not target.exists()
            assert not [p.name for p in disk.rglob("*")]  # no figures without their page
        else:
            record = record_file(
                tmp_path,
                entry("late", "2024-01-05", TIE_LOW),
                entry("still", "2024-01-05", ACTIVE),
            )
            out = disk / "cal"
            argv = ["calibrate", SMALL, "--observations", record, "-n", "4000", "--out", out]
            code, err = run_cli([*argv, "--min-accepted", "10", "--no-progress", "--no-report"], capsys)
            assert not (out / "calibration.json").exists()  # no manifest: the folder is not whole
            assert not out.exists(), [p.name for p in out.iterdir()]  # and nothing partial stays
        line = one_line(err)
        assert code in (1, 2) and "No space left on device" in line, line
        no_temporary_files(disk)
    finally:
        if real:
            subprocess.run(["umount", "-l", str(disk)], capture_output=True)


# --------------------------------------------------------------------------------------------
# score
# --------------------------------------------------------------------------------------------


def _never(tmp_path) -> Path:
    """A record no replicate can reproduce: the alliance of SMALL ended and is still active."""
    never_read = "error = 0.0\n"  # read without error: a contradiction has probability 0
    return record_file(
        tmp_path,
        entry("ended", "2022-06-01", 'kind = "alliance_ended"\nalliance = "ab"\nfate = "any"\n' + never_read),
        entry("still", "2024-01-05", ACTIVE + never_read),
        name="never.toml",
    )


def test_score_refuses_a_record_no_replicate_reproduced(tmp_path, capsys):
    code, err = run_cli(
        ["score", SMALL, "--observations", _never(tmp_path), "-n", "300", "--no-progress"], capsys
    )
    line = one_line(err)
    assert code == 2, line
    assert "no replicate of history_small reproduced the record" in line
    assert "run at least 1,000 replicates per scenario" in line
    assert "1e-300" not in line


def test_score_marks_a_scenario_that_never_reproduced_the_record_as_not_estimable(tmp_path):
    from sim.analysis.calibration import _rank_scores

    table = pd.DataFrame(
        {
            "scenario": ["never", "fits"],
            "p_record": [1e-300, 0.2],
            "log_score": [-690.8, np.log(0.2)],
            "log_se": [0.0, 0.05],
            "replicates": [3000, 3000],
            "binding": ["x", "y"],
            "reproduced": [0, 600],
        }
    )
    ranked = _rank_scores(table, tmp_path / "obs.toml")
    assert list(ranked["scenario"]) == ["fits", "never"]
    never = ranked.iloc[1]
    assert not never["estimable"] and pd.isna(never["rank"]) and np.isnan(never["p_record"])
    assert never["p_record_below"] == pytest.approx(1e-3)
    assert ranked.iloc[0]["rank"] == 1


# --------------------------------------------------------------------------------------------
# Smaller items: the disk estimate, --resume of a finished run
# --------------------------------------------------------------------------------------------


def test_the_disk_estimate_is_a_lower_bound_within_a_factor_of_two_of_the_peak(tmp_path, monkeypatch):
    """The peak of a run on disk is its chunk files plus the merged results beside them."""
    from sim.run import ensemble, store

    peak = {}
    merge = store.Merger.finish

    def measuring(self):
        out = self.directory
        chunks = sum(p.stat().st_size for p in (Path(out) / "chunks").iterdir())
        merge(self)
        peak["bytes"] = chunks + sum(p.stat().st_size for p in Path(out).iterdir() if p.is_file())

    monkeypatch.setattr(store.Merger, "finish", measuring)
    scenario = ROOT / "scenarios" / "status_quo.toml"  # many sampled values: most of a row
    ensemble.run_ensemble(
        scenario, replicates=3000, steps=6, chunk_size=500, why=False, progress=False, out=tmp_path / "r"
    )
    from sim.run.footprint import disk_need
    from sim.spec.scenario import load_scenario

    need = disk_need(
        load_scenario(scenario).with_run(replicates=3000, steps=6), 500, False, ensemble.HIST_BINS
    )
    assert 0.5 * peak["bytes"] <= need <= peak["bytes"], (need, peak)


def test_resume_of_a_finished_run_does_nothing_and_needs_no_free_space(finished, tmp_path, monkeypatch):
    from collections import namedtuple

    from sim.run import ensemble

    folder = tmp_path / "run"
    shutil.copytree(finished, folder)
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    Usage = namedtuple("Usage", "total used free")
    monkeypatch.setattr("shutil.disk_usage", lambda p: Usage(1 << 30, 1 << 30, 0))
    ran = []
    monkeypatch.setattr(ensemble, "run_chunk", lambda task: ran.append(task) or None)
    argv = ["run", str(SCENARIO), *SMALL_RUN, "-j", "1", "--trajectories", "--resume", "--out", str(folder)]
    code = cli.main(argv)
    assert code == 0 and ran == []
    assert {p.name: p.read_bytes() for p in folder.iterdir()} == before


@pytest.mark.parametrize(
    "name, expected",
    [
        ("A\u200b", "without invisible characters"),
        ("A ", "without leading or trailing spaces"),
        ("Cafe\u0301", "in composed Unicode (NFC"),
    ],
)
def test_a_name_that_only_looks_like_another_is_refused(name, expected, tmp_path, capsys):
    """Two actors that print alike ("A" and "A" + a zero-width space) would be two actors."""
    scenario = tmp_path / "lookalike.toml"
    scenario.write_text(
        SCENARIO.read_text(encoding="utf-8") + f'\n[actors."{name}"]\ncapability = 0.1\n', encoding="utf-8"
    )
    code, err = run_cli(["validate", scenario], capsys)
    line = one_line(err)
    assert code == 2 and expected in line and "lookalike.toml:" in line, line


def test_verify_checks_each_run_of_a_comparison_folder_and_refuses_other_folders(finished, tmp_path, capsys):
    comparison = tmp_path / "comparison"
    for name in ("a", "b"):
        shutil.copytree(finished, comparison / name)
    checked = verify(comparison, replay=False)
    assert any(line.startswith("a: replicates.parquet: SHA-256") for line in checked)
    assert any(line.startswith("b: replicates.parquet: SHA-256") for line in checked)
    flip_byte(comparison / "b" / "summary.npz")
    code, err = run_cli(["verify", comparison, "--no-replay"], capsys)
    assert code == 2 and f"{comparison / 'b' / 'summary.npz'}: " in one_line(err)
    (tmp_path / "empty").mkdir()
    for folder, expected in (
        (tmp_path / "empty", "no manifest.json or calibration.json"),
        (tmp_path / "none", "no such folder"),
    ):
        code, err = run_cli(["verify", folder], capsys)
        assert code == 2 and expected in one_line(err)


# --------------------------------------------------------------------------------------------
# Bad input that once crashed, limits, terminal text
# --------------------------------------------------------------------------------------------

CONSTANT = """extends = "alliance-sim:seeds/baseline.toml"
title = "one step"
[levers.sanctions]
owner = "NATO"
label = "Sanctions"
claim = "s-lever-sanctions-russia"
low = -0.3
high = 0.3
effects = [{kind = "pressure", actor = "Russia"}]
[metrics.holds]
owner = "NATO"
label = "P(holds)"
kind = "p_holds"
alliance = "china_russia"
direction = "minimize"
"""


def test_levers_no_policy_moved_is_one_line_leaving_nothing_and_so_is_its_resume(tmp_path, capsys):
    """In one step nothing breaks, so every metric is the same under every policy."""
    scenario = tmp_path / "constant.toml"
    scenario.write_text(CONSTANT, encoding="utf-8")
    out = tmp_path / "levers"
    argv = ["levers", scenario, "-N", "2", "-S", "2", "-R", "1", "-t", "1", "-j", "1", "--out", out]
    for extra in ([], ["--resume"]):
        code, err = run_cli([*argv, *extra, "--no-progress"], capsys)
        line = one_line(err)
        assert code == 2 and "every metric takes the same value under every policy" in line, line
        assert "run more steps (-t)" in line
        assert not out.exists()


@pytest.mark.parametrize(
    "argv, expected",
    [
        (["sweep", SCENARIO, "mechanisms.competition", "--values", "0.1,0.1"], "0.1 more than once"),
        (["run", SCENARIO, "-n", "100000001"], "at most 100,000,000 replicates, got 100,000,001"),
        (["run", SCENARIO, "-t", "2000000"], "at most 1,000,000 steps, got 2,000,000"),
        (["calibrate", SMALL, "--observations", "o.toml", "-n", "1000000000"], "at most 100,000,000"),
        (
            ["levers", "policy", "-N", "100000", "-S", "1000"],
            "levers: expected at most 100,000,000 replicate",
        ),
        (["optimize", "policy", "--evaluations", "100000000"], "optimize: expected at most 100,000,000"),
        (["sensitivity", SCENARIO, "-N", "1000000", "-R", "100"], "sensitivity: expected at most"),
        (["score", SCENARIO, "--observations", "o.toml", "-n", "1000"], "o.toml"),
    ],
)
def test_bad_sizes_are_one_line_before_anything_runs(argv, expected, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "out"
    extra = [] if argv[0] == "score" else ["--out", str(out)]
    try:
        code = cli.main([str(a) for a in [*argv, *extra]])
    except SystemExit as e:  # refused while parsing the options
        code = e.code
    err = capsys.readouterr().err
    line = err.strip().splitlines()[-1]  # sensitivity may first say it rounds --samples
    assert code == 2 and expected in line and "Traceback" not in err, err
    assert not out.exists()


def test_calibrate_refuses_an_ensemble_that_would_not_fit_in_memory(tmp_path, capsys):
    record = record_file(tmp_path, entry("still", "2024-01-05", ACTIVE))
    argv = ["calibrate", SMALL, "--observations", record, "-n", "100000000", "--out", tmp_path / "c"]
    code, err = run_cli(argv, capsys)
    line = one_line(err)
    assert code == 2 and "calibrate: expected what is kept of every replicate to fit in 4 GB" in line, line
    assert not (tmp_path / "c").exists()


def test_workers_above_the_cores_are_capped_with_a_warning_unless_oversubscribed(monkeypatch, capsys):
    from sim.cli import options

    monkeypatch.setattr(options, "cores", lambda: 2)
    args = cli.build_parser().parse_args(["run", "x.toml", "-j", "16"])
    warning = options.cap_workers(args)
    assert args.workers == 2 and "--workers 16 is more than the 2 cores here; using 2" in warning
    args = cli.build_parser().parse_args(["run", "x.toml", "-j", "16", "--oversubscribe"])
    assert options.cap_workers(args) is None and args.workers == 16
    args = cli.build_parser().parse_args(["run", "x.toml", "-j", "2"])
    assert options.cap_workers(args) is None and args.workers == 2


EVIL = "evil \x1b]0;PWNED\x07 \x1b[2J title \u202e reversed"


def test_terminal_text_escapes_what_a_terminal_would_act_on(tmp_path, monkeypatch, capsys):
    """``list`` once printed a title's escape sequences raw; now no command prints one."""
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "scenarios" / "evil.toml").write_text(
        f'extends = "alliance-sim:seeds/baseline.toml"\ntitle = {json.dumps(EVIL)}\n', encoding="utf-8"
    )
    monkeypatch.chdir(tmp_path)
    assert cli.main(["list"]) == 0
    shown = capsys.readouterr().out
    assert "\x1b" not in shown and "\u202e" not in shown and "\x07" not in shown
    assert "evil \\x1b]0;PWNED\\x07 \\x1b[2J title \\u202e reversed" in shown, shown
    (tmp_path / "bad.toml").write_text(
        'extends = "alliance-sim:seeds/baseline.toml"\n[actors."China\u200b"]\ncapability = 0.1\n',
        encoding="utf-8",
    )
    code, err = run_cli(["validate", tmp_path / "bad.toml"], capsys)
    assert code == 2 and "\u200b" not in err and "actors.China\\u200b" in one_line(err)


def test_printable_keeps_text_and_escapes_once():
    from sim.errors import printable

    assert printable("Café ¶4 → back to back\n\tok") == "Café ¶4 → back to back\n\tok"
    assert printable("a\u200bb\x9b") == "a\\u200bb\\x9b"
    assert printable(printable("\x1b[2J")) == printable("\x1b[2J") == "\\x1b[2J"
    assert printable("x\ny", newlines=False) == "x\\ny"


def test_extends_names_only_shipped_scenarios(tmp_path, capsys):
    scenario = tmp_path / "x.toml"
    for target in ("pyproject.toml", ".venv/pyvenv.cfg", "seeds/../pyproject.toml"):
        scenario.write_text(f'extends = "alliance-sim:{target}"\n', encoding="utf-8")
        code, err = run_cli(["validate", scenario], capsys)
        line = one_line(err)
        assert code == 2 and "x.toml:1: extends: expected a shipped scenario" in line, line
        assert "build-system" not in line
    (tmp_path / "pyproject.toml").write_text('[tool.secret]\ntoken = "hunter2"\n', encoding="utf-8")
    scenario.write_text('extends = "pyproject.toml"\n', encoding="utf-8")
    code, err = run_cli(["validate", scenario], capsys)
    line = one_line(err)  # a file of the project that is no scenario: its keys are not echoed
    assert code == 2 and "expected a scenario file, got 'pyproject.toml', which is not one" in line, line
    assert "secret" not in line and "token" not in line


def test_a_linked_scenario_extends_the_files_beside_the_link_or_beside_its_target(tmp_path, capsys):
    for project in ("library", "work"):
        (tmp_path / project / "seeds").mkdir(parents=True)
    base = 'extends = "alliance-sim:seeds/baseline.toml"\ntitle = "{}"\n'
    (tmp_path / "library" / "base.toml").write_text(base.format("library base"), encoding="utf-8")
    (tmp_path / "library" / "child.toml").write_text('extends = "base.toml"\n', encoding="utf-8")
    link = tmp_path / "work" / "child.toml"
    link.symlink_to(tmp_path / "library" / "child.toml")
    from sim.spec.scenario import load_scenario

    assert load_scenario(link).title == "library base"  # nothing beside the link: the target's
    (tmp_path / "work" / "base.toml").write_text(base.format("work base"), encoding="utf-8")
    assert load_scenario(link).title == "work base"  # the link's folder wins
    code, err = run_cli(["validate", link], capsys)
    assert code == 0, err


def test_validate_fails_when_the_claims_file_is_missing_or_a_pipe(tmp_path, capsys):
    (tmp_path / "seeds").mkdir()
    scenario = tmp_path / "c.toml"
    scenario.write_text(
        'extends = "alliance-sim:seeds/baseline.toml"\nclaims = "gone.toml"\n', encoding="utf-8"
    )
    code, err = run_cli(["validate", scenario], capsys)
    line = one_line(err)
    assert code == 2 and "c.toml:2: claims: expected a claims file, got 'gone.toml' (no such file)" in line
    os.mkfifo(tmp_path / "pipe.toml")
    scenario.write_text(
        'extends = "alliance-sim:seeds/baseline.toml"\nclaims = "pipe.toml"\n', encoding="utf-8"
    )
    code, err = run_cli(["validate", scenario], capsys)  # returns: nothing waits on the pipe
    assert code == 2 and "(not a file)" in one_line(err)


def test_reading_a_pipe_or_device_never_blocks(tmp_path):
    from sim.files import NotRegularFileError, read_regular
    from sim.spec.claims import load_claims
    from sim.spec.locations import ScenarioError

    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(NotRegularFileError):
        read_regular(tmp_path / "pipe", 100)
    with pytest.raises(ScenarioError, match="expected a regular file"):
        load_claims(tmp_path / "pipe")
    with pytest.raises(ValueError, match="over the limit"):
        (tmp_path / "big").write_bytes(b"x" * 101)
        read_regular(tmp_path / "big", 100)
