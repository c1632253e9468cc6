"""The `./alliance` entry point: where it finds Python, what it says when there is none, and that a
changed constraints file reinstalls. Each test runs a copy of the script in a temporary folder with
a reset environment; interpreters are symlinks to the one running the tests, arranged in fake
pyenv, uv and system trees."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
REAL_PYTHON = Path(os.path.realpath(sys.executable))  # a base interpreter (>= 3.12), not the venv's
TOOLS = ("bash", "dirname", "sort", "cat", "cut", "sha256sum", "grep", "rm", "mv")


@pytest.fixture
def box(tmp_path):
    """A copy of the script, an empty HOME and a PATH holding only the tools it uses (no Python)."""
    repo, home, tools = tmp_path / "repo", tmp_path / "home", tmp_path / "tools"
    for d in (repo, home, tools):
        d.mkdir()
    shutil.copy2(ROOT / "alliance", repo / "alliance")
    for t in TOOLS:
        (tools / t).symlink_to(shutil.which(t))
    env = {"HOME": str(home), "PATH": str(tools), "ALLIANCE_SYSTEM_DIRS": ""}
    return tmp_path, repo, env


def _alliance(repo: Path, env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [shutil.which("bash"), str(repo / "alliance"), *args],
        env=env,
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _python_at(path: Path, works: bool = True) -> Path:
    """A Python at ``path``: the real one (symlink) or one that fails every check."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if works:
        path.symlink_to(REAL_PYTHON)
    else:
        path.write_text("#!/bin/sh\nexit 1\n")
        path.chmod(0o755)
    return path


def test_finds_python_under_pyenv_root_without_pyenv_on_path(box):
    """$PYENV_ROOT/versions is searched, newest usable version first: a broken 3.14 and an old
    3.9 are passed over for the working 3.12."""
    tmp, repo, env = box
    root = tmp / "pyenv"
    _python_at(root / "versions/3.14.0/bin/python3", works=False)
    want = _python_at(root / "versions/3.12.50/bin/python3")
    _python_at(root / "versions/3.9.0/bin/python3", works=False)
    r = _alliance(repo, env | {"PYENV_ROOT": str(root)}, "--which-python")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(want)


@pytest.mark.parametrize("where", ["home_pyenv", "uv", "system"])
def test_finds_python_in_home_pyenv_uv_and_system_dirs(box, where):
    """~/.pyenv/versions, uv's managed installs and the system directories are searched too."""
    tmp, repo, env = box
    home = Path(env["HOME"])
    if where == "home_pyenv":
        want = _python_at(home / ".pyenv/versions/3.12.50/bin/python3")
    elif where == "uv":
        want = _python_at(home / ".local/share/uv/python/cpython-3.12.50-linux-x86_64-gnu/bin/python3.12")
    else:
        want = _python_at(tmp / "opt/python3.12/bin/python3.12")
        env = env | {"ALLIANCE_SYSTEM_DIRS": f"{tmp}/usr/bin {tmp}/opt/python*/bin"}
    r = _alliance(repo, env, "--which-python")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == str(want)


def test_finds_python_with_the_system_path_and_real_pyenv_root():
    """As a login shell that resets PATH would run it: PATH=/usr/bin:/bin, PYENV_ROOT set, pyenv not
    on PATH; the interpreter found is a Python >= 3.12."""
    root = os.environ.get("PYENV_ROOT") or str(Path.home() / ".pyenv")
    if not list(Path(root).glob("versions/3.1[2-9]*/bin/python3")):
        pytest.skip(f"no Python >= 3.12 under {root}/versions on this machine")
    env = {"HOME": str(Path.home()), "PATH": "/usr/bin:/bin", "PYENV_ROOT": root}
    r = _alliance(ROOT, env, "--which-python")
    assert r.returncode == 0, r.stderr
    py = r.stdout.strip()
    version = subprocess.run(
        [py, "-c", "import sys; print(sys.version_info >= (3, 12))"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.strip()
    assert version == "True", py


def test_no_python_says_what_to_install_and_exits_2(box):
    """With nothing to find, the script names what to install (apt, uv, pyenv) and exits 2."""
    tmp, repo, env = box
    _python_at(tmp / "pyenv/versions/3.11.0/bin/python3", works=False)
    r = _alliance(repo, env | {"PYENV_ROOT": str(tmp / "pyenv")}, "--which-python")
    assert r.returncode == 2
    assert r.stdout == ""
    for hint in (
        "apt-get install python3.12 python3.12-venv",
        "uv python install 3.12",
        "pyenv install 3.12",
        "ALLIANCE_PYTHON=",
    ):
        assert hint in r.stderr
    bad = _alliance(repo, env | {"ALLIANCE_PYTHON": str(tmp / "nowhere/python3")}, "--which-python")
    assert bad.returncode == 2 and "ALLIANCE_PYTHON=" in bad.stderr


def test_changed_constraints_reinstall_with_them(box):
    """The install stamp holds the hashes of pyproject.toml and constraints.txt: with both unchanged
    nothing is installed; a changed lock reinstalls with `-c constraints.txt`."""
    tmp, repo, env = box
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy2(ROOT / name, repo / name)
    venv = repo / ".venv"
    log = tmp / "pip.log"
    (venv / "bin").mkdir(parents=True)
    # the venv's python: pip calls are logged, everything else runs the real interpreter
    (venv / "bin/python").write_text(
        f'#!/bin/sh\nif [ "$1 $2" = "-m pip" ]; then echo "$@" >> {log}; exit 0; fi\n'
        f'exec {REAL_PYTHON} "$@"\n'
    )
    (venv / "bin/alliance-sim").write_text('#!/bin/sh\necho "alliance-sim $@"\n')
    for f in ("python", "alliance-sim"):
        (venv / "bin" / f).chmod(0o755)

    def digest(name):
        return hashlib.sha256((repo / name).read_bytes()).hexdigest()

    stamp = venv / ".installed"
    stamp.write_text(
        f"pyproject={digest('pyproject.toml')} constraints={digest('constraints.txt')} extras=test\n"
    )
    r = _alliance(repo, env, "list")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "alliance-sim list"
    assert not log.exists()

    with (repo / "constraints.txt").open("a") as f:
        f.write("# changed\n")
    r = _alliance(repo, env, "list")
    assert r.returncode == 0, r.stderr
    calls = log.read_text().splitlines()
    assert any(f"-c {repo / 'constraints.txt'}" in c and f"-e {repo}[test]" in c for c in calls), calls
    assert f"constraints={digest('constraints.txt')}" in stamp.read_text()
