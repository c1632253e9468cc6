"""Provenance of the seeds and the scenario library.

Every number of ``seeds/baseline.toml`` and of ``scenarios/*.toml`` must be grounded by a claim in
``seeds/claims.toml`` that cites a real paragraph of the source article (¶1-¶17) or a public
source, with the same value and range; paraphrases must not copy the article; the library must
validate, list and run. The article itself is not in the repository: the checks use its
fingerprint (``seeds/article_fingerprint.json``, :mod:`sim.spec.article`), and one test compares
that fingerprint with the text when the text is at hand (``ALLIANCE_ARTICLE`` or
``../shared/source-article.md``).
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path

import pytest

from sim import cli, load_scenario, run_ensemble
from sim.present.show import render
from sim.spec.article import COPY_RUN, fingerprint, load_fingerprint
from sim.spec.claims import claim_problems, grounding_problems, load_claims
from sim.spec.parammap import slots

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "seeds" / "baseline.toml"
CLAIMS = ROOT / "seeds" / "claims.toml"
SCENARIOS = sorted((ROOT / "scenarios").glob("*.toml"))
FILES = [BASELINE, *SCENARIOS]
LIBRARY = {
    "back_to_back",
    "stab_in_the_back",
    "kazakhstan_crisis",
    "mongolia_exercises",
    "sanctions_escalation",
    "ukraine_invasion",
    "status_quo",
}


ARTICLE_PARAGRAPHS = range(1, 18)  # the seeds cite ¶1-¶17 (seeds/README.md)


def _article_path() -> Path | None:
    """The article's full text, if this machine has it: $ALLIANCE_ARTICLE, else ../shared/."""
    if os.environ.get("ALLIANCE_ARTICLE"):
        return Path(os.environ["ALLIANCE_ARTICLE"])
    shared = ROOT.parent / "shared" / "source-article.md"
    return shared if shared.is_file() else None


@pytest.fixture(scope="module")
def claims():
    return load_claims(CLAIMS)


@pytest.fixture(scope="module")
def article():
    """The repository's fingerprint of the source article (never its text)."""
    return load_fingerprint()


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


def test_paragraph_range_comes_from_the_fingerprint(article):
    """The paragraphs the checker accepts are exactly those the fingerprint records (¶1-¶17), so a
    claim citing ¶18 cannot slip through; with a shorter article, ¶17 would be refused too."""
    assert article.paragraph_numbers == ARTICLE_PARAGRAPHS
    assert all(article.shingles[k] for k in ARTICLE_PARAGRAPHS), "a paragraph without hashes"
    cites_17 = [c for c in load_claims(CLAIMS) if c.paragraph == 17]
    assert cites_17 and claim_problems(cites_17) == []
    assert any("¶17" in p for p in claim_problems(cites_17, paragraphs=range(1, 17)))


if _article_path() is not None:  # the text is not in the repository: a clone without it has no such test

    def test_fingerprint_matches_the_article_text(article):
        """The stored fingerprint is that of the article's text (paragraph count and every hash),
        so the checks above test against the real article. Defined only where the text is at hand
        (ALLIANCE_ARTICLE, or ../shared/source-article.md beside the clone)."""
        path = _article_path()
        fresh = fingerprint(path.read_text(encoding="utf-8"))
        assert fresh.paragraphs == article.paragraphs
        differing = [k for k in article.paragraph_numbers if fresh.shingles[k] != article.shingles[k]]
        assert differing == [], "regenerate with: python -m sim.spec.article " + str(path)
        assert fresh.same_text(article)


def test_checker_reports_a_lost_claim_or_a_bad_citation(claims):
    """The checks above can fail: removing a parameter's only ground, changing a ground's value,
    citing ¶18 or ¶0, dropping both paragraph and public source, or reusing an id is reported."""
    scenario = load_scenario(BASELINE)
    # A parameter grounded by exactly one claim, which then loses that ground.
    target = "actors.China.capability"
    owners = [c for c in claims if any(g.param == target for g in c.grounds)]
    assert len(owners) == 1
    mutated = [
        dataclasses.replace(c, grounds=tuple(g for g in c.grounds if g.param != target))
        if c is owners[0]
        else c
        for c in claims
    ]
    problems = grounding_problems(scenario, mutated)
    assert problems and all(p.startswith(target) for p in problems)
    assert "no claim grounds it" in problems[0]

    # The same ground with another value no longer matches.
    shifted = [
        dataclasses.replace(
            c,
            grounds=tuple(
                dataclasses.replace(g, value=g.value + 0.01) if g.param == target else g for g in c.grounds
            ),
        )
        if c is owners[0]
        else c
        for c in claims
    ]
    assert any(
        p.startswith(target) and "matches no claim" in p for p in grounding_problems(scenario, shifted)
    )

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
    plain_with_range = [
        s.path
        for s in slots(load_scenario(BASELINE))
        if not s.uncertain and all(lo < hi for lo, hi in ranges[s.path])
    ]
    assert plain_with_range == []


# ------------------------------------------------------------------ paraphrases


def test_no_paraphrase_copies_the_article(claims, article):
    """No claim (paraphrase or basis) and no scenario description shares a run of 8 or more
    consecutive words with the article (checked against the fingerprint's hashes): the project
    paraphrases and cites, it does not copy."""
    assert article.run == COPY_RUN == 8
    texts = {f"claim {c.id}": f"{c.paraphrase}\n{c.basis}" for c in claims}
    texts.update({f"scenario {p.stem}": load_scenario(p).description for p in FILES})
    copied = {k: runs for k, t in texts.items() if (runs := article.copied_runs(t))}
    assert copied == {}


def test_copy_check_catches_a_copied_sentence():
    """The copy check is not vacuous: a sentence lifted from a (made-up) article's ¶2 inside a
    paraphrase is found through the fingerprint alone, whatever its case, quotes and punctuation,
    while a seven-word run is allowed."""
    text = (
        "¶1. A harbour town voted on Sunday to rebuild its old stone pier before winter.\n"
        "¶2. The mayor said: “Nobody here wants the ferry to stop calling at our little quay, "
        "so we will pay for it ourselves.”\n"
    )
    fp = fingerprint(text)
    found = fp.copied_runs(
        "As she put it, NOBODY HERE WANTS THE FERRY TO STOP — calling at our little quay, and more."
    )
    assert found and all(k == 2 for _, k in found)
    assert found[0][0] == "nobody here wants the ferry to stop calling"
    assert len(found) == 5  # twelve copied words hold five runs of eight
    assert fp.copied_runs("We read it as nobody here wants the ferry to stop, then.") == []


# ------------------------------------------------------------------ the scenario library


def test_library_is_complete():
    """The seven scenarios of the library exist, each extending the baseline seed."""
    assert LIBRARY <= {p.stem for p in SCENARIOS}
    for p in SCENARIOS:
        text = p.read_text(encoding="utf-8")
        assert re.search(r'^extends = "\.\./seeds/baseline\.toml"', text, flags=re.MULTILINE), p.name


@pytest.mark.parametrize("path", SCENARIOS, ids=_id)
def test_scenario_tells_its_story_with_claims(path, claims, article):
    """Each scenario has a title and a description that names the claims it leans on (ids that
    exist) and the article's paragraphs (¶N among those the fingerprint records, ¶1-¶17)."""
    scenario = load_scenario(path)
    assert scenario.title and scenario.title != load_scenario(BASELINE).title
    text = scenario.description
    assert len(text.split()) >= 40
    ids = {c.id for c in claims}
    cited = set(re.findall(r"\b(?:a\d\d(?:-[a-z]+)?|[fms]-[a-z0-9]+(?:-[a-z0-9]+)*)\b", text))
    assert cited, "the description names no claim"
    assert cited <= ids, sorted(cited - ids)
    paragraphs = [int(n) for n in re.findall(r"¶(\d+)", text)]
    assert paragraphs and all(n in article.paragraph_numbers for n in paragraphs)


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
    rows = {line.split()[0]: line for line in text.splitlines() if line and line.split()[0] in set(params)}
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
