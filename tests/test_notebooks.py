"""Every notebook under ``notebooks/`` runs top to bottom without an error, and is committed with
its outputs (figures included) so that a repository page shows them.

Notebooks execute with the ``python3`` kernel of the interpreter running the tests (the
project's ``.venv``), each with its own folder as working directory, as Jupyter (and
``./alliance notebooks``) runs it, within 300 s each.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
TIMEOUT = 300  # seconds per notebook


def test_there_are_notebooks_to_run():
    """The parametrised test below is not silently empty."""
    assert NOTEBOOKS


def test_python3_kernel_is_this_interpreter():
    """The ``python3`` kernel is launched with the interpreter running the tests."""
    from jupyter_client.kernelspec import KernelSpecManager

    spec = KernelSpecManager().get_kernel_spec("python3")
    launcher = spec.argv[0]
    # jupyter_client substitutes sys.executable for a bare "python" in the native spec
    assert (
        launcher in ("python", "python3", sys.executable)
        or Path(launcher).resolve() == Path(sys.executable).resolve()
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_is_committed_with_its_outputs_and_figures(path):
    """A reader on a repository page sees the results: every code cell was run in order, and the
    figures are stored as images (``%matplotlib inline`` renders them where Agg is the backend).
    Refresh them with ``./alliance notebooks``."""
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1)), (
        f"{path.name}: run it top to bottom and commit it with its outputs"
    )
    images = [o for c in code for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert images, f"{path.name}: no figure stored"
    errors = [o for c in code for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors


def _kernel_folder(path: Path) -> dict:
    """The resources that start a notebook's kernel in the notebook's own folder (Jupyter's way)."""
    return {"metadata": {"path": str(path.parent)}}


def test_kernel_starts_in_the_notebooks_own_folder():
    """A kernel started as the notebook test starts it has the notebook's folder, not the
    repository root, as working directory: a notebook that reads ``scenarios/...`` relative to the
    root fails there as it fails in Jupyter."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os; print(os.getcwd())")])
    path = NOTEBOOKS[0]
    nbclient.NotebookClient(
        nb, timeout=TIMEOUT, kernel_name="python3", resources=_kernel_folder(path)
    ).execute()
    assert Path(nb.cells[0].outputs[0]["text"].strip()) == path.parent
    assert path.parent != ROOT


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_runs(path):
    """Execute ``path`` cell by cell from its own folder; any error, or more than 300 s in all,
    fails the test."""
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        nb, timeout=TIMEOUT, kernel_name="python3", resources=_kernel_folder(path)
    )
    deadline = time.monotonic() + TIMEOUT
    with client.setup_kernel():
        for index, cell in enumerate(nb.cells):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                pytest.fail(f"{path.name}: over {TIMEOUT} s before cell {index}")
            client.timeout = max(1, math.ceil(remaining))
            try:
                client.execute_cell(cell, index)
            except nbclient.exceptions.CellTimeoutError:
                pytest.fail(f"{path.name}: over {TIMEOUT} s in cell {index}")
            except nbclient.exceptions.CellExecutionError as e:
                pytest.fail(f"{path.name}: cell {index} failed:\n{e}")
