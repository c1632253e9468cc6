"""Security: a scenario file is data only, its strings never become markup or paths, and the Dask
executor connects only where it is told.

- No code execution path: the source never evaluates, unpickles or imports anything it reads
  (checked on the syntax tree of every module), every ``np.load`` passes ``allow_pickle=False``,
  and code-like strings in a scenario stay inert strings through a run and its report.
- Every string from a scenario is escaped in the report; figures are PNG (no SVG to inject into);
  the Solara app shows scenario strings as text (tests/test_app.py renders it; here its source).
- Output paths: report figures, chunk files and the per-scenario folders of ``compare`` stay inside
  the chosen output directory whatever the names hold; ``--force`` deletes only what a run wrote.
- ``--scheduler``: the address's form is checked, a dead address fails fast in one line, and there
  is no fallback to another cluster.
"""

from __future__ import annotations

import ast
import socket
import subprocess
import sys
import threading
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sim import cli
from sim.cli import main
from sim.present.report import write_report
from sim.run.ensemble import run_ensemble
from sim.run.store import safe_name
from sim.spec.scenario import load_scenario
from tests.conftest import DATA, ROOT

SIM = ROOT / "sim"
SOURCES = sorted(SIM.rglob("*.py"))

CODE = "__import__('os').system('touch PWNED')"
EVIL_ACTOR = "<script>alert(1)</script>"
EVIL_ALLIANCE = '"><img src=x onerror=alert(2)>'
EVIL_TITLE = "</title><svg onload=alert(3)>{{7*7}} ${HOME} $(touch PWNED2) %s {0.__class__}"


def _calls(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            yield node, ast.unparse(node.func)


# --------------------------------------------------------------------------------------------
# Data only
# --------------------------------------------------------------------------------------------

FORBIDDEN = {
    "eval",
    "exec",
    "compile",
    "__import__",
    "pickle.load",
    "pickle.loads",
    "marshal.load",
    "marshal.loads",
    "shelve.open",
    "yaml.load",
    "yaml.unsafe_load",
    "pd.read_pickle",
    "pandas.read_pickle",
    "dill.load",
    "dill.loads",
    "cloudpickle.loads",
    "os.system",
    "os.popen",
    "runpy.run_path",
    "runpy.run_module",
}


@pytest.mark.parametrize("source", SOURCES, ids=[str(p.relative_to(SIM)) for p in SOURCES])
def test_source_has_no_code_execution_path(source):
    tree = ast.parse(source.read_text(), filename=str(source))
    for call, name in _calls(tree):
        where = f"{source.name}:{call.lineno}: {name}"
        assert name not in FORBIDDEN, where
        if name in ("np.load", "numpy.load"):
            flags = {k.arg: k.value for k in call.keywords}
            assert (
                "allow_pickle" in flags
                and isinstance(flags["allow_pickle"], ast.Constant)
                and flags["allow_pickle"].value is False
            ), f"{where} without allow_pickle=False"
        if name in ("importlib.import_module", "import_module"):
            assert all(isinstance(a, ast.Constant) for a in call.args), f"{where} imports a computed name"
        if name.startswith("subprocess.") or name in ("Popen", "run"):
            shell = [k for k in call.keywords if k.arg == "shell"]
            assert not shell or (
                isinstance(shell[0].value, ast.Constant) and shell[0].value.value is False
            ), f"{where} uses a shell"


def test_the_checker_finds_what_it_looks_for(tmp_path):
    """The syntax-tree check above is not vacuous: it flags each kind of offence."""
    bad = tmp_path / "bad.py"
    for text in (
        "eval(x)",
        "import pickle\npickle.loads(b)",
        "np.load(p)",
        "np.load(p, allow_pickle=True)",
        "importlib.import_module(name)",
        "subprocess.run(cmd, shell=True)",
    ):
        bad.write_text(text + "\n")
        with pytest.raises(AssertionError):
            test_source_has_no_code_execution_path(bad)


def test_scenario_files_are_parsed_as_toml_only():
    """The one reader of scenario text is tomllib (no other parser, nothing evaluated)."""
    tree = ast.parse((SIM / "spec" / "scenario.py").read_text())
    readers = {name for _, name in _calls(tree) if name.split(".")[-1] in ("loads", "load")}
    assert readers == {"tomllib.loads"}


def test_code_like_strings_stay_strings(write, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = write(
        f'''
        title = "{CODE}"
        description = "{EVIL_TITLE}"
        [run]
        steps = 6
        replicates = 20
        unit = "{CODE}"
        [actors."{CODE}"]
        capability = 0.5
        label = "{CODE}"
        [actors.B]
        capability = 0.5
        [alliances.pact]
        members = ["{CODE}", "B"]
        label = "{CODE}"
        h0 = 0.2
    ''',
        "code.toml",
    )
    scenario = load_scenario(path)
    assert scenario.title == CODE and scenario.actor_names[0] == CODE
    results = run_ensemble(path, out=tmp_path / "run", progress=False)
    write_report([results], tmp_path / "run" / "report.html")
    assert main(["show", str(path)]) == 0
    assert not (tmp_path / "PWNED").exists() and not (tmp_path / "PWNED2").exists()
    assert not (ROOT / "PWNED").exists()
    with pytest.raises(Exception, match="unknown distribution"):
        load_scenario(
            write(
                "[actors.A]\ncapability = {dist = \"__import__('os')\", low = 0, "
                "high = 1}\n[actors.B]\ncapability = 1\n",
                "dist.toml",
            )
        )


# --------------------------------------------------------------------------------------------
# Escaping: HTML, figures, the app
# --------------------------------------------------------------------------------------------


class Elements(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.attrs = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += [name for name, _ in attrs]


@pytest.fixture
def evil_run(write, tmp_path):
    path = write(
        f'''
        title = "{EVIL_TITLE}"
        focal = '{EVIL_ALLIANCE}'
        [run]
        steps = 8
        replicates = 40
        unit = "<b>month</b>"
        [actors."{EVIL_ACTOR}"]
        capability = 0.5
        label = "<i>x</i>"
        [actors.B]
        capability = 0.3
        [actors."../../../etc"]
        capability = 0.2
        [[ties]]
        from = "{EVIL_ACTOR}"
        to = "B"
        value = 0.5
        symmetric = true
        [alliances.'{EVIL_ALLIANCE}']
        members = ["{EVIL_ACTOR}", "B", "../../../etc"]
        h0 = 0.2
    ''',
        "evil<name>.toml",
    )
    out = tmp_path / "out"
    results = run_ensemble(path, out=out / "run", progress=False, name="../../" + "x" * 300)
    return results, out


def test_report_escapes_every_scenario_string_and_writes_no_svg(evil_run):
    results, out = evil_run
    page = write_report([results], out / "report.html")
    html = page.read_text()
    parser = Elements()
    parser.feed(html)
    assert "script" not in parser.tags and "svg" not in parser.tags
    assert not any(a.startswith("on") for a in parser.attrs), "an event-handler attribute"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    files = [p for p in out.rglob("*") if p.is_file()]
    assert not [p for p in files if p.suffix.lower() in (".svg", ".svgz", ".js")]
    for png in (p for p in files if p.suffix == ".png"):
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_app_shows_scenario_strings_as_text_only():
    app = SIM / "app.py"
    if not app.exists():
        pytest.skip("sim/app.py is not there yet")
    tree = ast.parse(app.read_text())
    markup = {
        "solara.Markdown",
        "solara.HTML",
        "Markdown",
        "HTML",
        "widgets.HTML",
        "ipywidgets.HTML",
        "v.Html",
        "solara.display",
    }
    for call, name in _calls(tree):
        if name in markup:
            assert all(isinstance(a, ast.Constant) for a in call.args) and all(
                isinstance(k.value, ast.Constant) for k in call.keywords
            ), f"app.py:{call.lineno}: {name} with a computed string"
    assert "unsafe_innerHTML" not in app.read_text()


# --------------------------------------------------------------------------------------------
# Output paths
# --------------------------------------------------------------------------------------------


def _inside(root: Path, paths) -> None:
    root = root.resolve()
    for p in paths:
        assert p.resolve().is_relative_to(root), p


def test_report_and_chunk_files_stay_inside_the_output_directory(evil_run, tmp_path):
    results, out = evil_run
    write_report([results], out / "report.html")
    everything = list(tmp_path.rglob("*"))
    _inside(out, [p for p in everything if p.is_relative_to(out)])
    outside = {p.relative_to(tmp_path).parts[0] for p in everything if not p.is_relative_to(out)}
    assert outside == {"evil<name>.toml"}  # the scenario itself, nothing written beside it
    for figure in (out / "report_figures").iterdir():
        assert len(figure.name) < 120 and "/" not in figure.name and "\0" not in figure.name


@pytest.mark.parametrize(
    "name,expected",
    [
        ("..", "scenario"),
        (".", "scenario"),
        ("...", "scenario"),
        ("", "scenario"),
        ("../../etc/passwd", "etc_passwd"),
        ("/abs/path", "abs_path"),
        ("a\x00b", "a_b"),
        ("x" * 500, "x" * 80),
        (".hidden", "hidden"),
        ("ok-name_1.v2", "ok-name_1.v2"),
        ("a..b", "a.b"),
        ("C:\\win", "C_win"),
        ("中文", "scenario"),
    ],
)
def test_safe_name(name, expected):
    assert safe_name(name) == expected


def test_compare_folders_stay_inside_out_and_do_not_collide(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    text = (DATA / "all_mechanisms.toml").read_text()
    files = []
    for rel in ("...toml", "a/x.toml", "b/x.toml", "c/../ d&$(id).toml"):
        f = tmp_path / "in" / rel
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
        files.append(f)
    (tmp_path / "keep.txt").write_text("a file of the user's")
    out = tmp_path / "cmp"
    assert (
        main(
            [
                "compare",
                *map(str, files),
                "-n",
                "20",
                "-t",
                "4",
                "--out",
                str(out),
                "--no-progress",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    folders = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name != "report_figures")
    assert folders == ["d_id", "scenario", "x", "x-2"]  # '...' -> scenario; two x.toml kept apart
    for folder in folders:
        assert (out / folder / "manifest.json").exists()
    _inside(out, out.rglob("*"))
    assert (tmp_path / "keep.txt").exists() and not (tmp_path / "manifest.json").exists()
    assert not (tmp_path / "in" / "manifest.json").exists()


def test_run_default_folder_of_a_dotted_file_name_stays_under_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    scenario = tmp_path / "...toml"
    scenario.write_text((DATA / "all_mechanisms.toml").read_text())
    assert (
        main(
            [
                "run",
                str(scenario),
                "-n",
                "10",
                "-t",
                "3",
                "--no-progress",
                "--no-report",
                "--force",
                "--workers",
                "1",
            ]
        )
        == 0
    )
    assert (tmp_path / "results" / "scenario" / "manifest.json").exists()
    assert not (tmp_path / "manifest.json").exists()
    assert not (tmp_path / "results" / "manifest.json").exists()


def test_force_deletes_only_what_a_run_wrote(tmp_path):
    out = tmp_path / "res"
    args = [
        "run",
        str(DATA / "all_mechanisms.toml"),
        "-n",
        "10",
        "-t",
        "3",
        "--out",
        str(out),
        "--no-progress",
        "--workers",
        "1",
    ]
    assert main(args) == 0
    (out / "notes.txt").write_text("mine")
    (out / "analysis").mkdir()
    assert main([*args, "--force", "--seed", "9"]) == 0
    assert (out / "notes.txt").read_text() == "mine" and (out / "analysis").is_dir()
    assert (out / "report.html").exists()


def test_discovery_files_stay_inside_their_folder(tmp_path, write):
    discovery = pytest.importorskip("sim.analysis.discovery")
    from sim.present.exploration import write_discovery

    pytest.importorskip("ema_workbench", reason="PRIM needs the explore extra")
    path = write(
        """
        [run]
        steps = 30
        replicates = 400
        [mechanisms]
        noise = 0.2
        [actors."../../escaped"]
        capability = 0.5
        [actors.B]
        capability = {dist = "uniform", low = 0.2, high = 0.8}
        [alliances.pact]
        members = ["../../escaped", "B"]
        h0 = {dist = "uniform", low = 0.0, high = 0.2}
        theta_trust = -1
    """,
        "disc.toml",
    )
    results = run_ensemble(path, out=tmp_path / "run", progress=False)
    # The outcome of a stab by one actor carries the actor's name ("stab_in_the_back by NAME").
    found = discovery.discover(results, "stab_in_the_back by ../../escaped")
    out = tmp_path / "deep" / "er" / "disc"
    paths = write_discovery(found, out)
    _inside(out, paths.values())
    _inside(out, [p for p in tmp_path.rglob("*") if p.suffix in (".csv", ".html")])


# --------------------------------------------------------------------------------------------
# --scheduler
# --------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize(
    "address",
    [
        "",
        "localhost",
        "tcp://",
        "127.0.0.1:99999",
        "127.0.0.1:0",
        "http://127.0.0.1:8786",
        "tcp://127.0.0.1:8786/x",
        "127.0.0.1:8786; rm -rf /",
        "$(id):8786",
        "file:///etc/passwd",
        "inproc://x",
        "tcp://[::1:8786",
        "-h:1",
    ],
)
def test_scheduler_address_form_is_checked_before_any_connection(address, monkeypatch):
    def connect(*args, **kwargs):
        raise AssertionError("connected to a malformed address")

    monkeypatch.setattr(socket, "create_connection", connect)
    with pytest.raises(cli.UsageError, match="expected 'local' or HOST:PORT"):
        cli.options.scheduler_address(address)


class _Listener:
    """A TCP listener on a free port that accepts connections and, when ``greeting`` is given,
    sends it on each (as a Dask scheduler sends its handshake); otherwise it never answers."""

    def __init__(self, greeting: bytes | None = None):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen()
        self.port = self.server.getsockname()[1]
        self.greeting = greeting
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            self.accepted.append(conn)
            if self.greeting is not None:
                conn.sendall(self.greeting)

    def close(self):
        self.server.close()
        for conn in self.accepted:
            conn.close()


def test_scheduler_address_is_used_as_given(monkeypatch):
    listener = _Listener(greeting=b"x")
    try:
        port = listener.port
        assert cli.options.scheduler_address(f"127.0.0.1:{port}") == f"tcp://127.0.0.1:{port}"
    finally:
        listener.close()


def _run_with_scheduler(tmp_path, address: str, *extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "sim.cli",
            "run",
            str(DATA / "all_mechanisms.toml"),
            "-n",
            "10",
            "-t",
            "3",
            "--scheduler",
            address,
            *extra,
            "--out",
            str(tmp_path / "o"),
            "--no-progress",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,  # a guard against a hang, not a measure of speed
    )


def test_dead_scheduler_fails_in_one_line_without_fallback(tmp_path):
    """Nothing listens: refused at once (the connection is refused), one line, no folder."""
    port = _free_port()  # nothing listens there
    proc = _run_with_scheduler(tmp_path, f"tcp://127.0.0.1:{port}")
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and f"cannot reach tcp://127.0.0.1:{port}" in lines[0], proc.stderr
    assert not (tmp_path / "o").exists() and proc.stdout == ""


@pytest.mark.parametrize("scheme", ["tcp", "tls"])
def test_a_scheduler_that_never_answers_is_given_up_after_the_timeout_asked_for(tmp_path, scheme):
    """A listener that accepts and stays silent (where Dask's own client would wait forever for
    its handshake): the run gives up after --scheduler-timeout, which the line names."""
    listener = _Listener()
    try:
        address = f"{scheme}://127.0.0.1:{listener.port}"
        proc = _run_with_scheduler(tmp_path, address, "--scheduler-timeout", "0.5")
    finally:
        listener.close()
    assert proc.returncode == 2, proc.stderr
    line = proc.stderr.strip()
    assert "\n" not in line and f"nothing answered at {address} within 0.5 s" in line, line
    assert not (tmp_path / "o").exists() and proc.stdout == ""


def test_an_empty_scheduler_is_refused_not_run_locally(capsys):
    assert cli.main(["run", str(DATA / "all_mechanisms.toml"), "--scheduler", "", "-n", "5"]) == 2
    assert "--scheduler: expected 'local' or HOST:PORT" in capsys.readouterr().err


def test_scheduler_that_is_not_dask_is_refused_not_replaced(monkeypatch):
    """Something listens but it is no Dask scheduler: the error names the address; no
    LocalCluster is started in its place."""
    distributed = pytest.importorskip("distributed")
    started = []
    monkeypatch.setattr(distributed, "LocalCluster", lambda *a, **k: started.append(a))

    def client(address, timeout=None):
        raise OSError(f"Timed out trying to connect to {address}")

    monkeypatch.setattr(distributed, "Client", client)
    listener = _Listener(greeting=b"not dask")
    try:
        port = listener.port
        args = cli.build_parser().parse_args(["run", "x.toml", "--scheduler", f"127.0.0.1:{port}"])
        with pytest.raises(cli.UsageError, match=f"answered at tcp://127.0.0.1:{port}"):
            cli.options.executor(args)
    finally:
        listener.close()
    assert started == []
