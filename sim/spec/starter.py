"""A commented starter scenario (``alliance-sim new NAME``): extends the shipped baseline, changes
one thing, and shows in comments how to change everything else."""

from __future__ import annotations

from pathlib import Path

from sim.extras import launcher
from sim.files import atomic_write_text
from sim.spec.scenario import SHIPPED_PREFIX

TEMPLATE = '''# {name}: a scenario of your own. It inherits everything from the shipped February 2022
# baseline and changes only what is written below. Check it with
#   {cli} validate {file}
#   {cli} show {file}      (rows marked + or * are what this file adds or changes)
# and run it with
#   {cli} run {file} -n 2000
#
# Any number may be uncertain, drawn once per run:
#   {{dist = "uniform", low = 0.2, high = 0.4}}
#   {{dist = "triangular", low = 0.2, mode = 0.25, high = 0.4}}
#   {{dist = "normal", mean = 0.3, sd = 0.05}}       (clipped to the field's bounds)
#   {{dist = "beta", a = 2, b = 5, low = 0, high = 1}}
# A number you add here has no claim behind it: `show` lists it as "none". Say where it comes
# from in a comment, or add a claim to a claims file of your own (see seeds/README.md).

extends = "{prefix}seeds/baseline.toml"
title = "{name}"
description = """
What this scenario supposes, in a sentence or two."""
focal = "china_russia"        # the alliance the report leads with

[run]
steps = 120                   # months
# replicates = 2000
# seed = 1

# The one change this starter makes: Western pressure on both partners rises to 0.9 by month 24.
# A schedule is a list of knots {{at = step, value = level}}, linear in between.
[pressure]
China = [{{at = 0, value = 0.5}}, {{at = 24, value = 0.9}}]
Russia = [{{at = 0, value = 0.6}}, {{at = 24, value = 0.9}}]

# Switch a mechanism off or scale it (per month; 0 switches it off):
# [mechanisms]
# competition = 0.0
# threat = {{dist = "uniform", low = 0.05, high = 0.1}}

# Another initial tie. Entries are applied in order after the baseline's, so a later entry for
# the same direction replaces an earlier one; `show` says which entry wins.
# [[ties]]
# from = "China"
# to = "Russia"
# value = 0.8
# symmetric = true            # also Russia -> China

# An event: `at` a step, or at random with `hazard` per month (`repeat = true`: may recur).
# Each effect has a `kind` and either `shift` (add) or `set` (replace):
#   tie         from, to (symmetric = true for both ways)   a disposition in [-1, 1]
#   dependence  from, to (symmetric)                       what `from` gains from `to`
#   position    actor, issue                               a position on the issue's scale
#   salience    actor, issue                               how much the issue matters, [0, 1]
#   ambition    actor, target                              actor's ambition to hold target, [0, 1]
#   pressure    actor (shift only)                         added to the pressure schedule
#   growth      actor                                      monthly capability growth
# [events.pipeline_deal]
# label = "A new gas pipeline deal"
# hazard = {{dist = "uniform", low = 0.01, high = 0.03}}
# effects = [
#   {{kind = "tie", from = "China", to = "Russia", shift = 0.1, symmetric = true}},
#   {{kind = "dependence", from = "China", to = "Russia", shift = 0.1}},
# ]

# The decision rule of the alliance: a member defects with hazard
# h0 * exp(beta * (theta_stay - its mean tie to the partners)) per month; a defection while the
# partner's tie to the defector is still >= theta_trust is a stab in the back.
# [alliances.china_russia]
# theta_trust = 0.3
'''


def starter_text(name: str, file: str) -> str:
    """The starter scenario called ``name`` as it would be written to ``file``."""
    return TEMPLATE.format(name=name, file=file, prefix=SHIPPED_PREFIX, cli=launcher() or "alliance-sim")


def write_starter(path: Path, force: bool = False) -> Path:
    """Write the starter scenario to ``path`` (``.toml`` added); refuses to overwrite without
    ``force``. Returns the file written."""
    if path.suffix != ".toml":
        path = path.with_name(path.name + ".toml")
    if path.exists() and not force:
        raise FileExistsError(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, starter_text(path.stem, str(path)))
    return path
