"""The article fingerprint (sim.spec.article): normalisation, shingles, hashing, the file and the
command that writes it. These tests use made-up text; tests/test_seeds.py applies the fingerprint
to the seeds and, when the text is at hand, checks it against the real article."""

from __future__ import annotations

import json

import pytest

from sim.errors import InputError
from sim.spec import article as art

TEXT = (
    "Heading line that is not a paragraph.\n\n"
    "¶1. Two river towns agreed on Monday to share one bridge and split the cost of its upkeep.\n\n"
    "¶2. Their councils said: “We’ll keep the toll low, as long as the lorries stay off the "
    "old road at night.”\n"
)


def test_normalise_folds_case_width_quotes_and_punctuation():
    """NFKC, lower case, apostrophes dropped, other punctuation/symbols as spaces, one space."""
    raw = "  China’s BACK-to-back\t“policy”,\n\n100,000 "
    assert art.normalise(raw) == "chinas back to back policy 100 000"
    assert art.normalise("ＣＨＩＮＡ'S ﬁrst") == "chinas first"  # full-width letters, ligature
    assert art.normalise("co\u00adoperate and re\u200bstart") == "cooperate and restart"
    assert art.normalise("...!?") == ""


def test_shingles_are_every_run_of_n_words():
    w = [f"w{i}" for i in range(10)]
    runs = art.shingles(" ".join(w), 8)
    assert runs == [" ".join(w[i : i + 8]) for i in range(3)]
    assert art.shingles("only seven words in this short line", 8) == []


def test_fingerprint_keeps_hashes_not_words():
    """Per paragraph, the hash of every shingle; the stored JSON holds none of the words."""
    fp = art.fingerprint(TEXT, title="T", outlet="O", date="2020-01-01")
    assert fp.paragraphs == 2 and fp.paragraph_numbers == range(1, 3)
    words1 = art.normalise(art.article_paragraphs(TEXT)[1]).split()
    assert len(fp.shingles[1]) == len(words1) - art.COPY_RUN + 1
    assert art.shingle_hash(" ".join(words1[:8])) in fp.shingles[1]
    assert all(len(h) == art.HASH_HEX and int(h, 16) >= 0 for h in fp.shingles[2])
    stored = fp.to_json()
    for word in ("bridge", "upkeep", "councils", "lorries"):
        assert word not in stored.lower()


def test_fingerprint_file_round_trip_and_errors(tmp_path):
    fp = art.fingerprint(TEXT, title="T", outlet="O", date="2020-01-01", note="n")
    path = tmp_path / "fp.json"
    path.write_text(fp.to_json(), encoding="utf-8")
    back = art.read_fingerprint(path)
    assert back == fp and back.same_text(fp)
    with pytest.raises(InputError, match="missing.json"):
        art.read_fingerprint(tmp_path / "missing.json")
    data = json.loads(fp.to_json())
    data["paragraphs"] = 3
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InputError, match="expected paragraphs 1 to 3"):
        art.read_fingerprint(path)
    with pytest.raises(InputError, match="¶1 to ¶N"):
        art.fingerprint("¶1. one\n¶3. three\n")


def test_copied_runs_report_the_paragraph():
    fp = art.fingerprint(TEXT)
    found = fp.copied_runs("They wrote: we'll KEEP the toll low, as long as the lorries stay put.")
    assert [k for _, k in found] == [2, 2, 2, 2]
    assert found[0][0] == "well keep the toll low as long as"
    assert fp.copied_runs("share one bridge and split the cost") == []


def test_command_writes_the_fingerprint_and_keeps_metadata(tmp_path, capsys):
    """`python -m sim.spec.article PATH --out FILE` writes the fingerprint; a second run without
    metadata options keeps the title, outlet and date already in FILE; a bad article exits 2."""
    src, out = tmp_path / "a.md", tmp_path / "fp.json"
    src.write_text(TEXT, encoding="utf-8")
    assert art.main([str(src), "--out", str(out), "--title", "T", "--outlet", "O", "--date", "D"]) == 0
    assert "2 paragraphs" in capsys.readouterr().out
    src.write_text(TEXT.replace("Monday", "Tuesday"), encoding="utf-8")
    assert art.main([str(src), "--out", str(out)]) == 0
    fp = art.read_fingerprint(out)
    assert (fp.title, fp.outlet, fp.date) == ("T", "O", "D")
    assert fp.same_text(art.fingerprint(src.read_text(encoding="utf-8")))
    src.write_text("no numbered paragraphs", encoding="utf-8")
    assert art.main([str(src), "--out", str(out)]) == 2
    assert "¶1 to ¶N" in capsys.readouterr().err


def test_repository_fingerprint_is_complete():
    """The stored fingerprint names the article and covers ¶1-¶17 with hashes of 8-word runs."""
    fp = art.load_fingerprint()
    assert fp.title and fp.outlet and fp.date.startswith("2022-02")
    assert fp.run == 8 and fp.paragraph_numbers == range(1, 18)
    raw = json.loads(art.DEFAULT_PATH.read_text(encoding="utf-8"))
    hashes = [h for v in raw["shingles"].values() for h in v]
    assert len(hashes) > 17 * 5 and all(len(h) == art.HASH_HEX for h in hashes)
    assert all(v == sorted(v) for v in raw["shingles"].values())


def test_copied_runs_between_two_texts():
    """sim.spec.claims.copied_runs compares two texts held in full, normalised the same way."""
    from sim.spec.claims import copied_runs

    source = art.article_paragraphs(TEXT)[2]
    found = copied_runs("As they said, WE'LL keep the toll low, as long as the lorries stay put.", source)
    assert found[0] == "said well keep the toll low as long"
    assert len(found) == 5  # twelve shared words ("said" ... "stay") hold five runs of eight
    assert copied_runs("keep the toll low as long as", source) == []
