"""What a user waits for besides the simulation: the pages (not a test; tables 8 and 9 of bench.py).

    .venv/bin/python benchmarks/page_bench.py                       # both tables
    .venv/bin/python benchmarks/page_bench.py --sizes 2000,100000   # table 9 without the 1M folder
    .venv/bin/python benchmarks/page_bench.py --sizes "" --baseline 34150e5   # table 8 only, against 34150e5
    .venv/bin/python benchmarks/bench.py --pages                    # the same from bench.py

8. Simulation against page time, through the command line, the code before (``--baseline``, a
   commit exported with ``git archive`` into a temporary folder and run with the same Python) and
   this checkout side by side, one command after the other:
   (a) ``run scenarios/status_quo.toml -n 2000``: with ``--no-report`` (the simulation) and with
       its page (the page: the difference), for this checkout also with the figures drawn in one
       process (``ALLIANCE_PAGE_WORKERS=1``) to show what drawing them in parallel buys;
   (b) the README's first command, ``compare back_to_back stab_in_the_back`` (2,000 replicates
       each): the whole command, then the same again, which reuses both runs and writes the page
       only (the page, start-up included).
   Each figure is the median and range over ``--rounds`` rounds (3 by default) that alternate the
   versions, the first of a round changing from round to round: the machine's other work moves
   single runs by a fifth or more.
9. ``report`` on status_quo folders of 2,000, 100,000 and 1,000,000 replicates
   (``/tmp/alliance-bench-folders/status_quo-<n>``, built with the numba engine when missing): wall
   seconds and the peak memory of the whole process tree, as resident memory (RSS, which counts
   pages a forked drawing process shares with its parent once per process) and as proportional
   set size (PSS, which shares them out: what the tree really holds). The baseline runs on the
   sizes of ``--baseline-sizes``.

Every command runs in a fresh process; those of table 9 are sampled from /proc every 50 ms, those
of table 8 are timed without sampling (it takes CPU from the command). The load average is printed
with each row: other work on the machine slows every figure, so compare the columns of a row.
OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE and PYTHONDONTWRITEBYTECODE are unset for the benchmark's own
run, and both trees' bytecode is written before anything is measured (bench.py's rule).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

BASELINE = "c7ce681"  # main before the pages were made fast
FOLDERS = Path("/tmp/alliance-bench-folders")


def _tree(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        p = stack.pop()
        out.append(p)
        try:
            for task in Path(f"/proc/{p}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, ValueError):
            continue
    return out


def _field(path: Path, name: str) -> int:
    try:
        for line in path.read_text().splitlines():
            if line.startswith(name):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_memory(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of a process and its descendants, KiB."""
    pids = _tree(pid)
    rss = sum(_field(Path(f"/proc/{p}/status"), "VmRSS:") for p in pids)
    pss = sum(_field(Path(f"/proc/{p}/smaps_rollup"), "Pss:") for p in pids)
    return rss, pss


def measure(
    args: list[str], code: Path, env: dict | None = None, memory: bool = True
) -> tuple[float, float, float]:
    """Wall seconds, peak tree RSS and PSS (MiB) of ``python -m sim.cli ARGS`` run from ``code``.

    With ``memory`` False the memory is not sampled (0 is returned for it): sampling reads every
    process's ``smaps_rollup`` each 50 ms, which took 0.36-0.40 s of CPU over the README's first
    command and made it 0.25-0.45 s slower on two cores, so the speed table times without it."""
    environment = {**os.environ, **(env or {}), "PYTHONPATH": str(code)}
    t = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sim.cli", *args],
        cwd=code,
        env=environment,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    rss = pss = 0
    if memory:
        while proc.poll() is None:
            r, p = tree_memory(proc.pid)
            rss, pss = max(rss, r), max(pss, p)
            time.sleep(0.05)
    else:
        proc.wait()
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        err = proc.stderr.read() if proc.stderr else ""
        raise SystemExit(f"{' '.join(args)} ({code}) failed: {err.strip().splitlines()[-1:]}")
    return wall, rss / 1024, pss / 1024


def export(rev: str, into: Path) -> Path:
    """The tree of commit ``rev`` of this repository, written under ``into``."""
    target = into / f"alliance-sim-{rev}"
    target.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=ROOT, check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def load() -> str:
    return f"{os.getloadavg()[0]:.1f}"


def spread(values: list[float]) -> str:
    """The median of ``values`` and their range: ``4.1 (3.9-4.6)``."""
    import statistics

    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"


def speed_table(base: Path | None, tmp: Path, rounds: int = 3) -> None:
    """Table 8: simulation against page time, before and after, over ``rounds`` rounds that
    alternate the two versions (which goes first changes from round to round)."""
    from bench import table

    codes = ([("before", base)] if base else []) + [("now", ROOT)]
    times: dict[tuple[str, str], list[float]] = {}

    def note(label: str, what: str, seconds: float) -> None:
        times.setdefault((label, what), []).append(seconds)

    for r in range(rounds):
        for label, code in codes if r % 2 == 0 else codes[::-1]:
            out = tmp / f"{r}-{label}"
            run = ["run", "scenarios/status_quo.toml", "-n", "2000", "--no-progress", "--force"]
            sim = measure([*run, "--out", str(out / "sim"), "--no-report"], code, memory=False)[0]
            whole = measure([*run, "--out", str(out / "page")], code, memory=False)[0]
            note(label, "run sim", sim)
            note(label, "run whole", whole)
            note(label, "run page", whole - sim)
            note(label, "run over", whole - 2 * sim)
            if label == "now":
                one = {"ALLIANCE_PAGE_WORKERS": "1"}
                note(label, "run one", measure([*run, "--out", str(out / "one")], code, one, False)[0] - sim)
            readme = [
                "compare",
                "back_to_back",
                "stab_in_the_back",
                "--out",
                str(out / "cmp"),
                "--no-progress",
            ]
            whole = measure(readme, code, memory=False)[0]
            again = measure(readme, code, memory=False)[0]  # reuses both runs: start-up, the checks, the page
            note(label, "readme whole", whole)
            note(label, "readme again", again)
    rows = []
    for label, _ in codes:
        one = spread(times[(label, "run one")]) if (label, "run one") in times else "-"
        rows.append(
            [
                f"run -n 2000 ({label})",
                spread(times[(label, "run whole")]),
                spread(times[(label, "run sim")]),
                spread(times[(label, "run page")]),
                one,
                spread(times[(label, "run over")]),
            ]
        )
    for label, _ in codes:
        again = spread(times[(label, "readme again")])
        rows.append(
            [
                f"README's first command ({label})",
                spread(times[(label, "readme whole")]),
                "-",
                again,
                "-",
                "-",
            ]
        )
    table(
        f"8. the whole command, its simulation and its page, seconds: median (range) over {rounds} "
        "rounds, the versions alternating (run: the page is the whole command less `run "
        "--no-report`, the last column the page less the simulation; the README's first command: "
        "the page is the same command again, which reuses both runs, start-up included; one "
        f"process: the figures drawn without drawing processes); load average {load()} at the end",
        ["command", "whole", "simulation", "page", "page, one process", "page - simulation"],
        rows,
    )


def folder_for(n: int) -> Path:
    """The status_quo folder of ``n`` replicates, (re)built when it cannot be loaded."""
    out = FOLDERS / f"status_quo-{n}"
    check = subprocess.run(
        [sys.executable, "-c", f"from sim.run.store import load_results; load_results({str(out)!r})"],
        cwd=ROOT,
        capture_output=True,
    )
    if check.returncode != 0:
        print(f"building {out} ({n:,} replicates, numba engine, 2 workers) ...", flush=True)
        run = ["run", "scenarios/status_quo.toml", "-n", str(n), "--engine", "numba", "-j", "2"]
        measure([*run, "--no-report", "--no-progress", "--force", "--out", str(out)], ROOT)
    return out


def size_table(sizes: list[int], base: Path | None, base_sizes: set[int], tmp: Path) -> None:
    """Table 9: report time and peak memory by the folder's size."""
    from bench import table

    rows = []
    for n in sizes:
        folder = folder_for(n)
        per = (folder / "replicates.parquet").stat().st_size / n
        row = [f"{n:,}", f"{per:,.0f}"]
        for label, code in ([("before", base)] if base and n in base_sizes else []) + [("now", ROOT)]:
            wall, rss, pss = measure(["report", str(folder), "--out", str(tmp / f"{label}-{n}.html")], code)
            row += [f"{label}: {wall:.1f} s, {rss:,.0f} / {pss:,.0f} MiB"]
        if len(row) == 3:
            row.insert(2, "-")
        rows.append(row + [load()])
    table(
        "9. `report` of a status_quo folder: wall seconds, peak RSS / PSS of the process tree (MiB)",
        ["replicates", "table bytes per replicate", "before", "now", "load"],
        rows,
    )


def main(argv: list[str] | None = None) -> None:
    from bench import compile_tree, environment_note, unset_openblas

    unset_openblas()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,100000,1000000", help="replicates of the report folders")
    parser.add_argument("--baseline", default=BASELINE, help="commit measured as 'before' ('' for none)")
    parser.add_argument(
        "--baseline-sizes", default="2000,100000", help="sizes the baseline reports (it holds whole tables)"
    )
    parser.add_argument("--no-speed", action="store_true", help="only table 9")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of table 8 (the versions alternate)")
    args = parser.parse_args(argv)
    print(f"pages; {os.cpu_count()} cores; {environment_note()}; uptime: {os.popen('uptime').read().strip()}")
    tmp = Path(tempfile.mkdtemp(prefix="alliance-pages-"))
    try:
        base = export(args.baseline, tmp) if args.baseline else None
        if base is not None:  # as the checkout: its bytecode written before anything is measured
            compile_tree(base)
        if not args.no_speed:
            speed_table(base, tmp, args.rounds)
        base_sizes = {int(s) for s in args.baseline_sizes.split(",") if s}
        sizes = [int(s) for s in args.sizes.split(",") if s]
        if sizes:  # --sizes '': table 8 only
            size_table(sizes, base, base_sizes, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
