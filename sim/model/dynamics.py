"""The vectorized core: forces on the ties, events, growth, bargaining and alliance decisions.

Every array carries a leading replicate axis: ties ``W`` are ``(n, A, A)`` (row ``i`` is actor i's
disposition toward column ``j``), capabilities ``(n, A)``, positions and saliences ``(n, A, K)``.
One step advances all replicates with a handful of batched numpy operations; nothing loops over
replicates or actors in Python. :mod:`sim.model.reference` writes the same step with plain loops.

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

from sim.spec.params import Params
from sim.vocabulary import Fate

HOLDS, STAB, DRIFT = Fate.HOLDS.value, Fate.STAB.value, Fate.DRIFT.value  # codes in the fate arrays
CHECK_EVERY = 8  # steps between checks that ties and capabilities are still finite


class NumericalError(ArithmeticError):
    """Ties or capabilities stopped being finite numbers; names the likeliest mechanism."""

    def __init__(self, message: str, mechanism: str):
        super().__init__(message, mechanism)  # both in args, so it survives pickling
        self.message, self.mechanism = message, mechanism

    def __str__(self) -> str:
        return self.message


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
    dist = np.abs(position[:, :, None, :] - position[:, None, :, :])
    dist *= shat[:, :, None, :] / (high - low)
    u = 1.0 - 2.0 * dist.sum(axis=-1)
    u = np.where(total > 0, u, 0.0)
    return u


def affinity_force(W, U):
    """Pull of each tie toward interest similarity: ``U_ij - W_ij`` (spatial models of alignment)."""
    return U - W


def balance_force(W):
    """Structural balance: ``sum_{k != i,j} W_ik W_kj / (A - 2)`` (Heider; Marvel et al. 2011).

    As a function this is ``(W @ W) / (A - 2)`` for any matrix; it equals the sum over third
    parties because :func:`step` holds the diagonal of ``W`` at zero. The dynamics are therefore
    Marvel et al.'s ``dX/dt = X^2`` without the self-appraisal terms, with time scaled by
    ``alpha_bal / (A - 2)`` and ties clipped to [-1, 1] (Kułakowski et al. 2005's bounded variant);
    see tests/validation for how far Marvel's predictions carry over.
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


def dependence_conflict(dependence, W):
    """The other side of dependence: ``-sum_k d_ik max(0, -W_jk)``.

    Actor i's disposition toward j sours when j is hostile to a state k that i depends on: j's
    hostility threatens what i gets from k. This is the triangle of ¶8-¶9 (China depends on
    Ukrainian military technology; Russia is hostile to Ukraine). It is applied with the same
    coefficient as :func:`dependence_force`.
    """
    return dependence @ np.swapaxes(np.minimum(W, 0.0), -1, -2)


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
    log_power0: np.ndarray  # (n, M) each seat's relative_power at t = 0 (seats: :class:`Seats`)
    first_fired: np.ndarray  # (n, E) int32: step each event first fired, -1 if never
    fire_count: np.ndarray  # (n, E) int32: how many times it fired


@dataclass
class Workspace:
    """Buffers and per-replicate constants of the fused step (allocated once per run)."""

    F: np.ndarray  # (n, A, A) sum of this step's increments
    tmp: np.ndarray  # (n, A, A)
    tau: np.ndarray  # (n, A, A) threat operand
    tau_t: np.ndarray  # (n, A, A) its transpose, stored contiguously
    affinity: np.ndarray  # (n, 1) -dt * alpha_aff
    balance: np.ndarray | None  # (n, 1, 1) dt * alpha_bal / (A - 2), None when off everywhere
    threat: np.ndarray | None  # (n, 1) sqrt(dt * alpha_thr)
    pressure: np.ndarray | None  # (n, 1) sqrt(dt * alpha_prs)
    noise: np.ndarray | None  # (n, 1, 1) sigma * sqrt(dt)
    diagonal: slice  # the diagonal of a matrix flattened to an (A * A) row
    dependence: np.ndarray | None  # (n, 1) dt * alpha_dep
    dependence_pairs: list[tuple[int, int]]  # (i, k) where i may depend on k


def workspace(params: Params, dtype) -> Workspace:
    """Buffers and per-chunk constants of the step, in the ties' precision."""
    n, A, dt = params.n, params.A, params.dt
    c = params.coef

    def column(x, shape):
        return None if not np.any(x) else np.ascontiguousarray(x.reshape(shape), dtype=dtype)

    def buffer() -> np.ndarray:
        return np.zeros((n, A, A), dtype=dtype)

    return Workspace(
        F=buffer(),
        tmp=buffer(),
        tau=buffer(),
        tau_t=buffer(),
        affinity=(-dt * c["affinity"]).reshape(n, 1).astype(dtype),
        balance=column(dt * c["balance"] / max(A - 2, 1), (n, 1, 1)),
        threat=column(np.sqrt(dt * c["threat"]), (n, 1)),
        pressure=column(np.sqrt(dt * c["pressure"]), (n, 1)),
        noise=column(c["noise"] * np.sqrt(dt), (n, 1, 1)),
        diagonal=slice(None, None, A + 1),
        dependence=column(dt * c["dependence"], (n, 1)),
        dependence_pairs=dependence_pairs(params),
    )


def dependence_pairs(params: Params) -> list[tuple[int, int]]:
    """Every (i, k) where actor i depends on k in some replicate or after some event."""
    pairs = set(zip(*np.nonzero(params.dependence.any(axis=0))))
    for ev in params.events:
        for f in ev.effects:
            if f.kind == "dependence":
                pairs.add((f.i, f.j))
                if f.symmetric:
                    pairs.add((f.j, f.i))
    return sorted((int(i), int(k)) for i, k in pairs)


@dataclass
class Seats:
    """Every member of every alliance as one "seat", so that all decisions of a step are computed
    together: seat ``s`` is actor ``actor[s]``, and alliance ``a`` holds the seats ``span[a]`` (in
    the order of its members; an actor in two alliances has two seats)."""

    actor: np.ndarray  # (M,) the actor in each seat
    span: list[slice]  # the seats of each alliance
    pairs: np.ndarray  # (P,) flat index i * A + j of each ordered pair of partners
    mean: np.ndarray  # (P, M) averages a seat's pairs: its mean disposition toward its partners
    partners: np.ndarray  # (M, M) 1 where two seats share an alliance (self included)
    size: np.ndarray  # (M,) members of the seat's alliance
    theta_stay: np.ndarray  # (n, M), and the other rule parameters of each seat's alliance, in
    # the dtype of the ties: float32 runs compute the probabilities in float32
    h0: np.ndarray
    beta: np.ndarray
    power_shift: np.ndarray
    shifting: bool  # some power_shift is not zero


def seats(params: Params, dtype) -> Seats:
    """The seats of the scenario's alliances, with their rule parameters in ``dtype``."""
    A, M = params.A, member_count(params)
    actor: list[int] = []
    span: list[slice] = []
    pairs: list[int] = []
    owner: list[int] = []
    sizes: list[int] = []
    for al in params.alliances:
        start = len(actor)
        k = len(al.members)
        for i in al.members:
            for j in al.members:
                if j != i:
                    pairs.append(int(i) * A + int(j))
                    owner.append(len(actor))
            actor.append(int(i))
            sizes.append(k)
        span.append(slice(start, len(actor)))
    size = np.array(sizes, dtype=dtype)
    mean = np.zeros((len(pairs), M), dtype=dtype)
    mean[np.arange(len(pairs)), owner] = 1.0 / (size[owner] - 1)
    partners = np.zeros((M, M), dtype=dtype)
    for sl in span:
        partners[sl, sl] = 1.0

    def per_seat(key):
        columns = [np.repeat(getattr(al, key)[:, None], len(al.members), axis=1) for al in params.alliances]
        return (np.concatenate(columns, axis=1) if columns else np.zeros((params.n, 0))).astype(dtype)

    shift = per_seat("power_shift")
    return Seats(
        np.array(actor, dtype=np.intp),
        span,
        np.array(pairs, dtype=np.intp),
        mean,
        partners,
        size,
        per_seat("theta_stay"),
        per_seat("h0"),
        per_seat("beta"),
        shift,
        bool(np.any(shift)),
    )


def relative_power(cap: np.ndarray, seats: Seats) -> np.ndarray:
    """Log of each seat's capability over its partners' mean capability: (n, M), in the dtype of
    ``cap`` (float32 runs carry it to float32 precision, as they carry the ties)."""
    c = cap[:, seats.actor]
    tiny = np.finfo(c.dtype).tiny
    others = (c @ seats.partners - c) / (seats.size - 1)
    return np.log(np.maximum(c, tiny) / np.maximum(others, tiny))


@dataclass
class Draws:
    """The random numbers one step consumes, drawn in this order."""

    noise: np.ndarray  # (n, A, A) standard normal
    events: np.ndarray  # (n, E) uniform
    defect: np.ndarray  # (n, M) uniform, M = total members over alliances


_NORMAL_TABLE: dict[str, np.ndarray] = {}


def normal_table(dtype=np.float64) -> np.ndarray:
    """65,536 standard-normal quantiles at the midpoints ``(k + 1/2) / 2^16``, rescaled to unit
    variance: indexed by raw 16-bit draws they give normal noise at a fraction of the cost of
    ``standard_normal``. Mean 0 and skewness 0 exactly, variance 1, kurtosis 2.9996; the tails are
    cut at 4.2 standard deviations (a 1-in-40,000 event per draw)."""
    key = np.dtype(dtype).name
    if key not in _NORMAL_TABLE:
        from statistics import NormalDist

        inv = NormalDist().inv_cdf
        half = np.array([inv((k + 0.5) / 65536) for k in range(32768)])
        table = np.concatenate([half, -half[::-1]])
        table /= np.sqrt(np.mean(table * table))
        _NORMAL_TABLE[key] = table.astype(dtype)
    return _NORMAL_TABLE[key]


def normal_noise(rng: np.random.Generator, shape, dtype=np.float64, out=None, rows=None) -> np.ndarray:
    """Normal draws from :func:`normal_table`, indexed by the generator's raw 16-bit output;
    ``rows``: only those of the leading axis are looked up (the generator advances as for all)."""
    size = int(np.prod(shape))
    raw = rng.bit_generator.random_raw(-(-size // 4))
    index = raw.view(np.uint16)[:size].reshape(shape)
    if rows is not None:
        index = index[rows]
    # every 16-bit index is inside the table, so the bounds check of mode="raise" is skipped
    return np.take(normal_table(dtype), index, out=out, mode="clip")


def draw(
    rng: np.random.Generator,
    n: int,
    A: int,
    n_events: int,
    n_members: int,
    dtype=np.float64,
    out: np.ndarray | None = None,
    rows: np.ndarray | None = None,
) -> Draws:
    """Draw one step's random numbers: noise, event uniforms, decision uniforms, in that order.

    ``rows``: only the numbers of those of the ``n`` replicates, the generator consuming exactly
    what it consumes for all ``n`` (a few replicates of a chunk re-run with the chunk's draws)."""
    if rows is None:
        return Draws(
            normal_noise(rng, (n, A, A), dtype, out), rng.random((n, n_events)), rng.random((n, n_members))
        )
    noise = normal_noise(rng, (n, A, A), dtype, out, rows)
    return Draws(noise, rng.random((n, n_events))[rows], rng.random((n, n_members))[rows])


def member_count(params: Params) -> int:
    """Total members over all alliances (decision draws per replicate and step)."""
    return int(sum(len(a.members) for a in params.alliances))


def initial_state(params: Params, dtype=np.float64) -> State:
    """Every replicate at step 0: the initial ties, capabilities, positions and alliances."""
    n, A = params.n, params.A
    L = len(params.alliances)
    W = params.ties.astype(dtype, copy=True)
    W[:, np.arange(A), np.arange(A)] = 0.0
    cap = params.capability.astype(dtype, copy=True)
    places = seats(params, dtype)
    return State(
        t=0,
        ties=W,
        capability=cap,
        growth=params.growth.astype(dtype, copy=True),
        position=params.position.astype(dtype, copy=True),
        salience=params.salience.astype(dtype, copy=True),
        ambition=params.ambition.astype(dtype, copy=True),
        dependence=params.dependence.astype(dtype, copy=True),
        pressure_offset=np.zeros((n, A), dtype=dtype),
        fired=np.zeros((n, len(params.events)), dtype=bool),
        active=np.ones((n, L), dtype=bool),
        fate=np.zeros((n, L), dtype=np.int8),
        end_step=np.full((n, L), -1, dtype=np.int32),
        defector=np.full((n, L), -1, dtype=np.int16),
        log_power0=relative_power(cap, places),
        first_fired=np.full((n, len(params.events)), -1, dtype=np.int32),
        fire_count=np.zeros((n, len(params.events)), dtype=np.int32),
    )


#: the arrays that make up a State at a step (the rest is rebuilt from the parameters)
STATE_ARRAYS = (
    "ties",
    "capability",
    "growth",
    "position",
    "salience",
    "ambition",
    "dependence",
    "pressure_offset",
    "fired",
    "active",
    "fate",
    "end_step",
    "defector",
    "log_power0",
    "first_fired",
    "fire_count",
)


def restore_state(params: Params, t: int, arrays: dict[str, np.ndarray], dtype=np.float64) -> State:
    """A :class:`State` at step ``t`` from saved arrays (:data:`STATE_ARRAYS`, one row per replicate
    of ``params``), to continue a run from there; caches are rebuilt on the first step."""
    dtype = np.dtype(dtype)
    kinds = {
        "fired": bool,
        "active": bool,
        "fate": np.int8,
        "end_step": np.int32,
        "defector": np.int16,
        "first_fired": np.int32,
        "fire_count": np.int32,
    }
    values = {k: np.array(arrays[k], dtype=kinds.get(k, dtype), copy=True) for k in STATE_ARRAYS}
    fresh = initial_state(params, dtype)  # the shapes every array must have
    for k in STATE_ARRAYS:
        want = getattr(fresh, k).shape
        if values[k].shape != want:
            raise ValueError(f"expected {k} of shape {want}, got {values[k].shape}")
    v = values
    return State(
        t=int(t),
        ties=v["ties"],
        capability=v["capability"],
        growth=v["growth"],
        position=v["position"],
        salience=v["salience"],
        ambition=v["ambition"],
        dependence=v["dependence"],
        pressure_offset=v["pressure_offset"],
        fired=v["fired"],
        active=v["active"],
        fate=v["fate"],
        end_step=v["end_step"],
        defector=v["defector"],
        log_power0=v["log_power0"],
        first_fired=v["first_fired"],
        fire_count=v["fire_count"],
    )


def schedule_moves(params: Params, t: int) -> bool:
    """Whether the pressure schedule at step t may differ from step t - 1 (it is flat between
    knots, where the left knot stays the same and the weight of the right one is zero)."""
    t = min(t, params.steps - 1)
    return t == 0 or not (
        np.array_equal(params.pressure_index[t], params.pressure_index[t - 1])
        and not params.pressure_weight[t].any()
        and not params.pressure_weight[t - 1].any()
    )


def pressure_at(params: Params, state: State, t: int, stepper: Stepper | None = None):
    """Pressure felt by each actor at step t: schedule plus event offsets, floored at zero.

    The schedule's value is kept in ``stepper.pressure_cache`` while the schedule is flat.
    """
    t = min(t, params.steps - 1)
    idx = params.pressure_index[t]
    w = params.pressure_weight[t]
    cached = None if stepper is None else stepper.pressure_cache
    if cached is None or schedule_moves(params, t):
        ar = np.arange(params.A)
        pv = params.pressure_values
        cached = pv[:, ar, idx] * (1.0 - w) + pv[:, ar, idx + 1] * w
        if stepper is not None:
            stepper.pressure_cache = cached
    return np.maximum(cached + state.pressure_offset, 0.0).astype(state.ties.dtype, copy=False)


def cohesion(W, members):
    """Mean disposition over the ordered pairs of an alliance's members: (n,)."""
    m = len(members)
    total = np.zeros(W.shape[0], dtype=np.float64)
    for i in members:
        for j in members:
            if i != j:
                total += W[:, i, j]
    return total / (m * (m - 1))


# --------------------------------------------------------------------------------------------
# The step
# --------------------------------------------------------------------------------------------


def event_probabilities(params: Params) -> np.ndarray | None:
    """Probability of each stochastic event in one step, ``1 - exp(-hazard dt)``: (n, E)."""
    hazards = [ev.hazard for ev in params.events if ev.hazard is not None]
    return -np.expm1(-np.stack(hazards, axis=1) * params.dt) if hazards else None


def apply_events(params: Params, state: State, t: int, u: np.ndarray, stepper: Stepper):
    """Fire the events due at step t.

    Returns three index arrays of replicates: those whose positions or saliences changed (their
    interest similarity must be recomputed), those whose interests changed in any way (positions,
    saliences, ambitions or dependences: their fixed force must be rebuilt) and those whose
    pressure changed. An event that changes growth drops ``stepper.growth_factor``. Records in
    ``state.first_fired`` the step at which each event first fired in each replicate and counts its
    firings in ``state.fire_count``.
    """
    similarity = interests = pressure = None
    event_p = stepper.event_p
    fires = u < event_p if event_p is not None else None
    why = stepper.why
    s = 0
    for e_index, ev in enumerate(params.events):
        if ev.at is not None:
            if ev.at != t:
                continue
            mask = np.ones(params.n, dtype=bool)
        else:
            assert fires is not None  # a stochastic event has its probability
            mask = fires[:, s]
            s += 1
            if not mask.any():
                continue
            if not ev.repeat:
                mask = mask & ~state.fired[:, e_index]
        rows = np.flatnonzero(mask)
        if rows.size == 0:
            continue
        state.fired[rows, e_index] = True
        first = state.first_fired[rows, e_index]
        state.first_fired[rows, e_index] = np.where(first < 0, t, first)
        state.fire_count[rows, e_index] += 1
        before = why.ties(state, rows) if why is not None and why.moved_by(e_index) else None
        for f in ev.effects:
            changed = _apply_effect(state, f, rows, params)
            if changed == "growth":
                stepper.growth_factor = None
            if changed == "similarity":
                similarity = mask if similarity is None else similarity | mask
            if changed in ("similarity", "spheres"):
                interests = mask if interests is None else interests | mask

            if changed == "pressure":
                pressure = mask if pressure is None else pressure | mask
        if before is not None:
            why.event(e_index, rows, before, why.ties(state, rows))
    empty = np.empty(0, dtype=np.intp)
    return tuple(empty if m is None else np.flatnonzero(m) for m in (similarity, interests, pressure))


def stochastic_event_count(params: Params) -> int:
    """Number of stochastic (hazard) events."""
    return sum(1 for e in params.events if e.at is None)


def _update(arr, rows, index, f, lo=-np.inf, hi=np.inf):
    """Shift or set ``arr[rows, *index]`` by the effect's per-replicate value, then bound it."""
    value = f.value[rows]
    where = (rows, *index)
    new = arr[where] + value if f.op == "shift" else value
    arr[where] = np.clip(new, lo, hi)


def _apply_effect(state: State, f, rows, params: Params) -> str | None:
    """Apply one effect to the replicates ``rows``; says what kind of state it changed."""
    i, j = f.i, f.j
    pairs = ((i, j), (j, i)) if f.symmetric else ((i, j),)
    if f.kind == "tie":
        for a, b in pairs:
            _update(state.ties, rows, (a, b), f, -1.0, 1.0)
        return None
    if f.kind == "dependence":
        for a, b in pairs:
            _update(state.dependence, rows, (a, b), f, 0.0)
        return "spheres"
    if f.kind == "position":
        _update(state.position, rows, (i, j), f, params.low[j], params.high[j])
        return "similarity"
    if f.kind == "salience":
        _update(state.salience, rows, (i, j), f, 0.0, 1.0)
        return "similarity"
    if f.kind == "ambition":
        _update(state.ambition, rows, (i, j), f, 0.0, 1.0)
        return "spheres"
    if f.kind == "pressure":
        _update(state.pressure_offset, rows, (i,), f)
        return "pressure"
    if f.kind == "growth":
        _update(state.growth, rows, (i,), f, -0.5, 0.5)
        return "growth"
    raise ValueError(f"unknown effect kind {f.kind!r}")  # pragma: no cover


def fixed_force(
    params: Params, state: State, stepper: Stepper, rows=slice(None), similarity: bool = True
) -> np.ndarray:
    """``dt * (alpha_aff U - alpha_cmp C + alpha_dep D)`` for the replicates ``rows``: the part of
    the forces that only changes when events or bargaining change interests (the ``-alpha_aff W``
    part of the affinity force moves with W and is applied in :func:`increments`).

    ``dt alpha_aff U`` is kept in ``stepper.similarity`` and recomputed only when ``similarity``
    (positions or saliences changed).
    """
    c = {k: v[rows][:, None, None] for k, v in params.coef.items()}
    if similarity or stepper.similarity is None:
        U = interest_similarity(state.position[rows], state.salience[rows], params.low, params.high)
        term = (params.dt * c["affinity"] * U).astype(state.ties.dtype)
        if stepper.similarity is None:
            stepper.similarity = term
        else:
            stepper.similarity[rows] = term
    f = stepper.similarity[rows].astype(np.float64)
    if np.any(c["competition"]):
        f += (params.dt * c["competition"]) * competition_force(
            state.ambition[rows], params.strategic_value[rows]
        )
    if np.any(c["dependence"]):
        f += (params.dt * c["dependence"]) * dependence_force(state.dependence[rows])
    return f.astype(state.ties.dtype, copy=False)


def increments(params: Params, state: State, stepper: Stepper) -> np.ndarray:
    """``dt`` times the sum of the deterministic forces at the current state, computed into the
    workspace without allocating: the fixed part (interests and pressure, see
    :func:`fold_pressure`), affinity's ``-alpha_aff W``, balance, dependence conflict and threat.
    """
    ws = stepper.work
    W = state.ties
    F, tmp, M = ws.F, ws.tmp, ws.tau_t
    if ws.balance is not None:
        # Affinity's -a W and balance's b W W in one product: W @ (b W - a I), diagonal of W zero.
        np.multiply(W, ws.balance, out=M)
        M.reshape(params.n, -1)[:, ws.diagonal] = ws.affinity
        np.matmul(W, M, out=tmp)
        if stepper.why is not None:
            stepper.why.fused("balance", tmp, params, state)
    else:
        np.multiply(W, ws.affinity[:, :, None], out=tmp)
    assert stepper.fixed is not None  # built before the first step
    np.add(stepper.fixed, tmp, out=F)
    if ws.dependence is not None:
        # dependence is sparse (a few (i, k) pairs): F[i, j] += dt a_dep d_ik min(0, W_jk)
        for i, k in ws.dependence_pairs:
            F[:, i, :] += (ws.dependence * state.dependence[:, i, k, None]) * np.minimum(W[:, :, k], 0.0)
    if ws.threat is not None:
        # tau_hi = c_h max(0, -W_hi), scaled by sqrt(dt alpha_thr) so that tau^T tau is the term;
        # min(W, 0) has the opposite sign, which the product cancels.
        np.minimum(W, 0.0, out=ws.tau)
        ws.tau *= (state.capability * ws.threat)[:, :, None]
        np.copyto(ws.tau_t, np.swapaxes(ws.tau, 1, 2))
        np.matmul(ws.tau_t, ws.tau, out=tmp)
        if stepper.why is not None:
            stepper.why.fused("threat", tmp, params, state)
        F += tmp
    return F


def fold_pressure(params: Params, stepper: Stepper, pressure, rows=None) -> None:
    """Fold ``dt alpha_prs p_i p_j`` for the current pressure into the fixed force (of ``rows``,
    default all): pressure moves only on its schedule's ramps and when events shift it, so most
    steps need not recompute it."""
    ws = stepper.work
    assert stepper.base is not None and stepper.fixed is not None and stepper.pressure_used is not None
    if rows is None:
        rows = slice(None)
    fixed = stepper.base[rows].copy()
    if ws.pressure is not None:
        q = pressure[rows] * ws.pressure[rows]
        fixed += q[:, :, None] * q[:, None, :]
    stepper.fixed[rows] = fixed
    stepper.pressure_used[rows] = pressure[rows]


def forces(params: Params, state: State, pressure) -> np.ndarray:
    """The sum of the deterministic forces on every tie at the current state: (n, A, A)."""
    stepper = Stepper(params, state.ties.dtype)
    stepper.ready(state, pressure)
    stepper.why = None
    return increments(params, state, stepper) / params.dt


class Stepper:
    """Advances a :class:`State` step by step and keeps what the step derives from the parameters
    and from the slowly changing parts of the state, so that a step need not rebuild it.

    Derived from the parameters (never stale): the alliance seats, the workspace buffers and
    coefficients, the per-step event probabilities. Derived from the state, each rebuilt when what
    it reads changes:

    - ``similarity`` (``dt alpha_aff U``) when positions or saliences change (events, bargaining);
    - ``base`` (the fixed force) when interests change (events on positions, saliences,
      ambitions or dependences; bargaining);
    - ``fixed`` and ``pressure_used`` (``base`` plus the pressure force) when the pressure
      schedule moves or an event shifts pressure;
    - ``pressure_cache`` (the schedule's value) while the schedule is flat;
    - ``growth_factor`` when an event changes growth.

    :meth:`invalidate` drops every state-derived cache: call it after changing a state from
    outside the step (or use a fresh stepper). ``why`` is an optional
    :class:`sim.model.attribution.Attribution` that books each force's part in the ties it tracks.
    """

    def __init__(self, params: Params, dtype=np.float64, why=None):
        self.params = params
        self.dtype = np.dtype(dtype)
        self.seats = seats(params, self.dtype)
        self.work = workspace(params, self.dtype)
        self.event_p = event_probabilities(params)
        self.why = why
        self.invalidate()

    def invalidate(self) -> None:
        """Drop every cache derived from the state; the next step rebuilds them."""
        self.base: np.ndarray | None = None  # dt * (forces set by interests alone), see fixed_force
        self.similarity: np.ndarray | None = None  # dt * alpha_aff * U, the affinity part of base
        self.fixed: np.ndarray | None = None  # base plus dt * the pressure force at pressure_used
        self.pressure_used: np.ndarray | None = None  # (n, A) the pressure folded into fixed
        self.pressure_cache: np.ndarray | None = None  # the schedule's value while it is flat
        self.growth_factor: np.ndarray | None = None  # (n, A) 1 + growth * dt

    def ready(self, state: State, pressure) -> None:
        """Build the fixed force for ``state`` if it is not built."""
        if self.base is None:
            self.base = fixed_force(self.params, state, self)
            self.fixed = np.empty_like(self.base)
            self.pressure_used = np.empty_like(pressure)
            fold_pressure(self.params, self, pressure)

    def step(self, state: State, draws: Draws) -> None:
        """Advance every replicate of ``state`` by one step, in place (see the module docstring)."""
        params, why = self.params, self.why
        t = state.t
        if why is not None:
            why.begin(t)
        similarity, interests, pressed = apply_events(params, state, t, draws.events, self)
        if why is not None:
            why.interests_changed(interests)
        if self.base is None:
            pressure = pressure_at(params, state, t, self)
            self.ready(state, pressure)
        elif schedule_moves(params, t):
            pressure = pressure_at(params, state, t, self)
            if interests.size:
                self.base[interests] = fixed_force(
                    params, state, self, interests, similarity=similarity.size > 0
                )
            fold_pressure(params, self, pressure)
        else:
            # Flat schedule: only the replicates whose interests or pressure offsets changed move.
            pressure = self.pressure_used
            if interests.size:
                self.base[interests] = fixed_force(
                    params, state, self, interests, similarity=similarity.size > 0
                )
            if interests.size or pressed.size:
                pressure = pressure_at(params, state, t, self)
                rows = np.union1d(interests, pressed)
                fold_pressure(params, self, pressure, rows)
        decisions = decide(params, state, t, draws.defect, self.seats, why)
        ws = self.work
        F = increments(params, state, self)
        if why is not None:
            why.mechanisms(params, state, self, draws.noise)
        W = state.ties
        W += F
        if ws.noise is not None:
            np.multiply(draws.noise, ws.noise, out=ws.tmp)
            W += ws.tmp
        if why is not None:
            unclipped = why.ties(state)
        np.clip(W, -1.0, 1.0, out=W)
        if why is not None:
            before = why.ties(state)
            why.clipped(unclipped, before)
        W.reshape(params.n, -1)[:, ws.diagonal] = 0.0
        apply_defections(params, state, decisions)
        if why is not None and any(rows.size for rows, _ in decisions):
            why.shocked(before, why.ties(state))
        grow(params, state, self)
        if params.bargain_every and (t + 1) % params.bargain_every == 0:
            bargain(params, state)
            self.base = fixed_force(params, state, self)
            fold_pressure(params, self, self.pressure_used)
        state.t = t + 1


def decide(params: Params, state: State, t: int, u: np.ndarray, seats: Seats, why=None):
    """Alliance decisions at step t, for the replicates where each alliance is still active.

    Every member of every alliance is a seat (:class:`Seats`); the probabilities of all seats are
    computed together, for every replicate (inactive alliances are masked afterwards: cheaper
    than gathering the active rows while most alliances are still active).
    Returns, per alliance, the replicates where it ended this step and the defector in each;
    ``why`` (an :class:`sim.model.attribution.Attribution`) closes the books of each ending.
    """
    W = state.ties
    n = params.n
    st = seats
    out = []
    live = state.active.any(axis=0)
    if not live.any():
        empty = np.empty(0, dtype=np.intp)
        return [(empty, empty) for _ in params.alliances]
    # each seat's mean disposition toward its partners: one gather, one small product
    w_mean = np.take(W.reshape(n, -1), st.pairs, axis=1) @ st.mean
    change = np.abs(relative_power(state.capability, st) - state.log_power0) if st.shifting else 0.0
    p = defection_probability(w_mean, st.theta_stay, st.h0, st.beta, change, st.power_shift, params.dt)
    defects = u < p
    for a_index, al in enumerate(params.alliances):
        sl = st.span[a_index]
        m = al.members
        k = len(m)
        if not live[a_index]:
            empty = np.empty(0, dtype=np.intp)
            out.append((empty, empty))
            continue
        any_defect = defects[:, sl.start].copy()
        for a in range(sl.start + 1, sl.stop):
            any_defect |= defects[:, a]
        any_defect &= state.active[:, a_index]
        act = np.flatnonzero(any_defect)
        if act.size == 0:
            out.append((act, act))
            continue
        hit = np.arange(act.size)
        mine, draws, pa = defects[act, sl], u[act, sl], p[act, sl]
        # The first to defect: the most decisive draw relative to its own probability.
        ratio = np.where(mine, draws / np.where(pa > 0, pa, 1.0), np.inf)
        first = np.argmin(ratio, axis=1)
        sub = W[act[:, None, None], m[None, :, None], m[None, None, :]]  # (h, k, k)
        trust_in = sub.sum(axis=1) / (k - 1)  # partners' mean disposition toward each member
        trusted = trust_in[hit, first] >= al.theta_trust[act]
        rows = act
        who = m[first]
        state.fate[rows, a_index] = np.where(trusted, STAB, DRIFT)
        state.end_step[rows, a_index] = t
        state.defector[rows, a_index] = who
        state.active[rows, a_index] = False
        if why is not None:
            why.ended(a_index, rows, first, t, state)
        out.append((rows, who))
    return out


def apply_defections(params: Params, state: State, decisions):
    """Betrayal shock on the partners' ties toward the defector, reputation loss with third parties."""
    W = state.ties
    A = params.A
    for al, (rows, who) in zip(params.alliances, decisions):
        if rows.size == 0:
            continue
        member = np.zeros(A, dtype=bool)
        member[al.members] = True
        loss = np.where(member[None, :], al.betrayal_shock[rows, None], al.reputation[rows, None])
        loss[np.arange(rows.size), who] = 0.0
        W[rows, :, who] = np.clip(W[rows, :, who] - loss, -1.0, 1.0)


def grow(params: Params, state: State, stepper: Stepper | None = None):
    """Capabilities grow by ``growth * dt`` and are renormalised to shares.

    ``stepper.growth_factor`` keeps ``1 + growth dt`` between the events that change growth.
    """
    cap = state.capability
    factor = None if stepper is None else stepper.growth_factor
    if factor is None:
        factor = 1.0 + state.growth * params.dt
        if stepper is not None:
            stepper.growth_factor = factor
    cap *= factor
    np.maximum(cap, 0.0, out=cap)
    total = cap.sum(axis=1, keepdims=True)
    if (total > 0).all():
        cap /= total
    else:
        state.capability = np.divide(cap, total, out=np.full_like(cap, 1.0 / params.A), where=total > 0)


def bargain(params: Params, state: State):
    """One round of expected-utility bargaining on every issue (Bueno de Mesquita).

    Always computed in float64: the choice among offers is discontinuous, so float32 rounding
    would change which offer an actor takes.
    """
    from sim.model.bargaining import bdm_step

    f64 = np.float64
    state.position = bdm_step(
        state.capability.astype(f64),
        state.position.astype(f64),
        state.salience.astype(f64),
        params.low,
        params.high,
        salience_scale=1.0,
    ).astype(state.ties.dtype, copy=False)


def step(params: Params, state: State, draws: Draws, stepper: Stepper | None = None) -> None:
    """Advance every replicate by one step, in place.

    Pass the same ``stepper`` to every step of a run: without one, a fresh :class:`Stepper`
    rebuilds every cache (same result, slower).
    """
    (stepper or Stepper(params, state.ties.dtype)).step(state, draws)


def run(
    params: Params,
    rng: np.random.Generator,
    *,
    steps: int | None = None,
    dtype=np.float64,
    record=None,
    state: State | None = None,
    why=None,
    within: tuple[int, np.ndarray] | None = None,
) -> State:
    """Run ``steps`` steps from the initial state, or from ``state`` (a state at step ``state.t``,
    e.g. from :func:`restore_state`; it is advanced in place).

    ``within=(n, rows)``: ``params`` are the rows ``rows`` of a chunk of ``n`` replicates
    (:meth:`Params.take`), run with the random numbers those rows get in the whole chunk (every
    step draws the chunk's numbers and keeps theirs), so they end exactly as they do there.

    ``steps`` defaults to what is left of the scenario's horizon. ``record(state)``, if given, is
    called at the start and after every step. ``why``, an
    :class:`sim.model.attribution.Attribution`, books each force's part in the tracked ties from
    the state the run starts at (call its ``finish(state)`` afterwards).
    """
    state = initial_state(params, dtype) if state is None else state
    stepper = Stepper(params, dtype, why=why)
    if why is not None:
        why.start(state)
    steps = params.steps - state.t if steps is None else steps
    E, M = stochastic_event_count(params), member_count(params)
    n, rows = (params.n, None) if within is None else within
    noise = np.empty((params.n, params.A, params.A), dtype=dtype)
    if record is not None:
        record(state)
    for k in range(steps):
        stepper.step(state, draw(rng, n, params.A, E, M, dtype, out=noise, rows=rows))
        if (k + 1) % CHECK_EVERY == 0 or k + 1 == steps:
            check_finite(params, state)
        if record is not None:
            record(state)
    return state


def check_finite(params: Params, state: State) -> None:
    """Raise :class:`NumericalError` if any tie or capability is NaN or infinite.

    Ties are clipped to [-1, 1] and capabilities are shares, so their sums are finite exactly
    when every entry is: two reductions, cheap enough to run every few steps.
    """
    with np.errstate(all="ignore"):
        ok = np.isfinite(state.ties.sum(dtype=np.float64)) and np.isfinite(
            state.capability.sum(dtype=np.float64)
        )
    if ok:
        return
    bad = ~(np.isfinite(state.ties).all(axis=(1, 2)) & np.isfinite(state.capability).all(axis=1))
    replicate = int(np.flatnonzero(bad)[0])
    sizes = force_magnitudes(params, state)
    order = sorted(sizes, key=lambda k: -np.nan_to_num(sizes[k], nan=np.inf))  # stable: table order
    worst = order[0]
    shown = ", ".join(f"{k} {sizes[k]:.3g}" for k in order[:3])
    raise NumericalError(
        f"expected finite ties and capabilities, got NaN or inf by step {state.t} in "
        f"{int(bad.sum())} of {params.n} replicates (the first: {replicate}); the largest force is "
        f"{worst} (largest dt x force: {shown}); lower its coefficient or run.dt",
        worst,
    )


def force_magnitudes(params: Params, state: State) -> dict[str, float]:
    """The largest ``dt * coefficient * force`` of each mechanism over ties and replicates, at the
    current state (NaN where a force is itself not a number): which force blew up.

    Ties that are no longer numbers are read as 0 (and infinite ones as +-1): once one force has
    spoilt the ties every force that reads them is spoilt too, and the one to name is the force
    that is not finite on finite ties.
    """
    c = {k: v[:, None, None] for k, v in params.coef.items()}
    W = np.nan_to_num(state.ties.astype(np.float64), nan=0.0, posinf=1.0, neginf=-1.0)
    cap = state.capability.astype(np.float64)
    dt = params.dt
    pressure = pressure_at(params, state, state.t).astype(np.float64)

    def size(x):
        x = np.abs(dt * x)
        return float(np.nan if np.isnan(x).any() else x.max(initial=0.0))

    with np.errstate(all="ignore"):
        U = interest_similarity(
            state.position.astype(np.float64), state.salience.astype(np.float64), params.low, params.high
        )
        dep = state.dependence.astype(np.float64)
        return {
            "affinity": size(c["affinity"] * affinity_force(W, U)),
            "balance": size(c["balance"] * balance_force(W)),
            "threat": size(c["threat"] * threat_force(W, cap)),
            "pressure": size(c["pressure"] * pressure_force(pressure)),
            "competition": size(
                c["competition"]
                * competition_force(state.ambition.astype(np.float64), params.strategic_value)
            ),
            "dependence": size(c["dependence"] * (dependence_force(dep) + dependence_conflict(dep, W))),
            "noise": size(c["noise"] * 4.2 / np.sqrt(dt)),
        }
