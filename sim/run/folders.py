"""What an output folder of alliance-sim holds, told from its marker files, and its manifest
read for use.

Every command writes a folder with a file that says what it is: a run's or a design's
``manifest.json`` (an experiment and a sweep record ``settings.kind``), a levers evaluation's or a
policy search's ``manifest.json`` with its ``kind``, a calibration's ``calibration.json``, a
sensitivity analysis's ``sensitivity.json`` (or ``indices.csv`` from a finished run, or
``sobol_over_time_ST.csv``), a discovery's ``prim_*.csv``, scores' ``scores.csv``, a projection's
``projection.json``; a comparison is a folder of run folders with its ``report.html``.
:func:`kind_of` tells them apart cheaply (one small JSON file read at most); :func:`checked_manifest`
reads the manifest through the integrity layer (:mod:`sim.run.integrity`), checksums and all, for
the readers that use the files (``export``, ``show RESULTS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sim.run.integrity import (
    CALIBRATION,
    calibration_manifest,
    check_rows,
    check_seal,
    complete_manifest,
    levers_manifest,
)
from sim.run.store import MANIFEST, ResultsError, read_manifest

#: what each kind of folder is called for a reader
KIND_WORDS = {
    "run": "run",
    "experiment": "experiment",
    "sweep": "sweep",
    "comparison": "comparison",
    "levers": "policy levers",
    "optimize": "policy search",
    "calibration": "calibration",
    "sensitivity": "sensitivity",
    "discovery": "scenario discovery",
    "scores": "scenario scores",
    "projection": "view from the observations",
}
#: the kinds whose manifest follows the layout of a run (:class:`sim.run.integrity.ResultManifest`)
RUN_LIKE = ("run", "experiment", "sweep")


def design_kind(manifest: dict) -> str:
    """``run``, or the kind of design (``experiment``, ``sweep``) a run-like manifest records."""
    settings = manifest.get("settings")
    kind = settings.get("kind") if isinstance(settings, dict) else None
    return kind if kind in ("experiment", "sweep") else "run"


def kind_of(folder: Path) -> str | None:
    """The kind of output folder ``folder`` is (a key of :data:`KIND_WORDS`), or None."""
    folder = Path(folder)
    if not folder.is_dir():
        return None
    if (folder / MANIFEST).is_file():
        try:
            manifest = read_manifest(folder)
        except ResultsError:
            return None
        if isinstance(manifest, dict):
            kind = manifest.get("kind")
            if kind in ("levers", "optimize"):
                return str(kind)
            if "scenario_hash" in manifest:
                return design_kind(manifest)
    if (folder / CALIBRATION).is_file():
        return "calibration"
    marks = (
        ("sensitivity", ("sensitivity.json", "sobol_over_time_ST.csv", "indices.csv")),
        ("scores", ("scores.csv",)),
        ("projection", ("projection.json",)),
        ("sweep", ("sweep.csv",)),
    )
    for kind, names in marks:
        if any((folder / n).is_file() for n in names):
            return kind
    if any(folder.glob("prim_*.csv")):
        return "discovery"
    if (folder / "report.html").is_file() and any(
        (p / MANIFEST).is_file() for p in folder.iterdir() if p.is_dir()
    ):
        return "comparison"
    return None


@dataclass
class Folder:
    """An output folder with its manifest checked: kind, manifest and the file that holds it."""

    path: Path
    kind: str
    manifest: dict
    manifest_file: Path

    @property
    def scenario(self) -> dict | None:
        """The resolved scenario the folder stores, as data."""
        found = self.manifest.get("scenario")
        return found if isinstance(found, dict) else None


def checked_manifest(folder: Path, *, rows: bool = True) -> Folder:
    """The manifest of a result folder that stores a scenario (a run, an experiment or sweep, a
    levers evaluation, a policy search, a calibration), checked as every reader checks it: its
    schema, its seal and every recorded file's SHA-256 (and, with ``rows``, a run's row count).

    Raises
    ------
    ResultsError
        One line: not such a folder, or a file that is not the one written.
    """
    folder = Path(folder)
    kind = kind_of(folder)
    if kind in RUN_LIKE and (folder / MANIFEST).is_file():
        manifest = complete_manifest(folder)
        if rows:
            check_rows(folder, manifest)
        return Folder(folder, kind, manifest, folder / MANIFEST)
    if kind == "levers":
        return Folder(folder, kind, levers_manifest(folder), folder / MANIFEST)
    if kind == "calibration":
        return Folder(folder, kind, calibration_manifest(folder), folder / CALIBRATION)
    if kind == "optimize":
        manifest = read_manifest(folder) or {}
        if "manifest_sha256" in manifest:
            check_seal(manifest, folder / MANIFEST)
        return Folder(folder, kind, manifest, folder / MANIFEST)
    what = f"a {KIND_WORDS[kind]} folder" if kind else "no manifest.json or calibration.json"
    if kind == "comparison":
        inner = ", ".join(str(p) for p in sorted(folder.iterdir()) if (p / MANIFEST).is_file())
        what += f"; its runs are {inner}"
    raise ResultsError(
        f"{folder}: {what}; expected a folder written by alliance-sim run, experiment, sweep, levers, "
        "optimize or calibrate"
    )
