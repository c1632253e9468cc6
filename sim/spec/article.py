"""The source article's fingerprint: what the project keeps of the article instead of its text.

The claims cite the article by paragraph (¶N) and paraphrase it; neither check needs the words
themselves. The repository therefore keeps only a *fingerprint* (``seeds/article_fingerprint.json``):
the article's title, outlet and date, its number of paragraphs and, for each paragraph, the set of
hashes of its *shingles* — every run of :data:`COPY_RUN` consecutive words after normalisation
(:func:`normalise`). This is the w-shingling of Broder (1997), "On the resemblance and containment
of documents", with each shingle hashed by SHA-256 (truncated to :data:`HASH_HEX` hex digits); a
text copies the article when one of its own shingles hashes to a stored one (:meth:`Fingerprint.copied_runs`).
The hashes are kept sorted, so the fingerprint holds no word order beyond each shingle.

Regenerate it from the text (the article is kept outside the repository)::

    python -m sim.spec.article PATH/source-article.md      # writes seeds/article_fingerprint.json

The title, outlet and date are carried over from the existing fingerprint unless given with
``--title``, ``--outlet`` and ``--date``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sim.errors import InputError
from sim.files import atomic_write_text

#: a text copies the article when it shares this many consecutive (normalised) words with it
COPY_RUN = 8
#: hex digits of SHA-256 kept per shingle (64 bits: no accidental collision among a few thousand)
HASH_HEX = 16
#: where the repository keeps the fingerprint of its source article
DEFAULT_PATH = Path(__file__).resolve().parents[2] / "seeds" / "article_fingerprint.json"
#: how the text is normalised before hashing, recorded in the fingerprint file
NORMALISATION = (
    "unicode NFKC, lower case, apostrophes dropped, other punctuation and symbols "
    "replaced by spaces, whitespace collapsed"
)

_APOSTROPHES = {"'", "\u2018", "\u2019", "\u02bc", "\u2032"}
_PARAGRAPH = re.compile(r"^¶(\d+)\.\s*(.*)$", flags=re.MULTILINE)


def normalise(text: str) -> str:
    """A text reduced to lower-case words separated by single spaces.

    Unicode NFKC first (so full-width letters, ligatures and the like compare equal to their plain
    forms), then lower case; apostrophes are dropped (``China’s`` and ``China's`` both give
    ``chinas``) and every other punctuation mark or symbol becomes a space (``back-to-back`` gives
    ``back to back``); runs of whitespace collapse to one space.

    Parameters
    ----------
    text : str
        Any text.

    Returns
    -------
    str
        The normalised text, without leading or trailing spaces.
    """
    text = unicodedata.normalize("NFKC", text).lower()
    out = []
    for ch in text:
        if ch in _APOSTROPHES:
            continue
        cat = unicodedata.category(ch)
        if cat == "Cf":  # invisible format characters (soft hyphen, zero-width joiner): no break
            continue
        out.append(" " if cat[0] in "PSZC" else ch)
    return " ".join("".join(out).split())


def shingles(text: str, n: int = COPY_RUN) -> list[str]:
    """Every run of ``n`` consecutive words of the normalised text, in order (Broder 1997).

    A text of fewer than ``n`` words has none.
    """
    w = normalise(text).split()
    return [" ".join(w[i : i + n]) for i in range(len(w) - n + 1)]


def shingle_hash(shingle: str) -> str:
    """The first :data:`HASH_HEX` hex digits of the SHA-256 of a normalised shingle (UTF-8)."""
    return hashlib.sha256(shingle.encode("utf-8")).hexdigest()[:HASH_HEX]


def article_paragraphs(text: str) -> dict[int, str]:
    """The article's paragraphs by number, from lines that start with ``¶N.``."""
    return {int(m.group(1)): m.group(2) for m in _PARAGRAPH.finditer(text)}


@dataclass(frozen=True)
class Fingerprint:
    """What the repository keeps of a source article.

    Attributes
    ----------
    title, outlet, date : str
        The article's headline, publisher and date (ISO 8601) as far as they are known.
    paragraphs : int
        The article has paragraphs ¶1 to ¶``paragraphs``.
    shingles : dict[int, frozenset[str]]
        For each paragraph, the hashes (:func:`shingle_hash`) of its shingles.
    run : int
        Words per shingle.
    note : str
        Anything a reader of the metadata should know (e.g. what the stored copy lacks).
    """

    title: str
    outlet: str
    date: str
    paragraphs: int
    shingles: dict[int, frozenset[str]]
    run: int = COPY_RUN
    note: str = ""

    @property
    def paragraph_numbers(self) -> range:
        """The paragraph numbers a claim may cite: ``range(1, paragraphs + 1)``."""
        return range(1, self.paragraphs + 1)

    def copied_runs(self, text: str) -> list[tuple[str, int]]:
        """Runs of :attr:`run` consecutive words that ``text`` shares with the article.

        Returns
        -------
        list of (str, int)
            Each shared run of ``text`` (normalised) with the first paragraph it occurs in; a longer
            copied passage gives one entry per word after the first ``run - 1``.
        """
        where: dict[str, int] = {}
        for k in sorted(self.shingles, reverse=True):
            where.update(dict.fromkeys(self.shingles[k], k))
        return [(s, where[h]) for s in shingles(text, self.run) if (h := shingle_hash(s)) in where]

    def to_json(self) -> str:
        """The fingerprint as the JSON the repository stores (hashes sorted, stable bytes)."""
        data = {
            "about": "Fingerprint of the source article: metadata and hashes of every normalised run "
            "of consecutive words per paragraph, never the text. Regenerate with "
            "`python -m sim.spec.article PATH` (see sim/spec/article.py).",
            "title": self.title,
            "outlet": self.outlet,
            "date": self.date,
            "note": self.note,
            "paragraphs": self.paragraphs,
            "run": self.run,
            "normalisation": NORMALISATION,
            "hash": f"sha256, first {HASH_HEX} hex digits",
            "shingles": {str(k): sorted(self.shingles[k]) for k in sorted(self.shingles)},
        }
        return json.dumps(data, ensure_ascii=False, indent=1) + "\n"

    def same_text(self, other: Fingerprint) -> bool:
        """Whether two fingerprints describe the same text (paragraphs, run and hashes)."""
        return (self.paragraphs, self.run, self.shingles) == (other.paragraphs, other.run, other.shingles)


def fingerprint(
    text: str, *, title: str = "", outlet: str = "", date: str = "", note: str = "", run: int = COPY_RUN
) -> Fingerprint:
    """The fingerprint of an article whose paragraphs are lines starting ``¶N.``.

    Parameters
    ----------
    text : str
        The article, paragraphs numbered ¶1, ¶2, ... without gaps.
    title, outlet, date, note : str
        Metadata stored alongside the hashes.
    run : int
        Words per shingle.

    Raises
    ------
    InputError
        When the text has no numbered paragraphs or their numbers are not 1, 2, ..., N.
    """
    paragraphs = article_paragraphs(text)
    numbers = sorted(paragraphs)
    if not numbers or numbers != list(range(1, len(numbers) + 1)):
        raise InputError(
            f"article: expected paragraphs numbered ¶1 to ¶N on lines of their own, found {numbers or 'none'}"
        )
    hashes = {k: frozenset(shingle_hash(s) for s in shingles(p, run)) for k, p in paragraphs.items()}
    return Fingerprint(
        title=title, outlet=outlet, date=date, paragraphs=len(numbers), shingles=hashes, run=run, note=note
    )


def read_fingerprint(path: str | Path) -> Fingerprint:
    """Read a fingerprint file (the JSON of :meth:`Fingerprint.to_json`).

    Raises
    ------
    InputError
        When the file is missing, not JSON or lacks a field.
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        paragraphs = int(data["paragraphs"])
        hashes = {int(k): frozenset(v) for k, v in data["shingles"].items()}
        fp = Fingerprint(
            title=data["title"],
            outlet=data["outlet"],
            date=data["date"],
            paragraphs=paragraphs,
            shingles=hashes,
            run=int(data["run"]),
            note=data.get("note", ""),
        )
    except OSError as e:
        raise InputError(f"{path}: cannot read the article fingerprint ({e.strerror})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise InputError(
            f"{path}: expected an article fingerprint (title, outlet, date, paragraphs, "
            f"run, shingles), got {type(e).__name__}: {e}"
        ) from None
    if sorted(hashes) != list(fp.paragraph_numbers):
        raise InputError(f"{path}: shingles: expected paragraphs 1 to {paragraphs}, got {sorted(hashes)}")
    return fp


@lru_cache(maxsize=4)
def load_fingerprint(path: str | Path | None = None) -> Fingerprint:
    """The fingerprint at ``path`` (default: the repository's ``seeds/article_fingerprint.json``),
    read once per path."""
    return read_fingerprint(DEFAULT_PATH if path is None else path)


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.spec.article PATH``: write the fingerprint of the article at PATH."""
    ap = argparse.ArgumentParser(
        prog="python -m sim.spec.article", description="Write the fingerprint of the source article."
    )
    ap.add_argument("article", type=Path, help="the article's text, paragraphs on lines starting ¶N.")
    ap.add_argument("--out", type=Path, default=DEFAULT_PATH, help=f"default: {DEFAULT_PATH}")
    ap.add_argument("--title")
    ap.add_argument("--outlet")
    ap.add_argument("--date")
    ap.add_argument("--note")
    args = ap.parse_args(argv)
    old = read_fingerprint(args.out) if args.out.is_file() else None
    meta: dict[str, str] = {
        k: getattr(args, k) if getattr(args, k) is not None else (getattr(old, k) if old else "")
        for k in ("title", "outlet", "date", "note")
    }
    try:
        fp = fingerprint(
            args.article.read_text(encoding="utf-8"),
            title=meta["title"],
            outlet=meta["outlet"],
            date=meta["date"],
            note=meta["note"],
        )
    except OSError as e:
        print(f"error: {args.article}: {e.strerror}", file=sys.stderr)
        return 2
    except InputError as e:
        print(f"error: {args.article}: {e}", file=sys.stderr)
        return 2
    atomic_write_text(args.out, fp.to_json())
    n = sum(len(v) for v in fp.shingles.values())
    print(f"{args.out}: {fp.paragraphs} paragraphs, {n} shingle hashes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
