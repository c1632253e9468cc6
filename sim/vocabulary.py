"""The domain's words, defined once: fates, mechanisms, effect kinds, result columns, citations.

Every module that names a fate, a mechanism, an effect kind or a result column takes it from here,
so a word has one spelling across the kernel, the result files, the reports and the command line.
"""

from __future__ import annotations

from enum import IntEnum, StrEnum

#: the two-sided 95 % quantile of the standard normal, Φ⁻¹(0.975), of every 95 % interval
Z95 = 1.959963984540054

#: the precision of the ties when a run does not ask for one: held within 1e-5 of the float64
#: reference over 60 steps (tests)
DEFAULT_DTYPE = "float32"


class Fate(IntEnum):
    """How a declared alliance ended (its code in the kernel's arrays is the enum's value).

    - ``HOLDS`` (back to back): still active at the horizon;
    - ``STAB`` (stab in the back): one member defected while the partners' disposition toward it
      was still at least ``theta_trust``;
    - ``DRIFT`` (drift apart): it ended with the partners' disposition below ``theta_trust``.
    """

    HOLDS = 0
    STAB = 1
    DRIFT = 2

    @property
    def word(self) -> str:
        """The fate as written in result files (``holds``, ``stab_in_the_back``, ``drift_apart``)."""
        return FATES[self.value]

    @property
    def label(self) -> str:
        """The fate as a reader sees it (``holds``, ``stab in the back``, ``drift apart``)."""
        return FATE_LABELS[self.value]


#: fate words in code order, as stored in ``<alliance>.fate`` columns
FATES: tuple[str, str, str] = ("holds", "stab_in_the_back", "drift_apart")
#: the same, as a reader sees them
FATE_LABELS: tuple[str, str, str] = ("holds", "stab in the back", "drift apart")
#: the output name of each fate's share in design results (``p_holds`` ...)
FATE_OUTPUTS: dict[str, str] = {"holds": "p_holds", "stab_in_the_back": "p_stab", "drift_apart": "p_drift"}
#: one-sentence definitions, shown where an answer is given
FATE_DEFINITIONS: dict[str, str] = {
    "holds": "still active at the horizon (back to back)",
    "stab_in_the_back": "one member defected while its partners' disposition toward it was still at "
    "least the trust threshold",
    "drift_apart": "it ended with the partners' disposition toward the defector already below the "
    "trust threshold",
}


class Mechanism(StrEnum):
    """The forces on the ties (docs/design.md, "The forces on the ties"); each has a coefficient under
    ``[mechanisms]``."""

    AFFINITY = "affinity"
    BALANCE = "balance"
    THREAT = "threat"
    PRESSURE = "pressure"
    COMPETITION = "competition"
    DEPENDENCE = "dependence"
    NOISE = "noise"


#: mechanism names in the order the kernel and the result files use
MECHANISMS: tuple[str, ...] = tuple(m.value for m in Mechanism)
#: each mechanism as a reader sees it in "what broke it" (docs/design.md, "The forces on the ties")
MECHANISM_LABELS: dict[str, str] = {
    "affinity": "interest affinity",
    "balance": "structural balance (friends of friends)",
    "threat": "shared threats",
    "pressure": "external pressure",
    "competition": "competition over spheres of influence",
    "dependence": "dependence",
    "noise": "unmodelled shocks (noise)",
}


class EffectKind(StrEnum):
    """What an event effect (or a lever) changes."""

    TIE = "tie"
    POSITION = "position"
    SALIENCE = "salience"
    AMBITION = "ambition"
    DEPENDENCE = "dependence"
    PRESSURE = "pressure"
    GROWTH = "growth"


EFFECT_KINDS: tuple[str, ...] = tuple(k.value for k in EffectKind)

#: the keys of an alliance's decision rule, in sampling order
ALLIANCE_KEYS: tuple[str, ...] = (
    "theta_stay",
    "theta_trust",
    "h0",
    "beta",
    "power_shift",
    "betrayal_shock",
    "reputation",
)


# -- the basis of a number (what a claim in seeds/claims.toml rests on) ---------------------------

#: a number taken from a paragraph of the source article
BASIS_ARTICLE = "article claim"
#: a number from a published statistic (SIPRI, World Bank, IMF ...)
BASIS_FIGURE = "public figure"
#: a number the modeller chose (a coefficient, a range, a scenario's storyline), with the literature
BASIS_ASSUMPTION = "modelling assumption"
#: a number no claim grounds
BASIS_NONE = "ungrounded"
#: the bases in the order tables list them, from the most to the least grounded
BASES: tuple[str, ...] = (BASIS_ARTICLE, BASIS_FIGURE, BASIS_ASSUMPTION, BASIS_NONE)
#: the short form used in terminal tables
BASIS_SHORT: dict[str, str] = {
    BASIS_ARTICLE: "article",
    BASIS_FIGURE: "figure",
    BASIS_ASSUMPTION: "assumption",
    BASIS_NONE: "none",
}
#: the sentence every answer carries: what the numbers are and are not
NOT_A_FORECAST = (
    "This is not a forecast: it is what the model does under these assumptions (the "
    "article's claims as claims, public figures, and modelling assumptions, each "
    "uncertain one drawn from a range)."
)


# -- result columns -------------------------------------------------------------------------------

PARAM_PREFIX = "param:"
BLOC_PREFIX = "bloc:"
CAPABILITY_PREFIX = "capability:"
WHY_PREFIX = "why:"
EVENT_PREFIX = "event:"
REPLICATE = "replicate"
BALANCE = "balance"


def param_column(path: str) -> str:
    """Column of a sampled value: ``param:<path>``."""
    return PARAM_PREFIX + path


def fate_column(alliance: str) -> str:
    """Column of an alliance's fate word: ``<alliance>.fate``."""
    return f"{alliance}.fate"


def end_step_column(alliance: str) -> str:
    """Column of the step an alliance ended (the horizon if it held): ``<alliance>.end_step``."""
    return f"{alliance}.end_step"


def defector_column(alliance: str) -> str:
    """Column of the first defector's name (empty if it held): ``<alliance>.defector``."""
    return f"{alliance}.defector"


def cohesion_column(alliance: str) -> str:
    """Column of the members' final mean mutual disposition: ``<alliance>.cohesion``."""
    return f"{alliance}.cohesion"


def event_first_step_column(event: str) -> str:
    """Column of the first step at which an event fired in a replicate (-1 if it never fired):
    ``event:<name>.first_step``."""
    return f"{EVENT_PREFIX}{event}.first_step"


def event_count_column(event: str) -> str:
    """Column of how many times an event fired in a replicate: ``event:<name>.count``."""
    return f"{EVENT_PREFIX}{event}.count"


def bloc_column(actor: str) -> str:
    """Column of an actor's final bloc (0 or 1): ``bloc:<actor>``."""
    return BLOC_PREFIX + actor


def capability_column(actor: str) -> str:
    """Column of an actor's final capability share: ``capability:<actor>``."""
    return CAPABILITY_PREFIX + actor


WHY_WINDOW_SUFFIX = "@window"
EVENT_FORCE_PREFIX = "event:"


def event_force(event: str) -> str:
    """The force name of an event's direct shift of a tie in the attribution: ``event:<name>``."""
    return EVENT_FORCE_PREFIX + event


def force_label(force: str) -> str:
    """A booked force (a mechanism, ``event:<name>``, ``defections`` or ``clipping``) in words."""
    if force in MECHANISM_LABELS:
        return MECHANISM_LABELS[force]
    if force.startswith(EVENT_FORCE_PREFIX):
        return "the event " + force[len(EVENT_FORCE_PREFIX) :].replace("_", " ")
    return {"defections": "shocks from defections", "clipping": "the bounds of the ties"}.get(force, force)


def why_column(alliance: str, force: str, window: bool = False) -> str:
    """Column of a force's part in the change of an alliance's tracked tie: ``why:<alliance>.<force>``
    over the whole run, ``why:<alliance>.<force>@window`` over the window before the end."""
    return f"{WHY_PREFIX}{alliance}.{force}" + (WHY_WINDOW_SUFFIX if window else "")


def parse_why_column(column: str, alliances) -> tuple[str, str, bool] | None:
    """``(alliance, force, window)`` of a ``why:`` column of one of ``alliances``, or None.

    Names may contain dots, so the alliance is the longest of the given names the column starts with.
    """
    if not column.startswith(WHY_PREFIX):
        return None
    rest = column[len(WHY_PREFIX) :]
    window = rest.endswith(WHY_WINDOW_SUFFIX)
    if window:
        rest = rest[: -len(WHY_WINDOW_SUFFIX)]
    for name in sorted(alliances, key=len, reverse=True):
        if rest.startswith(name + "."):
            return name, rest[len(name) + 1 :], window
    return None


# -- citations ----------------------------------------------------------------------------------


def cite(claim_id: str, paragraph: int | None = None) -> str:
    """How a claim is cited in tables and terminals: ``id (¶N)``, or ``id`` without a paragraph."""
    return f"{claim_id} (¶{paragraph})" if paragraph else claim_id
