"""Policies evaluated on common worlds: the XLRM loop of robust decision making.

Uncertainties X are the scenario's uncertain values, drawn once into S *worlds* (with the
scenario's rank correlations, :mod:`sim.spec.correlation`); levers L are the scenario's
``[levers]``, set by P *policies* (a Latin hypercube or a full grid, plus the status quo); the
relationships R are the model; metrics M are the scenario's ``[metrics]`` (Lempert, Popper &
Bankes 2003). Every policy runs on the same S worlds x R replicates as one design of the
experiment runner, with the world as the common-random-numbers group: replicate r of world s
sees the same noise, events and decisions under every policy, so differences between policies
are paired and two identical policies give identical metrics, bit for bit.

References
----------
Lempert, R. J., Popper, S. W. & Bankes, S. C. (2003). Shaping the Next One Hundred Years. RAND.
Kasprzyk, J. R., Nataraj, S., Reed, P. M. & Lempert, R. J. (2013). Many objective robust decision
making for complex environmental systems undergoing change. Environ. Model. Softw. 42, 55-71.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.robustness import Robustness, robustness
from sim.errors import InputError
from sim.run.collectors import Collector
from sim.run.designs import Design
from sim.run.ensemble import run_design
from sim.run.store import ChunkData, encode_table, write_json
from sim.spec.correlation import sample_values
from sim.spec.levers import grid, latin_hypercube, lever_names, lever_path, with_status_quo
from sim.spec.scenario import Metric, Scenario, load_scenario, stored_scenario
from sim.vocabulary import Fate

WORLDS_TAG = 0x574F524C  # "WORL": the worlds' seed is SeedSequence([seed, WORLDS_TAG])
POLICIES_TAG = 0x504F4C49  # "POLI": the Latin hypercube's
LEVER_PREFIX = "lever:"
METRIC_PREFIX = "metric:"
REGRET_PREFIX = "regret:"
SATISFICING = "satisficing"
FATE_OF = {"p_holds": Fate.HOLDS, "p_stab": Fate.STAB, "p_drift": Fate.DRIFT}


class PolicyError(InputError):
    """A lever evaluation asked for wrongly (no levers, no metrics, a grid too large...)."""


@dataclass(frozen=True)
class Objectives:
    """The metrics a set of policies is judged by."""

    names: list[str]
    metrics: list[Metric]

    @property
    def sign(self) -> np.ndarray:
        """``(K,)`` +1 for a maximised metric, -1 for a minimised one."""
        return np.array([m.sign for m in self.metrics])

    @property
    def threshold(self) -> np.ndarray:
        """``(K,)`` each metric's satisficing threshold (NaN for none)."""
        return np.array([np.nan if m.threshold is None else m.threshold for m in self.metrics])


def check_owner(scenario: Scenario, owner: str | None) -> None:
    """An ``owner`` must be an actor of the scenario."""
    if owner is not None and owner not in scenario.actors:
        raise PolicyError(
            f"--owner: unknown actor {owner!r}; expected one of "
            + ", ".join(repr(a) for a in scenario.actor_names)
        )


def objectives(scenario: Scenario, owner: str | None = None) -> Objectives:
    """The scenario's metrics, or those of ``owner`` and the unowned ones."""
    check_owner(scenario, owner)
    names = [n for n, m in scenario.metrics.items() if owner is None or m.owner in (None, owner)]
    if not names:
        raise PolicyError(
            "the scenario declares no [metrics]"
            + (f" for {owner!r}" if owner else "")
            + "; expected at least one (kind, direction)"
        )
    return Objectives(names, [scenario.metrics[n] for n in names])


def sample_worlds(scenario: Scenario, worlds: int, seed: int) -> dict[str, np.ndarray]:
    """``worlds`` draws of every uncertain value (correlations included): path -> ``(worlds,)``."""
    return sample_values(scenario, worlds, np.random.default_rng([seed, WORLDS_TAG]))


def choose_policies(
    scenario: Scenario,
    *,
    policies: int | None = None,
    grid_values: int | None = None,
    owner: str | None = None,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """The status quo, then ``policies`` Latin-hypercube policies or a full grid of ``grid_values``
    values per lever, over the levers of ``owner`` (all levers when None); other levers stay at
    their status quo. Returns lever name -> ``(P,)`` for every lever of the scenario."""
    check_owner(scenario, owner)
    names = lever_names(scenario, owner)
    if not names:
        raise PolicyError(
            "the scenario declares no [levers]"
            + (f" owned by {owner!r}" if owner else "")
            + "; expected at least one"
        )
    if grid_values is not None:
        try:
            chosen = grid(scenario, names, grid_values)
        except ValueError as e:
            raise PolicyError(str(e)) from None
    else:
        chosen = latin_hypercube(scenario, names, policies or 64, np.random.default_rng([seed, POLICIES_TAG]))
    return with_status_quo(scenario, chosen)


# -- running ------------------------------------------------------------------------------------


class MetricCollector(Collector):
    """Per replicate row: its design point, each alliance's fate and the final ties the metrics
    need (nothing per step)."""

    def __init__(self, alliances: list[int], pairs: list[tuple[int, int]]):
        self.alliances = alliances
        self.pairs = pairs

    def begin(self, block, params) -> None:
        """Nothing to prepare: only the final state is read."""
        return None

    def record(self, state) -> None:
        """Nothing per step."""
        return None

    def end(self, block, params, state) -> ChunkData:
        """The chunk's rows: design point, replicate, fates and the final ties the metrics read."""
        columns = {
            "point": block.point_of_row().astype(np.int64),
            "replicate": block.replicate_of_row().astype(np.int64),
        }
        for a in self.alliances:
            columns[f"fate:{a}"] = state.fate[:, a].astype(np.int8)
        for i, j in self.pairs:
            columns[f"tie:{i}:{j}"] = state.ties[:, i, j].astype(np.float64)
        return ChunkData(block.index, encode_table(columns), {})


def _needs(scenario: Scenario, obj: Objectives) -> tuple[list[int], list[tuple[int, int]]]:
    alliances = list(scenario.alliances)
    actors = scenario.actor_names
    used_alliances = sorted({alliances.index(m.alliance) for m in obj.metrics if m.alliance is not None})
    pairs = sorted(
        {
            (actors.index(m.from_), actors.index(m.to))
            for m in obj.metrics
            if m.from_ is not None and m.to is not None
        }
    )
    return used_alliances, pairs


def _chunk_table(payloads) -> pd.DataFrame:
    if hasattr(payloads, "replicates"):  # a stored design
        return payloads.replicates
    return pd.concat([p.table for p in payloads], ignore_index=True)


def simulate(
    scenario: Scenario,
    obj: Objectives,
    policies: dict[str, np.ndarray],
    worlds: dict[str, np.ndarray],
    *,
    replicates: int,
    seed: int,
    out: Path | None = None,
    chunk_size: int = 4096,
    workers: int | None = 1,
    executor=None,
    progress: bool = True,
    resume: bool = False,
    force: bool = False,
    desc: str | None = None,
    hint: str | None = None,
    engine: str = "numpy",
) -> np.ndarray:
    """Run P policies on S worlds x R replicates as one design and return the metrics,
    ``(P, S, K)``: each metric's mean over the replicates of a policy in a world (costs depend on
    the policy only)."""
    P = len(next(iter(policies.values())))
    S = len(next(iter(worlds.values()))) if worlds else 1
    values = {path: np.tile(v, P) for path, v in worlds.items()}
    for name, v in policies.items():
        values[lever_path(name)] = np.repeat(np.asarray(v, dtype=float), S)
    streams = np.tile(np.arange(S), P)
    design = Design(values=values, replicates=replicates, streams=streams)
    alliances, pairs = _needs(scenario, obj)
    need_runs = any(m.kind != "cost" for m in obj.metrics)
    K = len(obj.metrics)
    M = np.empty((P, S, K))
    if need_runs:
        settings = {
            "points": P * S,
            "policies": P,
            "worlds": S,
            "replicates": replicates,
            "steps": scenario.run.steps,
            "seed": seed,
            "chunk_size": chunk_size,
            "dtype": "float32",
            "engine": engine,
        }
        payloads = run_design(
            scenario,
            design,
            MetricCollector(alliances, pairs),
            seed=seed,
            out=out,
            chunk_size=chunk_size,
            workers=workers,
            executor=executor,
            progress=progress,
            desc=desc,
            resume=resume,
            force=force,
            settings=settings,
            name=desc,
            hint=hint,
            engine=engine,
        )
        table = _chunk_table(payloads)
        point = table["point"].to_numpy()
        count = np.bincount(point, minlength=P * S).astype(float)
        if np.any(count == 0):  # pragma: no cover - every point has its replicates
            raise RuntimeError("a design point has no replicates")
    actors = scenario.actor_names
    alliance_names = list(scenario.alliances)
    for k, m in enumerate(obj.metrics):
        if m.levers is not None:  # a cost
            cost = np.zeros(P)
            for n in m.levers:
                cost += np.abs(np.asarray(policies[n], dtype=float) - scenario.levers[n].status_quo_value)
            M[:, :, k] = cost[:, None]
            continue
        if m.from_ is not None and m.to is not None:  # a tie
            col = table[f"tie:{actors.index(m.from_)}:{actors.index(m.to)}"].to_numpy()
        else:
            assert m.alliance is not None  # a fate share
            fate = table[f"fate:{alliance_names.index(m.alliance)}"].to_numpy()
            col = (fate == int(FATE_OF[m.kind])).astype(float)
        M[:, :, k] = (np.bincount(point, weights=col, minlength=P * S) / count).reshape(P, S)
    return M


# -- evaluating policies ------------------------------------------------------------------------


@dataclass
class PolicyResults:
    """What ``alliance-sim levers`` computes: policies, worlds, metrics and their robustness."""

    scenario: Scenario
    objectives: Objectives
    policies: pd.DataFrame  # (P,) lever:NAME columns, policy 0 the status quo
    worlds: pd.DataFrame  # (S,) param:PATH columns
    metrics: np.ndarray  # (P, S, K)
    robustness: Robustness
    settings: dict = field(default_factory=dict)

    @property
    def table(self) -> pd.DataFrame:
        """One row per policy: its levers, each metric's mean and 10th/90th percentile over the
        worlds, its regret (90th percentile and maximum), its satisficing share and its rank."""
        rob = self.robustness
        out = self.policies.copy()
        for k, name in enumerate(self.objectives.names):
            out[METRIC_PREFIX + name] = rob.mean[:, k]
            out[f"{METRIC_PREFIX}{name}:p10"] = rob.p10[:, k]
            out[f"{METRIC_PREFIX}{name}:p90"] = rob.p90[:, k]
            out[REGRET_PREFIX + name] = rob.regret_p90[:, k]
            out[f"{REGRET_PREFIX}{name}:max"] = rob.regret_max[:, k]
        out[SATISFICING] = rob.satisficing
        rank = np.empty(len(out), dtype=np.int64)
        rank[rob.rank()] = np.arange(1, len(out) + 1)
        out["rank"] = rank
        out.insert(0, "policy", np.arange(len(out)))
        return out

    def evaluations(self) -> pd.DataFrame:
        """One row per policy and world: every metric's value there."""
        P, S, K = self.metrics.shape
        out = pd.DataFrame({"policy": np.repeat(np.arange(P), S), "world": np.tile(np.arange(S), P)})
        for k, name in enumerate(self.objectives.names):
            out[METRIC_PREFIX + name] = self.metrics[:, :, k].ravel()
        return out

    def write(self, out: Path) -> dict[str, Path]:
        """``policies.parquet``, ``evaluations.parquet``, ``worlds.parquet`` and ``manifest.json``."""
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        paths = {
            "policies": out / "policies.parquet",
            "evaluations": out / "evaluations.parquet",
            "worlds": out / "worlds.parquet",
            "importance": out / "importance.csv",
            "manifest": out / "manifest.json",
        }
        self.table.to_parquet(paths["policies"], index=False)
        lever_importance(self).to_csv(paths["importance"], index=False)
        self.evaluations().to_parquet(paths["evaluations"], index=False)
        self.worlds.to_parquet(paths["worlds"], index=False)
        write_json(paths["manifest"], self.manifest())
        return paths

    def manifest(self) -> dict:
        """What ``manifest.json`` holds: the resolved scenario, its hash, the metrics, the settings."""
        return {
            "kind": "levers",
            "scenario": self.scenario.to_data(),
            "scenario_sha256": self.scenario.digest(),
            "metrics": {
                n: m.model_dump(mode="json", by_alias=True, exclude_none=True)
                for n, m in zip(self.objectives.names, self.objectives.metrics)
            },
            **self.settings,
        }


def evaluate(
    scenario: Scenario | str | Path,
    *,
    policies: int | None = 64,
    grid_values: int | None = None,
    worlds: int = 256,
    replicates: int = 8,
    seed: int | None = None,
    owner: str | None = None,
    steps: int | None = None,
    out: str | Path | None = None,
    chunk_size: int = 4096,
    workers: int | None = 1,
    executor=None,
    progress: bool = True,
    resume: bool = False,
    force: bool = False,
    policy_values: dict[str, np.ndarray] | None = None,
    hint: str | None = None,
    engine: str = "numpy",
) -> PolicyResults:
    """Evaluate policies of a scenario's levers on common sampled worlds.

    Parameters
    ----------
    scenario
        A scenario (or its file) with ``[levers]`` and ``[metrics]``.
    policies, grid_values
        A Latin hypercube of ``policies`` policies, or (when ``grid_values`` is given) the full
        grid of that many values per lever; the status quo is always policy 0.
    worlds, replicates
        Sampled worlds (draws of the uncertain values) and replicates per policy and world.
    seed
        Seed of the worlds, the policies and the replicates (default: the scenario's).
    owner
        Vary only this actor's levers and judge by its metrics (and the unowned ones).
    steps
        Steps per replicate (default: the scenario's).
    out
        Folder for ``policies.parquet``, ``evaluations.parquet``, ``worlds.parquet`` and
        ``manifest.json``; the runs are stored (and resumable) under ``out/runs``.
    policy_values
        Explicit policies (lever name -> ``(P,)``), used as given instead of a sample.
    hint
        The command that finishes an interrupted evaluation (shown when one is interrupted).
    engine
        The engine that steps the replicates (``numpy`` or ``numba``).
    """
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    scenario = scenario.with_run(steps=steps)
    seed = scenario.run.seed if seed is None else seed
    obj = objectives(scenario, owner)
    if policy_values is None:
        chosen = choose_policies(scenario, policies=policies, grid_values=grid_values, owner=owner, seed=seed)
    else:
        chosen = with_status_quo(scenario, {k: np.asarray(v, float) for k, v in policy_values.items()})
        chosen = {k: v[1:] for k, v in chosen.items()}  # as given, without an added status quo
    world_values = sample_worlds(scenario, worlds, seed)
    start = time.perf_counter()
    M = simulate(
        scenario,
        obj,
        chosen,
        world_values,
        replicates=replicates,
        seed=seed,
        out=None if out is None else Path(out) / "runs",
        chunk_size=chunk_size,
        workers=workers,
        executor=executor,
        progress=progress,
        resume=resume,
        force=force,
        desc="policies",
        hint=hint,
        engine=engine,
    )
    seconds = time.perf_counter() - start
    policies_df = pd.DataFrame({LEVER_PREFIX + k: v for k, v in chosen.items()})
    worlds_df = pd.DataFrame({"param:" + k: v for k, v in world_values.items()})
    worlds_df.insert(0, "world", np.arange(worlds))
    P = len(policies_df)
    result = PolicyResults(
        scenario,
        obj,
        policies_df,
        worlds_df,
        M,
        robustness(M, obj.sign, obj.threshold),
        {
            "seed": seed,
            "policies": P,
            "worlds": worlds,
            "replicates": replicates,
            "steps": scenario.run.steps,
            "owner": owner,
            "design": "grid" if grid_values else ("given" if policy_values else "lhs"),
            "grid_values": grid_values,
            "replicate_runs": P * worlds * replicates,
            "seconds": round(seconds, 3),
        },
    )
    if out is not None:
        result.write(Path(out))
    return result


def format_policies(result: PolicyResults, top: int = 10) -> str:
    """The most robust policies as a plain-text table (levers, then metrics' means and regrets)."""
    full = result.table
    t = full.sort_values("rank").head(top)
    levers = [c for c in t.columns if c.startswith(LEVER_PREFIX) and full[c].nunique() > 1]
    names = result.objectives.names
    head = ["rank", "policy", *[c.removeprefix(LEVER_PREFIX) for c in levers], *names, SATISFICING]
    rows = [head]
    for _, r in t.iterrows():
        rows.append(
            [
                str(int(r["rank"])),
                "status quo" if r.policy == 0 else str(int(r.policy)),
                *[f"{r[c]:.3g}" for c in levers],
                *[f"{r[METRIC_PREFIX + n]:.3f} (regret {r[REGRET_PREFIX + n]:.3f})" for n in names],
                f"{r[SATISFICING]:.2f}",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(head))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths)) for row in rows)


def read_policies(directory: str | Path) -> tuple[pd.DataFrame, dict]:
    """The policy table and manifest of a finished ``levers`` result folder."""
    directory = Path(directory)
    manifest = json.loads((directory / "manifest.json").read_text())
    return pd.read_parquet(directory / "policies.parquet"), manifest


# -- which levers matter -----------------------------------------------------------------------


def lever_importance(result: PolicyResults) -> pd.DataFrame:
    """How much each lever moves each metric across the evaluated policies: standardised
    regression coefficients (SRC) of the metric's mean over the worlds on the lever values, with
    the regression's R^2 (Saltelli et al. 2008, ch. 1.2.5: when R^2 is high, SRC^2 is the share of
    the metric's variance across policies the lever accounts for), and Spearman's rank correlation
    as a check that does not assume linearity. Common worlds and replicates make the policies'
    means paired, so small effects are not drowned in Monte Carlo noise.

    Returns one row per lever and metric: ``lever``, ``metric``, ``src``, ``spearman``, ``r2``,
    sorted by metric and by decreasing ``abs(src)``. Levers held fixed are left out.

    References
    ----------
    Saltelli, A. et al. (2008). Global Sensitivity Analysis: The Primer. Wiley.
    """
    t = result.table
    t = t[t.policy > 0] if len(t) > 2 else t  # the sample proper, without the added status quo
    levers = [c for c in t.columns if c.startswith(LEVER_PREFIX) and t[c].nunique() > 1]
    rows = []
    if not levers:
        return pd.DataFrame(columns=["lever", "metric", "src", "spearman", "r2"])
    X = t[levers].to_numpy(dtype=float)
    Z = (X - X.mean(axis=0)) / X.std(axis=0)
    A = np.column_stack([np.ones(len(Z)), Z])
    for name in result.objectives.names:
        y = t[METRIC_PREFIX + name].to_numpy(dtype=float)
        sd = y.std()
        if sd == 0:
            continue
        coef, *_ = np.linalg.lstsq(A, (y - y.mean()) / sd, rcond=None)
        fitted = A @ coef
        ys = (y - y.mean()) / sd
        r2 = 1.0 - float(((ys - fitted) ** 2).sum() / (ys**2).sum())
        ranks_y = pd.Series(y).rank().to_numpy()
        for k, lever in enumerate(levers):
            ranks_x = pd.Series(X[:, k]).rank().to_numpy()
            rho = float(np.corrcoef(ranks_x, ranks_y)[0, 1])
            rows.append(
                {
                    "lever": lever.removeprefix(LEVER_PREFIX),
                    "metric": name,
                    "src": float(coef[k + 1]),
                    "spearman": rho,
                    "r2": r2,
                }
            )
    out = pd.DataFrame(rows)
    order = out.assign(size=out.src.abs()).sort_values(["metric", "size"], ascending=[True, False])
    return order.drop(columns="size").reset_index(drop=True)


# -- vulnerability ------------------------------------------------------------------------------


def vulnerability(
    result: PolicyResults,
    policy: int | None = None,
    *,
    boxes: int = 1,
    min_coverage: float = 0.5,
    max_qp: float | None = 0.05,
    include: list[str] | None = None,
):
    """Where a policy fails: PRIM (:func:`sim.analysis.discovery.prim_boxes`) on the worlds in
    which it misses at least one of its thresholds, over the worlds' uncertain values. This closes
    the loop of robust decision making: the boxes are the scenarios to watch or to hedge against
    (Lempert et al. 2006; Bryant & Lempert 2010).

    ``policy`` defaults to the most robust one (rank 1); ``include`` (glob patterns of parameter
    paths, such as ``mechanisms.*``) limits the uncertain values PRIM may restrict, which sharpens
    the boxes when worlds are few and values many. Returns a
    :class:`~sim.analysis.discovery.Discovery` whose outcome names the policy.
    """
    from sim.analysis.discovery import Discovery, prim_boxes
    from sim.analysis.robustness import satisfied

    obj = result.objectives
    if np.isnan(obj.threshold).all():
        raise PolicyError(
            "no metric has a threshold, so no world is a failure; give a metric a "
            "'threshold' to find where a policy fails"
        )
    P = result.metrics.shape[0]
    if policy is None:
        policy = int(result.robustness.rank()[0])
    if not 0 <= policy < P:
        raise PolicyError(f"expected a policy in 0..{P - 1}, got {policy}")
    ok = satisfied(result.metrics[policy : policy + 1], obj.sign, obj.threshold)[0]
    fails = ~ok
    x = result.worlds.drop(columns="world").astype(np.float64)
    x = x.loc[:, x.nunique() > 1]
    x.columns = [c.removeprefix("param:") for c in x.columns]
    if include:
        from fnmatch import fnmatchcase

        x = x[[c for c in x.columns if any(fnmatchcase(c, pattern) for pattern in include)]]
        if x.shape[1] == 0:
            raise PolicyError(f"no uncertain value matches {', '.join(include)}")
    label = "failure to meet its thresholds"
    who = "the status quo" if policy == 0 else f"policy {policy}"
    if not fails.any():
        return Discovery(
            label,
            who,
            0.0,
            0,
            len(fails),
            [],
            list(x.columns),
            {"policy": policy, "unit": "worlds", "note": "the policy meets every threshold in every world"},
        )
    found = prim_boxes(x, fails, boxes=boxes, min_coverage=min_coverage, max_qp=max_qp)
    return Discovery(
        label,
        who,
        float(fails.mean()),
        int(fails.sum()),
        len(fails),
        found,
        list(x.columns),
        {"policy": policy, "unit": "worlds", "min_coverage": min_coverage, "max_qp": max_qp},
    )


def load_policy_results(directory: str | Path) -> PolicyResults:
    """A finished ``levers`` result folder read back (:meth:`PolicyResults.write`)."""
    from sim.run.store import ResultsError

    directory = Path(directory)
    try:
        manifest = json.loads((directory / "manifest.json").read_text())
    except (OSError, ValueError) as e:
        raise ResultsError(f"{directory}: not a finished result folder ({e})") from None
    if manifest.get("kind") != "levers":
        raise PolicyError(f"{directory}: expected the folder of an 'alliance-sim levers' run")
    scenario = stored_scenario(manifest["scenario"])
    names = list(manifest["metrics"])
    obj = Objectives(names, [Metric.model_validate(manifest["metrics"][n]) for n in names])
    table = pd.read_parquet(directory / "policies.parquet")
    policies = table[[c for c in table.columns if c.startswith(LEVER_PREFIX)]]
    worlds = pd.read_parquet(directory / "worlds.parquet")
    ev = pd.read_parquet(directory / "evaluations.parquet")
    P, S = len(policies), len(worlds)
    M = np.stack([ev[METRIC_PREFIX + n].to_numpy().reshape(P, S) for n in names], axis=2)
    settings = {
        k: v for k, v in manifest.items() if k not in ("kind", "scenario", "scenario_sha256", "metrics")
    }
    return PolicyResults(
        scenario,
        obj,
        policies.reset_index(drop=True),
        worlds,
        M,
        robustness(M, obj.sign, obj.threshold),
        settings,
    )
