"""The claims that ground a scenario's numbers: the article's paragraphs and public figures.

A claims file (TOML) holds ``[[claim]]`` tables::

    [[claim]]
    id = "C04"
    paragraph = 4                # ¶N of the source article; omit for a public figure
    speaker = "Su Ziyun"         # who makes the claim
    source = "source article"    # or the publication of a public figure
    paraphrase = "..."           # in our own words
    [[claim.grounds]]
    param = "pressure.Russia"    # a dotted parameter path (see ``alliance-sim show``)
    value = 0.6
    low = 0.4
    high = 0.8
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .scenario import ScenarioError

ARTICLE_PARAGRAPHS = range(1, 18)  # ¶1-¶17 of the source article


@dataclass(frozen=True)
class Grounding:
    param: str
    value: float
    low: float
    high: float


@dataclass(frozen=True)
class Claim:
    id: str
    speaker: str
    paraphrase: str
    source: str = "source article"
    paragraph: int | None = None
    grounds: tuple[Grounding, ...] = field(default_factory=tuple)

    @property
    def cite(self) -> str:
        return f"¶{self.paragraph}" if self.paragraph is not None else self.source


def load_claims(path: str | Path) -> list[Claim]:
    """Read a claims file; raises :class:`ScenarioError` on malformed entries."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise ScenarioError(path, f"cannot read claims: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(path, f"invalid TOML: {e}") from None
    claims = []
    for n, raw in enumerate(data.get("claim", [])):
        where = f"claim.{n}"
        try:
            grounds = tuple(Grounding(g["param"], float(g["value"]), float(g["low"]),
                                      float(g["high"])) for g in raw.get("grounds", []))
            claims.append(Claim(id=raw["id"], speaker=raw["speaker"], paraphrase=raw["paraphrase"],
                                source=raw.get("source", "source article"),
                                paragraph=raw.get("paragraph"), grounds=grounds))
        except (KeyError, TypeError, ValueError) as e:
            raise ScenarioError(path, f"malformed claim ({e}); expected id, speaker, paraphrase "
                                "and grounds with param, value, low, high", path=where) from None
    return claims


def claims_by_param(claims: list[Claim]) -> dict[str, list[Claim]]:
    out: dict[str, list[Claim]] = {}
    for c in claims:
        for g in c.grounds:
            out.setdefault(g.param, []).append(c)
    return out
