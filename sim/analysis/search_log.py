"""What a policy search has evaluated, kept generation by generation so that an interrupted search
can be finished (``optimize --resume``).

NSGA-II here is deterministic given its seed: the search draws from Python's ``random`` seeded
once, and every generation's policies are evaluated on the same worlds and replicates. Finishing a
search therefore replays it from the start, and each generation whose policies match those
recorded takes the recorded values instead of simulating again; the first generation that was not
finished is simulated, and so on. The result is the one the uninterrupted search would have given,
bit for bit, for the cost of the generations that were missing.

The log lives in ``generations/`` of the search's folder: ``search.json`` (the hash of everything
the values depend on: the scenario, worlds, replicates, seed, statistic, owner, population, levers,
steps, engine and chunk size) and one ``NNNN.npz`` per finished generation (its policies in the
unit cube and their objective values), each written atomically.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from sim.errors import InputError
from sim.files import atomic_open, atomic_write_text

FOLDER = "generations"
KEY_FILE = "search.json"


class GenerationLog:
    """The finished generations of one search in ``out/generations`` (see the module).

    Parameters
    ----------
    out
        The search's folder.
    settings
        Everything the objective values depend on (JSON-serialisable).
    resume
        Reuse the recorded generations (refused when they belong to other settings); without it
        any earlier log is cleared.
    """

    def __init__(self, out: str | Path, settings: dict, *, resume: bool = False):
        self.folder = Path(out) / FOLDER
        text = json.dumps(settings, sort_keys=True, separators=(",", ":"), default=str)
        self.key = hashlib.sha256(text.encode()).hexdigest()
        self.reused = 0
        key_file = self.folder / KEY_FILE
        if resume:
            if not key_file.is_file():
                raise InputError(
                    f"--resume: {Path(out)} holds no interrupted search ({FOLDER}/{KEY_FILE} is missing); "
                    "expected the folder of an optimize run, or run without --resume"
                )
            try:
                recorded = json.loads(key_file.read_text(encoding="utf-8")).get("key")
            except (OSError, ValueError, AttributeError):
                recorded = None
            if recorded != self.key:
                raise InputError(
                    f"--resume: the search in {Path(out)} was run with another scenario or other settings; "
                    "expected the same scenario and options as the interrupted run (--force starts again)"
                )
        else:
            shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            key_file, json.dumps({"key": self.key, "settings": settings}, default=str, indent=1)
        )

    def _path(self, generation: int) -> Path:
        return self.folder / f"{generation:04d}.npz"

    def get(self, generation: int, policies: np.ndarray) -> np.ndarray | None:
        """The recorded values of ``generation`` if its policies are exactly ``policies``."""
        path = self._path(generation)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as data:
                if data["policies"].shape == policies.shape and np.array_equal(data["policies"], policies):
                    self.reused += 1
                    return np.array(data["values"])
        except (OSError, ValueError, KeyError):
            return None
        return None

    def put(self, generation: int, policies: np.ndarray, values: np.ndarray) -> None:
        """Record a finished generation."""
        with atomic_open(self._path(generation), "wb") as fh:
            np.savez(fh, policies=policies, values=np.asarray(values, dtype=np.float64))
