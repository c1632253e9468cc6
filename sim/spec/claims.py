"""The claims that ground a scenario's numbers: the article's paragraphs and public figures.

A claims file (TOML) holds ``[[claim]]`` tables::

    [[claim]]
    id = "a04"
    paragraph = 4                # ¶N of the source article; omit for a public figure
    speaker = "Su Ziyun"         # who makes the claim (for a public figure: its publisher)
    source = "source article"    # or the publication of a public figure or of the literature
    paraphrase = "..."           # what the source says, in our own words
    basis = "..."                # how the claim becomes numbers; says "assumption" where it is one
    grounds = [
      {param = "pressure.Russia", value = 0.6, low = 0.4, high = 0.8},
    ]

``grounds`` may also be written as ``[[claim.grounds]]`` tables. Each names a dotted parameter path
(as :func:`sim.spec.parammap.slots` yields it and ``alliance-sim show`` prints it), the value the
claim supports and its range. A parameter is *grounded* when some claim names it with a matching
value (:func:`grounding_problems`): a plain number ``v`` needs ``value == v`` and ``low <= v <=
high``; an uncertain value needs ``value`` equal to its point value (mean, or mode for triangular)
and ``(low, high)`` equal to its support.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from sim.files import read_regular
from sim.spec.article import COPY_RUN as COPY_RUN  # re-exported: the copy rule's run length
from sim.spec.article import load_fingerprint, normalise, shingles
from sim.spec.scenario import ScenarioError
from sim.vocabulary import BASES, BASIS_ARTICLE, BASIS_ASSUMPTION, BASIS_FIGURE, BASIS_NONE

ARTICLE_SOURCE = "source article"


@dataclass(frozen=True)
class Grounding:
    """One number a claim grounds: the parameter path, the value and its range; ``assumed`` when
    the claim's basis calls this number an assumption (``assumed = true`` in the claims file)."""

    param: str
    value: float
    low: float
    high: float
    assumed: bool = False


@dataclass(frozen=True)
class Claim:
    """A statement from the article, a public figure or the literature, and the numbers it grounds."""

    id: str
    speaker: str
    paraphrase: str
    source: str = ARTICLE_SOURCE
    paragraph: int | None = None
    grounds: tuple[Grounding, ...] = field(default_factory=tuple)
    basis: str = ""

    @property
    def kind(self) -> str:
        """What the claim's numbers rest on: :data:`~sim.vocabulary.BASIS_ASSUMPTION` when its
        ``basis`` opens by calling them an assumption ("Assumption ...", "Scenario assumption
        ..."), else :data:`~sim.vocabulary.BASIS_ARTICLE` for a paragraph of the source article,
        else :data:`~sim.vocabulary.BASIS_FIGURE` (a published statistic)."""
        opening = " ".join(self.basis.split()).lower()
        if opening.startswith(("assumption", "scenario assumption")):
            return BASIS_ASSUMPTION
        return BASIS_ARTICLE if self.paragraph is not None else BASIS_FIGURE

    @property
    def partly_assumed(self) -> bool:
        """Whether an article claim or public figure names part of its numbers an assumption."""
        return self.kind != BASIS_ASSUMPTION and "assum" in self.basis.lower()

    @property
    def cite(self) -> str:
        """``¶N`` for an article claim, else the (public) source."""
        return f"¶{self.paragraph}" if self.paragraph is not None else self.source


MAX_CLAIMS_BYTES = 16 * 2**20  # a claims file, read whole


def load_claims(path: str | Path) -> list[Claim]:
    """Read a claims file; raises :class:`ScenarioError` on malformed entries."""
    path = Path(path)
    try:
        data = tomllib.loads(read_regular(path, MAX_CLAIMS_BYTES).decode("utf-8"))
    except FileNotFoundError:
        raise ScenarioError(path, "cannot read claims: no such file") from None
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(path, f"invalid TOML: {e}") from None
    except (OSError, ValueError) as e:  # a pipe or a device, too large, not UTF-8
        raise ScenarioError(path, f"cannot read claims: {getattr(e, 'strerror', None) or e}") from None
    claims = []
    for n, raw in enumerate(data.get("claim", [])):
        where = f"claim.{n}"
        try:
            grounds = tuple(
                Grounding(
                    g["param"],
                    float(g["value"]),
                    float(g["low"]),
                    float(g["high"]),
                    _flag(g.get("assumed", False)),
                )
                for g in raw.get("grounds", [])
            )
            paragraph = raw.get("paragraph")
            if paragraph is not None and (isinstance(paragraph, bool) or not isinstance(paragraph, int)):
                raise ValueError(f"paragraph must be an integer, got {paragraph!r}")
            claims.append(
                Claim(
                    id=raw["id"],
                    speaker=raw["speaker"],
                    paraphrase=raw["paraphrase"],
                    source=raw.get("source", ARTICLE_SOURCE),
                    paragraph=paragraph,
                    grounds=grounds,
                    basis=raw.get("basis", ""),
                )
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ScenarioError(
                path,
                f"malformed claim ({e}); expected id, speaker, paraphrase "
                "and grounds with param, value, low, high",
                path=where,
            ) from None
    return claims


def _flag(value) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"assumed must be true or false, got {value!r}")
    return value


def claims_by_param(claims: list[Claim]) -> dict[str, list[Claim]]:
    """Claims keyed by the parameter paths they ground (a claim appears once per path)."""
    out: dict[str, list[Claim]] = {}
    for c in claims:
        for g in c.grounds:
            lst = out.setdefault(g.param, [])
            if c not in lst:
                lst.append(c)
    return out


def kind_for(claim: Claim, path: str | None = None) -> str:
    """The basis of the number ``path`` that ``claim`` grounds: the claim's kind, or
    :data:`~sim.vocabulary.BASIS_ASSUMPTION` where its ground for ``path`` is marked assumed."""
    if path is not None and any(g.param == path and g.assumed for g in claim.grounds):
        return BASIS_ASSUMPTION
    return claim.kind


def basis_of(claims: list[Claim], path: str | None = None) -> str:
    """The basis of a value grounded by ``claims``: the least grounded of their kinds for ``path``
    (a value one claim takes from the article and another sets by assumption is an assumption),
    or :data:`~sim.vocabulary.BASIS_NONE` without claims."""
    if not claims:
        return BASIS_NONE
    return max((kind_for(c, path) for c in claims), key=BASES.index)


def claims_for(by_param: dict[str, list[Claim]], path: str) -> list[Claim]:
    """The claims grounding ``path``, or else those of its nearest parent path (``pressure.China``
    for ``pressure.China.0.value``)."""
    found = list(by_param.get(path, []))
    parent = path
    while "." in parent and not found:
        parent = parent.rsplit(".", 1)[0]
        found = list(by_param.get(parent, []))
    return found


def grounding_claims(by_param: dict[str, list[Claim]], path: str, value) -> list[Claim]:
    """The claims that ground ``path`` with a value matching ``value`` (:func:`matches`), or all
    of :func:`claims_for` when none matches."""
    found = claims_for(by_param, path)
    good = [c for c in found if any(g.param == path and matches(g, value) for g in c.grounds)]
    return good or found


# --------------------------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------------------------


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def value_range(v) -> tuple[float, float, float]:
    """(point, low, high) of a parameter value: a number is its own range; a distribution gives
    its point value and support (a normal without finite bounds: mean +- 2 sd)."""
    if isinstance(v, (int, float)):
        return float(v), float(v), float(v)
    if v.dist == "normal":
        lo = v.low if math.isfinite(v.low) else v.mean - 2 * v.sd
        hi = v.high if math.isfinite(v.high) else v.mean + 2 * v.sd
        return v.mean, lo, hi
    lo, hi = v.support()
    return v.point(), lo, hi


def matches(g: Grounding, v) -> bool:
    """Whether a claim's ground agrees with a parameter value (see the module docstring)."""
    point, lo, hi = value_range(v)
    if isinstance(v, (int, float)):
        return _close(g.value, point) and g.low <= point + 1e-12 and point - 1e-12 <= g.high
    return _close(g.value, point) and _close(g.low, lo) and _close(g.high, hi)


def grounding_problems(scenario, claims: list[Claim]) -> list[str]:
    """Every numeric parameter of ``scenario`` that no claim grounds with a matching value.

    Returns one line per problem (empty when every number is grounded).
    """
    from sim.spec.parammap import slots

    by_path: dict[str, list[tuple[Claim, Grounding]]] = {}
    for c in claims:
        for g in c.grounds:
            by_path.setdefault(g.param, []).append((c, g))
    problems = []
    for slot in slots(scenario):
        path, v = slot.path, slot.value
        found = by_path.get(path, [])
        if not found:
            problems.append(f"{path}: no claim grounds it")
        elif not any(matches(g, v) for _, g in found):
            point, lo, hi = value_range(v)
            cited = ", ".join(f"{c.id} ({g.value:g} in [{g.low:g}, {g.high:g}])" for c, g in found)
            problems.append(
                f"{path}: value {point:g} in [{lo:g}, {hi:g}] matches no claim; claims give {cited}"
            )
    return problems


def claim_problems(claims: list[Claim], paragraphs: Collection[int] | None = None) -> list[str]:
    """Claims that cannot stand: duplicate ids, a paragraph the article does not have, no paragraph
    and no public source, an empty paraphrase, a ground whose value lies outside its own range.

    ``paragraphs`` are the article's paragraph numbers; by default those of the repository's
    article fingerprint (:func:`sim.spec.article.load_fingerprint`), ¶1-¶17.
    """
    if paragraphs is None:
        paragraphs = load_fingerprint().paragraph_numbers
    first, last = min(paragraphs), max(paragraphs)
    problems = []
    seen: set[str] = set()
    for c in claims:
        if c.id in seen:
            problems.append(f"{c.id}: id used more than once")
        seen.add(c.id)
        if c.paragraph is not None:
            if c.paragraph not in paragraphs:
                problems.append(f"{c.id}: cites ¶{c.paragraph}, but the article has ¶{first}-¶{last}")
        elif not c.source.strip() or c.source.strip() == ARTICLE_SOURCE:
            problems.append(f"{c.id}: neither an article paragraph nor a public source")
        if not c.paraphrase.strip():
            problems.append(f"{c.id}: empty paraphrase")
        if not c.speaker.strip():
            problems.append(f"{c.id}: no speaker")
        for g in c.grounds:
            if not g.low <= g.value <= g.high:
                problems.append(
                    f"{c.id}: {g.param}: value {g.value:g} outside its range [{g.low:g}, {g.high:g}]"
                )
    return problems


def words(text: str) -> list[str]:
    """The words of a text as the copy checks compare them (:func:`sim.spec.article.normalise`)."""
    return normalise(text).split()


def copied_runs(text: str, source: str, n: int = COPY_RUN) -> list[str]:
    """Runs of ``n`` consecutive words that ``text`` shares with another text ``source``, both
    normalised as the article fingerprint is (:func:`sim.spec.article.normalise`).

    For the source article, whose text the repository does not hold, use
    :meth:`sim.spec.article.Fingerprint.copied_runs` instead.
    """
    grams = set(shingles(source, n))
    return [s for s in shingles(text, n) if s in grams]
