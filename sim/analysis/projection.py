"""The view from today: the posterior draws of a calibration continued from their own states at the
last observation, stored as a result directory like any run (so the same report, `compare` and
`export` read it), with the answer in one sentence.

Each posterior draw keeps the parameter values it was drawn with (``posterior.parquet``) and its
state at the last observation (``states.npz``): a one-point design of the experiment engine with
per-replicate values and saved starts (:class:`sim.run.designs.Start`). Whatever the method that
conditioned them (rejection keeps whole replicates; sequential Monte Carlo keeps the particles that
survived every date), the draws continued are those that reproduced the record.
"""

from __future__ import annotations

import datetime as _dt
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis import likelihood
from sim.errors import InputError
from sim.files import atomic_write, atomic_write_text
from sim.model import dynamics
from sim.run.collectors import ReplicateCollector
from sim.run.designs import Design, Start
from sim.run.ensemble import DEFAULT_CHUNK_SIZE, run_design
from sim.run.integrity import calibration_manifest
from sim.run.lock import LOCK_FILE, locks
from sim.run.store import load_results, read_manifest
from sim.spec.observations import add_units, step_of
from sim.spec.scenario import stored_scenario
from sim.vocabulary import FATES, PARAM_PREFIX, end_step_column, fate_column

STATES = "states.npz"
POSTERIOR_TABLE = "posterior.parquet"
MANIFEST = "calibration.json"


@dataclass
class Projection:
    """Posterior draws continued from the last observation's step."""

    alliance: str
    start_step: int
    end_step: int
    start_date: _dt.date
    end_date: _dt.date
    fates: np.ndarray  # (m,) fate code at the end (0 holds)
    table: pd.DataFrame
    directory: Path | None = None  # the result directory of the continued run, when stored

    def p(self, fate: str) -> tuple[float, float, float]:
        """Share of continued draws ending in ``fate``, with its 95 % Wilson interval."""
        code = FATES.index(fate)
        k = int((self.fates == code).sum())
        lo, hi = likelihood.wilson(k, len(self.fates))
        return k / len(self.fates), lo, hi

    def sentence(self) -> str:
        """The answer as the report and the command line give it."""
        if not self.alliance:
            return (
                f"From {self.start_date:%B %Y} (the last sourced observation) to "
                f"{self.end_date:%B %Y}: {len(self.fates)} posterior draws continued; the scenario "
                "declares no alliance whose fate to give"
            )
        p, lo, hi = self.p("holds")
        return (
            f"From {self.start_date:%B %Y} (the last sourced observation), under these "
            f"assumptions and what has been observed, P({self.alliance} holds to "
            f"{self.end_date:%B %Y}) = {p:.2f} (95 % interval {lo:.2f}-{hi:.2f}; "
            f"{len(self.fates)} posterior draws)"
        )


class ContinuedCollector(ReplicateCollector):
    """A plain run's chunk, for replicates continued from saved states at step ``t0``: the steps
    before ``t0`` were not simulated here, so their cohesion histograms stay empty and their
    balance share is NaN (the report's figures show a gap), while the share of active alliances
    before ``t0`` is exact (read from when each draw's alliances ended)."""

    def __init__(self, t0: int):
        super().__init__(trajectories=False, why=0)
        self.t0 = int(t0)

    def record(self, state: dynamics.State) -> None:
        """Summaries at ``state.t``; at ``t0`` also the active counts of the steps before."""
        if state.t == self.t0:
            for t in range(self.t0):
                self.active[t] = (state.active | (state.end_step > t)).sum(axis=0)
            self.balance_sum[: self.t0] = np.nan
        super().record(state)


def calibration_dir(path: Path) -> Path:
    """The calibration folder of ``posterior.toml`` (or the folder itself)."""
    folder = path if path.is_dir() else path.parent
    if not (folder / STATES).is_file() or not (folder / MANIFEST).is_file():
        raise InputError(
            f"{path}: --from-observations needs {STATES} and {MANIFEST} beside it "
            "(written by alliance-sim calibrate)"
        )
    return folder


def load_states(path: Path) -> dict[str, np.ndarray]:
    """The arrays of a ``states.npz`` (read without pickles)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def _steps(manifest: dict, scenario, steps: int | None, until: _dt.date | None) -> int:
    t0 = int(manifest["last_step"])
    if until is not None:
        start = _dt.date.fromisoformat(manifest["start"])
        steps = step_of(start, until, manifest["unit"], scenario.run.dt) - t0
        if steps <= 0:
            raise InputError(
                f"--until: expected a date after the last observation "
                f"({manifest['last_date']}), got {until.isoformat()}"
            )
    return steps if steps is not None else max(scenario.run.steps - t0, 1)


def _run_folder(out: Path | None) -> Path:
    """Where the continued run is stored: ``out`` (replaced when it holds an earlier view from
    today), or a temporary folder."""
    if out is None:
        import tempfile

        return Path(tempfile.mkdtemp(prefix="alliance-sim-today-"))
    out = Path(out)
    if out.exists() and any(p.name != LOCK_FILE for p in out.iterdir()):
        manifest = read_manifest(out)
        if not (out / "projection.json").is_file() and manifest is not None:
            raise InputError(f"{out}: holds another run; choose another --out")
        if manifest is None and not (out / "projection.json").is_file():
            raise InputError(f"{out}: is not empty and holds no view from today; choose another --out")
    return out


@locks("out")  # one writer per folder
def project(
    calibrated: str | Path,
    *,
    steps: int | None = None,
    until: _dt.date | None = None,
    seed: int | None = None,
    alliance: str | None = None,
    out: str | Path | None = None,
    dtype: str = "float32",
    workers: int | None = 1,
    progress: bool = False,
    engine: str = "numpy",
) -> Projection:
    """Continue the posterior draws of a calibration from their states at the last observed step
    for ``steps`` more steps (or up to the date ``until``).

    A one-point design of the experiment engine with per-replicate values and saved starts
    (:class:`sim.run.designs.Start`), seeded by ``seed`` (default the calibration's), so the same
    seed gives the same bytes on any number of ``workers``. With ``out`` the continued run is a
    result directory there (``replicates.parquet``, ``summary.npz``, ``manifest.json``: what
    ``alliance-sim report`` reads), with ``projection.parquet`` and ``projection.json`` beside it.
    """
    folder = calibration_dir(Path(calibrated))
    manifest = calibration_manifest(folder)  # its shape and every file's checksum, or one line
    scenario = stored_scenario(manifest["scenario"])
    t0 = int(manifest["last_step"])
    steps = _steps(manifest, scenario, steps, until)
    alliance = alliance or scenario.focal_alliance or ""
    if alliance and alliance not in scenario.alliances:
        raise InputError(f"{folder}: unknown alliance {alliance!r}")
    seed = manifest["seed"] if seed is None else seed
    states = load_states(folder / STATES)
    where = _run_folder(None if out is None else Path(out))
    run = {"workers": workers, "progress": progress, "dtype": dtype, "engine": engine}
    results = _continue(folder, manifest, scenario, states, t0 + steps, seed, where, run)
    rows = results.outcomes.sort_values("replicate", kind="stable")
    frame = pd.DataFrame({"replicate": states["replicate"]})
    fates = np.zeros(len(frame), dtype=np.int8)
    if alliance:
        words = rows[fate_column(alliance)].to_numpy()
        fates = np.array([FATES.index(w) for w in words], dtype=np.int8)
        frame[f"{alliance}.fate"] = np.array(FATES, dtype=object)[fates]
        frame[f"{alliance}.end_step"] = rows[end_step_column(alliance)].to_numpy().astype(np.int32)
    unit, dt = manifest["unit"], scenario.run.dt
    start = _dt.date.fromisoformat(manifest["start"])
    proj = Projection(
        alliance,
        t0,
        t0 + steps,
        add_units(start, t0 * dt, unit),
        add_units(start, (t0 + steps) * dt, unit),
        fates,
        frame,
        where if out is not None else None,
    )
    if out is not None:
        _write(proj, where, seed)
    return proj


def _continue(
    folder: Path, manifest: dict, scenario, states: dict, end: int, seed: int, where: Path, run: dict
):
    """The stored run of the posterior draws from their states at the last observation to ``end``."""
    table = pd.read_parquet(folder / POSTERIOR_TABLE)
    if not np.array_equal(table["replicate"].to_numpy(), states["replicate"]):
        raise InputError(f"{folder}: {POSTERIOR_TABLE} and {STATES} hold different replicates")
    m, t0 = len(table), int(manifest["last_step"])
    values = {
        c[len(PARAM_PREFIX) :]: table[c].to_numpy(dtype=np.float64)[None, :]
        for c in table.columns
        if c.startswith(PARAM_PREFIX)
    }
    continued = scenario.with_run(steps=end, replicates=m, seed=seed)
    saved = Start(t0, {k: states[k] for k in dynamics.STATE_ARRAYS})
    settings = {"replicates": m, "steps": end, "from_step": t0, "seed": seed, "dt": continued.run.dt}
    settings["chunk_size"] = DEFAULT_CHUNK_SIZE
    settings.update(dtype=run["dtype"], engine=run["engine"], calibration=str(folder))
    try:
        return run_design(
            continued,
            Design(values, m, start=saved),
            ContinuedCollector(t0),
            seed=seed,
            out=where,
            force=True,
            desc="from today",
            name=f"{Path(manifest['source']).stem} from {manifest['last_date']}",
            settings=settings,
            **run,
        )
    except (KeyError, ValueError) as e:
        raise InputError(
            f"{folder / STATES}: expected the states of the accepted replicates of "
            f"this calibration, got arrays that do not fit ({e})"
        ) from None


def _write(proj: Projection, out: Path, seed: int) -> None:
    atomic_write(proj.table.to_parquet, out / "projection.parquet", index=False)
    summary = {
        "alliance": proj.alliance,
        "from_step": proj.start_step,
        "to_step": proj.end_step,
        "from": proj.start_date.isoformat(),
        "to": proj.end_date.isoformat(),
        "seed": seed,
        "replicates": int(len(proj.fates)),
        **{f"p_{f}": proj.p(f)[0] for f in FATES},
        "answer": proj.sentence(),
    }
    atomic_write_text(out / "projection.json", json.dumps(summary, indent=1))


def projected_results(proj: Projection):
    """The stored result set of a projection (for the report)."""
    if proj.directory is None:
        raise InputError("the view from today was not stored; give it an out folder")
    return load_results(proj.directory)
