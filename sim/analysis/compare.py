"""Comparisons: several scenarios run on common random numbers, and the differences between two
runs, each fate's B − A with a paired and an unpaired interval.

Two runs of the same seed and chunk size draw replicate ``r`` from the same chunk seed
(:func:`sim.run.designs.stream_seeds`): common random numbers. Pairing the runs replicate by replicate
then removes the part of the Monte Carlo error the two share, and the interval of the mean paired
difference is narrower than the unpaired interval whenever the two fates are positively correlated
across replicates (Law 2015, section 11.2 on common random numbers; the paired-t interval of
section 10.2). Runs that do not share seeds are compared unpaired only.

References
----------
Law, A. M. (2015). Simulation Modeling and Analysis, 5th ed. McGraw-Hill (ch. 10-11).
Newcombe, R. G. (1998). Interval estimation for the difference between independent proportions:
    comparison of eleven methods. Statistics in Medicine 17(8), 873-890 (method 10, the hybrid
    score interval used for the unpaired difference).
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.errors import InputError
from sim.run.chunks import DEFAULT_DTYPE
from sim.run.ensemble import DEFAULT_CHUNK_SIZE, recorded_run, run_ensemble
from sim.run.lanes import cores, lane_count, side_by_side
from sim.run.store import Results, load_results, safe_name
from sim.vocabulary import FATES, REPLICATE, Z95, fate_column

if TYPE_CHECKING:  # pandas is loaded once the runs have started (they do not need it)
    import pandas as pd


def newcombe_interval(k1: int, n1: int, k2: int, n2: int, z: float = Z95) -> tuple[float, float]:
    """Interval of ``p2 - p1`` for independent proportions: Newcombe's (1998) hybrid score method,
    built from the two Wilson intervals."""
    p1, p2 = k1 / n1, k2 / n2
    from sim.analysis.fates import wilson_interval

    l1, u1 = (float(v) for v in wilson_interval(k1, n1, z))
    l2, u2 = (float(v) for v in wilson_interval(k2, n2, z))
    d = p2 - p1
    low = d - np.sqrt((p2 - l2) ** 2 + (u1 - p1) ** 2)
    high = d + np.sqrt((u2 - p2) ** 2 + (p1 - l1) ** 2)
    return float(low), float(high)


def paired_interval(x: np.ndarray, y: np.ndarray, z: float = Z95) -> tuple[float, float, float]:
    """Mean of ``y - x`` over pairs and its normal-theory interval: ``(mean, low, high)``."""
    d = np.asarray(y, dtype=np.float64) - np.asarray(x, dtype=np.float64)
    n = len(d)
    mean = float(d.mean())
    se = float(d.std(ddof=1) / np.sqrt(n)) if n > 1 else float("nan")
    return mean, mean - z * se, mean + z * se


def pairing(a, b) -> str | None:
    """Why two result sets cannot be paired by replicate, or None when they can: they need the same
    seed, chunk size and number of replicates."""
    sa, sb = a.manifest.get("settings") or {}, b.manifest.get("settings") or {}
    for key, what in (("seed", "seeds"), ("chunk_size", "chunk sizes"), ("replicates", "replicates")):
        if sa.get(key) != sb.get(key):
            return f"different {what} ({sa.get(key)} and {sb.get(key)})"
    return None


def fate_differences(a, b, alliance: str | None = None) -> pd.DataFrame:
    """Each fate's B − A for one alliance, with the paired and the unpaired 95 % interval.

    Parameters
    ----------
    a, b : Results
        The runs (``B − A``: b's share minus a's).
    alliance : str, optional
        Default: a's focal alliance (it must exist in both).

    Returns
    -------
    DataFrame
        One row per fate: ``fate``, ``p_a``, ``p_b``, ``diff``, ``paired_low``, ``paired_high``
        (NaN when the runs cannot be paired: see :func:`pairing`), ``unpaired_low``,
        ``unpaired_high``, and the widths ``paired_width``, ``unpaired_width``.
    """
    alliance = alliance or a.focal
    col = fate_column(alliance)
    fa = a.read([REPLICATE, col]).sort_values(REPLICATE)
    fb = b.read([REPLICATE, col]).sort_values(REPLICATE)
    why = pairing(a, b)
    paired = why is None and np.array_equal(fa[REPLICATE].to_numpy(), fb[REPLICATE].to_numpy())
    rows = []
    for fate in FATES:
        x = (fa[col] == fate).to_numpy()
        y = (fb[col] == fate).to_numpy()
        lo_u, hi_u = newcombe_interval(int(x.sum()), len(x), int(y.sum()), len(y))
        if paired:
            _, lo_p, hi_p = paired_interval(x, y)
        else:
            lo_p = hi_p = float("nan")
        rows.append(difference_row(fate, x.mean(), y.mean(), (lo_p, hi_p), (lo_u, hi_u)))
    import pandas as pd

    return pd.DataFrame(rows)


@dataclass
class Difference:
    """One run against the first of a comparison: each fate's B − A for the first run's focal
    alliance (:func:`fate_differences`), and why the runs cannot be paired (None when they can)."""

    base: Results
    other: Results
    alliance: str
    table: pd.DataFrame
    unpaired_because: str | None


@dataclass
class Comparison:
    """Several scenarios run on the same settings: the runs in the order given, which of them
    were finished results used again, and which were runs stopped part way and finished."""

    runs: list[Results]
    reused: list[bool] = field(default_factory=list)
    resumed: list[bool] = field(default_factory=list)

    def differences(self) -> list[Difference]:
        """Every run against the first, for the first run's focal alliance (runs without it are
        left out)."""
        base = self.runs[0]
        out = []
        for other in self.runs[1:]:
            alliance = base.focal
            if alliance is None or alliance not in other.alliances:
                continue
            out.append(
                Difference(
                    base, other, alliance, fate_differences(base, other, alliance), pairing(base, other)
                )
            )
        return out


def run_folders(scenarios: Sequence[str | Path]) -> list[str]:
    """The folder of each scenario's run inside a comparison: its file's name made safe, and
    ``name-2``, ``name-3`` for later files of the same name."""
    folders: list[str] = []
    for path in map(Path, scenarios):
        folder = base = safe_name(path.stem)
        n = 2
        while folder in folders:
            folder, n = f"{base}-{n}", n + 1
        folders.append(folder)
    return folders


def compare(
    scenarios: Sequence[str | Path],
    out: str | Path,
    *,
    replicates: int | None = None,
    steps: int | None = None,
    seed: int | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int | None = None,
    executor: cf.Executor | None = None,
    progress: bool = True,
    point: bool = False,
    dtype: str = DEFAULT_DTYPE,
    engine: str = "numpy",
    why: bool | int | None = None,
    force: bool = False,
    values: dict | None = None,
    on_run: Callable[[int, Results], object] | None = None,
    meanwhile: Callable[[], object] | None = None,
) -> Comparison:
    """Run several scenarios on the same settings, each into a folder of ``out`` named after it.

    With the same seed and chunk size, replicate ``r`` of every scenario draws the same random
    numbers (common random numbers), so the differences between them are paired and their Monte
    Carlo error small (:func:`fate_differences`).

    Parameters
    ----------
    scenarios : sequence of path
        Scenario files; two with the same name get folders ``name`` and ``name-2``.
    out : path
        The folder of the runs (``out/<name>``).
    replicates, steps, seed, chunk_size, workers, executor, progress, point, dtype, engine, why
        As for :func:`sim.run.ensemble.run_ensemble`, the same for every scenario.
    force : bool
        Run every scenario again; by default a folder that holds finished results of exactly this
        scenario and these settings is used as it is, and a run of them stopped part way (an
        interrupted comparison) is finished, keeping its chunks.
    values : dict, optional
        Parameter values set on top of every scenario (``--set``).
    on_run : callable, optional
        Called with the scenario's position and its results as each run is done (or found
        finished): the command line makes that scenario's part of the report there, and starts
        drawing its figures, while the other scenarios run.
    meanwhile : callable, optional
        Called once while the runs go on in other processes (before the first run when they
        run here): the command line loads what its report needs there.

    Notes
    -----
    With local workers (no ``executor``) and two runs or more to do, the runs go side by side,
    as many at once as there are workers, each in a process of its own with its share of the
    workers (:func:`sim.run.lanes.side_by_side`): a run of one chunk keeps a single core busy.
    Each run's results are the same whichever way it ran.

    Returns
    -------
    Comparison
        The runs, which were reused, and :meth:`Comparison.differences`.

    Examples
    --------
    >>> import sim
    >>> c = sim.compare(["scenarios/back_to_back.toml", "scenarios/stab_in_the_back.toml"],
    ...                 "results/comparison", replicates=2000, seed=1)  # doctest: +SKIP
    >>> c.differences()[0].table[["fate", "diff", "paired_low", "paired_high"]]  # doctest: +SKIP
    """
    paths = [Path(p) for p in scenarios]
    wheres = [Path(out) / folder for folder in run_folders(paths)]
    settings: dict[str, Any] = {
        "replicates": replicates,
        "steps": steps,
        "seed": seed,
        "chunk_size": chunk_size,
        "dtype": dtype,
        "values": values,
    }
    recorded = [
        None if force else recorded_run(path, where, point=point, engine=engine, why=why, **settings)
        for path, where in zip(paths, wheres)
    ]
    finished = [m is not None and m.get("status") == "complete" for m in recorded]
    found = [load_results(where) if done else None for where, done in zip(wheres, finished)]
    # a run of the same scenario and settings stopped part way: its chunks are kept and it is
    # finished (the same bytes as a run never stopped)
    resumed = [m is not None and not done for m, done in zip(recorded, finished)]
    if (Path(out) / "report.html").exists() and not force and any(r is None for r in found):
        raise InputError(
            f"{out} holds a comparison already (other scenario files or settings); pass --force "
            "to replace it or choose another --out"
        )
    reused = [existing is not None for existing in found]

    def first() -> None:  # while the runs go on: the caller's own work, the runs found finished
        if meanwhile is not None:
            meanwhile()
        for k, existing in enumerate(found):
            if existing is not None and on_run is not None:
                on_run(k, existing)

    todo = [k for k, existing in enumerate(found) if existing is None]
    lanes = lane_count(len(todo), workers, local=executor is None)
    per_lane = workers if lanes == 1 else max(1, (workers or cores()) // lanes)

    def run(k: int) -> Results:
        return run_ensemble(
            paths[k],
            out=wheres[k],
            force=not resumed[k],
            resume=resumed[k],
            workers=per_lane,
            executor=executor,
            progress=progress,
            point=point,
            engine=engine,
            why=why,
            **settings,
        )

    done = side_by_side(todo, run, lambda k: load_results(wheres[k]), lanes, on_run, first)
    runs = [existing if existing is not None else done[k] for k, existing in enumerate(found)]
    return Comparison(runs, reused, resumed)


def difference_row(fate: str, p_a: float, p_b: float, paired, unpaired) -> dict:
    """One row of :func:`fate_differences`: the shares, B − A, and the two intervals with their
    widths (``paired`` NaN when the runs cannot be paired)."""
    (lo_p, hi_p), (lo_u, hi_u) = paired, unpaired
    return {
        "fate": fate,
        "p_a": p_a,
        "p_b": p_b,
        "diff": p_b - p_a,
        "paired_low": lo_p,
        "paired_high": hi_p,
        "unpaired_low": lo_u,
        "unpaired_high": hi_u,
        "paired_width": hi_p - lo_p,
        "unpaired_width": hi_u - lo_u,
    }
