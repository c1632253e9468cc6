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

import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.robustness import Robustness, robustness
from sim.errors import InputError
from sim.files import all_or_nothing, atomic_write
from sim.run.collectors import Collector
from sim.run.designs import Design
from sim.run.ensemble import run_design
from sim.run.integrity import FILES, levers_manifest, seal_files
from sim.run.lock import locks
from sim.run.provenance import code_provenance
from sim.run.store import ChunkData, encode_table, write_json
from sim.spec.correlation import sample_values
from sim.spec.lever_values import grid, latin_hypercube, lever_names, lever_path, with_status_quo
from sim.spec.scenario import Scenario, load_scenario, stored_scenario
from sim.spec.schema import Metric
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


def sample_worlds(scenario: Scenario, worlds: int, seed: int, tag: int = WORLDS_TAG) -> dict[str, np.ndarray]:
    """``worlds`` draws of every uncertain value (correlations included): path -> ``(worlds,)``;
    another ``tag`` draws another, independent set of worlds from the same seed."""
    return sample_values(scenario, worlds, np.random.default_rng([seed, tag]))


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


def natural_range(scenario: Scenario, obj: Objectives) -> tuple[np.ndarray, np.ndarray]:
    """The range each metric can take: probabilities [0, 1], ties [-1, 1], a cost
    [0, the largest departure its levers allow]."""
    lo, hi = [], []
    for m in obj.metrics:
        if m.kind == "tie":
            lo.append(-1.0)
            hi.append(1.0)
        elif m.levers is not None:  # a cost
            lo.append(0.0)
            hi.append(
                float(
                    sum(
                        max(abs(b - scenario.levers[n].status_quo_value) for b in scenario.levers[n].bounds)
                        for n in m.levers
                    )
                )
                or 1.0
            )
        else:
            lo.append(0.0)
            hi.append(1.0)
    return np.array(lo), np.array(hi)


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


def _design(
    policies: dict[str, np.ndarray], worlds: dict[str, np.ndarray], replicates: int
) -> tuple[Design, int, int]:
    """The design of P policies on S worlds (policy-major points, a world its own noise group), P and S."""
    P = len(next(iter(policies.values())))
    S = len(next(iter(worlds.values()))) if worlds else 1
    values = {path: np.tile(v, P) for path, v in worlds.items()}
    for name, v in policies.items():
        values[lever_path(name)] = np.repeat(np.asarray(v, dtype=float), S)
    streams = np.tile(np.arange(S), P)
    return Design(values=values, replicates=replicates, streams=streams), P, S


def _policy_cost(scenario: Scenario, policies: dict[str, np.ndarray], levers: list[str]) -> np.ndarray:
    """A cost metric of each policy: how far its levers are moved from the status quo, summed."""
    cost = np.zeros(len(next(iter(policies.values()))))
    for n in levers:
        cost += np.abs(np.asarray(policies[n], dtype=float) - scenario.levers[n].status_quo_value)
    return cost


def _metric_column(scenario: Scenario, table: pd.DataFrame, m: Metric) -> np.ndarray:
    """A tie's or a fate share's metric in each row of the chunks' table (1 where the fate is it)."""
    if m.from_ is not None and m.to is not None:  # a tie
        actors = scenario.actor_names
        return table[f"tie:{actors.index(m.from_)}:{actors.index(m.to)}"].to_numpy()
    assert m.alliance is not None  # a fate share
    fate = table[f"fate:{list(scenario.alliances).index(m.alliance)}"].to_numpy()
    return (fate == int(FATE_OF[m.kind])).astype(float)


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
    per_replicate: bool = False,
):
    """Run P policies on S worlds x R replicates as one design and return the metrics,
    ``(P, S, K)``: each metric's mean over the replicates of a policy in a world (costs depend on
    the policy only). With ``per_replicate``, return ``(M, X)``: also the metrics replicate by
    replicate, ``(P, S, R, K)``."""
    design, P, S = _design(policies, worlds, replicates)
    alliances, pairs = _needs(scenario, obj)
    need_runs = any(m.kind != "cost" for m in obj.metrics)
    K = len(obj.metrics)
    M = np.empty((P, S, K))
    X = np.empty((P, S, replicates, K)) if per_replicate else None
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
        rep = table["replicate"].to_numpy()
    for k, m in enumerate(obj.metrics):
        if m.levers is not None:  # a cost
            cost = _policy_cost(scenario, policies, m.levers)
            M[:, :, k] = cost[:, None]
            if X is not None:
                X[:, :, :, k] = cost[:, None, None]
            continue
        col = _metric_column(scenario, table, m)
        M[:, :, k] = (np.bincount(point, weights=col, minlength=P * S) / count).reshape(P, S)
        if X is not None:
            flat = X[:, :, :, k].reshape(P * S, replicates)
            flat[point, rep] = col
            X[:, :, :, k] = flat.reshape(P, S, replicates)
    return (M, X) if per_replicate else M


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
    replicate_metrics: np.ndarray | None = None  # (P, S, R, K)

    @property
    def table(self) -> pd.DataFrame:
        """One row per policy: its levers, each metric's mean and 10th/90th percentile over the
        worlds, its regret (90th percentile and maximum), its satisficing share and its rank;
        with replicate-level metrics, the standard errors (``:se``) of the mean, the regret and
        the satisficing share, regret and satisficing corrected for estimation noise."""
        rob = self.robustness
        out = self.policies.copy()
        for k, name in enumerate(self.objectives.names):
            out[METRIC_PREFIX + name] = rob.mean[:, k]
            if rob.mean_se is not None:
                out[f"{METRIC_PREFIX}{name}:se"] = rob.mean_se[:, k]
            out[f"{METRIC_PREFIX}{name}:p10"] = rob.p10[:, k]
            out[f"{METRIC_PREFIX}{name}:p90"] = rob.p90[:, k]
            out[REGRET_PREFIX + name] = rob.regret_p90[:, k]
            if rob.regret_p90_se is not None:
                out[f"{REGRET_PREFIX}{name}:se"] = rob.regret_p90_se[:, k]
            out[f"{REGRET_PREFIX}{name}:max"] = rob.regret_max[:, k]
            if rob.met is not None and np.isfinite(rob.met[:, k]).any():
                out[f"met:{name}"] = rob.met[:, k]
        out[SATISFICING] = rob.satisficing
        if rob.satisficing_se is not None:
            out[f"{SATISFICING}:se"] = rob.satisficing_se
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

    def replicate_evaluations(self) -> pd.DataFrame:
        """One row per policy, world and replicate: every metric's value there."""
        X = self.replicate_metrics
        if X is None:
            raise ValueError("no replicate-level metrics")
        P, S, R, K = X.shape
        out = pd.DataFrame(
            {
                "policy": np.repeat(np.arange(P), S * R),
                "world": np.tile(np.repeat(np.arange(S), R), P),
                "replicate": np.tile(np.arange(R), P * S),
            }
        )
        for k, name in enumerate(self.objectives.names):
            out[METRIC_PREFIX + name] = X[:, :, :, k].ravel()
        return out

    @all_or_nothing()  # a failure leaves none of its files
    def write(self, out: Path) -> dict[str, Path]:
        """``policies.parquet``, ``evaluations.parquet``, ``replicates.parquet`` (each replicate's
        metrics), ``worlds.parquet`` and ``manifest.json``."""
        from sim.analysis.policy_tables import lever_importance

        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        (out / "manifest.json").unlink(missing_ok=True)  # no manifest until every file is whole
        paths = {
            "policies": out / "policies.parquet",
            "evaluations": out / "evaluations.parquet",
            "worlds": out / "worlds.parquet",
            "importance": out / "importance.csv",
            "manifest": out / "manifest.json",
        }
        atomic_write(self.table.to_parquet, paths["policies"], index=False)
        atomic_write(lever_importance(self).to_csv, paths["importance"], index=False)
        atomic_write(self.evaluations().to_parquet, paths["evaluations"], index=False)
        if self.replicate_metrics is not None:
            paths["replicates"] = out / "replicates.parquet"
            atomic_write(self.replicate_evaluations().to_parquet, paths["replicates"], index=False)
        atomic_write(self.worlds.to_parquet, paths["worlds"], index=False)
        files = [p.name for k, p in paths.items() if k != "manifest"]
        write_json(paths["manifest"], {**self.manifest(), FILES: seal_files(out, files)})  # checksums
        return paths

    def manifest(self) -> dict:
        """What ``manifest.json`` holds: the resolved scenario, its hash, the metrics, the settings."""
        return {
            "kind": "levers",
            "scenario": self.scenario.to_data(),
            "scenario_sha256": self.scenario.digest(),
            "code": code_provenance(),
            "metrics": {
                n: m.model_dump(mode="json", by_alias=True, exclude_none=True)
                for n, m in zip(self.objectives.names, self.objectives.metrics)
            },
            **self.settings,
        }


def _chosen_policies(
    scenario: Scenario,
    policies: int | None,
    grid_values: int | None,
    owner: str | None,
    seed: int,
    policy_values: dict[str, np.ndarray] | None,
) -> dict[str, np.ndarray]:
    """The policies to evaluate: a sample or grid with the status quo first, or those given as they are."""
    if policy_values is None:
        return choose_policies(scenario, policies=policies, grid_values=grid_values, owner=owner, seed=seed)
    chosen = with_status_quo(scenario, {k: np.asarray(v, float) for k, v in policy_values.items()})
    return {k: v[1:] for k, v in chosen.items()}  # as given, without an added status quo


def _tables(
    chosen: dict[str, np.ndarray], world_values: dict[str, np.ndarray], worlds: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The policies' table (a column per lever) and the worlds' table (a column per uncertain value)."""
    policies_df = pd.DataFrame({LEVER_PREFIX + k: v for k, v in chosen.items()})
    worlds_df = pd.DataFrame({"param:" + k: v for k, v in world_values.items()})
    worlds_df.insert(0, "world", np.arange(worlds))
    return policies_df, worlds_df


@locks("out")  # one writer per folder
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
    chosen = _chosen_policies(scenario, policies, grid_values, owner, seed, policy_values)
    world_values = sample_worlds(scenario, worlds, seed)
    start = time.perf_counter()
    M, X = simulate(
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
        per_replicate=True,
    )
    seconds = time.perf_counter() - start
    if np.all(M == M[:1, :1]):  # every metric one value, under every policy in every world
        if out is not None:
            shutil.rmtree(Path(out) / "runs", ignore_errors=True)  # nothing partial stays
        raise InputError(unmoved(scenario, obj, M, steps=scenario.run.steps))
    policies_df, worlds_df = _tables(chosen, world_values, worlds)
    P = len(policies_df)
    result = PolicyResults(
        scenario,
        obj,
        policies_df,
        worlds_df,
        M,
        robustness(M, obj.sign, obj.threshold, replicates=X, seed=seed),
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
        X,
    )
    if out is not None:
        result.write(Path(out))
    return result


def unmoved(scenario: Scenario, obj: Objectives, M: np.ndarray, steps: int) -> str:
    """The one line for an evaluation in which no policy changed any metric in any world."""
    first = obj.metrics[0]
    label = first.label or obj.names[0]
    return (
        f"{scenario.title or 'the scenario'}: every metric takes the same value under every policy "
        f"in every world ({label}: {M.flat[0]:.3g}), so the policies cannot be ranked; the levers "
        f"change nothing these metrics measure in {steps} step{'s' if steps != 1 else ''}: run more "
        "steps (-t), or judge by metrics the levers reach"
    )


def read_policies(directory: str | Path) -> tuple[pd.DataFrame, dict]:
    """The policy table and manifest of a finished ``levers`` result folder."""
    directory = Path(directory)
    manifest = levers_manifest(directory)  # its shape and every file's checksum, or one line
    return pd.read_parquet(directory / "policies.parquet"), manifest


# -- which levers matter -----------------------------------------------------------------------


# -- vulnerability ------------------------------------------------------------------------------


def load_policy_results(directory: str | Path) -> PolicyResults:
    """A finished ``levers`` result folder read back (:meth:`PolicyResults.write`)."""
    directory = Path(directory)
    manifest = levers_manifest(directory)  # its shape and every file's checksum, or one line
    scenario = stored_scenario(manifest["scenario"])
    names = list(manifest["metrics"])
    obj = Objectives(names, [Metric.model_validate(manifest["metrics"][n]) for n in names])
    table = pd.read_parquet(directory / "policies.parquet")
    policies = table[[c for c in table.columns if c.startswith(LEVER_PREFIX)]]
    worlds = pd.read_parquet(directory / "worlds.parquet")
    ev = pd.read_parquet(directory / "evaluations.parquet")
    P, S = len(policies), len(worlds)
    M = np.stack([ev[METRIC_PREFIX + n].to_numpy().reshape(P, S) for n in names], axis=2)
    X = None
    if (directory / "replicates.parquet").is_file():
        rv = pd.read_parquet(directory / "replicates.parquet")
        R = len(rv) // max(P * S, 1)
        X = np.stack([rv[METRIC_PREFIX + n].to_numpy().reshape(P, S, R) for n in names], axis=3)
    settings = {
        k: v for k, v in manifest.items() if k not in ("kind", "scenario", "scenario_sha256", "metrics")
    }
    return PolicyResults(
        scenario,
        obj,
        policies.reset_index(drop=True),
        worlds,
        M,
        robustness(M, obj.sign, obj.threshold, replicates=X, seed=int(settings.get("seed") or 0)),
        settings,
        X,
    )
