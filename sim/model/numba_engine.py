"""The compiled engine: the step of :mod:`sim.model.dynamics` fused into one loop nest per tile.

The numpy kernel walks the whole chunk about thirty times per step (one pass per batched
operation). Here the step is written once, for a *tile* of :data:`LANES` replicates, with the
replicate axis innermost: every operation is a loop over the tile's lanes that the compiler turns
into SIMD instructions, and a tile's working set (its ties are ``A * A * LANES`` numbers, 51 KB
for ten actors in float32) stays in the core's own caches for the whole run: the tile runs every
step of a stretch before the next tile starts; stretches end where the numpy bargaining
(:func:`sim.model.bargaining.bdm_step`) runs between them.

Every state array is stored tile-major with the lanes last, ``(tiles, ..., LANES)``: a tile is one
contiguous block of memory. The dynamics are those of :func:`sim.model.dynamics.step` term by
term (held to :mod:`sim.model.reference` at 1e-9 in float64 by ``tests/test_numba_engine.py``).

Randomness. The replicates are cut into draw blocks of :data:`LANES` replicates of one common
random number group. Each block draws from :data:`STREAMS` numpy ``SFC64`` bit generators seeded
by children of its own child of the group's seed sequence (``SeedSequence.spawn``), step after
step: noise as raw 16-bit indices into the normal table of
:func:`sim.model.dynamics.normal_table`, event and decision uniforms as raw 32-bit words. The
streams are advanced by compiled code (:func:`_fill_draws`) with SFC64's own recurrence from the
state numpy seeded them with, side by side so that the four chains overlap (numpy's
``random_raw`` takes one call through a function pointer per word, which here cost twice as
much); ``tests/test_numba_engine.py`` checks the words against ``random_raw`` of the
same generators. The draws of a replicate therefore depend only on the seed, its group and its
index, never on how the steps are cut into stretches or on the number of workers; they are not the
numpy engine's draws.

Alliance decisions. A member defects when ``u < p`` with ``p = 1 - exp(-h dt)``. Evaluating two
exponentials and a logarithm per member and step would cost more than the rest of the step, so
each member is first screened with an upper bound of ``p`` that needs none
(``|log z| <= max(z - 1, 1/z - 1)`` for the power shift, with ``z`` the power ratio over its
value at the start, ``exp x <= (1 - x/64)^-64``);
only members whose draw falls under the bound (a few in a thousand) get the exact probability of
:func:`sim.model.dynamics.defection_probability`. The screen never changes a decision.
"""

from __future__ import annotations

import importlib.util
import math
import time

import numpy as np

from sim.errors import InputError
from sim.extras import install_hint
from sim.model import dynamics
from sim.spec.params import Params
from sim.vocabulary import EFFECT_KINDS, Fate

STREAMS = 4  # SFC64 streams per draw block, stepped side by side (_fill_draws is written for four)
LANES = 128  # replicates per tile (measured on 10 actors: 128 beats 64 by ~15 %; 256 is no faster)
_U32 = 2.0**-32
_STAB, _DRIFT = int(Fate.STAB), int(Fate.DRIFT)
_ONE, _S3, _S11, _S24, _S40 = (np.uint64(k) for k in (1, 3, 11, 24, 40))  # SFC64's constants
_KIND = {k: n for n, k in enumerate(EFFECT_KINDS)}  # tie 0, position 1, salience 2, ambition 3,
# dependence 4, pressure 5, growth 6


def available() -> bool:
    """Whether numba is installed (the ``fast`` extra)."""
    return importlib.util.find_spec("numba") is not None


def require() -> None:
    """Raise a one-line :class:`~sim.errors.InputError` naming the extra when numba is missing."""
    if not available():
        raise InputError(
            "--engine numba: expected the numba package, which is not installed; install it with: "
            + install_hint("fast")
        )


# --------------------------------------------------------------------------------------------
# The kernel (plain Python here; compiled by _compiled() on first use)
# --------------------------------------------------------------------------------------------


def _clip(x, lo, hi):
    # min(max(x, lo), hi) like np.clip; a NaN stays NaN (the finite-value guard finds it)
    if x < lo:
        return lo
    if x > hi:
        return hi
    return x


def _fixed_lanes(l0, l1, fixed, pos, sal, amb, dep, sval, coef, low, high, tot, u):
    """``dt (alpha_aff U - alpha_cmp C + alpha_dep D)`` of the lanes ``l0:l1`` of one tile, the
    part of the forces that moves only with interests (:func:`sim.model.dynamics.fixed_force`)."""
    A = fixed.shape[0]
    K = pos.shape[1]
    for a in range(A):
        for lane in range(l0, l1):
            tot[a, lane] = 0.0
        for k in range(K):
            for lane in range(l0, l1):
                tot[a, lane] += sal[a, k, lane]
    for i in range(A):
        for j in range(A):
            for lane in range(l0, l1):
                u[lane] = 0.0
            for k in range(K):
                span = high[k] - low[k]
                for lane in range(l0, l1):
                    t = tot[i, lane]
                    shat = sal[i, k, lane] / t if t > 0 else 0.0
                    u[lane] += shat * abs(pos[i, k, lane] - pos[j, k, lane]) / span
            for lane in range(l0, l1):
                sim_ = 1.0 - 2.0 * u[lane] if tot[i, lane] > 0 else 0.0
                f = coef[0, lane] * sim_ + coef[2, lane] * dep[i, j, lane]
                c = 0.0
                for m in range(A):
                    c += amb[i, m, lane] * amb[j, m, lane] * sval[m, lane]
                fixed[i, j, lane] = f - coef[1, lane] * c


def _fixed_one(lane, fixed, pos, sal, amb, dep, sval, coef, low, high):
    """:func:`_fixed_lanes` for one lane (after an event changed its interests)."""
    A = fixed.shape[0]
    K = pos.shape[1]
    for i in range(A):
        t = 0.0
        for k in range(K):
            t += sal[i, k, lane]
        for j in range(A):
            u = 0.0
            for k in range(K):
                shat = sal[i, k, lane] / t if t > 0 else 0.0
                u += shat * abs(pos[i, k, lane] - pos[j, k, lane]) / (high[k] - low[k])
            sim_ = 1.0 - 2.0 * u if t > 0 else 0.0
            f = coef[0, lane] * sim_ + coef[2, lane] * dep[i, j, lane]
            c = 0.0
            for m in range(A):
                c += amb[i, m, lane] * amb[j, m, lane] * sval[m, lane]
            fixed[i, j, lane] = f - coef[1, lane] * c


def _apply_effects(
    e,
    fire,
    dirty,
    ev_first,
    ef_kind,
    ef_i,
    ef_j,
    ef_shift,
    ef_sym,
    value,
    W,
    pos,
    sal,
    amb,
    dep,
    poff,
    growth,
    low,
    high,
):
    """The effects of event ``e`` on the lanes where it fires (``fire``), in order, each bounded
    like :func:`sim.model.dynamics._apply_effect`; marks in ``dirty`` the lanes whose interests
    changed (their fixed force must be rebuilt). Every lane is computed and the old value kept
    where the event does not fire: a loop without branches."""
    B = LANES
    for f in range(ev_first[e], ev_first[e + 1]):
        kind, i, j = ef_kind[f], ef_i[f], ef_j[f]
        shift = ef_shift[f] != 0
        s = 1.0 if shift else 0.0
        if kind == 0 or kind == 4:
            arr = W if kind == 0 else dep
            lo, hi = (-1.0, 1.0) if kind == 0 else (0.0, np.inf)
            for rep in range(2 if ef_sym[f] != 0 else 1):
                a, b = (i, j) if rep == 0 else (j, i)
                for lane in range(B):
                    old = arr[a, b, lane]
                    x = _clip(old * s + value[f, lane], lo, hi)
                    arr[a, b, lane] = x if fire[lane] else old
        elif kind == 1 or kind == 2 or kind == 3:
            arr = pos if kind == 1 else (sal if kind == 2 else amb)
            lo, hi = (low[j], high[j]) if kind == 1 else (0.0, 1.0)
            for lane in range(B):
                old = arr[i, j, lane]
                x = _clip(old * s + value[f, lane], lo, hi)
                arr[i, j, lane] = x if fire[lane] else old
        elif kind == 5:
            for lane in range(B):
                old = poff[i, lane]
                poff[i, lane] = old * s + value[f, lane] if fire[lane] else old
        else:
            for lane in range(B):
                old = growth[i, lane]
                x = _clip(old * s + value[f, lane], -0.5, 0.5)
                growth[i, lane] = x if fire[lane] else old
        if kind >= 1 and kind <= 4:
            for lane in range(B):
                dirty[lane] |= fire[lane]


def _summarize(
    t,
    nb,
    W,
    active,
    al_start,
    seat_actor,
    hist,
    act,
    bsum,
    sample,
    traj,
    orig_row,
    do_traj,
    sgn,
    bins,
    cbuf,
    tr,
):
    """The per-step summaries of one tile at step t (what run_chunk's record computes): the
    cohesion histogram and active count of each alliance, the balanced-triad share summed over the
    sampled lanes, and the trajectories when asked for."""
    A = W.shape[0]
    L = active.shape[0]
    B = LANES
    for a in range(L):
        s0, s1 = al_start[a], al_start[a + 1]
        m = s1 - s0
        for lane in range(B):
            cbuf[lane] = 0.0
        for x in range(s0, s1):
            for y in range(s0, s1):
                if x != y:
                    i, j = seat_actor[x], seat_actor[y]
                    for lane in range(B):
                        cbuf[lane] += W[i, j, lane]
        for lane in range(nb):
            b = (cbuf[lane] / (m * (m - 1)) + 1.0) * (bins / 2.0)
            k = int(b) if b == b else 0
            k = min(max(k, 0), bins - 1)
            hist[t, a, k] += 1
            act[t, a] += active[a, lane]
    n_sample = 0
    for lane in range(nb):
        n_sample += sample[lane]
    if n_sample > 0:
        if A < 3:
            bsum[t] += n_sample
        else:
            for lane in range(B):
                tr[lane] = 0.0
            for i in range(A):
                for j in range(i + 1, A):
                    for lane in range(B):
                        s = W[i, j, lane] + W[j, i, lane]
                        sgn[i, j, lane] = (1.0 if s > 0 else 0.0) - (1.0 if s < 0 else 0.0)
            for i in range(A):
                for j in range(i + 1, A):
                    for k in range(j + 1, A):
                        for lane in range(B):
                            tr[lane] += sgn[i, j, lane] * sgn[j, k, lane] * sgn[i, k, lane]
            triads = A * (A - 1) * (A - 2) / 6.0
            for lane in range(nb):
                if sample[lane]:
                    bsum[t] += 0.5 * (1.0 + tr[lane] / triads)
    if do_traj:
        for lane in range(nb):
            r = orig_row[lane]
            for i in range(A):
                for j in range(A):
                    traj[r, t, i, j] = W[i, j, lane]


def _move(W, Wn, F, Mb, tau, T, fixed, q, cap, kcoef, dep, dp_i, dp_k, noise, table, noise_on, one):
    """The new ties ``Wn`` of one tile: ``clip(W + dt * forces + noise)`` (the deterministic
    forces of :func:`sim.model.dynamics.increments` term by term, then the table noise). A
    function of its own: its loops get the registers to themselves."""
    A = W.shape[0]
    B = LANES
    zero = one - one
    kaff = kcoef[0]
    kbal = kcoef[1]
    kthr = kcoef[2]
    knoise = kcoef[4]
    kdep = kcoef[5]
    for h in range(A):
        for i in range(A):
            for lane in range(B):
                w = W[h, i, lane]
                tau[h, i, lane] = kthr[lane] * cap[h, lane] * (w if w < zero else zero)
                Mb[h, i, lane] = kbal[lane] * w
    for i in range(A):
        for j in range(A):
            for lane in range(B):
                F[i, j, lane] = fixed[i, j, lane] + q[i, lane] * q[j, lane] + kaff[lane] * W[i, j, lane]
        # balance: sum over third parties k of W_ik (b W_kj) (W's diagonal is zero)
        for k in range(A):
            if k == i:
                continue
            for j in range(A):
                if j == i or j == k:
                    continue
                for lane in range(B):
                    F[i, j, lane] += W[i, k, lane] * Mb[k, j, lane]
    # threat: sum over third parties h of tau_hi tau_hj, symmetric in (i, j): computed once per pair
    for i in range(A):
        for j in range(i + 1, A):
            for lane in range(B):
                T[lane] = zero
            for h in range(A):
                if h == i or h == j:
                    continue
                for lane in range(B):
                    T[lane] += tau[h, i, lane] * tau[h, j, lane]
            for lane in range(B):
                F[i, j, lane] += T[lane]
                F[j, i, lane] += T[lane]
    for pp in range(dp_i.shape[0]):
        i = dp_i[pp]
        k = dp_k[pp]
        for j in range(A):
            for lane in range(B):
                w = W[j, k, lane]
                F[i, j, lane] += kdep[lane] * dep[i, k, lane] * (w if w < zero else zero)
    for i in range(A):
        for j in range(A):
            if i == j:
                for lane in range(B):
                    Wn[i, i, lane] = zero
                continue
            pair = i * (A - 1) + j - (1 if j > i else 0)
            if noise_on:
                # the table look-ups first (scalar loads), then one vector loop
                for lane in range(B):
                    T[lane] = table[noise[pair, lane]]
                for lane in range(B):
                    x = W[i, j, lane] + F[i, j, lane]
                    x = x + knoise[lane] * T[lane]
                    x = -one if x < -one else x
                    Wn[i, j, lane] = one if x > one else x
            else:
                for lane in range(B):
                    x = W[i, j, lane] + F[i, j, lane]
                    x = -one if x < -one else x
                    Wn[i, j, lane] = one if x > one else x


def _run_tile(
    tile,
    nb,
    t0,
    t1,
    steps,
    dt,
    rebuild,
    summarize_start,
    W_all,
    cap_all,
    growth_all,
    pos_all,
    sal_all,
    amb_all,
    dep_all,
    poff_all,
    fired_all,
    first_all,
    count_all,
    active_all,
    fate_all,
    end_all,
    defector_all,
    lp0_all,
    elp0_all,
    fixed_all,
    sval_all,
    pv_all,
    pidx,
    pw,
    coef_all,
    kcoef_all,
    low,
    high,
    ev_at,
    ev_slot,
    ev_repeat,
    ev_first,
    evp_all,
    ef_kind,
    ef_i,
    ef_j,
    ef_shift,
    ef_sym,
    efv_all,
    seat_actor,
    al_start,
    member,
    seat_par_all,
    al_par_all,
    shifting,
    dp_i,
    dp_k,
    noise16,
    unif,
    table,
    noise_on,
    hist,
    act,
    bsum,
    sample_all,
    traj,
    orig_all,
    do_traj,
    bins,
    one,
    dt_f,
):
    """Run steps ``t0:t1`` of one tile; returns the first step after which a tie or capability
    was not finite (-1 if none).

    Vector loops run over all LANES lanes (a partial tile's spare lanes hold copies of its first
    row and are never read back); counts and summaries use the ``nb`` lanes in use.
    """
    W = W_all[tile]
    cap = cap_all[tile]
    growth = growth_all[tile]
    pos = pos_all[tile]
    sal = sal_all[tile]
    amb = amb_all[tile]
    dep = dep_all[tile]
    poff = poff_all[tile]
    fired = fired_all[tile]
    first_fired = first_all[tile]
    fire_count = count_all[tile]
    active = active_all[tile]
    fate = fate_all[tile]
    end_step = end_all[tile]
    defector = defector_all[tile]
    lp0 = lp0_all[tile]
    elp0 = elp0_all[tile]
    fixed = fixed_all[tile]
    sval = sval_all[tile]
    pv = pv_all[tile]
    coef = coef_all[tile]
    kcoef = kcoef_all[tile]
    evp = evp_all[tile]
    efv = efv_all[tile]
    seat_par = seat_par_all[tile]
    al_par = al_par_all[tile]
    sample = sample_all[tile]
    orig_row = orig_all[tile]

    A = W.shape[0]
    B = LANES
    L = active.shape[0]
    E = ev_at.shape[0]
    Es = evp.shape[0]
    M = seat_actor.shape[0]
    zero = one - one

    Wn = np.empty((A, A, B), W.dtype)
    F = np.empty((A, A, B), W.dtype)
    Mb = np.empty((A, A, B), W.dtype)
    tau = np.empty((A, A, B), W.dtype)
    T = np.empty(B, W.dtype)
    q = np.empty((A, B), W.dtype)
    tot = np.empty((A, B))
    ubuf = np.empty(B)
    sgn = np.zeros((A, A, B), W.dtype)
    fire = np.zeros(B, np.uint8)
    dirty = np.zeros(B, np.uint8)
    cand = np.zeros((max(M, 1), B), np.uint8)
    cand_any = np.zeros(B, np.uint8)
    who_end = np.full((max(L, 1), B), -1, np.int64)
    wmean = np.empty((max(M, 1), B))
    obuf = np.empty(B)
    total = np.empty(B)
    check = np.empty(B)
    cbuf = np.empty(B)
    trb = np.empty(B, W.dtype)
    kprs = kcoef[3]

    if rebuild:
        _fixed_lanes(0, B, fixed, pos, sal, amb, dep, sval, coef, low, high, tot, ubuf)
    if summarize_start:
        _summarize(
            t0,
            nb,
            W,
            active,
            al_start,
            seat_actor,
            hist,
            act,
            bsum,
            sample,
            traj,
            orig_row,
            do_traj,
            sgn,
            bins,
            cbuf,
            trb,
        )
    bad = -1
    for t in range(t0, t1):
        s = t - t0
        # 1. events due at t
        any_dirty = False
        for e in range(E):
            if ev_at[e] >= 0:
                if ev_at[e] != t:
                    continue
                for lane in range(B):
                    fire[lane] = 1
            else:
                slot = ev_slot[e]
                again = ev_repeat[e]
                n_fire = 0
                for lane in range(B):
                    u = (unif[s, slot, lane] + 0.5) * _U32
                    f = (u < evp[slot, lane]) & ((again | (fired[e, lane] ^ 1)) != 0)
                    fire[lane] = f
                    n_fire += f
                if n_fire == 0:
                    continue
            for lane in range(B):
                fired[e, lane] |= fire[lane]
                if fire[lane]:  # for the results' event columns: first step, how often
                    fire_count[e, lane] += 1
                    if first_fired[e, lane] < 0:
                        first_fired[e, lane] = t
            _apply_effects(
                e,
                fire,
                dirty,
                ev_first,
                ef_kind,
                ef_i,
                ef_j,
                ef_shift,
                ef_sym,
                efv,
                W,
                pos,
                sal,
                amb,
                dep,
                poff,
                growth,
                low,
                high,
            )
            any_dirty = True
        if any_dirty:
            for lane in range(B):
                if dirty[lane]:
                    dirty[lane] = 0
                    _fixed_one(lane, fixed, pos, sal, amb, dep, sval, coef, low, high)

        # 2. pressure at t (schedule plus event offsets, floored at zero), times sqrt(dt alpha_prs)
        tt = min(t, steps - 1)
        for a in range(A):
            left = pidx[tt, a]
            w = pw[tt, a]
            for lane in range(B):
                p = pv[a, left, lane] * (1.0 - w) + pv[a, left + 1, lane] * w + poff[a, lane]
                p = p if p > 0.0 else 0.0
                q[a, lane] = p * kprs[lane]

        # 3. alliance decisions on the ties after the events: a screen with an upper bound of
        # each member's probability, the exact probability only where the draw falls under it
        for a in range(L):
            s0, s1 = al_start[a], al_start[a + 1]
            k = s1 - s0
            inv = 1.0 / (k - 1)
            for lane in range(B):
                cand_any[lane] = 0
            for x in range(s0, s1):
                i = seat_actor[x]
                for lane in range(B):
                    wmean[x, lane] = 0.0
                    obuf[lane] = 0.0
                for y in range(s0, s1):
                    if y != x:
                        j = seat_actor[y]
                        for lane in range(B):
                            wmean[x, lane] += W[i, j, lane]
                            obuf[lane] += cap[j, lane]
                for lane in range(B):
                    wm = wmean[x, lane] * inv
                    wmean[x, lane] = wm
                    xb = seat_par[2, x, lane] * (seat_par[0, x, lane] - wm)
                    if shifting:
                        o = obuf[lane] * inv
                        o = o if o > 1e-300 else 1e-300
                        c = cap[i, lane]
                        c = c if c > 1e-300 else 1e-300
                        # |log q - r0| = |log z| <= max(z - 1, 1/z - 1), z = q exp(-r0) near 1
                        z = c / o * elp0[x, lane]
                        d = max(z - 1.0, 1.0 / z - 1.0)
                        xb += seat_par[3, x, lane] * d
                    # exp(x) <= (1 - x / 64)^-64 for x < 64 (as exp(y) >= 1 + y): six squarings
                    xb = min(xb, 50.0)
                    g = 1.0 / (1.0 - xb * (1.0 / 64.0))
                    g = g * g
                    g = g * g
                    g = g * g
                    g = g * g
                    g = g * g
                    g = g * g
                    ub = seat_par[1, x, lane] * dt * g * (1.0 + 1e-9)
                    u = (unif[s, Es + x, lane] + 0.5) * _U32
                    c2 = (u < ub) & (active[a, lane] != 0)
                    cand[x, lane] = c2
                    cand_any[lane] |= c2
            for lane in range(B):
                who_end[a, lane] = -1
            for lane in range(B):
                if cand_any[lane] == 0:
                    continue
                first = -1
                best = np.inf
                for x in range(s0, s1):
                    if cand[x, lane] == 0:
                        continue
                    i = seat_actor[x]
                    change = 0.0
                    if shifting:
                        o = 0.0
                        for y in range(s0, s1):
                            if y != x:
                                o += cap[seat_actor[y], lane]
                        o = o * inv
                        r = math.log(max(cap[i, lane], 1e-300) / max(o, 1e-300))
                        change = abs(r - lp0[x, lane])
                    expo = min(
                        seat_par[2, x, lane] * (seat_par[0, x, lane] - wmean[x, lane])
                        + seat_par[3, x, lane] * change,
                        50.0,
                    )
                    hazard = seat_par[1, x, lane] * math.exp(expo)
                    p = -math.expm1(-hazard * dt)
                    u = (unif[s, Es + x, lane] + 0.5) * _U32
                    if u < p:
                        ratio = u / p if p > 0 else u
                        if ratio < best:
                            best = ratio
                            first = x
                if first < 0:
                    continue
                who = seat_actor[first]
                trust = 0.0
                for y in range(s0, s1):
                    if y != first:
                        trust += W[seat_actor[y], who, lane]
                trust = trust * inv
                fate[a, lane] = _STAB if trust >= al_par[0, a, lane] else _DRIFT
                end_step[a, lane] = t
                defector[a, lane] = who
                active[a, lane] = 0
                who_end[a, lane] = who

        # 4. the ties move: forces at the state after the events, noise, clipping
        _move(W, Wn, F, Mb, tau, T, fixed, q, cap, kcoef, dep, dp_i, dp_k, noise16[s], table, noise_on, one)

        # 5. betrayal shock and reputation loss toward this step's defectors
        for a in range(L):
            for lane in range(B):
                who = who_end[a, lane]
                if who < 0:
                    continue
                for k in range(A):
                    if k == who:
                        continue
                    loss = al_par[1, a, lane] if member[a, k] else al_par[2, a, lane]
                    Wn[k, who, lane] = _clip(Wn[k, who, lane] - loss, -1.0, 1.0)
        for lane in range(B):
            check[lane] = 0.0
        for i in range(A):
            for j in range(A):
                for lane in range(B):
                    w = Wn[i, j, lane]
                    W[i, j, lane] = w
                    check[lane] += w

        # 6. capabilities grow and are renormalised to shares
        for lane in range(B):
            total[lane] = 0.0
        for a in range(A):
            for lane in range(B):
                c = cap[a, lane] * (one + growth[a, lane] * dt_f)
                c = zero if c < zero else c
                cap[a, lane] = c
                total[lane] += c
        for a in range(A):
            for lane in range(B):
                tl = total[lane]
                cap[a, lane] = cap[a, lane] / tl if tl > 0 else 1.0 / A
        for lane in range(B):
            check[lane] += total[lane]

        # 7. finite-value guard and the summaries at t + 1
        if bad < 0:
            for lane in range(nb):
                if not math.isfinite(check[lane]):
                    bad = t + 1
        _summarize(
            t + 1,
            nb,
            W,
            active,
            al_start,
            seat_actor,
            hist,
            act,
            bsum,
            sample,
            traj,
            orig_row,
            do_traj,
            sgn,
            bins,
            cbuf,
            trb,
        )
    return bad


def _sfc64(a, b, c, w):
    """One step of SFC64 (Chris Doty-Humphrey's small fast counting generator, as numpy's
    ``SFC64``): the output word and the new state."""
    out = a + b + w
    return out, b ^ (b >> _S11), c + (c << _S3), ((c << _S24) | (c >> _S40)) + out, w + _ONE


def _fill_draws(state, noise, unif):
    """Fill ``noise (S, STREAMS * wn)`` and ``unif (S, STREAMS * wu)`` with the words of the
    block's four SFC64 streams, advancing ``state (STREAMS, 4)``: at each step stream ``q`` gives
    words ``q * wn ...`` of the noise row, then words ``q * wu ...`` of the uniform row. The four
    chains are stepped side by side (each word depends on the last of its own stream only)."""
    S = noise.shape[0]
    wn = noise.shape[1] // 4
    wu = unif.shape[1] // 4
    a0, b0, c0, w0 = state[0, 0], state[0, 1], state[0, 2], state[0, 3]
    a1, b1, c1, w1 = state[1, 0], state[1, 1], state[1, 2], state[1, 3]
    a2, b2, c2, w2 = state[2, 0], state[2, 1], state[2, 2], state[2, 3]
    a3, b3, c3, w3 = state[3, 0], state[3, 1], state[3, 2], state[3, 3]
    for s in range(S):
        for row, width in ((noise, wn), (unif, wu)):
            for i in range(width):
                x, a0, b0, c0, w0 = _sfc64(a0, b0, c0, w0)
                row[s, i] = x
                x, a1, b1, c1, w1 = _sfc64(a1, b1, c1, w1)
                row[s, width + i] = x
                x, a2, b2, c2, w2 = _sfc64(a2, b2, c2, w2)
                row[s, 2 * width + i] = x
                x, a3, b3, c3, w3 = _sfc64(a3, b3, c3, w3)
                row[s, 3 * width + i] = x
    state[0, 0], state[0, 1], state[0, 2], state[0, 3] = a0, b0, c0, w0
    state[1, 0], state[1, 1], state[1, 2], state[1, 3] = a1, b1, c1, w1
    state[2, 0], state[2, 1], state[2, 2], state[2, 3] = a2, b2, c2, w2
    state[3, 0], state[3, 1], state[3, 2], state[3, 3] = a3, b3, c3, w3


def _fill():
    """The compiled :func:`_fill_draws`."""
    if "fill" not in _COMPILED:
        require()
        import numba

        g = globals()
        if not hasattr(g["_sfc64"], "py_func"):
            g["_sfc64"] = numba.njit(cache=True, inline="always")(g["_sfc64"])
        _COMPILED["fill"] = numba.njit(cache=True)(_fill_draws)
    return _COMPILED["fill"]


_COMPILED: dict[str, object] = {}
# fused multiply-add only: no reassociation (sums keep their order) and NaN stays NaN
_FASTMATH = {"contract"}
# helpers inlined into the kernel (a call passes every array with reference counting, which costs
# more than a rare event's effect itself); the rebuild of the fixed forces stays a call
_HELPERS = {
    "_clip": "always",
    "_fixed_lanes": "never",
    "_move": "never",
    "_fixed_one": "always",
    "_apply_effects": "always",
    "_summarize": "always",
}


def _compiled():
    """The compiled kernel (compiled on first use; numba's cache keeps it across processes)."""
    if "run_tile" not in _COMPILED:
        require()
        import numba

        g = globals()
        for name, inline in _HELPERS.items():
            if not hasattr(g[name], "py_func"):
                g[name] = numba.njit(cache=True, error_model="numpy", fastmath=_FASTMATH, inline=inline)(
                    g[name]
                )
        _COMPILED["run_tile"] = numba.njit(cache=True, error_model="numpy", fastmath=_FASTMATH)(_run_tile)
    return _COMPILED["run_tile"]


# --------------------------------------------------------------------------------------------
# Layout: tiles of lanes, draw blocks
# --------------------------------------------------------------------------------------------


class Layout:
    """Where each row of the chunk lives in the tiles, and whose draws it uses.

    Rows are cut into draw blocks (group ``g``, replicates ``b * LANES ...`` counted from the
    group's first replicate); a block draws for ``width`` replicates (``LANES``, or fewer in a
    group's last block). The rows of one block, copy after copy of its replicates (design points
    of one group share them), fill tiles of ``LANES`` rows; a row's lane in the block's draws is
    its replicate.
    """

    def __init__(self, n: int, layout=None):
        if layout is None:
            group = np.zeros(n, dtype=np.int64)
            rep = np.arange(n, dtype=np.int64)
        else:
            group = np.asarray(layout[0], dtype=np.int64)
            rep = np.asarray(layout[1], dtype=np.int64)
        rows = np.arange(n)
        rel = rep.copy()
        count = {}
        for g in np.unique(group):
            sel = group == g
            rel[sel] -= rep[sel].min()
            count[int(g)] = int(rel[sel].max()) + 1
        # copy: how many earlier rows have the same (group, replicate)
        order = np.lexsort((rows, rel, group))
        key_g, key_r = group[order], rel[order]
        new = np.ones(n, dtype=bool)
        new[1:] = (key_g[1:] != key_g[:-1]) | (key_r[1:] != key_r[:-1])
        start = np.maximum.accumulate(np.where(new, np.arange(n), 0))
        copy = np.empty(n, dtype=np.int64)
        copy[order] = np.arange(n) - start
        block, lane = rel // LANES, rel % LANES
        order = np.lexsort((lane, copy, block, group))
        g2, b2 = group[order], block[order]
        # a tile: up to LANES consecutive rows (in this order) of one draw block
        first_of_block = np.ones(n, dtype=bool)
        first_of_block[1:] = (g2[1:] != g2[:-1]) | (b2[1:] != b2[:-1])
        block_start = np.maximum.accumulate(np.where(first_of_block, np.arange(n), 0))
        first = first_of_block | ((np.arange(n) - block_start) % LANES == 0)
        tile_of = np.cumsum(first) - 1
        starts = np.flatnonzero(first)
        slot = np.arange(n) - starts[tile_of]
        self.n = n
        self.tiles = int(tile_of[-1]) + 1 if n else 0
        self.position = np.empty(n, dtype=np.int64)  # internal position of each row
        self.position[order] = tile_of * LANES + slot
        self.count = np.diff(np.append(starts, n))  # lanes used in each tile
        # the row stored at each internal position (padding repeats the tile's first row)
        self.source = np.repeat(order[starts], LANES)
        self.source[self.position] = rows
        self.lanes = np.zeros((self.tiles, LANES), dtype=np.int64)  # draw lane of each slot
        self.lanes[tile_of, slot] = lane[order]
        tile_group, tile_block = g2[starts], b2[starts]
        self.blocks = sorted(set(zip(tile_group.tolist(), tile_block.tolist())))
        self.width = [min(LANES, count[g] - b * LANES) for g, b in self.blocks]
        index = {key: d for d, key in enumerate(self.blocks)}
        self.block_of = np.array(
            [index[(g, b)] for g, b in zip(tile_group.tolist(), tile_block.tolist())], dtype=np.int64
        )
        self.identity = [
            bool(self.width[self.block_of[t]] == LANES and np.array_equal(self.lanes[t], np.arange(LANES)))
            for t in range(self.tiles)
        ]
        self.group_blocks = {g: 1 + max(b for gg, b in self.blocks if gg == g) for g, _ in self.blocks}
        # rows already in tile order, whole tiles: packing is a transpose, no gather
        self.plain = n == self.tiles * LANES and bool(np.array_equal(self.source, rows))

    def pack(self, x: np.ndarray, dtype=None) -> np.ndarray:
        """``(n, ...)`` row-major values as ``(tiles, ..., LANES)``."""
        x = np.asarray(x)
        full = x if self.plain else x[self.source]
        full = full.reshape((self.tiles, LANES) + x.shape[1:])
        return np.ascontiguousarray(np.moveaxis(full, 1, -1), dtype=dtype or x.dtype)

    def unpack(self, x: np.ndarray) -> np.ndarray:
        """The inverse of :meth:`pack`: ``(n, ...)`` in the original row order."""
        full = np.moveaxis(x, -1, 1)
        if self.plain:
            return np.ascontiguousarray(full).reshape((self.n,) + x.shape[1:-1])
        return full.reshape((self.tiles * LANES,) + x.shape[1:-1])[self.position]


def _stretches(steps: int, every: int, each_step: bool) -> list[int]:
    """Where the runs of the compiled loop stop: at 0, at every bargaining round, at the end (and
    at every step when a callback must see each state)."""
    bounds = {0, steps} | (set(range(steps + 1)) if each_step else set())
    if every:
        bounds |= set(range(every, steps + 1, every))
    return sorted(bounds)


def block_seeds(lay: Layout, rngs) -> list[list[np.random.SeedSequence]]:
    """The seed sequences of each draw block's :data:`STREAMS` streams: the children of child
    ``b`` of its group's generator's seed sequence."""
    children = {g: rngs[g].bit_generator.seed_seq.spawn(count) for g, count in lay.group_blocks.items()}
    return [children[g][b].spawn(STREAMS) for g, b in lay.blocks]


def _block_generators(lay: Layout, rngs) -> list[np.ndarray]:
    """The state ``(STREAMS, 4)`` uint64 (SFC64's ``a, b, c, counter``) of each draw block, as
    numpy's ``SFC64`` sets it from the block's seed sequences. The streams are read in step order
    whatever the stretches, so a replicate's draws do not depend on where the compiled loop stops."""
    return [
        np.array([np.random.SFC64(ss).state["state"]["state"] for ss in seqs], dtype=np.uint64)
        for seqs in block_seeds(lay, rngs)
    ]


def _draw_block(state: np.ndarray, S: int, pn: int, pu: int, width: int):
    """``S`` steps of one draw block of ``width`` replicates (its streams' ``state`` advances):
    noise indices ``(S, pn, width)`` uint16 and uniforms ``(S, pu, width)`` as raw uint32 words.
    Each step takes whole 64-bit words from every stream (unused bits are dropped), so a step's
    draws do not depend on the stretch it falls in."""
    wn = -(-pn * width // (4 * STREAMS))
    wu = -(-pu * width // (2 * STREAMS))
    noise = np.empty((S, STREAMS * wn), dtype=np.uint64)
    unif = np.empty((S, STREAMS * wu), dtype=np.uint64)
    with np.errstate(over="ignore"):  # SFC64 adds modulo 2**64 (only Python mode would warn)
        _fill()(state, noise, unif)
    noise16 = noise.view(np.uint16)[:, : pn * width].reshape(S, pn, width)
    unif32 = unif.view(np.uint32)[:, : pu * width].reshape(S, pu, width)
    return noise16, unif32


def replay_draws(
    params: Params, rngs, layout=None, *, steps: int | None = None, each_step: bool = False
) -> list[dynamics.Draws]:
    """The draws :meth:`NumbaEngine.simulate` gives each row at each step, as
    :class:`~sim.model.dynamics.Draws` in float64 (for checking the engine against
    :mod:`sim.model.reference`, which consumes them one replicate at a time)."""
    if isinstance(rngs, np.random.Generator):
        rngs = [rngs]
    steps = params.steps if steps is None else steps
    lay = Layout(params.n, layout)
    A, E, M = params.A, dynamics.stochastic_event_count(params), dynamics.member_count(params)
    gens = _block_generators(lay, rngs)
    table = dynamics.normal_table(np.float64)
    off = ~np.eye(A, dtype=bool)
    out = [
        dynamics.Draws(np.zeros((params.n, A, A)), np.empty((params.n, E)), np.empty((params.n, M)))
        for _ in range(steps)
    ]
    bounds = _stretches(steps, params.bargain_every, each_step)
    for t0, t1 in zip(bounds[:-1], bounds[1:]):
        for d, gen in enumerate(gens):
            noise, unif = _draw_block(gen, t1 - t0, A * (A - 1), E + M, lay.width[d])
            for tile in np.flatnonzero(lay.block_of == d):
                nb = int(lay.count[tile])
                rows = lay.source[tile * LANES : tile * LANES + nb]
                lanes = lay.lanes[tile, :nb]
                for s in range(t1 - t0):
                    u = (unif[s][:, lanes].T + 0.5) * _U32
                    block = np.zeros((nb, A, A))
                    block[:, off] = table[noise[s][:, lanes].T]
                    out[t0 + s].noise[rows] = block
                    out[t0 + s].events[rows] = u[:, :E]
                    out[t0 + s].defect[rows] = u[:, E:]
    return out


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


class NumbaEngine:
    """The compiled engine (``--engine numba``); see the module docstring."""

    name = "numba"
    fuses_summaries = True
    books_forces = False

    def simulate(
        self,
        params: Params,
        rngs,
        layout=None,
        *,
        dtype=np.float32,
        record=None,
        steps: int | None = None,
        why=None,
        state: dynamics.State | None = None,
        summaries=None,
    ) -> dynamics.State:
        """Run ``steps`` (default: the scenario's) steps of every row of ``params``.

        Parameters
        ----------
        params
            The rows' parameters.
        rngs
            One ``numpy.random.Generator`` per common-random-number group.
        layout
            ``None`` (one group; row r is replicate r) or ``(group_of_row, replicate_of_row)``.
        dtype
            Precision of the ties (``float32`` or ``float64``).
        record
            Called with the :class:`~sim.model.dynamics.State` at the start and after every step
            (slow: the state is rebuilt every step); prefer ``summaries``.
        steps
            Steps to run.
        summaries
            A :class:`sim.model.engines.Summaries` to fill inside the compiled loop.

        Returns
        -------
        State
            The final state, rows in the order of ``params``.
        """
        if why is not None or state is not None:
            raise InputError(
                "--engine numba: expected a run from the scenario's start without the forces' parts "
                "(why: columns); use --no-why, or --engine numpy to book them or to continue saved states"
            )
        kernel = _compiled()
        dtype = np.dtype(dtype)
        steps = params.steps if steps is None else steps
        if isinstance(rngs, np.random.Generator):
            rngs = [rngs]
        lay = Layout(params.n, layout)
        run = _Run(params, lay, dtype, summaries)
        state = dynamics.initial_state(params, dtype)
        run.load(state)
        block_gen = _block_generators(lay, rngs)
        every = params.bargain_every
        bounds = _stretches(steps, every, record is not None)
        if record is not None:
            record(run.state(state, 0))
        rebuild = True
        for t0, t1 in zip(bounds[:-1], bounds[1:]):
            run.stretch(kernel, block_gen, t0, t1, rebuild, summarize_start=(t0 == 0))
            rebuild = False
            if every and t1 % every == 0:
                run.bargain()
                rebuild = True
            if run.bad >= 0:
                dynamics.check_finite(params, run.state(state, t1))
            if record is not None:
                record(run.state(state, t1))
        if steps == 0 and summaries is not None:
            run.stretch(kernel, block_gen, 0, 0, True, summarize_start=True)
        return run.state(state, steps)


class _Run:
    """The packed arrays of one simulate call."""

    def __init__(self, params: Params, lay: Layout, dtype, summaries):
        self.params, self.lay, self.dtype = params, lay, dtype
        A, n = params.A, params.n
        dt = params.dt
        c = params.coef
        pack = lay.pack
        self.sval = pack(params.strategic_value, np.float64)
        self.pv = pack(params.pressure_values, np.float64)
        self.pidx = np.ascontiguousarray(params.pressure_index, dtype=np.int64)
        self.pw = np.ascontiguousarray(params.pressure_weight, dtype=np.float64)
        self.coef = pack(
            np.stack([dt * c["affinity"], dt * c["competition"], dt * c["dependence"]], axis=1), np.float64
        )
        self.kcoef = pack(
            np.stack(
                [
                    -dt * c["affinity"],
                    dt * c["balance"] / max(A - 2, 1),
                    np.sqrt(dt * c["threat"]),
                    np.sqrt(dt * c["pressure"]),
                    c["noise"] * np.sqrt(dt),
                    dt * c["dependence"],
                ],
                axis=1,
            ),
            dtype,
        )
        self.noise_on = bool(np.any(c["noise"]))
        self.low = np.ascontiguousarray(params.low, dtype=np.float64)
        self.high = np.ascontiguousarray(params.high, dtype=np.float64)
        events = params.events
        self.ev_at = np.array([-1 if e.at is None else e.at for e in events], dtype=np.int64)
        slots, s = [], 0
        for e in events:
            slots.append(-1 if e.at is not None else s)
            s += e.at is None
        self.ev_slot = np.array(slots, dtype=np.int64)
        self.Es = s
        self.ev_repeat = np.array([e.repeat for e in events], dtype=np.uint8)
        hazards = [e.hazard for e in events if e.hazard is not None and e.at is None]
        self.evp = pack(
            -np.expm1(-np.stack(hazards, axis=1) * dt) if hazards else np.zeros((n, 0)), np.float64
        )
        effects = [f for e in events for f in e.effects]
        self.ev_first = np.cumsum([0] + [len(e.effects) for e in events]).astype(np.int64)
        self.ef_kind = np.array([_KIND[f.kind] for f in effects], dtype=np.int64)
        self.ef_i = np.array([f.i for f in effects], dtype=np.int64)
        self.ef_j = np.array([f.j for f in effects], dtype=np.int64)
        self.ef_shift = np.array([f.op == "shift" for f in effects], dtype=np.uint8)
        self.ef_sym = np.array([f.symmetric for f in effects], dtype=np.uint8)
        self.efv = pack(
            np.stack([f.value for f in effects], axis=1) if effects else np.zeros((n, 0)), np.float64
        )
        seat_actor, al_start = [], [0]
        member = np.zeros((max(len(params.alliances), 1), A), dtype=np.uint8)
        for a, al in enumerate(params.alliances):
            seat_actor += [int(i) for i in al.members]
            al_start.append(len(seat_actor))
            member[a, al.members] = 1
        self.seat_actor = np.array(seat_actor, dtype=np.int64)
        self.al_start = np.array(al_start, dtype=np.int64)
        self.member = member
        self.M = len(seat_actor)

        def per_seat(key):
            cols = [np.repeat(getattr(al, key)[:, None], len(al.members), axis=1) for al in params.alliances]
            return np.concatenate(cols, axis=1) if cols else np.zeros((n, 0))

        self.seat_par = pack(
            np.stack([per_seat(k) for k in ("theta_stay", "h0", "beta", "power_shift")], axis=1), np.float64
        )
        self.shifting = bool(self.M and np.any(self.seat_par[:, 3]))
        self.al_par = pack(
            np.stack(
                [
                    np.stack([getattr(al, k) for al in params.alliances], axis=1)
                    if params.alliances
                    else np.zeros((n, 0))
                    for k in ("theta_trust", "betrayal_shock", "reputation")
                ],
                axis=1,
            ),
            np.float64,
        )
        pairs = dynamics.dependence_pairs(params)
        self.dp_i = np.array([p[0] for p in pairs], dtype=np.int64)
        self.dp_k = np.array([p[1] for p in pairs], dtype=np.int64)
        self.table = dynamics.normal_table(dtype)
        self.Pn = A * (A - 1)
        self.Pu = self.Es + self.M
        T = params.steps
        L = len(params.alliances)
        self.summaries = summaries
        if summaries is not None:
            self.hist, self.act, self.bsum = summaries.hist, summaries.active, summaries.balance_sum
            sample = np.zeros(n, dtype=np.uint8)
            sample[: summaries.balance_rows] = 1
            self.traj = summaries.trajectories
            self.bins = summaries.hist.shape[-1]
        else:
            self.hist = np.zeros((T + 1, max(L, 1), 1), dtype=np.int64)
            self.act = np.zeros((T + 1, max(L, 1)), dtype=np.int64)
            self.bsum = np.zeros(T + 1)
            sample = np.zeros(n, dtype=np.uint8)
            self.traj = None
            self.bins = 1
        self.sample = pack(sample)
        self.do_traj = self.traj is not None
        if self.traj is None:
            self.traj = np.zeros((1, 1, 1, 1), dtype=np.float32)
        self.orig = pack(np.arange(n, dtype=np.int64))
        self.bad = -1

    def load(self, state: dynamics.State) -> None:
        pack, dt = self.lay.pack, self.dtype
        self.W = pack(state.ties, dt)
        self.cap = pack(state.capability, dt)
        self.growth = pack(state.growth, dt)
        self.pos = pack(state.position, dt)
        self.sal = pack(state.salience, dt)
        self.amb = pack(state.ambition, dt)
        self.dep = pack(state.dependence, dt)
        self.poff = pack(state.pressure_offset, dt)
        self.fired = pack(state.fired.astype(np.uint8))
        self.first_fired = pack(state.first_fired.astype(np.int32))
        self.fire_count = pack(state.fire_count.astype(np.int32))
        self.active = pack(state.active.astype(np.uint8))
        self.fate = pack(state.fate)
        self.end = pack(state.end_step)
        self.defector = pack(state.defector)
        self.lp0 = pack(state.log_power0, np.float64)
        self.elp0 = np.exp(-self.lp0)
        self.fixed = np.zeros_like(self.W)

    def state(self, state: dynamics.State, t: int) -> dynamics.State:
        """The packed arrays written back into ``state`` (original row order)."""
        un = self.lay.unpack
        state.t = t
        state.ties = un(self.W)
        state.capability = un(self.cap)
        state.growth = un(self.growth)
        state.position = un(self.pos)
        state.salience = un(self.sal)
        state.ambition = un(self.amb)
        state.dependence = un(self.dep)
        state.pressure_offset = un(self.poff)
        state.fired = un(self.fired).astype(bool)
        state.first_fired = un(self.first_fired)
        state.fire_count = un(self.fire_count)
        state.active = un(self.active).astype(bool)
        state.fate = un(self.fate)
        state.end_step = un(self.end)
        state.defector = un(self.defector)
        return state

    def bargain(self) -> None:
        """One round of expected-utility bargaining (numpy, float64) between stretches."""
        from sim.model.bargaining import bdm_step

        un = self.lay.unpack
        p = self.params
        f64 = np.float64
        new = bdm_step(
            un(self.cap).astype(f64),
            un(self.pos).astype(f64),
            un(self.sal).astype(f64),
            p.low,
            p.high,
            salience_scale=1.0,
        )
        self.pos = self.lay.pack(new.astype(self.dtype))

    def stretch(self, kernel, block_gen, t0: int, t1: int, rebuild: bool, summarize_start: bool) -> None:
        """Steps ``t0:t1`` of every tile, a draw block at a time."""
        lay = self.lay
        S = t1 - t0
        one = self.dtype.type(1.0)
        for d, gen in enumerate(block_gen):
            noise, unif = _draw_block(gen, S, self.Pn, self.Pu, lay.width[d])
            for tile in np.flatnonzero(lay.block_of == d):
                nb = int(lay.count[tile])
                if lay.identity[tile]:
                    nz, un = noise, unif
                else:
                    lanes = lay.lanes[tile]
                    nz = np.ascontiguousarray(noise[:, :, lanes])
                    un = np.ascontiguousarray(unif[:, :, lanes])
                bad = kernel(
                    int(tile),
                    nb,
                    t0,
                    t1,
                    self.params.steps,
                    self.params.dt,
                    rebuild,
                    summarize_start,
                    self.W,
                    self.cap,
                    self.growth,
                    self.pos,
                    self.sal,
                    self.amb,
                    self.dep,
                    self.poff,
                    self.fired,
                    self.first_fired,
                    self.fire_count,
                    self.active,
                    self.fate,
                    self.end,
                    self.defector,
                    self.lp0,
                    self.elp0,
                    self.fixed,
                    self.sval,
                    self.pv,
                    self.pidx,
                    self.pw,
                    self.coef,
                    self.kcoef,
                    self.low,
                    self.high,
                    self.ev_at,
                    self.ev_slot,
                    self.ev_repeat,
                    self.ev_first,
                    self.evp,
                    self.ef_kind,
                    self.ef_i,
                    self.ef_j,
                    self.ef_shift,
                    self.ef_sym,
                    self.efv,
                    self.seat_actor,
                    self.al_start,
                    self.member,
                    self.seat_par,
                    self.al_par,
                    self.shifting,
                    self.dp_i,
                    self.dp_k,
                    nz,
                    un,
                    self.table,
                    self.noise_on,
                    self.hist,
                    self.act,
                    self.bsum,
                    self.sample,
                    self.traj,
                    self.orig,
                    self.do_traj,
                    self.bins,
                    one,
                    self.dtype.type(self.params.dt),
                )
                if bad >= 0 and (self.bad < 0 or bad < self.bad):
                    self.bad = bad


def compile_seconds() -> float:
    """Compile (or load from numba's cache) the kernel for both precisions; seconds it took."""
    start = time.perf_counter()
    _compiled()
    from sim.spec.params import compile_params
    from sim.spec.scenario import Scenario

    tiny = Scenario.model_validate(
        {
            "actors": {"a": {"capability": 0.5}, "b": {"capability": 0.3}, "c": {"capability": 0.2}},
            "issues": {"x": {}},
            "alliances": {"ab": {"members": ["a", "b"]}},
            "run": {"steps": 2},
        }
    )
    params = compile_params(tiny, 2, np.random.default_rng(0))
    for dtype in (np.float32, np.float64):
        NumbaEngine().simulate(params, [np.random.default_rng(0)], dtype=dtype)
    return time.perf_counter() - start
