"""The vectorized core: forces on the ties, events, growth, bargaining and alliance decisions.

Every array carries a leading replicate axis: ties ``W`` are ``(n, A, A)`` (row ``i`` is actor i's
disposition toward column ``j``), capabilities ``(n, A)``, positions and saliences ``(n, A, K)``.
One step advances all replicates with a handful of batched numpy operations; nothing loops over
replicates or actors in Python. :mod:`sim.reference` writes the same step with plain loops.

One step ``t`` (synchronous: every force reads the state at the start of the step):

1. events due at ``t`` fire (scheduled ``at == t``; stochastic with probability
   ``1 - exp(-hazard dt)``) and apply their effects;
2. each member of each active alliance decides whether to stay (:func:`defection_probability`);
   the first to defect ends the alliance, whose fate is *stab in the back* if the others still
   trusted the defector (mean disposition toward it >= ``theta_trust``) and *drift apart* if not;
3. the ties move: ``W <- clip(W + dt * sum(forces) + noise * sqrt(dt) * xi, -1, 1)``;
4. a defection shocks the betrayed members' ties toward the defector (``betrayal_shock``) and every
   third party's (``reputation``);
5. capabilities grow by ``growth * dt`` and are renormalised to shares;
6. every ``bargain_every`` steps positions move by one round of expected-utility bargaining.

References
----------
Heider, F. (1946). Attitudes and cognitive organization. J. Psychology 21, 107-112.
Kułakowski, K., Gawroński, P. & Gronek, P. (2005). The Heider balance: a continuous approach.
    Int. J. Mod. Phys. C 16, 707-716.
Marvel, S. A., Kleinberg, J., Kleinberg, R. D. & Strogatz, S. H. (2011). Continuous-time model of
    structural balance. PNAS 108(5), 1771-1776.
Walt, S. M. (1987). The Origins of Alliances. Cornell University Press.
Leeds, B. A. & Savun, B. (2007). Terminating alliances: why do states abrogate agreements?
    J. Politics 69(4), 1118-1132.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .params import Params

HOLDS, STAB, DRIFT = 0, 1, 2
FATES = ("holds", "stab_in_the_back", "drift_apart")


# --------------------------------------------------------------------------------------------
# Forces (pure functions on batched arrays)
# --------------------------------------------------------------------------------------------

def interest_similarity(position, salience, low, high):
    """``U_ij = 1 - 2 sum_k s^_ik |x_ik - x_jk| / range_k`` with ``s^_i = s_i / sum_k s_ik``.

    An actor with no salient issue (all saliences zero) has ``U_i. = 0``: no interest-based pull.

    Parameters
    ----------
    position, salience : (n, A, K)
    low, high : (K,)

    Returns
    -------
    (n, A, A)
    """
    total = salience.sum(axis=-1, keepdims=True)
    shat = np.divide(salience, total, out=np.zeros_like(salience), where=total > 0)
    dist = np.abs(position[:, :, None, :] - position[:, None, :, :]) / (high - low)
    u = 1.0 - 2.0 * np.einsum("nik,nijk->nij", shat, dist)
    u = np.where(total > 0, u, 0.0)
    return u


def affinity_force(W, U):
    """Pull of each tie toward interest similarity: ``U_ij - W_ij`` (spatial models of alignment)."""
    return U - W


def balance_force(W):
    """Structural balance: ``sum_{k != i,j} W_ik W_kj / (A - 2)`` (Heider; Marvel et al. 2011).

    With a zero diagonal the ``k = i`` and ``k = j`` terms vanish, so this is ``(W @ W) / (A - 2)``.
    """
    A = W.shape[-1]
    return (W @ W) / max(A - 2, 1)


def threat_force(W, capability):
    """Balance of threat (Walt 1987): ``sum_h tau_hi tau_hj`` with ``tau_hi = c_h max(0, -W_hi)``.

    Two actors that face the same hostile, capable third party are drawn together. The ``h = i``
    and ``h = j`` terms vanish because the diagonal of ``W`` is zero.
    """
    tau = capability[:, :, None] * np.maximum(0.0, -W)
    return np.swapaxes(tau, -1, -2) @ tau


def pressure_force(pressure):
    """Shared external pressure: ``p_i p_j`` ("back to back" against encirclement, ¶4, ¶8)."""
    return pressure[:, :, None] * pressure[:, None, :]


def competition_force(ambition, strategic_value):
    """Sphere competition: ``-sum_m a_im a_jm v_m`` (Central Asia, ¶10-¶13)."""
    return -((ambition * strategic_value[:, None, :]) @ np.swapaxes(ambition, -1, -2))


def dependence_force(dependence):
    """Dependence: ``d_ij``, what i stands to lose from hostility toward j (¶8-¶9)."""
    return dependence


def defection_probability(W_mean, theta_stay, h0, beta, power_change, power_shift, dt):
    """Per-step probability that a member defects.

    Hazard ``h = h0 exp(beta (theta_stay - W)) exp(power_shift r)`` per unit time, where ``W`` is
    the member's mean disposition toward its partners and ``r`` the absolute log change of its
    power relative to theirs since the start (alliances are abrogated after power shifts, Leeds &
    Savun 2007); the probability over a step of length ``dt`` is ``1 - exp(-h dt)``.
    """
    # Past an exponent of 50 the member leaves within the step whatever h0 and dt are.
    exponent = np.minimum(beta * (theta_stay - W_mean) + power_shift * power_change, 50.0)
    hazard = h0 * np.exp(exponent)
    return -np.expm1(-hazard * dt)


# --------------------------------------------------------------------------------------------
# State and randomness
# --------------------------------------------------------------------------------------------

@dataclass
class State:
    """Everything that changes during a run, for ``n`` replicates."""

    t: int
    ties: np.ndarray  # (n, A, A)
    capability: np.ndarray  # (n, A)
    growth: np.ndarray  # (n, A)
    position: np.ndarray  # (n, A, K)
    salience: np.ndarray  # (n, A, K)
    ambition: np.ndarray  # (n, A, A)
    dependence: np.ndarray  # (n, A, A)
    pressure_offset: np.ndarray  # (n, A)
    fired: np.ndarray  # (n, E) bool
    active: np.ndarray  # (n, L) bool
    fate: np.ndarray  # (n, L) int8
    end_step: np.ndarray  # (n, L) int32, -1 while active
    defector: np.ndarray  # (n, L) int16, -1 while active
    log_power0: list[np.ndarray]  # per alliance (n, m): log power relative to partners at t=0
    U: np.ndarray | None = None  # cached interest similarity
    fixed: np.ndarray | None = None  # cached time-invariant force


@dataclass
class Draws:
    """The random numbers one step consumes, drawn in this order."""

    noise: np.ndarray  # (n, A, A) standard normal
    events: np.ndarray  # (n, E) uniform
    defect: np.ndarray  # (n, M) uniform, M = total members over alliances


def draw(rng: np.random.Generator, n: int, A: int, n_events: int, n_members: int,
         dtype=np.float64) -> Draws:
    """Draw one step's random numbers."""
    return Draws(rng.standard_normal((n, A, A), dtype=dtype), rng.random((n, n_events)),
                 rng.random((n, n_members)))


def member_count(params: Params) -> int:
    return int(sum(len(a.members) for a in params.alliances))


def initial_state(params: Params, dtype=np.float64) -> State:
    n, A = params.n, params.A
    L = len(params.alliances)
    W = params.ties.astype(dtype, copy=True)
    W[:, np.arange(A), np.arange(A)] = 0.0
    cap = params.capability.astype(dtype, copy=True)
    return State(
        t=0, ties=W, capability=cap, growth=params.growth.astype(dtype, copy=True),
        position=params.position.astype(dtype, copy=True),
        salience=params.salience.astype(dtype, copy=True),
        ambition=params.ambition.astype(dtype, copy=True),
        dependence=params.dependence.astype(dtype, copy=True),
        pressure_offset=np.zeros((n, A), dtype=dtype),
        fired=np.zeros((n, len(params.events)), dtype=bool),
        active=np.ones((n, L), dtype=bool), fate=np.zeros((n, L), dtype=np.int8),
        end_step=np.full((n, L), -1, dtype=np.int32), defector=np.full((n, L), -1, dtype=np.int16),
        log_power0=[_log_relative_power(cap, a.members) for a in params.alliances],
    )


def _log_relative_power(cap, members):
    c = cap[:, members]
    m = len(members)
    others = (c.sum(axis=1, keepdims=True) - c) / (m - 1)
    return np.log(np.maximum(c, 1e-300)) - np.log(np.maximum(others, 1e-300))


def pressure_at(params: Params, state: State, t: int):
    """Pressure felt by each actor at step t: schedule plus event offsets, floored at zero."""
    A = params.A
    idx = params.pressure_index[min(t, params.steps - 1)]
    w = params.pressure_weight[min(t, params.steps - 1)]
    ar = np.arange(A)
    pv = params.pressure_values
    sched = pv[:, ar, idx] * (1.0 - w) + pv[:, ar, idx + 1] * w
    return np.maximum(sched + state.pressure_offset, 0.0).astype(state.ties.dtype, copy=False)


def cohesion(W, members):
    """Mean disposition over the ordered pairs of an alliance's members: (n,)."""
    sub = W[:, members][:, :, members]
    m = len(members)
    return (sub.sum(axis=(1, 2)) - np.trace(sub, axis1=1, axis2=2)) / (m * (m - 1))


# --------------------------------------------------------------------------------------------
# The step
# --------------------------------------------------------------------------------------------

def apply_events(params: Params, state: State, t: int, u: np.ndarray) -> bool:
    """Fire the events due at step t; returns whether positions, saliences, ambitions or
    dependences changed (so the cached time-invariant force must be rebuilt)."""
    dirty = False
    s = 0
    for e_index, ev in enumerate(params.events):
        if ev.at is not None:
            if ev.at != t:
                continue
            mask = np.ones(params.n, dtype=bool)
        else:
            p = -np.expm1(-ev.hazard * params.dt)
            mask = u[:, s] < p
            s += 1
            if not ev.repeat:
                mask &= ~state.fired[:, e_index]
        if not mask.any():
            continue
        state.fired[:, e_index] |= mask
        for f in ev.effects:
            dirty |= _apply_effect(state, f, mask, params)
    return dirty


def stochastic_event_count(params: Params) -> int:
    return sum(1 for e in params.events if e.at is None)


def _update(arr, index, f, mask):
    cur = arr[index]
    new = cur + f.value if f.op == "shift" else np.broadcast_to(f.value, cur.shape)
    arr[index] = np.where(mask, new, cur)


def _apply_effect(state: State, f, mask, params: Params) -> bool:
    i, j = f.i, f.j
    if f.kind == "tie":
        for a, b in ((i, j), (j, i)) if f.symmetric else ((i, j),):
            _update(state.ties, (slice(None), a, b), f, mask)
            state.ties[:, a, b] = np.clip(state.ties[:, a, b], -1.0, 1.0)
        return False
    if f.kind == "dependence":
        for a, b in ((i, j), (j, i)) if f.symmetric else ((i, j),):
            _update(state.dependence, (slice(None), a, b), f, mask)
            np.maximum(state.dependence[:, a, b], 0.0, out=state.dependence[:, a, b])
        return True
    if f.kind == "position":
        _update(state.position, (slice(None), i, j), f, mask)
        state.position[:, i, j] = np.clip(state.position[:, i, j], params.low[j], params.high[j])
        return True
    if f.kind == "salience":
        _update(state.salience, (slice(None), i, j), f, mask)
        state.salience[:, i, j] = np.clip(state.salience[:, i, j], 0.0, 1.0)
        return True
    if f.kind == "ambition":
        _update(state.ambition, (slice(None), i, j), f, mask)
        state.ambition[:, i, j] = np.clip(state.ambition[:, i, j], 0.0, 1.0)
        return True
    if f.kind == "pressure":
        _update(state.pressure_offset, (slice(None), i), f, mask)
        return False
    if f.kind == "growth":
        _update(state.growth, (slice(None), i), f, mask)
        state.growth[:, i] = np.clip(state.growth[:, i], -0.5, 0.5)
        return False
    raise ValueError(f"unknown effect kind {f.kind!r}")  # pragma: no cover


def fixed_force(params: Params, state: State):
    """The part of the forces that only changes when events or bargaining change the state:
    ``alpha_aff U - alpha_cmp C + alpha_dep D`` (the ``-alpha_aff W`` part moves with W)."""
    c = params.coef
    state.U = interest_similarity(state.position, state.salience, params.low, params.high)
    f = c["affinity"][:, None, None] * state.U
    f += c["competition"][:, None, None] * competition_force(state.ambition, params.strategic_value)
    f += c["dependence"][:, None, None] * dependence_force(state.dependence)
    return f.astype(state.ties.dtype, copy=False)


def forces(params: Params, state: State, pressure):
    """The sum of the deterministic forces on every tie at the current state: (n, A, A)."""
    c = params.coef
    W = state.ties
    if state.fixed is None:
        state.fixed = fixed_force(params, state)
    total = state.fixed - c["affinity"][:, None, None] * W
    if np.any(c["balance"]):
        total += c["balance"][:, None, None] * balance_force(W)
    if np.any(c["threat"]):
        total += c["threat"][:, None, None] * threat_force(W, state.capability)
    if np.any(c["pressure"]):
        total += c["pressure"][:, None, None] * pressure_force(pressure)
    return total


def decide(params: Params, state: State, t: int, u: np.ndarray):
    """Alliance decisions at step t. Returns, per alliance, (ended mask, defector index)."""
    W = state.ties
    out = []
    col = 0
    for a_index, al in enumerate(params.alliances):
        m = al.members
        k = len(m)
        sub = W[:, m][:, :, m]
        w_mean = sub.sum(axis=2) / (k - 1)  # member's mean disposition toward partners (diag 0)
        trust_in = sub.sum(axis=1) / (k - 1)  # partners' mean disposition toward the member
        change = np.abs(_log_relative_power(state.capability, m) - state.log_power0[a_index])
        p = defection_probability(w_mean, al.theta_stay[:, None], al.h0[:, None], al.beta[:, None],
                                  change, al.power_shift[:, None], params.dt)
        draws = u[:, col:col + k]
        col += k
        defects = (draws < p) & state.active[:, a_index][:, None]
        ended = defects.any(axis=1)
        # The first to defect: the most decisive draw relative to its own probability.
        ratio = np.where(defects, draws / np.where(p > 0, p, 1.0), np.inf)
        first = np.argmin(ratio, axis=1)
        rows = np.arange(params.n)
        trusted = trust_in[rows, first] >= al.theta_trust
        fate = np.where(trusted, STAB, DRIFT).astype(np.int8)
        state.fate[:, a_index] = np.where(ended, fate, state.fate[:, a_index])
        state.end_step[:, a_index] = np.where(ended, t, state.end_step[:, a_index])
        state.defector[:, a_index] = np.where(ended, m[first], state.defector[:, a_index])
        state.active[:, a_index] &= ~ended
        out.append((ended, m[first]))
    return out


def apply_defections(params: Params, state: State, decisions):
    """Betrayal shock on the partners' ties toward the defector, reputation loss with third parties."""
    W = state.ties
    A = params.A
    rows = np.arange(params.n)
    for al, (ended, who) in zip(params.alliances, decisions):
        if not ended.any():
            continue
        member = np.zeros(A, dtype=bool)
        member[al.members] = True
        col = W[rows, :, who]  # (n, A): everyone's disposition toward the defector
        loss = np.where(member[None, :], al.betrayal_shock[:, None], al.reputation[:, None])
        loss = np.where(ended[:, None], loss, 0.0)
        loss[rows, who] = 0.0
        W[rows, :, who] = np.clip(col - loss, -1.0, 1.0)


def grow(params: Params, state: State):
    """Capabilities grow by ``growth * dt`` and are renormalised to shares."""
    cap = state.capability * (1.0 + state.growth * params.dt)
    np.maximum(cap, 0.0, out=cap)
    total = cap.sum(axis=1, keepdims=True)
    state.capability = np.divide(cap, total, out=np.full_like(cap, 1.0 / params.A), where=total > 0)


def bargain(params: Params, state: State):
    """One round of expected-utility bargaining on every issue (Bueno de Mesquita).

    Always computed in float64: the choice among offers is discontinuous, so float32 rounding
    would change which offer an actor takes.
    """
    from .bargaining import bdm_step

    f64 = np.float64
    state.position = bdm_step(state.capability.astype(f64), state.position.astype(f64),
                              state.salience.astype(f64), params.low, params.high,
                              salience_scale=1.0).astype(state.ties.dtype, copy=False)


def step(params: Params, state: State, draws: Draws) -> None:
    """Advance every replicate by one step, in place."""
    t = state.t
    if apply_events(params, state, t, draws.events):
        state.fixed = None
    pressure = pressure_at(params, state, t)
    decisions = decide(params, state, t, draws.defect)
    F = forces(params, state, pressure)
    W = state.ties
    sigma = params.coef["noise"]
    W += params.dt * F
    if np.any(sigma):
        W += (sigma * np.sqrt(params.dt))[:, None, None].astype(W.dtype) * draws.noise
    np.clip(W, -1.0, 1.0, out=W)
    A = params.A
    W[:, np.arange(A), np.arange(A)] = 0.0
    apply_defections(params, state, decisions)
    grow(params, state)
    if params.bargain_every and (t + 1) % params.bargain_every == 0:
        bargain(params, state)
        state.fixed = None
    state.t = t + 1


def run(params: Params, rng: np.random.Generator, *, steps: int | None = None, dtype=np.float64,
        record=None) -> State:
    """Run ``steps`` (default: the scenario's) steps from the initial state.

    ``record(state)``, if given, is called at the start and after every step.
    """
    state = initial_state(params, dtype)
    steps = params.steps if steps is None else steps
    E, M = stochastic_event_count(params), member_count(params)
    if record is not None:
        record(state)
    for _ in range(steps):
        step(params, state, draw(rng, params.n, params.A, E, M, dtype))
        if record is not None:
            record(state)
    return state
