"""Provenance of the seeds and the scenario library.

Every number of ``seeds/baseline.toml`` and of ``scenarios/*.toml`` must be grounded by a claim in
``seeds/claims.toml`` that cites a real paragraph of the source article (¶1-¶17) or a public
source, with the same value and range; paraphrases must not copy the article; the library must
validate, list and run.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from sim import cli, load_scenario, run_ensemble
from sim.present.show import render
from sim.spec.claims import (
    ARTICLE_PARAGRAPHS,
    COPY_RUN,
    article_paragraphs,
    claim_problems,
    copied_runs,
    grounding_problems,
    load_claims,
)
from sim.spec.parammap import slots

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "seeds" / "baseline.toml"
CLAIMS = ROOT / "seeds" / "claims.toml"
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))
FILES = [BASELINE, *SCENARIOS]
LIBRARY = {"back_to_back", "stab_in_the_back", "kazakhstan_crisis", "mongolia_exercises",
           "sanctions_escalation", "ukraine_invasion", "status_quo"}


def _article_path() -> Path:
    candidates = [Path(os.environ["ALLIANCE_ARTICLE"])] if os.environ.get("ALLIANCE_ARTICLE") else []
    candidates += [ROOT.parent / "shared" / "source-article.md", ROOT / "shared" / "source-article.md"]
    for c in candidates:
        if c.is_file():
            return c
    pytest.fail("source article not found (looked in ../shared/source-article.md; set ALLIANCE_ARTICLE)")


@pytest.fixture(scope="module")
def claims():
    return load_claims(CLAIMS)


@pytest.fixture(scope="module")
def article() -> str:
    paragraphs = article_paragraphs(_article_path().read_text(encoding="utf-8"))
    return "\n".join(paragraphs[k] for k in sorted(paragraphs))


def _id(path: Path) -> str:
    return path.stem


# ------------------------------------------------------------------ grounding

def test_baseline_names_the_claims_file():
    """The baseline points at seeds/claims.toml, so `show` and the checks below find its claims."""
    assert Path(load_scenario(BASELINE).claims) == CLAIMS.resolve()


@pytest.mark.parametrize("path", FILES, ids=_id)
def test_every_number_is_grounded(path, claims):
    """Every numeric parameter (sim.spec.parammap.slots) of the baseline and of each scenario has a
    claim with the same value and range: no number enters the model without provenance."""
    scenario = load_scenario(path)
    assert list(slots(scenario)), "the check needs parameters to look at"
    assert grounding_problems(scenario, claims) == []


def test_claims_are_well_formed(claims):
    """Claim ids are unique; each cites an existing paragraph (¶1-¶17) or names a public source;
    each has a speaker and a paraphrase; every ground's value lies inside its own range."""
    assert len(claims) >= 20
    assert claim_problems(claims) == []


def test_article_paragraph_range_matches_the_article():
    """The paragraphs the checker accepts are exactly those of the article (¶1-¶17), so a claim
    citing ¶18 cannot slip through if the article is ever renumbered."""
    paragraphs = article_paragraphs(_article_path().read_text(encoding="utf-8"))
    assert sorted(paragraphs) == list(ARTICLE_PARAGRAPHS)


def test_checker_reports_a_lost_claim_or_a_bad_citation(claims):
    """The checks above can fail: removing a parameter's only ground, changing a ground's value,
    citing ¶18 or ¶0, dropping both paragraph and public source, or reusing an id is reported."""
    scenario = load_scenario(BASELINE)
    # A parameter grounded by exactly one claim, which then loses that ground.
    target = "actors.China.capability"
    owners = [c for c in claims if any(g.param == target for g in c.grounds)]
    assert len(owners) == 1
    mutated = [dataclasses.replace(c, grounds=tuple(g for g in c.grounds if g.param != target))
               if c is owners[0] else c for c in claims]
    problems = grounding_problems(scenario, mutated)
    assert problems and all(p.startswith(target) for p in problems)
    assert "no claim grounds it" in problems[0]

    # The same ground with another value no longer matches.
    shifted = [dataclasses.replace(c, grounds=tuple(dataclasses.replace(g, value=g.value + 0.01)
                                                    if g.param == target else g for g in c.grounds))
               if c is owners[0] else c for c in claims]
    assert any(p.startswith(target) and "matches no claim" in p
               for p in grounding_problems(scenario, shifted))

    first = claims[0]
    for bad in (18, 0):
        wrong = [dataclasses.replace(first, paragraph=bad), *claims[1:]]
        assert any(f"¶{bad}" in p for p in claim_problems(wrong))
    unsourced = [dataclasses.replace(first, paragraph=None, source="source article"), *claims[1:]]
    assert any("public source" in p for p in claim_problems(unsourced))
    twice = [*claims, claims[1]]
    assert any("more than once" in p for p in claim_problems(twice))


def test_ranges_are_carried_as_uncertain_values(claims):
    """Where the grounding claims leave a range open (low < high), the baseline carries it as a
    distribution, so ensembles explore it; plain numbers are reserved for anchors claims fix."""
    ranges: dict[str, list[tuple[float, float]]] = {}
    for c in claims:
        for g in c.grounds:
            ranges.setdefault(g.param, []).append((g.low, g.high))
    plain_with_range = [s.path for s in slots(load_scenario(BASELINE))
                        if not s.uncertain and all(lo < hi for lo, hi in ranges[s.path])]
    assert plain_with_range == []


# ------------------------------------------------------------------ paraphrases

def test_no_paraphrase_copies_the_article(claims, article):
    """No claim (paraphrase or basis) and no scenario description shares a run of 8 or more
    consecutive words with the article: the project paraphrases and cites, it does not copy."""
    texts = {f"claim {c.id}": f"{c.paraphrase}\n{c.basis}" for c in claims}
    texts.update({f"scenario {p.stem}": load_scenario(p).description for p in FILES})
    copied = {k: runs for k, t in texts.items() if (runs := copied_runs(t, article, COPY_RUN))}
    assert copied == {}


def test_copy_check_catches_a_copied_sentence(article):
    """The copy check is not vacuous: a sentence lifted from ¶4 inside a paraphrase is found,
    whatever its case and punctuation, while a seven-word run is allowed."""
    sentence = article.split("\n")[3].split(":", 1)[1]
    found = copied_runs(f"As he put it, {sentence.upper()} and more.", article)
    assert found and len(found[0].split()) == COPY_RUN
    seven = " ".join(sentence.replace("“", "").split()[:7])
    assert copied_runs(f"We read it as {seven} today.", article) == []


# ------------------------------------------------------------------ the scenario library

def test_library_is_complete():
    """The seven scenarios of the library exist, each extending the baseline seed."""
    assert LIBRARY <= {p.stem for p in SCENARIOS}
    for p in SCENARIOS:
        text = p.read_text(encoding="utf-8")
        assert re.search(r'^extends = "\.\./seeds/baseline\.toml"', text, flags=re.MULTILINE), p.name


@pytest.mark.parametrize("path", SCENARIOS, ids=_id)
def test_scenario_tells_its_story_with_claims(path, claims):
    """Each scenario has a title and a description that names the claims it leans on (ids that
    exist) and the article's paragraphs (¶N within ¶1-¶17)."""
    scenario = load_scenario(path)
    assert scenario.title and scenario.title != load_scenario(BASELINE).title
    text = scenario.description
    assert len(text.split()) >= 40
    ids = {c.id for c in claims}
    cited = set(re.findall(r"\b(?:a\d\d(?:-[a-z]+)?|[fms]-[a-z0-9]+(?:-[a-z0-9]+)*)\b", text))
    assert cited, "the description names no claim"
    assert cited <= ids, sorted(cited - ids)
    paragraphs = [int(n) for n in re.findall(r"¶(\d+)", text)]
    assert paragraphs and all(n in ARTICLE_PARAGRAPHS for n in paragraphs)


def test_validate_passes_for_every_file(capsys):
    """`alliance-sim validate` accepts the baseline and every scenario (exit 0, one ok line each)."""
    code = cli.main(["validate", *map(str, FILES)])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("ok  ") == len(FILES)


def test_list_shows_every_scenario_with_its_title(capsys):
    """`alliance-sim list` prints each scenario's name with its title, none invalid."""
    code = cli.main(["list", str(ROOT / "scenarios")])
    out = capsys.readouterr().out
    assert code == 0
    assert "INVALID" not in out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    for p in SCENARIOS:
        assert p.stem in lines
        assert load_scenario(p).title in lines[p.stem]


def test_show_prints_provenance_for_every_row(claims):
    """`alliance-sim show` gives every parameter row of the baseline a claim id and its ¶ or
    public source; no row is unclaimed or mismatched, and the rows fit the width asked for."""
    text = render(BASELINE, width=140)
    params = [s.path for s in slots(load_scenario(BASELINE))]
    rows = {line.split()[0]: line for line in text.splitlines()
            if line and line.split()[0] in set(params)}
    assert set(rows) == set(params)
    ids = {c.id for c in claims}
    for line in rows.values():
        assert "(none)" not in line and "≠" not in line, line
        assert any(f" {i} " in f" {line} " for i in ids), line
        assert len(line) <= 140
    assert "¶4 Su Ziyun" in rows["pressure.Russia"]
    assert "SIPRI" in rows["actors.China.capability"]


@pytest.mark.parametrize("path", SCENARIOS, ids=_id)
def test_every_scenario_runs(path, tmp_path):
    """Each scenario runs end to end (64 replicates x 24 steps) and every replicate gets a fate."""
    results = run_ensemble(path, replicates=64, steps=24, out=tmp_path / path.stem, progress=False)
    fates = results.replicates["china_russia.fate"]
    assert len(fates) == 64
    assert set(fates) <= {"holds", "stab_in_the_back", "drift_apart"}
