"""What a report's data costs: the streaming digest against the whole table in memory (not a test).

    .venv/bin/python benchmarks/digest_bench.py                 # 2,000, 100,000, 1,000,000 replicates
    .venv/bin/python benchmarks/digest_bench.py --sizes 2000,100000
    .venv/bin/python benchmarks/digest_bench.py --folders DIR   # where the result folders live

The result folders are ``status_quo`` runs, ``DIR/status_quo-<n>`` (default DIR:
``/tmp/alliance-bench-folders``), built with ``alliance-sim run scenarios/status_quo.toml -n <n>
--engine numba -j 2 --no-report`` when missing and reused when present.

1. The data of a run's report, computed two ways side by side, each in a fresh process whose
   whole process tree's resident memory is sampled from /proc every 50 ms:
   (a) today's path: ``load_results(d).replicates`` (the whole table), then the in-memory functions
       (fate tables, survival, who stabs whom, blocs, capabilities, events, the reading note, the
       5-95 % of every sampled value, the attribution groups, the variance split by basis);
   (b) :func:`sim.analysis.digest.digest` and the same quantities from it (the variance split on
       its 100,000-row sample).
   Each cell is wall seconds and peak MiB (the interpreter and its imports included: the first
   row's memory is mostly that).
2. Bytes per replicate of ``replicates.parquet``: the table re-encoded as before (snappy, dictionary
   for text only, every column in its own type) and as written now, with the seconds each takes to
   write and to read back whole.

Figures are noisy on a shared machine: the load average is printed beside them; compare the two
columns of one row, which ran one after the other. The benchmark unsets ``OPENBLAS_CORETYPE`` and
``OPENBLAS_L2_SIZE`` as ``bench.py`` does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench import environment_note, load, table, tree_rss_kib, unset_openblas  # noqa: E402

STATUS_QUO = ROOT / "scenarios" / "status_quo.toml"
FOLDERS = Path("/tmp/alliance-bench-folders")


# --------------------------------------------------------------------------------------------
# The measured work (runs in a child process: ``--measure today|digest FOLDER``)
# --------------------------------------------------------------------------------------------


def _basis(results):
    from sim.spec.claims import basis_of, claims_by_param, claims_for, load_claims

    path = results.manifest.get("scenario", {}).get("claims")
    by_param = claims_by_param(load_claims(path)) if path else {}
    return lambda p: basis_of(claims_for(by_param, p), p)


def today(folder: Path) -> dict:
    """The report's data from the whole table in memory, as the pages compute it now."""
    import numpy as np

    from sim.analysis import events, outcomes, why
    from sim.analysis.variance import variance_by_basis
    from sim.run.store import load_results
    from sim.vocabulary import PARAM_PREFIX, fate_column

    r = load_results(folder)
    t = r.replicates
    members = outcomes.alliance_members(r.manifest["scenario"])
    for a in r.alliances:
        outcomes.fate_table(t, a, r.actors)
        outcomes.alliance_survival(t, a, r.steps).median()
        for window in (False, True):
            for g in why.why_groups(t, a, r.alliances, window=window):
                g.typical(3)
    outcomes.who_stabs_whom(t, members, r.actors, normalize=True)
    outcomes.same_bloc_probability(t, r.actors)
    outcomes.mean_capability(t, r.actors)
    focal = r.focal
    events.fates_given_events(t, focal)
    ended = (t[fate_column(focal)] != "holds").to_numpy()
    blocs = [f"bloc:{m}" for m in members[focal]]
    together = (t[blocs].nunique(axis=1) == 1).to_numpy()
    _ = together[ended].mean(), np.mean(t[f"{focal}.cohesion"].to_numpy(dtype=float) >= 0.995)
    params = [c for c in t.columns if c.startswith(PARAM_PREFIX)]
    for c in params:
        v = t[c].to_numpy(dtype=float)
        np.quantile(v, 0.05), np.quantile(v, 0.95)
    basis = _basis(r)
    frame = t[[fate_column(focal), *params]]
    for fate in ("holds", "stab_in_the_back"):
        variance_by_basis(frame, (frame[fate_column(focal)] == fate).to_numpy(), basis)
    return {"rows": len(t)}


def streamed(folder: Path) -> dict:
    """The same quantities from the digest."""
    from sim.analysis.digest import digest
    from sim.run.store import load_results
    from sim.vocabulary import PARAM_PREFIX

    r = load_results(folder)
    d = digest(r)
    for a in r.alliances:
        d.fate_table(a, r.actors)
        d.survival(a).median()
        d.typical(a)
        d.why_groups(a, True)
    d.who_stabs_whom(normalize=True)
    d.same_bloc_probability()
    d.mean_capability()
    focal = r.focal
    d.fates_given_events(focal)
    d.blocs_and_fates(focal)
    for c in (c for c in d.columns if c.startswith(PARAM_PREFIX)):
        d.quantiles(c)
    basis = _basis(r)
    for fate in ("holds", "stab_in_the_back"):
        d.variance_by_basis(focal, fate, basis)
    return {"rows": d.n, "passes": d.passes, "sample": d.sample.info.size}


# --------------------------------------------------------------------------------------------
# Folders, processes, encodings
# --------------------------------------------------------------------------------------------


def folder_for(base: Path, n: int) -> Path:
    """The status_quo folder of ``n`` replicates, built when missing (or unfinished)."""
    out = base / f"status_quo-{n}"
    manifest = out / "manifest.json"
    if manifest.exists():
        m = json.loads(manifest.read_text())
        if m.get("status") == "complete" and m.get("settings", {}).get("replicates") == n:
            return out
    base.mkdir(parents=True, exist_ok=True)
    print(f"building {out} ({n:,} replicates, numba engine, 2 workers) ...", flush=True)
    cmd = [sys.executable, "-m", "sim.cli", "run", str(STATUS_QUO), "-n", str(n), "--engine", "numba"]
    cmd += ["-j", "2", "--no-report", "--no-progress", "--force", "--out", str(out)]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return out


def measure(kind: str, folder: Path) -> tuple[float, float, dict]:
    """Wall seconds and peak tree RSS (MiB) of one measured computation in a fresh process."""
    cmd = [sys.executable, str(Path(__file__).resolve()), "--measure", kind, str(folder)]
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_kib(proc.pid))
        time.sleep(0.05)
    wall = time.perf_counter() - t
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"{kind} on {folder} failed with exit code {proc.returncode}")
    return wall, peak / 1024, json.loads(out.strip().splitlines()[-1])


def encodings(folder: Path) -> list:
    """Bytes per replicate and write / read seconds of the table encoded as before and as now."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from sim.run.replicate_table import plan_storage, storage_schema
    from sim.run.store import parquet_options

    path = folder / "replicates.parquet"
    stored = pq.read_table(path)
    # back to the columns' logical types: the table as the engine made it
    logical = stored.cast(
        pa.schema(
            [
                pa.field(f.name, pa.float64()) if (f.metadata or {}).get(b"alliance-sim.logical_type") else f
                for f in stored.schema
            ]
        )
    )
    n = logical.num_rows
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        text = [f.name for f in logical.schema if pa.types.is_string(f.type)]
        before = {"compression": "snappy", "use_dictionary": text, "write_statistics": False}
        plan = plan_storage([logical.slice(0, min(n, 65536)), logical])
        schema = storage_schema(logical.schema, plan)
        now = parquet_options(schema, plan)
        for label, target, options in (
            ("before (snappy, dictionary for text)", logical, before),
            ("now (zstd, dictionaries, byte streams, float32)", logical.cast(schema), now),
        ):
            out = Path(tmp) / "t.parquet"
            t = time.perf_counter()
            with pq.ParquetWriter(out, target.schema, **options) as writer:
                for start in range(0, n, 65536):
                    writer.write_table(target.slice(start, 65536))
            write = time.perf_counter() - t
            t = time.perf_counter()
            pq.read_table(out)
            read = time.perf_counter() - t
            rows.append([label, f"{out.stat().st_size / n:,.0f}", f"{write:.2f}", f"{read:.2f}"])
            out.unlink()
    return rows


def main() -> None:
    unset_openblas()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="2000,100000,1000000", help="replicates of each folder")
    parser.add_argument("--folders", type=Path, default=FOLDERS, help="where the status_quo-<n> folders live")
    parser.add_argument("--no-today", action="store_true", help="measure the digest only")
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "FOLDER"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        kind, folder = args.measure
        print(json.dumps((today if kind == "today" else streamed)(Path(folder))))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"report data of status_quo folders, side by side; {os.cpu_count()} cores; {environment_note()}")
    rows = []
    for n in sizes:
        folder = folder_for(args.folders, n)
        row = [f"{n:,}", f"{(folder / 'replicates.parquet').stat().st_size / n:,.0f}"]
        if not args.no_today:
            wall, peak, _ = measure("today", folder)
            row += [f"{wall:.1f}", f"{peak:,.0f}"]
        else:
            row += ["-", "-"]
        wall_d, peak_d, info = measure("digest", folder)
        row += [f"{wall_d:.1f}", f"{peak_d:,.0f}", str(info["passes"]), f"{info['sample']:,}", load()]
        print("  " + " | ".join(row), flush=True)
        rows.append(row)
    head = ["replicates", "bytes/rep", "today s", "today MiB", "digest s", "digest MiB", "passes", "sample"]
    table(
        "1. a report's data: the whole table in memory (today) against the streaming digest",
        head + ["load"],
        rows,
    )
    largest = args.folders / f"status_quo-{max(sizes)}"
    table(
        f"2. replicates.parquet of {largest.name}, encoded as before and as now (load {load()})",
        ["encoding", "bytes/replicate", "write s", "read s"],
        encodings(largest),
    )


if __name__ == "__main__":
    main()
