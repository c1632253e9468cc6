"""Correlated uncertainties: rank correlations between uncertain values through a Gaussian copula.

A scenario's ``[correlations]`` table names pairs of uncertain values by their dotted paths (as
``alliance-sim show`` prints them) and gives their Spearman rank correlation::

    [correlations]
    "mechanisms.pressure ~ mechanisms.competition" = -0.4

Draws keep each value's own distribution (its marginal) and get the requested rank correlation
from a Gaussian copula: a standard normal vector ``z`` with correlation matrix ``R`` becomes
uniforms ``u = Phi(z)`` and then values ``x = F^-1(u)`` through each marginal's quantile function.
For a Gaussian copula Spearman's ``rho_s`` and the normal correlation ``r`` are related by
``r = 2 sin(pi rho_s / 6)`` (Pearson 1907; Kruskal 1958), so ``R`` is built from the requested
``rho_s`` that way and must be positive semi-definite. The approach is the normal-to-anything
(NORTA) construction of Cario & Nelson (1997), as used for correlated inputs in uncertainty
analysis by Iman & Conover (1982).

References
----------
Cario, M. C. & Nelson, B. L. (1997). Modeling and generating random vectors with arbitrary
marginal distributions and correlation matrix. Technical report, Northwestern University.
Iman, R. L. & Conover, W. J. (1982). A distribution-free approach to inducing rank correlation
among input variables. Communications in Statistics - Simulation and Computation 11(3), 311-334.
Kruskal, W. H. (1958). Ordinal measures of association. JASA 53(284), 814-861.
"""

from __future__ import annotations

import math

import numpy as np

from sim.spec.locations import FieldError
from sim.spec.scenario import Scenario
from sim.spec.values import Distribution

SEPARATOR = "~"
PSD_TOLERANCE = 1e-10


def pair_names(key: str) -> tuple[str, str]:
    """The two dotted paths of a ``[correlations]`` key ``"a ~ b"``."""
    parts = [p.strip() for p in key.split(SEPARATOR)]
    if len(parts) != 2 or not all(parts):
        raise FieldError(("correlations", key), f"expected a key of the form 'path ~ path', got {key!r}")
    return parts[0], parts[1]


def uncertain_paths(scenario: Scenario) -> dict[str, Distribution]:
    """Every uncertain value of a scenario by dotted path, in sampling order."""
    from sim.spec.parammap import slots

    return {slot.path: slot.value for slot in slots(scenario) if isinstance(slot.value, Distribution)}


def correlation_matrix(scenario: Scenario) -> tuple[list[str], np.ndarray]:
    """The correlated paths and the normal-scale correlation matrix of their Gaussian copula.

    Raises ``FieldError`` (reported as ``file:line: correlations.KEY: ...``) for a path that is
    not an uncertain value, a value paired with itself, a pair given twice, or a matrix that is
    not positive semi-definite.
    """
    uncertain = uncertain_paths(scenario)
    names: list[str] = []
    pairs: dict[tuple[int, int], float] = {}
    for key, rho in scenario.correlations.items():
        a, b = pair_names(key)
        for p in (a, b):
            if p not in uncertain:
                raise FieldError(
                    ("correlations", key),
                    f"expected two uncertain values (paths as 'alliance-sim show' prints "
                    f"them), got {p!r}, which is "
                    + ("a plain number" if _is_path(scenario, p) else "not a parameter"),
                )
            if p not in names:
                names.append(p)
        if a == b:
            raise FieldError(("correlations", key), f"expected two different values, got {a!r} twice")
        i, j = sorted((names.index(a), names.index(b)))
        if (i, j) in pairs:
            raise FieldError(("correlations", key), f"expected each pair once, got {a!r} and {b!r} again")
        pairs[(i, j)] = float(rho)
    R = np.eye(len(names))
    for (i, j), rho in pairs.items():
        R[i, j] = R[j, i] = 2.0 * math.sin(math.pi * rho / 6.0)
    smallest = float(np.linalg.eigvalsh(R).min())
    if smallest < -PSD_TOLERANCE:
        raise FieldError(
            ("correlations",),
            f"expected rank correlations that can hold together (a "
            f"positive semi-definite matrix), got one with eigenvalue {smallest:.3g}",
        )
    return names, R


def _is_path(scenario: Scenario, path: str) -> bool:
    from sim.spec.parammap import slots

    return any(slot.path == path for slot in slots(scenario))


def sample_values(scenario: Scenario, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` draws of every uncertain value of ``scenario``, with its ``[correlations]``.

    Each value is its marginal's quantile function (:meth:`~sim.spec.values.Distribution.ppf`)
    at a uniform; the uniforms of correlated values come from one Gaussian copula (module
    docstring), the others are independent.
    """
    from scipy import special

    from sim.spec.parammap import slots

    uncertain = {slot.path: slot for slot in slots(scenario) if slot.uncertain}
    u = rng.random((n, len(uncertain)))
    # keep the quantile functions away from their infinite ends
    np.clip(u, 1e-12, 1.0 - 1e-12, out=u)
    paths = list(uncertain)
    if scenario.correlations:
        names, R = correlation_matrix(scenario)
        w, V = np.linalg.eigh(R)
        L = V * np.sqrt(np.clip(w, 0.0, None))  # R = L L^T, also when R is only semi-definite
        z = rng.standard_normal((n, len(names))) @ L.T
        cols = [paths.index(p) for p in names]
        u[:, cols] = np.clip(special.ndtr(z), 1e-12, 1.0 - 1e-12)
    out = {}
    for k, p in enumerate(paths):
        slot = uncertain[p]
        assert isinstance(slot.value, Distribution)
        out[p] = slot.value.ppf(u[:, k], slot.bounds)
    return out
