"""Observations as data (sim/spec/observations.py) and the sourced record in seeds/observations.toml.

The record must load against the baseline and every shipped scenario, convert its dates to the
steps its header states, and keep the provenance rules of seeds/claims.toml: every entry has an
outlet, a date, an http(s) address and a paraphrase in our own words (no run of eight words from
the notes it was taken from or from the source's headline).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from sim import load_scenario
from sim.spec.claims import copied_runs
from sim.spec.notes import addresses, load_notes_fingerprint, notes_fingerprint
from sim.spec.observations import (
    ObservationError,
    add_units,
    elapsed,
    load_record,
    read_observations,
    source_problems,
    step_of,
)

ROOT = Path(__file__).resolve().parents[1]
OBSERVATIONS = ROOT / "seeds" / "observations.toml"
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))


def test_the_clock_counts_whole_months_from_the_joint_statement():
    start = dt.date(2022, 2, 4)
    assert elapsed(start, dt.date(2022, 3, 3), "month") == 0
    assert elapsed(start, dt.date(2022, 3, 4), "month") == 1
    assert elapsed(start, dt.date(2026, 3, 6), "month") == 49
    assert step_of(start, dt.date(2026, 3, 6), "month", 2.0) == 24  # dt = 2 months
    assert elapsed(start, dt.date(2025, 2, 3), "year") == 2
    assert add_units(start, 49, "month") == dt.date(2026, 3, 4)
    assert add_units(dt.date(2022, 1, 31), 1, "month") == dt.date(2022, 2, 28)


def test_the_seeded_record_loads_against_every_scenario():
    base = load_record(OBSERVATIONS, load_scenario(ROOT / "seeds" / "baseline.toml"))
    assert len(base) >= 30
    steps = dict(zip((o.id for o in base.observations), base.steps))
    # the conversions the file's header states
    assert steps["ru-ua-invasion"] == 0 and steps["cn-ru-xi-moscow"] == 13
    assert steps["cn-kz-astana-treaty"] == 40 and steps["ru-ua-war-ongoing"] == 49
    assert base.last_step == 49 and base.last_date == dt.date(2026, 3, 6)
    kinds = {o.kind for o in base.observations}
    assert {"tie_sign", "tie_range", "alliance_active", "same_bloc", "event_fired"} <= kinds
    for path in SCENARIOS:
        assert load_record(OBSERVATIONS, load_scenario(path)).steps == base.steps


def test_every_observation_is_sourced():
    """Outlet, publication date within a month before / a year after the fact, an http(s)
    address, a paraphrase and a basis, unique ids (the checks of seeds/claims.toml)."""
    data = read_observations(OBSERVATIONS)
    assert source_problems(data.observations) == []
    assert len({o.id for o in data.observations}) == len(data.observations)
    for o in data.observations:
        assert o.source.url.startswith(("http://", "https://"))
        assert o.date <= dt.date(2026, 3, 6)  # the stored pages end there


def test_the_source_checks_can_fail():
    data = read_observations(OBSERVATIONS)
    o = data.observations[0]
    late = o.model_copy(update={"source": o.source.model_copy(update={"published": dt.date(2030, 1, 1)})})
    early = o.model_copy(update={"source": o.source.model_copy(update={"published": dt.date(2020, 1, 1)})})
    short = o.model_copy(update={"source": o.source.model_copy(update={"paraphrase": "they met"})})
    problems = source_problems([late, early, short])
    assert len(problems) == 3
    assert "over a year after" in problems[0] and "before the fact" in problems[1]
    assert "too short" in problems[2]


def test_paraphrases_do_not_copy_the_headlines():
    """No paraphrase shares a run of eight words with its own source's headline (the check runs
    everywhere: the headlines are in the file)."""
    data = read_observations(OBSERVATIONS)
    copied = {
        o.id: runs for o in data.observations if (runs := copied_runs(o.source.paraphrase, o.source.headline))
    }
    assert copied == {}
    assert copied_runs(
        "they said: " + data.observations[0].source.headline, data.observations[0].source.headline
    )  # the check can fail


def test_paraphrases_do_not_copy_the_notes():
    """No paraphrase or basis shares a run of eight words with the notes the facts come from
    (checked against the notes' fingerprint, seeds/notes_fingerprint.json: the notes live outside
    the repository)."""
    notes = load_notes_fingerprint()
    data = read_observations(OBSERVATIONS)
    copied = {
        o.id: runs
        for o in data.observations
        if (runs := notes.copied_runs(f"{o.source.paraphrase}\n{o.basis}"))
    }
    assert copied == {}


def test_every_address_comes_from_the_notes():
    """Each observation's address is one the notes give (nothing unsourced slipped in)."""
    notes = load_notes_fingerprint()
    data = read_observations(OBSERVATIONS)
    assert [o.id for o in data.observations if not notes.gives(o.source.url)] == []


def test_the_notes_fingerprint_catches_copies_and_unknown_addresses(tmp_path):
    """The two checks above can fail: a copied run and an address the notes lack are found."""
    text = (
        "| 2022-02-04 | CN, RU | The two sides proclaimed a partnership with no forbidden areas at all. | "
        "positive | x | https://example.org/a?b=1 ; https://example.org/c |\n"
    )
    fp = notes_fingerprint(text)
    assert addresses(text) == ["https://example.org/a?b=1", "https://example.org/c"]
    assert fp.gives("https://example.org/c") and not fp.gives("https://example.org/d")
    assert fp.copied_runs("Note: the two sides proclaimed a partnership with no forbidden areas, it said.")
    assert fp.copied_runs("A partnership was announced; nothing was ruled out.") == []
    (tmp_path / "fp.json").write_text(fp.to_json(), encoding="utf-8")
    assert load_notes_fingerprint(tmp_path / "fp.json") == fp and "partnership" not in fp.to_json()


def test_an_observation_is_checked_against_the_scenario(tmp_path):
    """Valid on its own, refused against a scenario without the actor, or a shorter horizon."""
    text = OBSERVATIONS.read_text(encoding="utf-8")
    short = load_scenario(ROOT / "seeds" / "baseline.toml").with_run(steps=24)
    with pytest.raises(ObservationError, match=r"expected a date before the horizon 2024-02-04 \(step 24\)"):
        load_record(OBSERVATIONS, short)
    path = tmp_path / "obs.toml"
    path.write_text(text.replace('unit = "month"', 'unit = "year"', 1), encoding="utf-8")
    with pytest.raises(ObservationError, match="expected the scenario's unit 'month', got 'year'"):
        load_record(path, load_scenario(ROOT / "seeds" / "baseline.toml"))
