"""Values set on top of a scenario (``--set PATH=VALUE``, ``Scenario.with_values``) and the code a
result records: validated like the file, refused in one line, recorded in the manifest, shown by
``show`` and ``diff``."""

from __future__ import annotations

import json
import subprocess

import pytest

from sim.cli import main
from sim.run.provenance import code_provenance, describe, git_dir, read_commit, sources_digest
from sim.spec.scenario import ScenarioError, load_scenario
from sim.spec.set_values import SetError, assignment_text, parse_assignment
from tests.conftest import ROOT

SCENARIO = ROOT / "scenarios" / "status_quo.toml"
POLICY = ROOT / "scenarios" / "policy.toml"


def test_with_values_sets_validates_and_records():
    base = load_scenario(SCENARIO)
    s = base.with_values(
        {"mechanisms.pressure": 0.05, "mechanisms.noise": {"dist": "uniform", "low": 0.01, "high": 0.02}}
    )
    assert s.mechanisms.pressure == 0.05
    assert s.mechanisms.noise.support() == (0.01, 0.02)
    assert list(s.overrides) == ["mechanisms.pressure", "mechanisms.noise"]
    assert s.digest() != base.digest()  # a run records that the values did not come from the file
    assert (
        load_scenario(SCENARIO, values={"mechanisms.pressure": 0.05}).digest()
        == base.with_values({"mechanisms.pressure": 0.05}).digest()
    )
    with pytest.raises(SetError) as e:
        base.with_values({"mechanisms.pressure": -1})
    assert e.value.one_line().startswith("with_values mechanisms.pressure: expected")


def test_assignment_text_reads_back():
    for text in ("mechanisms.pressure=0.05", 'mechanisms.noise={dist="uniform",low=0.01,high=0.02}'):
        path, value = parse_assignment(text)
        assert parse_assignment(assignment_text(path, value)) == (path, value)
    with pytest.raises(ValueError, match="expected PATH=VALUE"):
        parse_assignment("mechanisms.pressure")


def test_a_file_cannot_carry_the_overrides_table(tmp_path):
    f = tmp_path / "s.toml"
    f.write_text(
        'extends = "alliance-sim:scenarios/status_quo.toml"\n[overrides]\n"mechanisms.pressure" = 0.1\n'
    )
    with pytest.raises(ScenarioError, match="records the values set with --set"):
        load_scenario(f)


BAD = ["--set", "mechanisms.pressure=-1"]


@pytest.mark.parametrize(
    "argv",
    [
        ["run", "status_quo", *BAD],
        ["compare", "status_quo", "back_to_back", *BAD],
        ["sweep", "status_quo", "mechanisms.noise", "--values", "0,0.1", *BAD],
        ["levers", "policy", *BAD],
        ["calibrate", "status_quo", "--observations", "observations/record.toml", *BAD],
        ["show", "status_quo", "--set", "mechanisms.presure=1"],
        ["run", "status_quo", "--set", "mechanisms.pressure=abc"],
        ["run", "status_quo", "--set", 'mechanisms.pressure={dist="uniform",low=0.2,high=0.1}'],
    ],
    ids=["run", "compare", "sweep", "levers", "calibrate", "unknown-path", "not-a-number", "bad-dist"],
)
def test_a_bad_set_gets_one_line_naming_the_path(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    try:  # a value argparse cannot read ends in the parser, the others in the command
        code = main([*argv, "--out", str(tmp_path / "o")] if argv[0] != "show" else argv)
    except SystemExit as e:
        code = e.code
    assert code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "mechanisms.pres" in err and ("expected" in err or "did you mean mechanisms.pressure" in err), err
    assert not (tmp_path / "o").exists()  # nothing was written


def test_set_is_recorded_in_the_manifest_and_shown(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    out = tmp_path / "r"
    argv = ["run", "status_quo", "-n", "40", "-t", "4", "--no-progress", "--no-report", "--out", str(out)]
    assert main([*argv, "--set", "mechanisms.pressure=0.05", "--set", "mechanisms.noise=0.02"]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["scenario"]["overrides"] == {"mechanisms.pressure": 0.05, "mechanisms.noise": 0.02}
    assert manifest["scenario"]["mechanisms"]["pressure"] == 0.05
    assert manifest["code"]["sources_sha256"] == sources_digest()
    capsys.readouterr()
    assert main(["show", str(out), "--wide"]) == 0
    shown = capsys.readouterr().out
    assert "--set mechanisms.pressure=0.05, --set mechanisms.noise=0.02" in shown
    assert f"sim/ sources (SHA-256): {sources_digest()}" in shown
    assert "seal and checksums checked" in shown
    row = next(line for line in shown.splitlines() if line.lstrip().startswith("mechanisms.pressure"))
    assert "=" in row.split()[1:3] and "set on the command line" in row
    # diff: the folder against its file names the values set, marked on B
    assert main(["diff", "status_quo", str(out), "--wide"]) == 0
    diff = capsys.readouterr().out
    assert "0.05 (--set)" in diff and "0.02 (--set)" in diff
    # same command, same seed, same bytes; a different value, a different hash
    again = tmp_path / "again"
    assert (
        main([*argv[:-1], str(again), "--set", "mechanisms.pressure=0.05", "--set", "mechanisms.noise=0.02"])
        == 0
    )
    assert (again / "replicates.parquet").read_bytes() == (out / "replicates.parquet").read_bytes()


def test_provenance_reads_a_worktree_and_packed_refs(tmp_path):
    common = tmp_path / "repo.git"
    (common / "worktrees" / "wt").mkdir(parents=True)
    sha = "ab" * 20
    (common / "packed-refs").write_text(f"# pack-refs\n{sha} refs/heads/topic\n")
    wt = common / "worktrees" / "wt"
    (wt / "HEAD").write_text("ref: refs/heads/topic\n")
    (wt / "commondir").write_text("../..\n")
    checkout = tmp_path / "checkout"
    checkout.mkdir()
    (checkout / ".git").write_text(f"gitdir: {wt}\n")
    assert git_dir(checkout) == wt.resolve()
    assert read_commit(wt) == (sha, "topic")
    assert git_dir(tmp_path) is None
    rows = dict(
        describe(
            {"version": "1", "sources_sha256": "x", "git": {"commit": sha, "branch": "topic", "dirty": True}}
        )
    )
    assert rows["git commit"] == f"{sha} on topic, tree with uncommitted changes"
    assert describe(None)[0][1].startswith("not recorded")


def test_provenance_of_this_checkout_matches_git():
    record = code_provenance()
    assert len(record["sources_sha256"]) == 64
    if (ROOT / ".git").exists():
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
        if head.returncode == 0:
            assert record["git"]["commit"] == head.stdout.strip()


def test_suggestions_name_the_launcher_the_user_typed(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("ALLIANCE_LAUNCHER", "./alliance")
    assert main(["show", "status_quo", "--set", "zzz=1"]) == 2
    assert "./alliance show SCENARIO lists every parameter path" in capsys.readouterr().err
