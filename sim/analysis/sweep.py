"""One-parameter sweeps: the fates of an alliance as one slot takes a series of values.

A sweep is a design (:class:`sim.run.designs.Design`) of ``P`` points, one per value of the swept
slot, each run ``R`` times on common random numbers: replicate ``r`` of every point sees the same
draws of every other uncertain value and the same noise, events and decisions. The curve of
P(holds) against the value is then free of the replicate-to-replicate jitter that independent runs
would add, and the difference between two neighbouring points is estimated paired (Law 2015,
section 11.2).

References
----------
Law, A. M. (2015). Simulation Modeling and Analysis, 5th ed. McGraw-Hill (ch. 11, common random
    numbers).
Wilson, E. B. (1927). Probable inference, the law of succession, and statistical inference.
    JASA 22(158), 209-212 (the interval of each share).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis.fates import wilson_interval
from sim.errors import InputError
from sim.extras import command
from sim.run.collectors import Collector
from sim.run.designs import Block, Design
from sim.run.ensemble import run_design
from sim.spec.parammap import clip_bounds, slot_map
from sim.spec.scenario import Scenario
from sim.vocabulary import FATES, REPLICATE


class FateCollector(Collector):
    """Each row's design point, replicate and the fate code of every alliance (a small payload)."""

    def end(self, block: Block, params, state) -> dict[str, np.ndarray]:
        """``point``, ``replicate`` and ``fate`` ((rows, L) fate codes) of the chunk."""
        return {
            "point": block.point_of_row(),
            REPLICATE: block.replicate_of_row(),
            "fate": np.asarray(state.fate, dtype=np.int8).copy(),
        }


@dataclass
class Sweep:
    """A finished sweep: the swept path and values, and each fate's share at each value."""

    path: str
    values: np.ndarray
    alliance: str
    replicates: int
    table: pd.DataFrame  # value, fate, p, low, high, count
    paired: pd.DataFrame  # value, fate, diff (vs the first value), low, high
    scenario_title: str
    seed: int
    own_range: tuple[float, float] | None = None  # where the scenario itself puts the value


def own_range(scenario: Scenario, path: str) -> tuple[float, float]:
    """Where a scenario itself puts a slot: its fixed value twice, the support of a uniform,
    triangular or beta draw, or mean ± 2 sd of a normal one (within the values it is clipped to)."""
    from sim.spec.values import Normal

    slot = slot_map(scenario)[path]
    v = slot.value
    if isinstance(v, (int, float)):
        return float(v), float(v)
    lo, hi = clip_bounds(slot)
    if isinstance(v, Normal):
        return max(v.mean - 2 * v.sd, lo), min(v.mean + 2 * v.sd, hi)
    low, high = v.support()
    return max(float(low), lo), min(float(high), hi)


def sweep_values(
    values: Sequence[float] | None = None,
    low: float | None = None,
    high: float | None = None,
    points: int | None = None,
) -> np.ndarray:
    """The values of a sweep: an explicit list, or ``points`` evenly spaced from ``low`` to ``high``."""
    if values is not None:
        out = np.asarray(list(values), dtype=np.float64)
    elif low is not None and high is not None and points:
        out = np.linspace(float(low), float(high), int(points))
    else:
        raise InputError("expected --values V1,V2,... or --range LOW HIGH with --points N")
    if len(out) < 2 or not np.all(np.isfinite(out)):
        raise InputError(f"expected at least two finite values, got {list(out)}")
    unique, counts = np.unique(out, return_counts=True)
    if np.any(counts > 1):
        twice = ", ".join(f"{v:g}" for v in unique[counts > 1])
        raise InputError(f"expected distinct values, got {twice} more than once; give each value once")
    return out


def check_slot(scenario: Scenario, path: str, values: np.ndarray) -> None:
    """Refuse a path that is not a slot of the scenario (naming the closest ones) or values outside
    the slot's bounds."""
    known = slot_map(scenario)
    if path not in known:
        close = difflib.get_close_matches(path, list(known), n=4, cutoff=0.5)
        hint = (
            f"; did you mean {', '.join(close)}?"
            if close
            else f"; {command('show SCENARIO')} lists every parameter path"
        )
        raise InputError(f"{path}: not a parameter of the scenario{hint}")
    lo, hi = clip_bounds(known[path])
    bad = [v for v in values if not lo <= v <= hi]
    if bad:
        shown = ", ".join(f"{v:g}" for v in bad)
        raise InputError(f"{path}: expected values in [{lo:g}, {hi:g}], got {shown}")


def run_sweep(
    scenario: Scenario,
    path: str,
    values: np.ndarray,
    *,
    replicates: int,
    alliance: str | None = None,
    seed: int | None = None,
    workers: int | None = 1,
    chunk_size: int = 4096,
    progress: bool = True,
    engine: str = "numpy",
) -> Sweep:
    """Run one slot across ``values`` on common random numbers and tabulate the fates.

    Parameters
    ----------
    scenario
        The validated scenario (its ``run.steps`` is the horizon).
    path
        The slot (as ``alliance-sim show`` lists it), e.g. ``mechanisms.pressure``.
    values
        The values it takes, one design point each.
    replicates
        Runs per value.
    alliance
        Whose fates (default: the focal alliance).
    seed, workers, chunk_size, progress, engine
        As for :func:`sim.run.ensemble.run_design`.
    """
    values = np.asarray(values, dtype=np.float64)
    check_slot(scenario, path, values)
    alliance = alliance or scenario.focal_alliance
    names = list(scenario.alliances)
    if alliance not in names:
        raise InputError(f"no alliance {alliance!r}; the scenario declares {', '.join(names) or 'none'}")
    a = names.index(alliance)
    design = Design({path: values}, int(replicates))
    seed = scenario.run.seed if seed is None else int(seed)
    payloads = run_design(
        scenario,
        design,
        FateCollector(),
        seed=seed,
        workers=workers,
        chunk_size=chunk_size,
        progress=progress,
        desc=f"sweep {path}",
        engine=engine,
    )
    point = np.concatenate([p["point"] for p in payloads])
    rep = np.concatenate([p[REPLICATE] for p in payloads])
    fate = np.concatenate([p["fate"][:, a] for p in payloads])
    order = np.lexsort((rep, point))
    point, rep, fate = point[order], rep[order], fate[order]
    rows, paired = [], []
    base = {k: fate[point == 0] == k for k in range(len(FATES))}
    for p, v in enumerate(values):
        mine = fate[point == p]
        for k, word in enumerate(FATES):
            hit = mine == k
            lo, hi = wilson_interval(hit.sum(), len(hit))
            rows.append(
                {
                    "value": v,
                    "fate": word,
                    "p": hit.mean(),
                    "low": float(lo),
                    "high": float(hi),
                    "count": int(hit.sum()),
                }
            )
            d = hit.astype(float) - base[k]
            se = d.std(ddof=1) / np.sqrt(len(d)) if len(d) > 1 else np.nan
            paired.append(
                {
                    "value": v,
                    "fate": word,
                    "diff": d.mean(),
                    "low": d.mean() - 1.96 * se,
                    "high": d.mean() + 1.96 * se,
                }
            )
    return Sweep(
        path,
        values,
        alliance,
        int(replicates),
        pd.DataFrame(rows),
        pd.DataFrame(paired),
        scenario.title,
        seed,
        own_range(scenario, path),
    )
