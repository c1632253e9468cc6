"""The command line: run, validate, show, list, and how bad input is reported."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from sim.cli import main
from tests.conftest import DATA, ROOT


def run_cli(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *map(str, args)], capture_output=True, text=True, cwd=cwd or ROOT
    )


def test_run_writes_parquet_and_summary(tmp_path, capsys):
    out = tmp_path / "res"
    code = main(
        [
            "run",
            str(DATA / "all_mechanisms.toml"),
            "-n",
            "50",
            "-t",
            "20",
            "--seed",
            "7",
            "--out",
            str(out),
            "--no-progress",
            "--no-report",
        ]
    )
    assert code == 0
    text = capsys.readouterr().out
    assert "alliance ab" in text and "holds" in text and "95% interval" in text
    df = pd.read_parquet(out / "replicates.parquet")
    assert len(df) == 50
    assert df["replicate"].tolist() == list(range(50))
    assert set(df["ab.fate"]) <= {"holds", "stab_in_the_back", "drift_apart"}
    assert "param:actors.B.capability" in df.columns
    assert df["ab.end_step"].max() <= 20
    ended = df["ab.fate"] != "holds"
    assert (df.loc[ended, "ab.defector"] != "").all() and (df.loc[~ended, "ab.defector"] == "").all()
    assert (out / "manifest.json").exists()


def test_same_seed_same_bytes(tmp_path):
    outs = []
    for name in ("a", "b"):
        out = tmp_path / name
        assert (
            main(
                [
                    "run",
                    str(DATA / "all_mechanisms.toml"),
                    "-n",
                    "40",
                    "-t",
                    "15",
                    "--seed",
                    "3",
                    "--out",
                    str(out),
                    "--no-progress",
                    "--no-report",
                ]
            )
            == 0
        )
        outs.append(out)
    for f in ("replicates.parquet", "summary.npz", "manifest.json"):
        assert (outs[0] / f).read_bytes() == (outs[1] / f).read_bytes(), f
    other = tmp_path / "c"
    main(
        [
            "run",
            str(DATA / "all_mechanisms.toml"),
            "-n",
            "40",
            "-t",
            "15",
            "--seed",
            "4",
            "--out",
            str(other),
            "--no-progress",
            "--no-report",
        ]
    )
    assert (other / "replicates.parquet").read_bytes() != (outs[0] / "replicates.parquet").read_bytes()


def test_refuses_to_overwrite_other_results(tmp_path, capsys):
    out = tmp_path / "res"
    args = [
        "run",
        str(DATA / "all_mechanisms.toml"),
        "-n",
        "10",
        "-t",
        "5",
        "--out",
        str(out),
        "--no-progress",
        "--no-report",
    ]
    assert main(args) == 0
    capsys.readouterr()
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "already holds results" in err and err.count("\n") == 1
    assert main([*args, "--force"]) == 0


@pytest.mark.parametrize(
    "content,expected",
    [
        ("[actors.A\n", "invalid TOML"),
        (
            "[actors.A]\ncapability = 1\n[actors.B]\ncapability = 1\n"
            '[[ties]]\nfrom = "A"\nto = "Q"\nvalue = 0.1\n',
            "unknown actor 'Q'",
        ),
        ("[actors.A]\ncapability = nan\n[actors.B]\ncapability = 1\n", "finite"),
        (
            "[actors.A]\ncapability = 1\n[actors.B]\ncapability = 1\n[run]\nsteps = -3\n",
            "expected a number > 0",
        ),
        ("[actors.A]\ncapability = 1\ncolour = 2\n[actors.B]\ncapability = 1\n", "unknown key 'colour'"),
    ],
)
def test_bad_input_exit_2_one_line_no_traceback(tmp_path, content, expected):
    bad = tmp_path / "bad.toml"
    bad.write_text(content)
    for command in (["validate", bad], ["run", bad, "--out", tmp_path / "o", "--no-progress"]):
        proc = run_cli(*command)
        assert proc.returncode == 2, proc.stderr
        assert "Traceback" not in proc.stderr
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and str(bad) in lines[0] and expected in lines[0]
    assert not (tmp_path / "o").exists()


def test_bad_options_exit_2():
    proc = run_cli("run", DATA / "all_mechanisms.toml", "--replicates", "0")
    assert proc.returncode == 2 and "positive integer" in proc.stderr


def test_validate_show_list(capsys):
    assert main(["validate", str(ROOT / "scenarios" / "back_to_back.toml")]) == 0
    assert main(["show", str(ROOT / "scenarios" / "back_to_back.toml")]) == 0
    out = capsys.readouterr().out
    assert "actors.China.capability" in out and "pressure.China" in out
    assert main(["list", str(ROOT / "scenarios")]) == 0
    out = capsys.readouterr().out
    assert "back_to_back" in out and "stab_in_the_back" in out


def test_console_script_help():
    proc = run_cli("--help")
    assert proc.returncode == 0 and "run" in proc.stdout and "compare" in proc.stdout


def test_an_interrupt_while_the_command_line_loads_is_one_line(monkeypatch, capsys):
    """Ctrl-C before the command's own handling begins (parsing, the imports it starts with) is
    answered like any other interrupt: one line, exit code 130, no traceback."""
    from sim.cli import options

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(options.Parser, "parse_args", interrupted)
    assert main(["validate", str(ROOT / "scenarios" / "back_to_back.toml")]) == 130
    assert capsys.readouterr().err == "alliance-sim: interrupted\n"


def test_the_console_script_answers_an_interrupt_while_it_loads_the_command_line():
    """The ``alliance-sim`` script (``sim.launch``) loads the command line inside its own
    handling, so an interrupt then is one line and 130 too."""
    code = (
        "import builtins, sys\n"
        "real = builtins.__import__\n"
        "def imports(name, *args, **kwargs):\n"
        "    if name == 'sim.cli':\n"
        "        raise KeyboardInterrupt\n"
        "    return real(name, *args, **kwargs)\n"
        "builtins.__import__ = imports\n"
        "from sim.launch import main\n"
        "sys.exit(main())\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (130, "alliance-sim: interrupted\n")


def test_landscape_prints_the_1907_blocs(capsys):
    """`alliance-sim landscape` on the balanced 1907 pattern (Antal et al. 2006) finds the
    Triple Entente against the Triple Alliance as the only minimum."""
    assert main(["landscape", str(DATA / "wwi_1907.toml")]) == 0
    out = capsys.readouterr().out
    assert "1 local minima" in out
    assert "bloc 1: Britain, France, Russia" in out
    assert "bloc 2: Germany, AustriaHungary, Italy" in out


def test_the_command_kills_its_idle_workers_instead_of_waiting_for_them_to_end(tmp_path):
    """At the end of a command its warm pool's workers, idle, are killed (SIGKILL): asked to end,
    each tore its interpreter down first while the command waited."""
    code = (
        "import signal, sys\n"
        "from sim.run import executors\n"
        "pools = []\n"
        "start = executors.WarmPool.__init__\n"
        "def init(self, *a, **k):\n"
        "    start(self, *a, **k)\n"
        "    pools.append(list(self._processes.values()))\n"
        "executors.WarmPool.__init__ = init\n"
        "import sim.cli\n"
        "sys.argv = ['alliance-sim', 'run', 'scenarios/status_quo.toml', '-n', '64', '-t', '3', '-j', '2',"
        f" '--chunk-size', '16', '--no-progress', '--no-report', '--out', {str(tmp_path / 'r')!r}]\n"
        "status = sim.cli.main()\n"
        "codes = [p.exitcode for p in pools[0]]\n"
        "print(status, len(codes), all(c == -signal.SIGKILL for c in codes))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[-3:] == ["0", "2", "True"], done.stdout
