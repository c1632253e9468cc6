"""The `./alliance` entry point: where it finds Python, what it says when there is none, what it
installs (the runtime first; an extra on the first command that needs it; everything again when
pyproject.toml or constraints.txt changes), what it tells the program about itself, and how it runs
notebooks and JupyterLab. Each test runs a copy of the script in a temporary folder with a reset
environment; interpreters are symlinks to the one running the tests, arranged in fake pyenv, uv and
system trees, and the environment's pip, `alliance-sim` and `jupyter` are stand-ins that log their
calls."""

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


def _alliance(repo: Path, env: dict, *args: str, script: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [shutil.which("bash"), script or str(repo / "alliance"), *args],
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


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def venv_box(box):
    """The box with pyproject.toml, constraints.txt and an installed ``.venv``: its python logs pip
    calls (and ``-m pytest``) to ``pip.log`` and runs everything else with the interpreter of the
    tests; its ``alliance-sim`` and ``jupyter`` print their arguments, ``$ALLIANCE_LAUNCHER`` and
    where Python's bytecode goes (``PYTHONDONTWRITEBYTECODE`` and ``PYTHONPYCACHEPREFIX``).
    ``stamp(extras)`` writes the install record of the current files with those extras."""
    tmp, repo, env = box
    for name in ("pyproject.toml", "constraints.txt"):
        shutil.copy2(ROOT / name, repo / name)
    bin_ = repo / ".venv/bin"
    bin_.mkdir(parents=True)
    log = tmp / "pip.log"
    (bin_ / "python").write_text(
        "#!/bin/sh\n"
        f'if [ "$1 $2" = "-m pip" ] || [ "$1 $2" = "-m pytest" ]; then echo "$@" >> {log}; exit 0; fi\n'
        f'exec {sys.executable} "$@"\n'
    )
    for tool in ("alliance-sim", "jupyter"):
        (bin_ / tool).write_text(
            f'#!/bin/sh\necho "{tool} $@ | launcher=$ALLIANCE_LAUNCHER | cwd=$(pwd) | '
            'bytecode=${PYTHONDONTWRITEBYTECODE-unset}:${PYTHONPYCACHEPREFIX-unset}"\n'
        )
    for f in bin_.iterdir():
        f.chmod(0o755)

    def stamp(extras: str) -> Path:
        path = repo / ".venv/.installed"
        path.write_text(
            f"pyproject={_digest(repo / 'pyproject.toml')} "
            f"constraints={_digest(repo / 'constraints.txt')} extras={extras}\n"
        )
        return path

    def calls() -> list[str]:
        return log.read_text().splitlines() if log.exists() else []

    return repo, env, stamp, calls


def _installed(repo: Path) -> str:
    """The extras the install record lists."""
    return (repo / ".venv/.installed").read_text().strip().rsplit(" extras=", 1)[1]


def test_changed_constraints_reinstall_with_them(venv_box):
    """The install stamp holds the hashes of pyproject.toml and constraints.txt: with both unchanged
    nothing is installed; a changed lock reinstalls with `-c constraints.txt`, keeping the extras
    installed so far."""
    repo, env, stamp, calls = venv_box
    record = stamp("test")
    r = _alliance(repo, env, "list")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("alliance-sim list |")
    assert calls() == []

    with (repo / "constraints.txt").open("a") as f:
        f.write("# changed\n")
    r = _alliance(repo, env, "list")
    assert r.returncode == 0, r.stderr
    assert any(f"-c {repo / 'constraints.txt'}" in c and f"-e {repo}[test]" in c for c in calls()), calls()
    assert f"constraints={_digest(repo / 'constraints.txt')}" in record.read_text()


def test_a_new_environment_gets_the_runtime_alone(venv_box):
    """The first command installs alliance-sim without extras (no test tools, no numba, no dask),
    with the pinned versions, and records that no extra is installed."""
    repo, env, _, calls = venv_box
    r = _alliance(repo, env, "compare", "a.toml", "b.toml")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("alliance-sim compare a.toml b.toml |")
    install = [c for c in calls() if " -e " in c]
    assert len(install) == 1 and install[0].endswith(f"-c {repo / 'constraints.txt'} -e {repo}"), calls()
    assert _installed(repo) == ""
    assert f"installing alliance-sim into {repo / '.venv'}" in r.stderr


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (["sensitivity", "s.toml"], "explore"),
        (["discover", "results/x"], "explore"),
        (["levers", "p.toml", "--owner", "NATO"], "levers"),
        (["optimize", "p.toml"], "levers"),
        (["app"], "app"),
        (["run", "s.toml", "--engine", "numba"], "fast"),
        (["compare", "a", "b", "--engine=numba"], "fast"),
        (["run", "s.toml", "--scheduler", "local"], "dask"),
        (["test", "-q"], "test"),
    ],
)
def test_a_command_adds_the_extra_it_needs_once(venv_box, args, extra):
    """A command that needs an extra adds it alone, on first use, with one line saying so: pip is
    asked for ``alliance-sim[extra]`` against the pins (the installed package is not rebuilt, pip
    itself not upgraded); the record then lists it and the next call installs nothing."""
    repo, env, stamp, calls = venv_box
    stamp("")
    r = _alliance(repo, env, *args)
    assert r.returncode == 0, r.stderr
    assert calls()[0] == (
        "-m pip install -qq --no-compile --disable-pip-version-check "
        f"-c {repo / 'constraints.txt'} alliance-sim[{extra}]"
    )
    said = [line for line in r.stderr.splitlines() if line.startswith("alliance:")]
    assert len(said) == 1 and said[0].startswith(f"alliance: adding alliance-sim[{extra}] to"), r.stderr
    assert _installed(repo) == extra
    before = len(calls())
    r = _alliance(repo, env, *args)
    assert r.returncode == 0 and "alliance:" not in r.stderr
    assert [c for c in calls()[before:] if "-m pip" in c] == []


def test_help_needs_no_extra(venv_box):
    """`--help` of a command that needs an extra installs nothing."""
    repo, env, stamp, calls = venv_box
    stamp("")
    for args in (["sensitivity", "--help"], ["run", "--engine", "numba", "-h"]):
        r = _alliance(repo, env, *args)
        assert r.returncode == 0, r.stderr
    assert calls() == []


def test_extras_accumulate_and_a_reinstall_keeps_them(venv_box):
    """Extras added one by one add up in the record (ALLIANCE_EXTRAS asks for more up front), and a
    changed pyproject.toml reinstalls every one of them at once."""
    repo, env, stamp, calls = venv_box
    stamp("fast")
    r = _alliance(repo, env | {"ALLIANCE_EXTRAS": "app, dask"}, "sensitivity", "s.toml")
    assert r.returncode == 0, r.stderr
    assert calls()[-1].endswith("alliance-sim[app,dask,explore]")
    assert _installed(repo) == "app,dask,explore,fast"
    with (repo / "pyproject.toml").open("a") as f:
        f.write("# changed\n")
    r = _alliance(repo, env, "list")
    assert r.returncode == 0, r.stderr
    assert calls()[-2].endswith("--upgrade pip")
    assert calls()[-1].endswith(f"-e {repo}[app,dask,explore,fast]")
    assert _installed(repo) == "app,dask,explore,fast"


def test_unknown_extra_is_one_line_and_installs_nothing(venv_box):
    """A misspelt extra (ALLIANCE_EXTRAS or `./alliance install`) exits 2 naming it and the extras
    pyproject.toml declares."""
    repo, env, stamp, calls = venv_box
    stamp("")
    for extra_env, args in (({"ALLIANCE_EXTRAS": "fsat"}, ["list"]), ({}, ["install", "fsat"])):
        r = _alliance(repo, env | extra_env, *args)
        assert r.returncode == 2
        assert r.stderr.strip().count("\n") == 0
        assert "no extra named fsat" in r.stderr and "explore" in r.stderr and "fast" in r.stderr
    assert calls() == []


def test_install_adds_extras_and_says_what_is_installed(venv_box):
    repo, env, stamp, calls = venv_box
    stamp("test")
    r = _alliance(repo, env, "install", "fast,levers")
    assert r.returncode == 0, r.stderr
    assert calls()[-1].endswith("alliance-sim[fast,levers]")
    assert r.stderr.strip().endswith(f"{repo / '.venv'} has alliance-sim[fast,levers,test]")
    assert "alliance-sim" not in r.stdout  # installing is all it does


def test_the_program_is_told_the_command_the_user_typed(venv_box):
    """`./alliance` passes the command as typed (ALLIANCE_LAUNCHER) so that the program's
    suggestions name it rather than `alliance-sim`, which is not on the user's PATH."""
    repo, env, stamp, _ = venv_box
    stamp("")
    r = _alliance(repo, env, "new", "x", script="./alliance")
    assert r.returncode == 0, r.stderr
    assert "| launcher=./alliance |" in r.stdout
    r = _alliance(repo, env, "list")
    assert f"| launcher={repo / 'alliance'} |" in r.stdout


def test_bytecode_goes_to_the_venv_where_python_is_told_not_to_write_it(venv_box):
    """With PYTHONDONTWRITEBYTECODE set (and the venv installed without bytecode), the program runs
    with its bytecode kept in ``.venv/pycache`` instead of compiling each library on every
    command; without it, or with a prefix the user chose, Python's own settings are left as
    they are."""
    repo, env, stamp, _ = venv_box
    stamp("")
    r = _alliance(repo, env | {"PYTHONDONTWRITEBYTECODE": "1"}, "list")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().endswith(f"| bytecode=unset:{repo / '.venv/pycache'}")
    r = _alliance(repo, env, "list")
    assert r.stdout.strip().endswith("| bytecode=unset:unset")
    r = _alliance(repo, env | {"PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": "/elsewhere"}, "list")
    assert r.stdout.strip().endswith("| bytecode=1:/elsewhere")


def test_lab_opens_jupyterlab_on_the_notebooks(venv_box):
    """`./alliance lab` adds the lab extra on first use and starts JupyterLab on the repository
    with its file browser on notebooks/, passing its own arguments through."""
    repo, env, stamp, calls = venv_box
    stamp("")
    r = _alliance(repo, env, "lab", "--no-browser")
    assert r.returncode == 0, r.stderr
    assert calls()[-1].endswith("alliance-sim[lab]")
    assert r.stdout.startswith(
        f"jupyter lab --ServerApp.root_dir={repo} --LabApp.default_url=/lab/tree/notebooks --no-browser |"
    )
    assert f"cwd={repo}" in r.stdout


def test_notebooks_command_runs_each_notebook_in_its_own_folder(venv_box, tmp_path):
    """`./alliance notebooks FILE` executes the notebook with the notebook's folder as working
    directory, as Jupyter does, and stores its outputs in the file."""
    pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    import nbformat

    repo, env, stamp, _ = venv_box
    stamp("test")
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    path = folder / "probe.ipynb"
    nbformat.write(
        nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("import os; print(os.getcwd())")]), path
    )
    r = subprocess.run(
        [shutil.which("bash"), str(repo / "alliance"), "notebooks", str(path)],
        env=env | {"PATH": os.environ["PATH"]},
        cwd=repo,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == 0, r.stderr
    outputs = nbformat.read(path, as_version=4).cells[0].outputs
    assert Path(outputs[0]["text"].strip()) == folder
