"""Scenario discovery: in which region of the uncertain inputs does an outcome concentrate?

:func:`discover` runs PRIM on the sampled parameters of an ensemble's replicates (``param:``
columns, as floats) against an outcome and reports boxes with their coverage (share of all cases
of interest inside the box), density (share of the box's cases that are of interest) and the
restricted dimensions with their ranges.

References
----------
Friedman, J. H. & Fisher, N. I. (1999). Bump hunting in high-dimensional data. Statistics and
    Computing 9(2), 123-143.
Bryant, B. P. & Lempert, R. J. (2010). Thinking inside the box: a participatory, computer-assisted
    approach to scenario discovery. Technological Forecasting and Social Change 77(1), 34-49.
Kwakkel, J. H. (2017). The Exploratory Modeling Workbench: an open source toolkit for exploratory
    modeling, scenario discovery, and (multi-objective) robust decision making. Environmental
    Modelling & Software 96, 239-250.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.analysis.given_data import sample_settings, sampled_if_big
from sim.analysis.sensitivity import EXPLORE_HINT, OUTCOMES, AnalysisError, pick_alliance
from sim.extras import command
from sim.vocabulary import PARAM_PREFIX, Fate, defector_column, fate_column

# --------------------------------------------------------------------------------------------
# Scenario discovery (PRIM)
# --------------------------------------------------------------------------------------------


@dataclass
class Box:
    """One PRIM box: its statistics on the chosen point of the peeling trajectory and limits."""

    index: int
    coverage: float
    density: float
    mass: float
    n: int
    k: int
    limits: pd.DataFrame  # restricted dimensions: low, high, full_low, full_high, qp
    trajectory: pd.DataFrame  # coverage, density, mass, res_dim along peeling and pasting
    chosen: int


@dataclass
class Discovery:
    """PRIM boxes for one outcome of one alliance."""

    outcome: str
    alliance: str
    base_rate: float
    cases: int
    n: int
    boxes: list[Box]
    dimensions: list[str]
    settings: dict = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per restricted dimension of every box."""
        rows = []
        for b in self.boxes:
            for dim, r in b.limits.iterrows():
                rows.append(
                    {
                        "box": b.index,
                        "coverage": b.coverage,
                        "density": b.density,
                        "mass": b.mass,
                        "dimension": dim,
                        "low": r.low,
                        "high": r.high,
                        "full_low": r.full_low,
                        "full_high": r.full_high,
                        "qp": r.qp,
                    }
                )
        return pd.DataFrame(
            rows,
            columns=[
                "box",
                "coverage",
                "density",
                "mass",
                "dimension",
                "low",
                "high",
                "full_low",
                "full_high",
                "qp",
            ],
        )


def _choose(trajectory: pd.DataFrame, min_coverage: float) -> int:
    """The densest point of the trajectory whose coverage is at least ``min_coverage`` (fewer
    restricted dimensions break ties); the first point when none qualifies."""
    ok = trajectory[trajectory.coverage >= min_coverage - 1e-12]
    if ok.empty:
        return 0
    best = ok.density.max()
    pick = ok[ok.density >= best - 1e-12]
    return int(pick.sort_values(["res_dim", "coverage"], ascending=[True, False]).index[0])


def _box_limits(dims: list[str], lims: pd.DataFrame, full: pd.DataFrame, qp: dict) -> pd.DataFrame:
    """A box's restrictions, a row per restricted dimension: its limits, the full range and the
    restriction's quasi-p value (the largest PRIM reports, NaN without one)."""
    rows = []
    for d in dims:
        q = [v for v in qp.get(d, []) if v is not None and v >= 0]
        rows.append(
            {
                "dimension": d,
                "low": float(lims[d].iloc[0]),
                "high": float(lims[d].iloc[1]),
                "full_low": float(full[d].iloc[0]),
                "full_high": float(full[d].iloc[1]),
                "qp": float(max(q)) if q else math.nan,
            }
        )
    return pd.DataFrame(rows, columns=["dimension", "low", "high", "full_low", "full_high", "qp"]).set_index(
        "dimension"
    )


def prim_boxes(
    x: pd.DataFrame,
    y: np.ndarray,
    *,
    boxes: int = 1,
    min_coverage: float = 0.5,
    max_qp: float | None = 0.05,
    peel_alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
) -> list[Box]:
    """Find ``boxes`` PRIM boxes of ``y`` (boolean) in the space of ``x`` (float columns).

    Each box is peeled down to ``mass_min``, pasted back, and read at the densest point of its
    trajectory with coverage of at least ``min_coverage``; restrictions whose quasi-p value
    exceeds ``max_qp`` are dropped (a restriction that chance alone would often produce) and the
    box's coverage, density and mass are restated without them. The next box is sought among
    the points outside the box PRIM found.

    References
    ----------
    Friedman & Fisher (1999); Bryant & Lempert (2010) for coverage, density and quasi-p values.
    """
    import warnings

    try:
        with warnings.catch_warnings():  # the workbench warns about its optional parallel backend
            warnings.filterwarnings("ignore", message="ipyparallel not installed")
            from ema_workbench.analysis import prim
    except ImportError:
        raise AnalysisError(f"scenario discovery {EXPLORE_HINT}") from None
    x = x.astype(np.float64).reset_index(drop=True)  # PRIM on integer columns breaks on pandas 3
    y = np.asarray(y, dtype=bool)
    with warnings.catch_warnings():  # the workbench's own pandas deprecations are not the user's
        warnings.filterwarnings("ignore", message="The inplace keyword")
        finder = prim.Prim(x, y, peel_alpha=peel_alpha, paste_alpha=paste_alpha, mass_min=mass_min)
    full = x.agg(["min", "max"])
    found = []
    for b in range(boxes):
        with warnings.catch_warnings():  # the workbench's own pandas deprecations are not the user's
            warnings.filterwarnings("ignore", message="The inplace keyword")
            box = finder.find_box()
        if box is None:
            break
        traj = box.peeling_trajectory[["coverage", "density", "mass", "res_dim", "n", "k"]].copy()
        traj = traj.astype({"coverage": float, "density": float, "mass": float})
        i = _choose(traj, min_coverage)
        box.select(i)
        lims = box.box_lims[i]
        dims = [c for c in x.columns if not np.all(lims[c].to_numpy() == full[c].to_numpy())]
        qp = box.p_values[i] if i < len(box.p_values) else {}
        limits = _box_limits(dims, lims, full, qp)
        row = traj.loc[i]
        coverage, density, mass, n, k = (
            float(row.coverage),
            float(row.density),
            float(row.mass),
            int(row.n),
            int(row.k),
        )
        if max_qp is not None:
            # Bryant & Lempert (2010): keep only the restrictions that are unlikely by chance,
            # and restate the box's statistics without the others
            limits = limits[limits.qp <= max_qp]
            remaining = finder.yi_remaining
            inside = np.ones(len(remaining), dtype=bool)
            for d, r in limits.iterrows():
                xd = x[d].to_numpy()[remaining]
                inside &= (xd >= r.low) & (xd <= r.high)
            yr = y[remaining]
            n, k = int(inside.sum()), int(yr[inside].sum())
            coverage = k / max(int(y.sum()), 1)
            density = k / max(n, 1)
            mass = n / len(y)
        found.append(Box(b + 1, coverage, density, mass, n, k, limits, traj, i))
        if coverage >= 1.0 or k == 0 or limits.empty:  # an unrestricted box is the whole space:
            break  # the next box would be sought among nothing
    return found


def discover(
    results,
    outcome: str = Fate.STAB.word,
    alliance: str | None = None,
    *,
    boxes: int = 1,
    min_coverage: float = 0.5,
    max_qp: float | None = 0.05,
    peel_alpha: float = 0.05,
    mass_min: float = 0.05,
    include: list[str] | None = None,
    sample_size: int | None = None,
    seed: int = 0,
) -> Discovery:
    """Scenario discovery on a result set: PRIM boxes of the parameter region where an outcome
    happens.

    Parameters
    ----------
    results
        A :class:`~sim.run.store.Results` (or a result directory).
    outcome
        ``"stab_in_the_back"``, ``"holds"`` or ``"drift_apart"`` (the alliance's fate), or
        ``"stab_in_the_back by NAME"`` for a stab in the back by one member.
    alliance
        Default: the run's focal alliance.
    boxes, min_coverage, max_qp, peel_alpha, mass_min
        See :func:`prim_boxes`.
    include
        Glob patterns of parameter paths (``mechanisms.*``): PRIM may restrict only these.
    sample_size, seed
        A run with more replicates than ``sample_size`` (default
        :data:`sim.analysis.digest.SAMPLE_SIZE`) is read through a uniform sample of that many of
        its rows, seeded with ``seed``; ``settings["sample"]`` says which.

    References
    ----------
    Friedman & Fisher (1999); Bryant & Lempert (2010).
    """
    if not hasattr(results, "replicates"):
        from sim.run.store import load_results

        results = load_results(results)
    alliance = pick_alliance(alliance, results.alliances, results.focal)
    results = sampled_if_big(results, sample_size, seed)
    fate, _, who = outcome.partition(" by ")
    params = [c for c in results.columns if c.startswith(PARAM_PREFIX)]
    reps = results.read([fate_column(alliance), *([defector_column(alliance)] if who else []), *params])
    if fate not in OUTCOMES:
        raise AnalysisError(
            f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}"
            " (or 'stab_in_the_back by NAME')"
        )
    y = (reps[fate_column(alliance)] == fate).to_numpy(dtype=bool, copy=True)
    if who:
        members = _members(results, alliance)
        if members and who not in members:
            raise AnalysisError(
                f"unknown actor {who!r} in --outcome; the members of {alliance} are {', '.join(members)}"
            )
        y &= (reps[defector_column(alliance)] == who).to_numpy(dtype=bool)
    x = reps[params].astype(np.float64)
    x = x.loc[:, x.nunique() > 1]
    x.columns = [c.removeprefix(PARAM_PREFIX) for c in x.columns]
    if include:
        from fnmatch import fnmatchcase

        x = x[[c for c in x.columns if any(fnmatchcase(c, pattern) for pattern in include)]]
        if x.shape[1] == 0:
            raise AnalysisError(f"--include: no sampled value of the run matches {', '.join(include)}")
    if x.shape[1] == 0:
        raise AnalysisError(
            "the run sampled no uncertain values: nothing to discover "
            "(run without --point, on a scenario with {dist = ...} values)"
        )
    if not y.any():
        raise AnalysisError(f"no replicate has the outcome {outcome!r}; nothing to discover")
    found = prim_boxes(
        x, y, boxes=boxes, min_coverage=min_coverage, max_qp=max_qp, peel_alpha=peel_alpha, mass_min=mass_min
    )
    return Discovery(
        outcome,
        alliance,
        float(y.mean()),
        int(y.sum()),
        len(y),
        found,
        list(x.columns),
        {
            "min_coverage": min_coverage,
            "max_qp": max_qp,
            "peel_alpha": peel_alpha,
            "mass_min": mass_min,
            "results": str(getattr(results, "directory", "")),
            **sample_settings(results),
            "include": list(include or []),
        },
    )


def _members(results, alliance: str) -> list[str]:
    manifest = getattr(results, "manifest", None) or {}
    spec = ((manifest.get("scenario") or {}).get("alliances") or {}).get(alliance) or {}
    return list(spec.get("members") or [])


def replicates_needed(d: Discovery, box: Box, max_qp: float | None = None) -> int | None:
    """About how many replicates would make the box PRIM found (before dropping restrictions)
    significant at ``max_qp``, were its density and mass the same: the one-sided normal test of
    the box's density against the base rate, ``z = (density - p) / sqrt(p (1 - p) / (N mass))``,
    solved for ``N``. None when the box is no denser than the base rate (more replicates would not
    make it stand out)."""
    from statistics import NormalDist

    level = max_qp if max_qp is not None else d.settings.get("max_qp") or 0.05
    row = box.trajectory.loc[box.chosen]
    density, mass, p = float(row.density), float(row.mass), d.base_rate
    if density <= p or mass <= 0 or not 0 < p < 1:
        return None
    z = NormalDist().inv_cdf(1 - level)
    return int(math.ceil(z * z * p * (1 - p) / (mass * (density - p) ** 2)))


def box_noise(d: Discovery, box: Box) -> dict:
    """The Monte Carlo error of a box: 95 % Wilson intervals of its coverage (``k`` of the
    ``cases``) and density (``k`` of the ``n`` inside), and its lift (density over the base rate)
    with the interval of the density divided by the base rate."""
    from sim.analysis.likelihood import wilson

    coverage = wilson(box.k, max(d.cases, 1))
    density = wilson(box.k, max(box.n, 1))
    p = d.base_rate if d.base_rate > 0 else math.nan
    return {
        "coverage": coverage,
        "density": density,
        "lift": box.density / p,
        "lift_low": density[0] / p,
        "lift_high": density[1] / p,
    }


def no_region_text(d: Discovery, box: Box) -> str:
    """What to say when no restriction of a box passes the quasi-p test: that no region can be
    named, why, and what would help (more replicates, or fewer values to search over)."""
    need = replicates_needed(d, box)
    level = d.settings.get("max_qp")
    unit = d.settings.get("unit", "replicates")
    if need is None:
        return (
            f"no region can be named: no restriction passes the quasi-p test at {level}, and no "
            "box PRIM could peel is denser in this outcome than the runs as a whole, so more "
            f"{unit} would not change that"
        )
    row = box.trajectory.loc[box.chosen]
    found = (
        f"PRIM peeled a box (density {float(row.density):.3f} against a base rate of "
        f"{d.base_rate:.3f}, mass {float(row.mass):.3f})"
    )
    if need <= d.n:
        return (
            f"no region can be named: {found}, but none of its restrictions passes the quasi-p "
            f"test at {level} on its own; each narrows its value too little to matter alone "
            "(--max-qp 1 shows them; --include limits the values PRIM may restrict)"
        )
    return (
        f"no region can be named: {found}, and a box like it would stand out only from about "
        f"{need:,} {unit} (this analysis has {d.n:,}); "
        + command(f"levers --worlds {need}" if unit == "worlds" else f"run -n {need}")
        + " would give enough"
    )
