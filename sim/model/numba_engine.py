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
state numpy seeded them with, two side by side so that their chains overlap (numpy's
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
import threading
import time
from typing import Any, NamedTuple

import numpy as np

from sim.errors import InputError
from sim.extras import install_hint
from sim.model import dynamics
from sim.spec.params import Params
from sim.vocabulary import EFFECT_KINDS, Fate

STREAMS = 4  # SFC64 streams per draw block, two stepped side by side (_fill_draws is written for four)
LANES = 128  # replicates per tile (measured on 10 actors: 128 beats 64 by ~15 %; 256 is no faster)
_U32 = 2.0**-32
_STAB, _DRIFT = int(Fate.STAB), int(Fate.DRIFT)
_ONE, _S3, _S11, _S24, _S40 = (np.uint64(k) for k in (1, 3, 11, 24, 40))  # SFC64's constants
ALLIANCE_PARAMS = ("theta_trust", "betrayal_shock", "reputation")  # the kernel's al_par rows
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


def _move(W, F, Mb, tau, T, fixed, q, cap, kcoef, dep, dp_i, dp_k, noise, table, noise_on, one):
    """The new ties of one tile, written over ``W``: ``clip(W + dt * forces + noise)`` (the
    deterministic forces of :func:`sim.model.dynamics.increments` term by term, then the table
    noise). Every force is summed into ``F`` before the first tie is written, and each tie's new
    value reads only its own old one, so no second array is needed. A function of its own: its
    loops get the registers to themselves."""
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
                    W[i, i, lane] = zero
                continue
            pair = i * (A - 1) + j - (1 if j > i else 0)
            if noise_on:
                # the table look-ups first (scalar loads), then one vector loop
                for lane in range(B):
                    T[lane] = table[noise[pair * B + lane]]
                for lane in range(B):
                    x = W[i, j, lane] + F[i, j, lane]
                    x = x + knoise[lane] * T[lane]
                    x = -one if x < -one else x
                    W[i, j, lane] = one if x > one else x
            else:
                for lane in range(B):
                    x = W[i, j, lane] + F[i, j, lane]
                    x = -one if x < -one else x
                    W[i, j, lane] = one if x > one else x


def _run_tile(tile, nb, t0, t1, rebuild, summarize_start, st, par, ev, out, noise16, unif):
    """Run steps ``t0:t1`` of one tile; returns the first step after which a tie or capability
    was not finite (-1 if none).

    ``st`` (:class:`TileState`) holds every tile's state, ``par`` (:class:`TileParams`) the
    forces' coefficients, the alliances and the noise table, ``ev`` (:class:`TileEvents`) the
    events and their effects, ``out`` (:class:`TileSummaries`) the per-step summaries;
    ``noise16`` and ``unif`` are the tile's draws for the stretch. Vector loops run over all LANES
    lanes (a partial tile's spare lanes hold copies of its first row and are never read back);
    counts and summaries use the ``nb`` lanes in use.
    """
    W = st.W[tile]
    cap = st.cap[tile]
    growth = st.growth[tile]
    pos = st.pos[tile]
    sal = st.sal[tile]
    amb = st.amb[tile]
    dep = st.dep[tile]
    poff = st.poff[tile]
    fired = st.fired[tile]
    first_fired = st.first_fired[tile]
    fire_count = st.fire_count[tile]
    active = st.active[tile]
    fate = st.fate[tile]
    end_step = st.end_step[tile]
    defector = st.defector[tile]
    lp0 = st.lp0[tile]
    elp0 = st.elp0[tile]
    fixed = st.fixed[tile]
    sval = par.sval[tile]
    pv = par.pv[tile]
    coef = par.coef[tile]
    kcoef = par.kcoef[tile]
    seat_par = par.seat_par[tile]
    al_par = par.al_par[tile]
    pidx, pw, low, high = par.pidx, par.pw, par.low, par.high
    seat_actor, al_start, member = par.seat_actor, par.al_start, par.member
    dp_i, dp_k, table = par.dp_i, par.dp_k, par.table
    shifting, noise_on, steps = par.shifting, par.noise_on, par.steps
    dt, one, dt_f = par.dt, par.one, par.dt_f
    evp = ev.p[tile]
    efv = ev.value[tile]
    ev_at, ev_slot, ev_repeat, ev_first = ev.at, ev.slot, ev.repeat, ev.first
    ef_kind, ef_i, ef_j, ef_shift, ef_sym = ev.kind, ev.i, ev.j, ev.shift, ev.sym
    sample = out.sample[tile]
    orig_row = out.orig[tile]
    hist, act, bsum, traj, do_traj, bins = out.hist, out.act, out.bsum, out.traj, out.do_traj, out.bins

    A = W.shape[0]
    B = LANES
    L = active.shape[0]
    E = ev_at.shape[0]
    Es = evp.shape[0]
    M = seat_actor.shape[0]
    zero = one - one

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
                    u = (unif[s, slot * B + lane] + 0.5) * _U32
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
                    u = (unif[s, (Es + x) * B + lane] + 0.5) * _U32
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
                    u = (unif[s, (Es + x) * B + lane] + 0.5) * _U32
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
        _move(W, F, Mb, tau, T, fixed, q, cap, kcoef, dep, dp_i, dp_k, noise16[s], table, noise_on, one)

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
                    W[k, who, lane] = _clip(W[k, who, lane] - loss, -1.0, 1.0)
        for lane in range(B):
            check[lane] = 0.0
        for i in range(A):
            for j in range(A):
                for lane in range(B):
                    check[lane] += W[i, j, lane]

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
    words ``q * wn ...`` of the noise row, then words ``q * wu ...`` of the uniform row.

    Each stream writes its own part of every row, so the streams need not run in step with one
    another: they run two at a time, side by side (each word depends on the last of its own stream
    only, so the two chains overlap). Two streams' states and their rows fit in the processor's
    registers; four did not, and moving them to memory and back every word made the fill twice as
    slow."""
    S = noise.shape[0]
    wn = noise.shape[1] // 4
    wu = unif.shape[1] // 4
    for q in range(0, 4, 2):
        a0, b0, c0, w0 = state[q, 0], state[q, 1], state[q, 2], state[q, 3]
        a1, b1, c1, w1 = state[q + 1, 0], state[q + 1, 1], state[q + 1, 2], state[q + 1, 3]
        for s in range(S):
            for row, width in ((noise, wn), (unif, wu)):
                r0 = row[s, q * width : (q + 1) * width]
                r1 = row[s, (q + 1) * width : (q + 2) * width]
                for i in range(width):
                    x, a0, b0, c0, w0 = _sfc64(a0, b0, c0, w0)
                    r0[i] = x
                    x, a1, b1, c1, w1 = _sfc64(a1, b1, c1, w1)
                    r1[i] = x
        state[q, 0], state[q, 1], state[q, 2], state[q, 3] = a0, b0, c0, w0
        state[q + 1, 0], state[q + 1, 1], state[q + 1, 2], state[q + 1, 3] = a1, b1, c1, w1


def _run_stretch(t0, t1, rebuild, summarize_start, st, par, ev, out, blk, Pn, Pu):
    """Steps ``t0:t1`` of every tile, a draw block at a time: the block's streams fill the
    stretch's draws (:func:`_fill_draws`), then each of its tiles runs (:func:`_run_tile`) on
    them, through its lanes when its rows are not the block's replicates in order. Returns the
    first step after which a tie or capability was not finite (-1 if none).

    ``blk`` (:class:`TileBlocks`) holds the blocks' stream states and which tiles draw from
    which; ``Pn`` and ``Pu`` are the noise indices and uniforms each replicate draws per step.
    One call per stretch: the driver's thread is free (no GIL) while the stretch runs.
    """
    S = t1 - t0
    B = LANES
    bad = -1
    for d in range(blk.gen.shape[0]):
        width = blk.width[d]
        wn = (Pn * width + 4 * STREAMS - 1) // (4 * STREAMS)
        wu = (Pu * width + 2 * STREAMS - 1) // (2 * STREAMS)
        words_n = np.empty((S, STREAMS * wn), np.uint64)
        words_u = np.empty((S, STREAMS * wu), np.uint64)
        _fill_draws(blk.gen[d], words_n, words_u)
        noise = words_n.view(np.uint16)  # (S, pair * width + lane), then unused bits
        unif = words_u.view(np.uint32)  # (S, slot * width + lane), then unused bits
        for x in range(blk.first[d], blk.first[d + 1]):
            tile = blk.tiles[x]
            nz, un = noise, unif
            if blk.identity[tile] == 0:  # the tile's lanes read other replicates of the block
                nz = np.empty((S, Pn * B), np.uint16)
                un = np.empty((S, Pu * B), np.uint32)
                for s in range(S):
                    for k in range(Pn):
                        for lane in range(B):
                            nz[s, k * B + lane] = noise[s, k * width + blk.lanes[tile, lane]]
                    for k in range(Pu):
                        for lane in range(B):
                            un[s, k * B + lane] = unif[s, k * width + blk.lanes[tile, lane]]
            b = _run_tile(tile, blk.used[tile], t0, t1, rebuild, summarize_start, st, par, ev, out, nz, un)
            if b >= 0 and (bad < 0 or b < bad):
                bad = b
    return bad


_COMPILED: dict[str, object] = {}
_COMPILE_LOCK = threading.RLock()  # one thread wraps the functions (a run warms the kernel in another)
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
    "_run_tile": "never",
}


def _jit(name: str, inline: str = "never", **flags):
    """Compile the module's function ``name`` in place (once): later compiled code calls it."""
    import numba

    njit: Any = numba.njit
    g = globals()
    if not hasattr(g[name], "py_func"):
        g[name] = njit(cache=True, inline=inline, **flags)(g[name])
    return g[name]


def _fill():
    """The compiled :func:`_fill_draws`."""
    with _COMPILE_LOCK:
        if "fill" not in _COMPILED:
            require()
            _jit("_sfc64", "always")
            _COMPILED["fill"] = _jit("_fill_draws", nogil=True)
    return _COMPILED["fill"]


def _compiled():
    """The compiled kernel, :func:`_run_stretch` (compiled on first use; numba's cache keeps it
    across processes). ``nogil``: the process's other threads run while it steps (the next
    chunk's parameters, the last chunk's table, storing it)."""
    with _COMPILE_LOCK:
        if "run_stretch" not in _COMPILED:
            _fill()
            for name, inline in _HELPERS.items():
                _jit(name, inline, error_model="numpy", fastmath=_FASTMATH)
            _COMPILED["run_stretch"] = _jit(
                "_run_stretch", nogil=True, error_model="numpy", fastmath=_FASTMATH
            )
    return _COMPILED["run_stretch"]


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


def _stretches(start: int, end: int, every: int, each_step: bool) -> list[int]:
    """Where the runs of the compiled loop stop between steps ``start`` and ``end``: at both ends,
    at every bargaining round (every ``every`` steps of the horizon) and, when a callback must see
    each state, at every step."""
    bounds = {start, end} | (set(range(start, end + 1)) if each_step else set())
    if every:
        bounds |= set(range(-(-(start + 1) // every) * every, end + 1, every))
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
    bounds = _stretches(0, steps, params.bargain_every, each_step)
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
# The kernel's records: what one call of the compiled loop reads and writes
# --------------------------------------------------------------------------------------------


class TileState(NamedTuple):
    """Every tile's state (:class:`sim.model.dynamics.State` packed ``(tiles, ..., LANES)``) and
    the fixed forces derived from it (``fixed``, rebuilt when interests change)."""

    W: np.ndarray
    cap: np.ndarray
    growth: np.ndarray
    pos: np.ndarray
    sal: np.ndarray
    amb: np.ndarray
    dep: np.ndarray
    poff: np.ndarray
    fired: np.ndarray
    first_fired: np.ndarray
    fire_count: np.ndarray
    active: np.ndarray
    fate: np.ndarray
    end_step: np.ndarray
    defector: np.ndarray
    lp0: np.ndarray  # each seat's log relative power at the start
    elp0: np.ndarray  # exp(-lp0), for the decisions' screen
    fixed: np.ndarray  # dt (alpha_aff U - alpha_cmp C + alpha_dep D) of every lane


class TileParams(NamedTuple):
    """The forces' coefficients, the pressure schedule, the alliances and the noise table."""

    sval: np.ndarray  # (tiles, A, LANES) strategic values
    pv: np.ndarray  # (tiles, A, knots, LANES) pressure at each knot
    pidx: np.ndarray  # (T, A) left knot of each step
    pw: np.ndarray  # (T, A) weight of the right knot
    coef: np.ndarray  # (tiles, 3, LANES) dt x (affinity, competition, dependence)
    kcoef: np.ndarray  # (tiles, 6, LANES) the step's coefficients in the ties' precision
    low: np.ndarray  # (K,) issue scales
    high: np.ndarray
    seat_actor: np.ndarray  # (M,) actor of each alliance seat
    al_start: np.ndarray  # (L + 1,) first seat of each alliance
    member: np.ndarray  # (L, A) 1 where an actor is a member
    seat_par: np.ndarray  # (tiles, 4, M, LANES) theta_stay, h0, beta, power_shift of each seat
    al_par: np.ndarray  # (tiles, 3, L, LANES) theta_trust, betrayal_shock, reputation
    dp_i: np.ndarray  # dependence pairs (i may depend on k)
    dp_k: np.ndarray
    table: np.ndarray  # the normal table the 16-bit noise indices read
    shifting: bool  # whether any seat's hazard moves with power shifts
    noise_on: bool
    steps: int  # the horizon (the pressure schedule's length)
    dt: float
    one: float  # 1 in the ties' precision
    dt_f: float  # dt in the ties' precision


class TileEvents(NamedTuple):
    """The events (scheduled step or hazard slot) and their effects, in order."""

    at: np.ndarray  # (E,) step of a scheduled event, -1 for a stochastic one
    slot: np.ndarray  # (E,) uniform slot of a stochastic event, -1 for a scheduled one
    repeat: np.ndarray  # (E,) whether it may fire again
    first: np.ndarray  # (E + 1,) first effect of each event
    p: np.ndarray  # (tiles, Es, LANES) per-step probability of each stochastic event
    kind: np.ndarray  # (F,) effect kind (:data:`sim.vocabulary.EFFECT_KINDS` order)
    i: np.ndarray
    j: np.ndarray
    shift: np.ndarray  # 1: shift, 0: set
    sym: np.ndarray  # 1: both directions
    value: np.ndarray  # (tiles, F, LANES)


class TileSummaries(NamedTuple):
    """The per-step summaries the kernel adds to (:class:`sim.model.engines.Summaries`)."""

    hist: np.ndarray
    act: np.ndarray
    bsum: np.ndarray
    sample: np.ndarray  # (tiles, LANES) 1 for the rows the balance share is summed over
    traj: np.ndarray
    orig: np.ndarray  # (tiles, LANES) row of each lane, for the trajectories
    do_traj: bool
    bins: int


class TileBlocks(NamedTuple):
    """The draw blocks of a chunk: their streams' states and the tiles that read each."""

    gen: np.ndarray  # (D, STREAMS, 4) uint64 SFC64 states, advanced as the stretches draw
    width: np.ndarray  # (D,) replicates each block draws for
    first: np.ndarray  # (D + 1,) where each block's tiles start in ``tiles``
    tiles: np.ndarray  # the tiles, block after block
    lanes: np.ndarray  # (tiles, LANES) the block's replicate each lane reads
    identity: np.ndarray  # (tiles,) 1 where lane l reads replicate l of a whole block
    used: np.ndarray  # (tiles,) lanes in use


def _pack_blocks(lay: Layout, rngs) -> TileBlocks:
    """The draw blocks of a layout, their streams seeded from ``rngs`` (:func:`_block_generators`)."""
    order = np.argsort(lay.block_of, kind="stable")
    return TileBlocks(
        gen=np.array(_block_generators(lay, rngs), dtype=np.uint64).reshape(-1, STREAMS, 4),
        width=np.array(lay.width, dtype=np.int64),
        first=np.searchsorted(lay.block_of[order], np.arange(len(lay.blocks) + 1)).astype(np.int64),
        tiles=order.astype(np.int64),
        lanes=np.ascontiguousarray(lay.lanes, dtype=np.int64),
        identity=np.array(lay.identity, dtype=np.uint8),
        used=np.asarray(lay.count, dtype=np.int64),
    )


# --------------------------------------------------------------------------------------------
# The engine
# --------------------------------------------------------------------------------------------


class NumbaEngine:
    """The compiled engine (``--engine numba``); see the module docstring."""

    name = "numba"
    fuses_summaries = True
    books_forces = False
    continues_states = True

    def warm(self, dtype=np.float32) -> None:
        """Load the compiled kernel for ``dtype`` (see :func:`warm`)."""
        warm(dtype)

    def prepare(
        self, params: Params, rngs, layout=None, *, dtype=np.float32, summaries=None, state=None
    ) -> Prepared:
        """A chunk's arrays packed in tiles and its draw blocks seeded, for :meth:`simulate`
        (``prepared=``; the arguments mean what they mean there). The runner's pipeline calls it in
        the thread that begins chunks, so that the packing (a few hundredths of a second a chunk)
        is done while the last chunk steps, not between its stretches and the next chunk's."""
        dtype = np.dtype(dtype)
        if isinstance(rngs, np.random.Generator):
            rngs = [rngs]
        run = _Run(params, Layout(params.n, layout), dtype, summaries, rngs)
        state = dynamics.initial_state(params, dtype) if state is None else state
        run.load(state)
        return Prepared(run, state)

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
        prepared: Prepared | None = None,
    ) -> dynamics.State:
        """Run ``steps`` steps (default: what is left of the horizon) of every row of ``params``,
        from the scenario's start or from ``state``.

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
        state
            A saved state at step ``state.t`` to continue (:func:`sim.model.dynamics.restore_state`);
            it is advanced in place. Its rows draw from the start of their streams, as a run from
            the scenario's start does at step 0.
        summaries
            A :class:`sim.model.engines.Summaries` to fill inside the compiled loop.
        prepared
            What :meth:`prepare` made of the same arguments (which then are not packed again).

        Returns
        -------
        State
            The final state, rows in the order of ``params``.
        """
        if why is not None:
            raise InputError(
                "--engine numba: expected a run without the forces' parts (why: columns); use "
                "--no-why, or --engine numpy to book them"
            )
        kernel = _compiled()
        if prepared is None:
            prepared = self.prepare(params, rngs, layout, dtype=dtype, summaries=summaries, state=state)
        run, state = prepared.run, prepared.state
        start = int(state.t)
        steps = params.steps - start if steps is None else steps
        every = params.bargain_every
        bounds = _stretches(start, start + steps, every, record is not None)
        if record is not None:
            record(run.state(state, start))
        rebuild = True
        for t0, t1 in zip(bounds[:-1], bounds[1:]):
            run.stretch(kernel, t0, t1, rebuild, summarize_start=(t0 == start))
            rebuild = False
            if every and t1 % every == 0:
                run.bargain()
                rebuild = True
            if run.bad >= 0:
                dynamics.check_finite(params, run.state(state, t1))
            if record is not None:
                record(run.state(state, t1))
        if steps == 0 and summaries is not None:
            run.stretch(kernel, start, start, True, summarize_start=True)
        return run.state(state, start + steps)


class Prepared(NamedTuple):
    """A chunk made ready to step (:meth:`NumbaEngine.prepare`): its packed arrays and the state
    they were loaded from (written back into at the end)."""

    run: _Run
    state: dynamics.State


def _pack_params(params: Params, lay: Layout, dtype) -> TileParams:
    """The forces' coefficients, pressure schedule and alliances of a chunk, packed in tiles."""
    A, n, dt, c, pack = params.A, params.n, params.dt, params.coef, lay.pack
    seat_actor, al_start = [], [0]
    member = np.zeros((max(len(params.alliances), 1), A), dtype=np.uint8)
    for a, al in enumerate(params.alliances):
        seat_actor += [int(i) for i in al.members]
        al_start.append(len(seat_actor))
        member[a, al.members] = 1

    def per_seat(key):
        cols = [np.repeat(getattr(al, key)[:, None], len(al.members), axis=1) for al in params.alliances]
        return np.concatenate(cols, axis=1) if cols else np.zeros((n, 0))

    def per_alliance(key):
        cols = [getattr(al, key) for al in params.alliances]
        return np.stack(cols, axis=1) if cols else np.zeros((n, 0))

    seat_par = pack(
        np.stack([per_seat(k) for k in ("theta_stay", "h0", "beta", "power_shift")], axis=1), np.float64
    )
    kcoef = [
        -dt * c["affinity"],
        dt * c["balance"] / max(A - 2, 1),
        np.sqrt(dt * c["threat"]),
        np.sqrt(dt * c["pressure"]),
        c["noise"] * np.sqrt(dt),
        dt * c["dependence"],
    ]
    pairs = dynamics.dependence_pairs(params)
    return TileParams(
        sval=pack(params.strategic_value, np.float64),
        pv=pack(params.pressure_values, np.float64),
        pidx=np.ascontiguousarray(params.pressure_index, dtype=np.int64),
        pw=np.ascontiguousarray(params.pressure_weight, dtype=np.float64),
        coef=pack(np.stack([dt * c["affinity"], dt * c["competition"], dt * c["dependence"]], 1), np.float64),
        kcoef=pack(np.stack(kcoef, axis=1), dtype),
        low=np.ascontiguousarray(params.low, dtype=np.float64),
        high=np.ascontiguousarray(params.high, dtype=np.float64),
        seat_actor=np.array(seat_actor, dtype=np.int64),
        al_start=np.array(al_start, dtype=np.int64),
        member=member,
        seat_par=seat_par,
        al_par=pack(np.stack([per_alliance(k) for k in ALLIANCE_PARAMS], axis=1), np.float64),
        dp_i=np.array([p[0] for p in pairs], dtype=np.int64),
        dp_k=np.array([p[1] for p in pairs], dtype=np.int64),
        table=dynamics.normal_table(dtype),
        shifting=bool(len(seat_actor) and np.any(seat_par[:, 3])),
        noise_on=bool(np.any(c["noise"])),
        steps=int(params.steps),
        dt=float(dt),
        one=dtype.type(1.0),
        dt_f=dtype.type(dt),
    )


def _pack_events(params: Params, lay: Layout) -> TileEvents:
    """The events of a chunk and their effects, packed in tiles."""
    events, n, pack = params.events, params.n, lay.pack
    slots, s = [], 0
    for e in events:
        slots.append(-1 if e.at is not None else s)
        s += e.at is None
    hazards = [e.hazard for e in events if e.hazard is not None and e.at is None]
    effects = [f for e in events for f in e.effects]
    return TileEvents(
        at=np.array([-1 if e.at is None else e.at for e in events], dtype=np.int64),
        slot=np.array(slots, dtype=np.int64),
        repeat=np.array([e.repeat for e in events], dtype=np.uint8),
        first=np.cumsum([0] + [len(e.effects) for e in events]).astype(np.int64),
        p=pack(-np.expm1(-np.stack(hazards, 1) * params.dt) if hazards else np.zeros((n, 0)), np.float64),
        kind=np.array([_KIND[f.kind] for f in effects], dtype=np.int64),
        i=np.array([f.i for f in effects], dtype=np.int64),
        j=np.array([f.j for f in effects], dtype=np.int64),
        shift=np.array([f.op == "shift" for f in effects], dtype=np.uint8),
        sym=np.array([f.symmetric for f in effects], dtype=np.uint8),
        value=pack(np.stack([f.value for f in effects], axis=1) if effects else np.zeros((n, 0)), np.float64),
    )


def _pack_summaries(params: Params, lay: Layout, summaries) -> TileSummaries:
    """Where the kernel adds the per-step summaries (placeholders when none are asked for)."""
    T, L, n = params.steps, len(params.alliances), params.n
    sample = np.zeros(n, dtype=np.uint8)
    if summaries is None:
        hist = np.zeros((T + 1, max(L, 1), 1), dtype=np.int64)
        act = np.zeros((T + 1, max(L, 1)), dtype=np.int64)
        bsum, traj = np.zeros(T + 1), None
    else:
        hist, act, bsum = summaries.hist, summaries.active, summaries.balance_sum
        traj = summaries.trajectories
        sample[: summaries.balance_rows] = 1
    return TileSummaries(
        hist=hist,
        act=act,
        bsum=bsum,
        sample=lay.pack(sample),
        traj=np.zeros((1, 1, 1, 1), dtype=np.float32) if traj is None else traj,
        orig=lay.pack(np.arange(n, dtype=np.int64)),
        do_traj=traj is not None,
        bins=hist.shape[-1],
    )


def _pack_state(state: dynamics.State, lay: Layout, dtype) -> TileState:
    """A state packed in tiles (the fixed forces zero: the first stretch rebuilds them)."""
    pack = lay.pack
    W = pack(state.ties, dtype)
    lp0 = pack(state.log_power0, np.float64)
    return TileState(
        W=W,
        cap=pack(state.capability, dtype),
        growth=pack(state.growth, dtype),
        pos=pack(state.position, dtype),
        sal=pack(state.salience, dtype),
        amb=pack(state.ambition, dtype),
        dep=pack(state.dependence, dtype),
        poff=pack(state.pressure_offset, dtype),
        fired=pack(state.fired.astype(np.uint8)),
        first_fired=pack(state.first_fired.astype(np.int32)),
        fire_count=pack(state.fire_count.astype(np.int32)),
        active=pack(state.active.astype(np.uint8)),
        fate=pack(state.fate),
        end_step=pack(state.end_step),
        defector=pack(state.defector),
        lp0=lp0,
        elp0=np.exp(-lp0),
        fixed=np.zeros_like(W),
    )


class _Run:
    """The packed arrays of one simulate call."""

    def __init__(self, params: Params, lay: Layout, dtype, summaries, rngs):
        self.params, self.lay, self.dtype = params, lay, dtype
        self.blocks = _pack_blocks(lay, rngs)
        self.par = _pack_params(params, lay, dtype)
        self.ev = _pack_events(params, lay)
        self.out = _pack_summaries(params, lay, summaries)
        self.Pn = params.A * (params.A - 1)
        self.Pu = int(np.count_nonzero(self.ev.slot >= 0)) + len(self.par.seat_actor)
        self.bad = -1

    def load(self, state: dynamics.State) -> None:
        """Pack ``state`` into the tiles."""
        self.st = _pack_state(state, self.lay, self.dtype)

    def state(self, state: dynamics.State, t: int) -> dynamics.State:
        """The packed arrays written back into ``state`` (original row order)."""
        un, st = self.lay.unpack, self.st
        state.t = t
        state.ties = un(st.W)
        state.capability = un(st.cap)
        state.growth = un(st.growth)
        state.position = un(st.pos)
        state.salience = un(st.sal)
        state.ambition = un(st.amb)
        state.dependence = un(st.dep)
        state.pressure_offset = un(st.poff)
        state.fired = un(st.fired).astype(bool)
        state.first_fired = un(st.first_fired)
        state.fire_count = un(st.fire_count)
        state.active = un(st.active).astype(bool)
        state.fate = un(st.fate)
        state.end_step = un(st.end_step)
        state.defector = un(st.defector)
        return state

    def bargain(self) -> None:
        """One round of expected-utility bargaining (numpy, float64) between stretches."""
        from sim.model.bargaining import bdm_step

        un = self.lay.unpack
        p = self.params
        f64 = np.float64
        new = bdm_step(
            un(self.st.cap).astype(f64),
            un(self.st.pos).astype(f64),
            un(self.st.sal).astype(f64),
            p.low,
            p.high,
            salience_scale=1.0,
        )
        self.st = self.st._replace(pos=self.lay.pack(new.astype(self.dtype)))

    def stretch(self, kernel, t0: int, t1: int, rebuild: bool, summarize_start: bool) -> None:
        """Steps ``t0:t1`` of every tile (:func:`_run_stretch`)."""
        args = (self.st, self.par, self.ev, self.out, self.blocks, self.Pn, self.Pu)
        bad = kernel(t0, t1, rebuild, summarize_start, *args)
        if bad >= 0 and (self.bad < 0 or bad < self.bad):
            self.bad = bad


def _tiny_params() -> Params:
    """Two replicates of a three-actor scenario: enough to load every specialisation."""
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
    return compile_params(tiny, 2, np.random.default_rng(0))


def warm(dtype=np.float32) -> None:
    """Compile the kernel for ``dtype``, or load it from numba's cache (about a second): what a
    worker does as it starts, so that its first chunk does not."""
    NumbaEngine().simulate(_tiny_params(), [np.random.default_rng(0)], dtype=dtype)


def compile_seconds() -> float:
    """Compile (or load from numba's cache) the kernel for both precisions; seconds it took."""
    start = time.perf_counter()
    _compiled()
    for dtype in (np.float32, np.float64):
        warm(dtype)
    return time.perf_counter() - start
