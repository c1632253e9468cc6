"""The HTML report: the answer first, figures embedded and on disk, provenance, and escaping."""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

import sim
from sim.analysis.outcomes import fate_table
from sim.present.page import esc
from sim.present.report import write_report
from sim.vocabulary import FATE_DEFINITIONS

EVIL = "<script>alert(1)</script>"

SCENARIO = """
title = "Trio {title}"
description = "A small test world: two partners and a rival."
claims = "claims.toml"
focal = "pact"

[run]
steps = 12
replicates = 60
seed = 7

[mechanisms]
balance = {{dist = "uniform", low = 0.01, high = 0.05}}
noise = 0.05

[actors.Alpha]
capability = 0.5
[actors.{beta}]
capability = 0.3
[actors.Gamma]
capability = 0.2

[[ties]]
from = "Alpha"
to = {beta_str}
value = {{dist = "uniform", low = 0.2, high = 0.6}}
symmetric = true
[[ties]]
from = "Gamma"
to = "Alpha"
value = -0.5
symmetric = true

[alliances.pact]
members = ["Alpha", {beta_str}]
h0 = 0.05
"""

CLAIMS = """
[[claim]]
id = "T01"
paragraph = 4
speaker = "Su Ziyun"
paraphrase = "The two partners face an outside siege together."
[[claim.grounds]]
param = "mechanisms.balance"
value = 0.03
low = 0.01
high = 0.05
"""


def make_run(
    write, tmp_path: Path, name: str, beta: str = "Beta", title: str = "", **overrides
) -> sim.load_results:
    beta_key = '"' + beta.replace('"', '\\"') + '"'
    text = SCENARIO.format(title=title.replace('"', '\\"'), beta=beta_key, beta_str=beta_key)
    path = write(text, f"{name}/{name}.toml")
    write(CLAIMS, f"{name}/claims.toml")
    return sim.run_ensemble(path, out=tmp_path / "runs" / name, progress=False, **overrides)


class Tags(HTMLParser):
    """Collects start tags with their attributes."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def parse(page: str) -> list[tuple[str, dict]]:
    p = Tags()
    p.feed(page)
    return p.tags


def test_report_leads_with_the_answer_and_embeds_every_figure(write, tmp_path):
    r = make_run(write, tmp_path, "trio")
    path = write_report([r], tmp_path / "out" / "report.html")
    assert path == tmp_path / "out" / "report.html"
    page = path.read_text(encoding="utf-8")

    # the answer comes before any figure, with P(holds) and its interval
    answer, figures = page.index("id='answer'"), page.index("<img")
    assert answer < figures
    table = fate_table(r.replicates, "pact", r.actors).set_index("outcome")
    assert f"{100 * table.loc['holds', 'p']:.1f} %" in page[answer:figures]
    low, high = table.loc["holds", ["low", "high"]]
    assert f"95 % CI {100 * low:.1f}–{100 * high:.1f} %" in page[answer:figures]
    assert "P(stab in the back)" in page and "who stabs whom" in page and "P(drift apart)" in page

    # each embedded figure is also a PNG file next to the report, byte for byte
    images = [a for t, a in parse(page) if t == "img"]
    files = sorted((tmp_path / "out" / "report_figures").glob("*.png"))
    assert len(images) == len(files) >= 7
    embedded = {base64.b64decode(a["src"].split(",", 1)[1]) for a in images}
    assert embedded == {f.read_bytes() for f in files}
    assert all(a["src"].startswith("data:image/png;base64,") and a["alt"] for a in images)

    # self-contained: nothing fetched, no script
    assert not re.search(r"(src|href)\s*=\s*['\"]?(https?:|//)", page)
    assert "<script" not in page.lower()
    assert "<link" not in page.lower()
    # written atomically: no temporary left behind
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["report.html", "report_figures"]


def test_report_gives_what_is_needed_to_reproduce_the_run_with_its_claims(write, tmp_path):
    r = make_run(write, tmp_path, "trio")
    page = write_report([r], tmp_path / "report.html").read_text(encoding="utf-8")
    assert r.manifest["scenario_hash"] in page
    assert "--seed 7" in page and "--replicates 60" in page and "--steps 12" in page
    assert sim.__version__ in page
    # the uncertain parameter with its claim: id, paragraph and speaker
    row = page[page.index("<code>mechanisms.balance</code>") :]
    row = row[: row.index("</tr>")]
    assert "uniform(0.01, 0.05)" in row and "T01" in row and "¶4" in row and "Su Ziyun" in row
    assert "<code>ties.0.Alpha.Beta</code>" in page


def test_report_frames_the_answer_defines_the_fates_and_shows_each_basis(write, tmp_path):
    r = make_run(write, tmp_path, "trio", replicates=200)
    page = write_report([r], tmp_path / "report.html").read_text(encoding="utf-8")
    answer = page[page.index("id='answer'") : page.index("</section>")]
    assert "not a forecast" in answer and "under these assumptions" in answer
    assert "simulated futures" not in page
    for word, definition in FATE_DEFINITIONS.items():
        assert esc(definition) in answer, word
    # the only claim (T01, ¶4, no "Assumption" basis) is an article claim; the rest are ungrounded
    row = page[page.index("<code>mechanisms.balance</code>") :]
    assert "title='article claim'" in row[: row.index("</tr>")]
    row = page[page.index("<code>ties.0.Alpha.Beta</code>") :]
    assert "title='ungrounded'" in row[: row.index("</tr>")]
    # the variance split by basis, with the sentence saying what it means
    assert "What the answer rests on" in page and "interactions and chance" in page
    assert "Of the variance of whether the alliance holds" in page
    # blocs vs fates, and saturation, said in numbers
    assert "Reading these figures" in page and "bounded at ±1" in page


def test_reproduce_names_a_command_that_prints_the_recorded_hash(write, tmp_path, capsys):
    from sim.cli import main

    r = make_run(write, tmp_path, "trio")
    page = write_report([r], tmp_path / "report.html").read_text(encoding="utf-8")
    assert "alliance-sim show trio.toml --replicates 60 --steps 12 --seed 7" in page
    assert (
        main(
            [
                "show",
                str(tmp_path / "trio" / "trio.toml"),
                "--replicates",
                "60",
                "--steps",
                "12",
                "--seed",
                "7",
            ]
        )
        == 0
    )
    assert f"scenario hash: {r.manifest['scenario_hash']}" in capsys.readouterr().out


def test_report_says_when_the_claims_file_is_missing(write, tmp_path):
    """A claims file gone after the run (a run refuses a missing one): the report says it could
    not be read and still names the values it would have grounded."""
    r = make_run(write, tmp_path, "noclaims")
    (tmp_path / "noclaims" / "claims.toml").unlink()
    page = write_report([r], tmp_path / "report.html").read_text(encoding="utf-8")
    assert "could not be read" in page
    assert "<code>mechanisms.balance</code>" in page


def test_hostile_names_and_titles_are_shown_as_text(write, tmp_path):
    """An actor name and a title holding markup appear escaped: as text, never as a tag."""
    title = f'{EVIL} it\'s "quoted" & <b>bold</b>'
    r = make_run(write, tmp_path, "evil", beta=EVIL, title=title)
    assert EVIL in r.actors and EVIL in r.title
    page = write_report([r], tmp_path / "report.html").read_text(encoding="utf-8")
    assert EVIL not in page
    assert "<script" not in page.lower()
    assert "<b>bold</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    tags = parse(page)
    assert not any(t == "script" for t, _ in tags)
    assert all(not k.startswith("on") for _, attrs in tags for k in attrs)
    alts = [a["alt"] for t, a in tags if t == "img"]
    assert any(EVIL in alt for alt in alts)  # the parser unescapes: the text survived intact
    titles = [a["title"] for t, a in tags if t == "img"]
    assert all(set(a) == {"src", "alt", "title", "width", "height"} for t, a in tags if t == "img")
    assert titles


def test_comparison_report_puts_both_scenarios_side_by_side(write, tmp_path):
    a = make_run(write, tmp_path, "first")
    b = make_run(write, tmp_path, "second", seed=8)
    page = write_report([a, b], tmp_path / "cmp.html").read_text(encoding="utf-8")
    assert page.index("id='answer'") < page.index("id='comparison'") < page.index("id='scenario-1'")
    body = page[page.index("id='fate-table'") :]
    body = body[: body.index("</table>")]
    assert body.count("<tr>") == 3  # the header and one row per scenario
    assert "first" in body and "second" in body
    assert page.index("Scenario comparison") < page.index("id='answer'")
    files = {p.name for p in (tmp_path / "cmp_figures").glob("*.png")}
    assert {"compare-fates.png", "compare-survival.png", "compare-cohesion.png"} <= files
    assert any(f.startswith("01-first-") for f in files)
    assert any(f.startswith("02-second-") for f in files)


def test_rewriting_a_report_replaces_its_figures(write, tmp_path):
    r = make_run(write, tmp_path, "trio")
    target = tmp_path / "report.html"
    write_report([r], target)
    stale = tmp_path / "report_figures" / "old.png"
    stale.write_bytes(b"x")
    write_report([r], target)
    assert not stale.exists()


def test_report_needs_results(tmp_path):
    with pytest.raises(ValueError, match="at least one"):
        write_report([], tmp_path / "r.html")


def test_writing_a_report_shows_its_progress(write, tmp_path, capsys):
    """The bar counts the answer and every figure drawn; without progress nothing is printed."""
    r = make_run(write, tmp_path, "trio")
    quiet = write_report([r], tmp_path / "quiet" / "report.html")
    assert capsys.readouterr().err == ""
    write_report([r], tmp_path / "shown" / "report.html", progress=True)
    err = capsys.readouterr().err
    figures = len(list((tmp_path / "shown" / "report_figures").glob("*.png")))
    assert "writing the report" in err and f"{figures + 1}part" in err.replace(" ", ""), err[-300:]
    assert quiet.read_text(encoding="utf-8").count("<img") == figures
