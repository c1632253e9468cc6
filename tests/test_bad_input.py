"""Bad input: every file of tests/data/bad/ through the real command line.

Each file breaks a scenario in one way (its first line says how). ``validate`` and ``run`` must
both refuse it with exit code 2 and exactly one line on stderr, ``alliance-sim: error: FILE:LINE:
FIELD: what was expected``, with no traceback, and ``run`` must not create its output directory.
"""

from __future__ import annotations

import concurrent.futures as cf
import os
import re
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest
from pydantic import ValidationError

from sim.run.footprint import MEMORY_BUDGET, footprint
from sim.spec.scenario import Scenario, load_scenario
from tests.conftest import DATA, ROOT

BAD = DATA / "bad"
CORPUS = sorted(BAD.glob("*.toml"))

# file stem -> (line, field path, start of the message) that the error line must carry.
EXPECTED = {
    "all_zero_salience": (30, "salience.B", "expected at least one positive salience, got"),
    "alliance_no_members": (40, "alliances.ab.members", "expected at least 2 items, got 0"),
    "alliance_one_member": (40, "alliances.ab.members", "expected at least 2 items, got 1"),
    "beta_zero_shape": (31, "salience.B.x", "expected a > 0 and b > 0, got a=0.0, b=2.0"),
    "binary_garbage": (2, None, "expected UTF-8 text, got byte 0x80"),
    "claims_outside_project": (3, "claims", "expected a path inside"),
    "coefficient_too_large": (9, "mechanisms.balance", "expected a number in [0, 1e+06], got 1e+07"),
    "comment_only": (None, "actors", "required but missing"),
    "distribution_missing_bound": (17, "actors.C.capability.high", "required but missing"),
    "distribution_outside_field": (31, "salience.B.x", "expected a distribution inside [0, 1], got"),
    "dt_too_large": (6, "run.dt", "expected a number <= 100.0, got 1000"),
    "dt_zero": (6, "run.dt", "expected a number > 0.0, got 0"),
    "duplicate_alliance_member": (40, "alliances.ab.members", "expected distinct members, got A"),
    "effect_missing_to": (44, "events.e.effects.0", "a 'tie' effect needs 'to'"),
    "effect_shift_and_set": (44, "events.e.effects.0", "expected exactly one of 'shift' or 'set'"),
    "effect_wrong_field": (44, "events.e.effects.0", "a 'position' effect takes no 'from' (it takes"),
    "empty_actor_name": (16, 'actors.""', "expected a name of 1 to 200 characters"),
    "empty_actor_table": (3, "actors", "expected at least 2 entries, got 0"),
    "empty_file": (1, None, "expected a scenario, got an empty file"),
    "event_after_horizon": (43, "events.late.at", "expected a step before the horizon (10), got 50"),
    "event_at_and_hazard": (41, "events.both", "expected exactly one of 'at' (a step) or"),
    "event_negative_step": (43, "events.early.at", "expected a number >= 0, got -1"),
    "event_without_effects": (44, "events.none.effects", "expected at least 1 item, got 0"),
    "extends_absolute_path": (2, "extends", "expected a path inside"),
    "extends_bad_parent": (17, None, "invalid TOML: Invalid value"),
    "extends_cycle_a": (2, "extends", "extends forms a cycle: extends_cycle_a.toml ->"),
    "extends_cycle_b": (2, "extends", "extends forms a cycle: extends_cycle_b.toml ->"),
    "extends_directory": (2, "extends", "expected a TOML file, got '.', which is not a"),
    "extends_escapes_root": (2, "extends", "expected a path inside"),
    "extends_missing_file": (2, "extends", "no such file 'no_such_parent.toml'"),
    "extends_not_a_string": (2, "extends", "expected a relative path string"),
    "extends_self": (2, "extends", "extends forms a cycle: extends_self.toml ->"),
    "extends_typo_over_valid_parent": (4, "mechanisms.afinity", "unknown key 'afinity'; did you mean"),
    "extends_unknown_actor_over_valid_parent": (3, "ties.4.to", "unknown actor 'E'"),
    "growth_out_of_range": (18, "actors.C.growth", "expected a number in [-0.5, 0.5], got 3"),
    "hazard_negative": (43, "events.shock.hazard", "expected a number in [0, 1000], got -0.1"),
    "huge_integer": (5, "run.steps", "expected a number <= 1000000, got a huge integer"),
    "inf_tie": (32, "ties.0.value", "expected a finite number, got inf"),
    "inverted_triangular": (32, "ties.0.value", "expected low <= mode <= high, got 0.1, 0.6, 0.5"),
    "inverted_uniform_bounds": (17, "actors.C.capability", "expected low <= high, got low=0.3, high=0.1"),
    "issue_inverted_scale": (18, "issues.x", "expected low < high, got low=10, high=0"),
    "issue_scale_too_wide": (7, "issues.x", "expected a scale inside [-1e9, 1e9], got"),
    "name_too_long": (16, "actors." + "C" * 40 + "...", "expected a name of 1 to 200"),
    "nan_capability": (17, "actors.C.capability", "expected a finite number, got nan"),
    "nan_in_distribution": (17, "actors.C.capability", "expected a finite number, got nan"),
    "nan_issue_scale": (18, "issues.x", "expected a finite number, got nan"),
    "negative_capability": (17, "actors.C.capability", "expected a number in [0, 1e+06], got -0.2"),
    "negative_coefficient": (10, "mechanisms.noise", "expected a number in [0, 1e+06], got -0.05"),
    "lever_empty_range": (41, "levers.push", "expected low < high (a lever needs a range to choose"),
    "lever_sets_uncertain_value": (50, "levers.court.effects.0", "expected a lever that sets a certain"),
    "lever_unknown_actor_in_effect": (47, "levers.push.effects.0.to", "unknown actor 'Q'"),
    "lever_unknown_owner": (43, "levers.push.owner", "unknown actor 'D'"),
    "metric_unknown_alliance": (44, "metrics.split.alliance", "unknown alliance 'ba'"),
    "correlation_not_psd": (42, "correlations", "expected rank correlations that can hold together"),
    "correlation_plain_number": (
        43,
        "correlations.mechanisms.balance ~ mechanisms.noise",
        "expected two uncertain values",
    ),
    "negative_salience": (31, "salience.B.x", "expected a number in [0, 1], got -0.5"),
    "nested_too_deep": (3, None, "expected a scenario, got arrays or tables"),
    "no_actors": (None, "actors", "required but missing"),
    "non_utf8_latin1": (2, None, "expected UTF-8 text, got byte 0xe0"),
    "normal_negative_sd": (32, "ties.0.value", "expected sd >= 0, got -0.1"),
    "one_actor": (3, "actors", "expected at least 2 entries, got 1"),
    "overflow_to_inf": (10, "mechanisms.noise", "expected a finite number, got inf"),
    "position_outside_scale": (26, "positions.B.x", "expected a number in [0, 10], got 12 (the scale"),
    "pressure_effect_with_set": (44, "events.e.effects.0", "a 'pressure' effect takes 'shift' only (it adds"),
    "pressure_schedule_duplicate_step": (43, "pressure.A", "expected strictly increasing steps, got [0, 4,"),
    "pressure_schedule_empty": (43, "pressure.A", "expected at least one [at, value] point"),
    "pressure_schedule_out_of_order": (43, "pressure.A", "expected strictly increasing steps, got [5, 2]"),
    "repeat_scheduled_event": (41, "events.e", "'repeat' applies to stochastic events (with"),
    "run_too_large_for_memory": (5, "run.steps", "expected a run that fits in 4.0 GB per worker,"),
    "salience_above_one": (31, "salience.B.x", "expected a number in [0, 1], got 1.2"),
    "seed_negative": (6, "run.seed", "expected a number >= 0, got -1"),
    "seed_too_large": (6, "run.seed", "expected a number < 9223372036854775808, got a"),
    "self_ambition_in_event": (44, "events.e.effects.0", "an actor cannot hold itself as a client ('A')"),
    "self_dependence": (43, "dependence.A.A", "expected another actor, got the actor itself"),
    "self_sphere": (43, "spheres.A.A", "expected another actor, got the actor itself"),
    "self_tie": (32, "ties.0", "expected two different actors, got a tie from"),
    "self_tie_in_event": (44, "events.e.effects.0", "expected two different actors, got 'A' twice"),
    "steps_zero": (5, "run.steps", "expected a number > 0, got 0"),
    "syntax_duplicate_key": (16, None, "invalid TOML: Cannot overwrite a value"),
    "syntax_duplicate_table": (42, None, "invalid TOML: Cannot declare ('actors', 'A')"),
    "syntax_inline_table_missing_comma": (17, None, "invalid TOML: Unclosed inline table"),
    "syntax_missing_value": (17, None, "invalid TOML: Invalid value"),
    "syntax_nul_in_string": (2, None, "invalid TOML: Illegal character '\\x00'"),
    "syntax_unclosed_table_header": (16, None, "invalid TOML: Expected ']' at the end of a"),
    "syntax_unterminated_string": (2, None, "invalid TOML: Illegal character '\\n'"),
    "theta_out_of_range": (41, "alliances.ab.theta_trust", "expected a number in [-1, 1], got 2"),
    "tie_matrix_wrong_shape": (3, "tie_matrix", "expected a 3x3 matrix in actor order"),
    "tie_out_of_range": (32, "ties.0.value", "expected a number in [-1, 1], got 1.5"),
    "too_many_actors": (3, "actors", "expected at most 200 entries, got 201"),
    "too_many_issues": (18, "issues", "expected at most 100 entries, got 102"),
    "too_many_replicates": (6, "run.replicates", "expected a number <= 100000000, got 1000000000"),
    "too_many_steps": (5, "run.steps", "expected a number <= 1000000, got 10000000"),
    "type_actors_array": (3, "actors", "expected a table, got an array of 3"),
    "type_capability_bool": (17, "actors.C.capability", "expected a number or a {dist = ...} table, got"),
    "type_capability_string": (17, "actors.C.capability", "expected a number or a {dist = ...} table, got"),
    "type_date_for_number": (32, "ties.0.value", "expected a number or a {dist = ...} table, got"),
    "type_members_string": (40, "alliances.ab.members", "expected an array, got 'A, B'"),
    "type_positions_number": (26, "positions.B", "expected a table, got 7"),
    "type_steps_float": (5, "run.steps", "expected a whole number, got 10.5"),
    "type_symmetric_string": (32, "ties.0.symmetric", "expected true or false, got 'yes'"),
    "type_ties_table": (32, "ties", "expected an array, got a table"),
    "unknown_actor_field": (17, "actors.C.capabilty", "unknown key 'capabilty'; did you mean"),
    "unknown_actor_in_alliance_members": (40, "alliances.ab.members.1", "unknown actor 'D'"),
    "unknown_actor_in_dependence_owner": (41, "dependence.D", "unknown actor 'D'"),
    "unknown_actor_in_dependence_target": (43, "dependence.A.D", "unknown actor 'D'"),
    "unknown_actor_in_event_actor": (44, "events.shock.effects.0.actor", "unknown actor 'D'"),
    "unknown_actor_in_event_from": (44, "events.shock.effects.0.from", "unknown actor 'D'"),
    "unknown_actor_in_event_target": (44, "events.shock.effects.0.target", "unknown actor 'D'"),
    "unknown_actor_in_event_to": (44, "events.shock.effects.0.to", "unknown actor 'D'"),
    "unknown_actor_in_positions": (41, "positions.D", "unknown actor 'D'"),
    "unknown_actor_in_pressure": (43, "pressure.D", "unknown actor 'D'"),
    "unknown_actor_in_salience": (41, "salience.D", "unknown actor 'D'"),
    "unknown_actor_in_spheres_client": (43, "spheres.A.D", "unknown actor 'D'"),
    "unknown_actor_in_spheres_owner": (41, "spheres.D", "unknown actor 'D'"),
    "unknown_actor_in_strategic_value": (43, "strategic_value.D", "unknown actor 'D'"),
    "unknown_actor_in_tie_from": (32, "ties.0.from", "unknown actor 'Z'"),
    "unknown_actor_in_tie_to": (32, "ties.0.to", "unknown actor 'Z'"),
    "unknown_alliance_field": (41, "alliances.ab.theta_stya", "unknown key 'theta_stya'; did you mean"),
    "unknown_distribution": (17, "actors.C.capability", "unknown distribution 'lognormal'"),
    "unknown_distribution_key": (17, "actors.C.capability.mean", "unknown key 'mean'"),
    "unknown_effect_kind": (44, "events.boom.effects.0.kind", "expected one of 'tie', 'position',"),
    "unknown_focal_alliance": (3, "focal", "unknown alliance 'ba'"),
    "unknown_issue_in_event": (44, "events.shock.effects.0.issue", "unknown issue 'y'"),
    "unknown_issue_in_positions": (27, "positions.B.taiwan", "unknown issue 'taiwan'"),
    "unknown_issue_in_salience": (32, "salience.B.y", "unknown issue 'y'"),
    "unknown_mechanism": (9, "mechanisms.balanse", "unknown key 'balanse'; did you mean 'balance'?"),
    "unknown_run_key": (5, "run.step", "unknown key 'step'; did you mean 'steps'?"),
    "unknown_tie_key": (32, "ties.0.weight", "unknown key 'weight'"),
    "unknown_top_level_key": (2, "titel", "unknown key 'titel'; did you mean 'title'?"),
    "utf16_encoded": (1, None, "expected UTF-8 text, got byte 0xff"),
    "whitespace_only": (1, None, "expected a scenario, got an empty file"),
}

# Errors reported in another file of an ``extends`` chain: (file named, text naming the entry file).
ELSEWHERE = {
    "extends_bad_parent": ("syntax_missing_value.toml", "extended by"),
    "extends_cycle_a": ("extends_cycle_b.toml", "extends_cycle_a.toml"),
    "extends_cycle_b": ("extends_cycle_a.toml", "extends_cycle_b.toml"),
}

LINE = re.compile(r"^alliance-sim: error: (?P<file>.+?\.toml)(?::(?P<line>\d+))?: (?P<rest>.+)$")


def cli(*args, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "sim.cli", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@cache
def _outcomes(out_root: str) -> dict[tuple[str, str], subprocess.CompletedProcess]:
    """Every corpus file through ``validate`` and ``run``, run side by side (each is a new
    interpreter, so they share nothing)."""
    jobs = {}
    with cf.ThreadPoolExecutor(max_workers=2 * (os.cpu_count() or 1)) as pool:
        for path in CORPUS:
            jobs[(path.stem, "validate")] = pool.submit(cli, "validate", path)
            jobs[(path.stem, "run")] = pool.submit(
                cli, "run", path, "--out", Path(out_root) / path.stem, "--no-progress"
            )
        return {key: job.result() for key, job in jobs.items()}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    root = tmp_path_factory.mktemp("bad-runs")
    return root, _outcomes(str(root))


def test_the_corpus_is_complete():
    """Every file has its expectation, and every expectation its file, and each file (that can
    hold text) says on its first line what it breaks."""
    assert len(CORPUS) >= 40
    assert {p.stem for p in CORPUS} == set(EXPECTED)
    for path in CORPUS:
        raw = path.read_bytes()
        if raw.strip() and path.stem not in ("utf16_encoded",):
            assert raw.startswith(b"# "), path.name


@pytest.mark.parametrize("path", CORPUS, ids=[p.stem for p in CORPUS])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_bad_file_exit_2_one_line(outcomes, path, command):
    root, results = outcomes
    proc = results[(path.stem, command)]
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    m = LINE.match(lines[0])
    assert m, lines[0]
    line, field, message = EXPECTED[path.stem]
    if path.stem in ELSEWHERE:
        named, mention = ELSEWHERE[path.stem]
        assert Path(m["file"]).name == named and mention in m["rest"], lines[0]
    else:
        assert m["file"] == str(path), lines[0]
    assert (int(m["line"]) if m["line"] else None) == line, lines[0]
    rest = m["rest"]
    if field is not None:
        assert rest.startswith(f"{field}: "), lines[0]
        rest = rest[len(field) + 2 :]
    assert rest.startswith(message), lines[0]
    if command == "run":
        assert not (root / path.stem).exists(), "run wrote output for a bad scenario"
        assert proc.stdout == ""


# --------------------------------------------------------------------------------------------
# Bad input that only a run can see, and files that are not files
# --------------------------------------------------------------------------------------------


def _one_line_exit_2(proc: subprocess.CompletedProcess) -> str:
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_trajectories_too_large_are_refused_before_anything_is_written(tmp_path):
    """replicates x steps x actors^2 float32 trajectories: 100,000 x 1,001 x 16 x 4 bytes."""
    out = tmp_path / "o"
    line = _one_line_exit_2(
        cli(
            "run",
            DATA / "all_mechanisms.toml",
            "-n",
            "100000",
            "-t",
            "1000",
            "--trajectories",
            "--out",
            out,
            "--no-progress",
        )
    )
    assert "--trajectories: expected trajectories of at most" in line
    assert str(DATA / "all_mechanisms.toml") in line and "leave out --trajectories" in line
    assert not out.exists()


def test_steps_from_the_command_line_are_held_to_the_memory_budget(tmp_path, write):
    """A valid 10-step scenario with eight alliances, run for a million steps (-t)."""
    alliances = "".join(f'[alliances.p{i}]\nmembers = ["A", "B"]\n' for i in range(8))
    path = write(
        "[actors.A]\ncapability = 1\n[actors.B]\ncapability = 1\n[run]\nsteps = 10\n" + alliances,
        "eight.toml",
    )
    assert load_scenario(path).run.steps == 10
    out = tmp_path / "o"
    line = _one_line_exit_2(cli("run", path, "-t", "1000000", "--out", out, "--no-progress"))
    assert ": run: expected a run that fits in 4.0 GB per worker" in line
    assert "mostly per-step summaries" in line
    assert not out.exists()


def test_many_actors_get_a_chunk_size_that_fits(tmp_path, write):
    actors = "".join(f"[actors.s{i}]\ncapability = 1\n" for i in range(200))
    path = write("[issues.k]\n" + actors + "[run]\nsteps = 2\nreplicates = 5000\n", "crowd.toml")
    assert load_scenario(path).run.replicates == 5000  # valid as a scenario
    line = _one_line_exit_2(cli("run", path, "--out", tmp_path / "o", "--no-progress"))
    assert "mostly replicate state" in line and "use --chunk-size" in line
    size = int(re.search(r"--chunk-size (\d+)", line)[1])
    need = footprint(200, 1, 0, 2, 5000, size)
    assert sum(need.values()) - need["trajectories file"] <= MEMORY_BUDGET


@pytest.mark.parametrize(
    "target,expected",
    [
        ("missing.toml", "no such file"),
        (".", "expected a TOML file, got a directory"),
        ("/dev/null", "expected a TOML file, got a device, pipe or socket"),
    ],
)
def test_paths_that_are_not_scenario_files(tmp_path, target, expected):
    line = _one_line_exit_2(cli("validate", target, cwd=tmp_path))
    assert line.startswith(f"alliance-sim: error: {target}: ") and expected in line


def test_a_byte_order_mark_is_accepted(tmp_path):
    path = tmp_path / "bom.toml"
    path.write_bytes(b"\xef\xbb\xbf" + (DATA / "all_mechanisms.toml").read_bytes())
    assert load_scenario(path).actor_names == ["A", "B", "C", "D"]


def test_python_api_rejects_the_same_wrong_types():
    """Scenario.model_validate is strict too: no string, bool or fraction coerced into a number."""
    base = {"actors": {"A": {"capability": 1}, "B": {"capability": 1}}}
    for bad in ({"capability": "1"}, {"capability": True}):
        with pytest.raises(ValidationError):
            Scenario.model_validate({**base, "actors": {"A": bad, "B": {"capability": 1}}})
    with pytest.raises(ValidationError):
        Scenario.model_validate({**base, "run": {"steps": 10.5}})
    assert Scenario.model_validate({**base, "run": {"dt": 1}}).run.dt == 1.0  # int for float: fine


# --------------------------------------------------------------------------------------------
# Bad observations (tests/data/bad/observations/), through `calibrate` against the baseline
# --------------------------------------------------------------------------------------------

BAD_OBSERVATIONS = sorted((BAD / "observations").glob("*.toml"))

# file stem -> (line, field path, start of the message)
EXPECTED_OBSERVATIONS = {
    "date_as_string": (7, "observations.0.date", "expected a date such as 2022-02-04 (unquoted)"),
    "date_before_start": (7, "observations.0.date", "expected a date on or after the start 2022-02-04"),
    "date_past_horizon": (7, "observations.0.date", "expected a date before the horizon 2032-02-04"),
    "duplicate_id": (20, "observations.1.id", "expected a unique id, got 'visit' again"),
    "missing_source": (4, "observations.0.source", "required but missing"),
    "sign_missing": (4, "observations.0", "a 'tie_sign' observation needs 'sign'"),
    "source_bad_url": (16, "observations.0.source.url", "expected an http(s) address"),
    "tie_range_outside": (12, "observations.0.high", "expected a tie range inside [-1, 1]"),
    "unknown_actor": (10, "observations.0.to", "unknown actor 'Atlantis'; expected one of"),
    "unknown_alliance": (9, "observations.0.alliance", "unknown alliance 'warsaw_pact'"),
    "unknown_kind": (8, "observations.0.kind", "expected one of 'alliance_active'"),
    "width_negative": (12, "observations.0.width", "expected a number >= 0.0, got -0.1"),
}


def test_the_observation_corpus_is_complete():
    assert {p.stem for p in BAD_OBSERVATIONS} == set(EXPECTED_OBSERVATIONS)
    for path in BAD_OBSERVATIONS:
        assert path.read_text().startswith("# bad: "), path.name


@pytest.mark.parametrize("path", BAD_OBSERVATIONS, ids=[p.stem for p in BAD_OBSERVATIONS])
def test_bad_observations_exit_2_one_line(tmp_path, path):
    """`calibrate` refuses each bad observations file with one line naming the file, the line,
    the field and what was expected, and writes nothing."""
    out = tmp_path / "cal"
    line = _one_line_exit_2(
        cli(
            "calibrate",
            ROOT / "seeds" / "baseline.toml",
            "--observations",
            path,
            "-n",
            "16",
            "--out",
            out,
            "--no-progress",
        )
    )
    m = LINE.match(line)
    assert m and m["file"] == str(path), line
    number, field, message = EXPECTED_OBSERVATIONS[path.stem]
    assert int(m["line"]) == number, line
    assert m["rest"].startswith(f"{field}: {message}"), line
    assert not out.exists()
