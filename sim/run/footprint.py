"""The memory and disk a run needs, checked before anything is written.

A run holds, per worker, one chunk's replicate state and the per-step summaries it collects, and
with ``--trajectories`` every step's ties; :func:`footprint` estimates each from the sizes alone,
and :func:`check_fits` refuses (one line, exit 2) a run that would not fit, with the chunk size
that would. What fits depends on the run's settings (chunk size, trajectories), not on the
scenario alone, which is why this lives in the run layer; :func:`check_summaries` is the part a
scenario file decides by itself (its own steps), located at ``run.steps`` in the file.
"""

from __future__ import annotations

from pathlib import Path

from sim.spec.locations import ScenarioError
from sim.spec.parammap import uncertain_slots
from sim.spec.scenario import error_at
from sim.spec.schema import Scenario

MEMORY_BUDGET = 4 * 2**30  # what one chunk of replicates may need while it runs (per worker)
TRAJECTORY_BUDGET = 4 * 2**30  # the size of a run's trajectories.npy


def footprint(
    actors: int,
    issues: int,
    alliances: int,
    steps: int,
    replicates: int,
    chunk_size: int = 4096,
    trajectories: bool = False,
    bins: int = 200,
    sampled: int = 0,
) -> dict[str, int]:
    """A conservative estimate of the bytes a run needs, by what needs them.

    ``per-step summaries`` (cohesion histograms of ``bins`` bins per alliance and step, pressure
    tables) and ``replicate state`` (the ``(n, A, A)`` arrays of a chunk of ``n`` replicates, and
    the ``(n, A, A, K)`` distances of interest similarity, and the ``sampled`` uncertain values of
    the parameter map, drawn in float64 and stored in float32) are held by each worker at once;
    ``trajectories`` is one chunk's ``(n, steps + 1, A, A)`` float32 trajectories and
    ``trajectories file`` the merged file.
    """
    n = min(replicates, chunk_size)
    cells = (steps + 1) * actors * actors * 4
    return {
        "per-step summaries": (steps + 1) * (max(alliances, 1) * (bins + 1) + 1) * 8 + steps * actors * 16,
        "replicate state": n * actors * actors * (64 + 8 * max(issues, 1)) + n * sampled * 12,
        "trajectories": n * cells if trajectories else 0,
        "trajectories file": replicates * cells if trajectories else 0,
    }


def _gb(size: float) -> str:
    return f"{size / 2**30:.1f} GB" if size >= 2**28 else f"{size / 2**20:.0f} MB"


def check_footprint(need: dict[str, int]) -> str | None:
    """What exceeds the memory budgets in a :func:`footprint`, as a phrase, or None."""
    chunk = need["per-step summaries"] + need["replicate state"] + need["trajectories"]
    if need["trajectories file"] > TRAJECTORY_BUDGET:
        return (
            f"expected trajectories of at most {_gb(TRAJECTORY_BUDGET)}, got "
            f"{_gb(need['trajectories file'])} (replicates x (steps + 1) x actors^2 x 4 bytes); "
            "use fewer replicates or steps, or leave out --trajectories"
        )
    if chunk > MEMORY_BUDGET:
        worst = max(("per-step summaries", "replicate state", "trajectories"), key=need.__getitem__)
        return (
            f"expected a run that fits in {_gb(MEMORY_BUDGET)} per worker, got {_gb(chunk)} "
            f"(mostly {worst}: {_gb(need[worst])})"
        )
    return None


def scenario_footprint(scenario: Scenario, chunk_size: int, trajectories: bool, bins: int) -> dict[str, int]:
    """The memory a run of ``scenario`` needs, by what needs it (:func:`footprint`)."""
    run = scenario.run
    return footprint(
        len(scenario.actors),
        len(scenario.issues),
        len(scenario.alliances),
        run.steps,
        run.replicates,
        chunk_size,
        trajectories,
        bins,
        sampled=len(uncertain_slots(scenario)),
    )


def check_summaries(scenario: Scenario, source: Path | None, bins: int) -> None:
    """Refuse a scenario whose own run (any chunk size) cannot hold its per-step summaries, at
    ``run.steps`` of the file that sets them."""
    need = footprint(
        len(scenario.actors), len(scenario.issues), len(scenario.alliances), scenario.run.steps, 1, bins=bins
    )
    too_big = check_footprint(need)
    if too_big is None:
        return
    message = too_big + "; use fewer steps"
    if source is None:
        raise ScenarioError(None, message, path="run.steps")
    raise error_at(source, ("run", "steps"), message)


def check_fits(
    scenario: Scenario, chunk_size: int, trajectories: bool, source: Path | None, bins: int
) -> None:
    """Refuse, before anything is written, a run that would not fit in memory."""
    run = scenario.run
    need = scenario_footprint(scenario, chunk_size, trajectories, bins)
    too_big = check_footprint(need)
    if too_big is None:
        return
    if (
        "trajectories of" not in too_big
        and need["replicate state"] > need["per-step summaries"]
        and need["replicate state"] > need["trajectories"]
    ):
        per_replicate = max(need["replicate state"] // min(run.replicates, chunk_size), 1)
        fits = 1 << max(int(0.8 * 2**32 // per_replicate).bit_length() - 1, 0)
        too_big += f"; use --chunk-size {fits} or fewer"
    raise ScenarioError(source, too_big, path="--trajectories" if "trajectories" in too_big else "run")


def disk_need(scenario: Scenario, chunk_size: int, trajectories: bool, bins: int) -> int:
    """A lower bound on the bytes a run writes at its peak: every chunk's table (Arrow IPC,
    uncompressed) and summaries, and beside them the merged Parquet table (zstd, with float32 and
    dictionary columns: at least half as large, its sampled numbers compress little), summary and
    trajectories."""
    run = scenario.run
    n_chunks = -(-run.replicates // chunk_size)
    A, L = len(scenario.actors), len(scenario.alliances)
    # a row: replicate (8), each sampled value (float32), per alliance its fate and defector
    # (offsets and a few characters), end step (4) and cohesion (8), the balance share (8), and
    # per actor its bloc (1) and final capability (8)
    row = 8 + 4 * len(uncertain_slots(scenario)) + 33 * L + 8 + 9 * A
    summary = (run.steps + 1) * (L * bins + 2) * 8
    need = scenario_footprint(scenario, chunk_size, trajectories, bins)
    return 3 * run.replicates * row // 2 + summary * (n_chunks + 1) + 2 * need["trajectories file"]
