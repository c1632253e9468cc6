"""The fingerprint of the dated notes the observations come from: what the project keeps of them.

``seeds/observations.toml`` paraphrases public facts gathered in notes that live outside the
repository. Two checks need those notes — that no paraphrase copies them, and that every address an
observation cites is one the notes give — and neither needs their words. The repository keeps
``seeds/notes_fingerprint.json``: the hashes of every run of :data:`sim.spec.article.COPY_RUN`
normalised words of the notes (w-shingling, as for the article: :mod:`sim.spec.article`) and the
hashes of every web address in them, sorted, with no text.

Regenerate it from the notes::

    python -m sim.spec.notes PATH/observations.md      # writes seeds/notes_fingerprint.json
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from sim.files import atomic_write_text
from sim.spec.article import COPY_RUN, shingle_hash, shingles

DEFAULT_PATH = Path(__file__).resolve().parents[2] / "seeds" / "notes_fingerprint.json"
#: a web address in the notes: up to a space, a table bar or the "; " between two addresses
_ADDRESS = re.compile(r"https?://[^\s|]+?(?=\s*(?:[|;]\s|\s|$))")


def addresses(text: str) -> list[str]:
    """Every web address in a text, in order."""
    return _ADDRESS.findall(text)


@dataclass(frozen=True)
class NotesFingerprint:
    """Hashes of the notes' word runs and of their web addresses."""

    run: int
    shingles: frozenset[str]
    addresses: frozenset[str]

    def copied_runs(self, text: str) -> list[str]:
        """The runs of ``run`` words of ``text`` (normalised) that the notes also hold."""
        return [s for s in shingles(text, self.run) if shingle_hash(s) in self.shingles]

    def gives(self, address: str) -> bool:
        """Whether the notes cite this web address."""
        return shingle_hash(address) in self.addresses

    def to_json(self) -> str:
        """The fingerprint as stored (sorted hashes, no text)."""
        data = {"run": self.run, "shingles": sorted(self.shingles), "addresses": sorted(self.addresses)}
        return json.dumps(data, indent=0) + "\n"


def notes_fingerprint(text: str, run: int = COPY_RUN) -> NotesFingerprint:
    """The fingerprint of the notes' text."""
    return NotesFingerprint(
        run,
        frozenset(shingle_hash(s) for s in shingles(text, run)),
        frozenset(shingle_hash(a) for a in addresses(text)),
    )


def load_notes_fingerprint(path: str | Path = DEFAULT_PATH) -> NotesFingerprint:
    """The stored fingerprint of the notes."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return NotesFingerprint(int(data["run"]), frozenset(data["shingles"]), frozenset(data["addresses"]))


def main(argv: list[str] | None = None) -> int:
    """``python -m sim.spec.notes PATH``: write the fingerprint of the notes at PATH."""
    ap = argparse.ArgumentParser(prog="python -m sim.spec.notes", description=__doc__.splitlines()[0])
    ap.add_argument("notes", type=Path, help="the dated notes (Markdown)")
    ap.add_argument("--out", type=Path, default=DEFAULT_PATH, help=f"default: {DEFAULT_PATH}")
    args = ap.parse_args(argv)
    try:
        fp = notes_fingerprint(args.notes.read_text(encoding="utf-8"))
    except OSError as e:
        print(f"error: {args.notes}: {e.strerror}", file=sys.stderr)
        return 2
    atomic_write_text(args.out, fp.to_json())
    print(f"{args.out}: {len(fp.shingles)} shingle hashes, {len(fp.addresses)} addresses")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
