"""What moved each alliance's ties: every force's part in a member's mean disposition toward its partners.

A step changes a tie by the sum of its forces, plus the noise, plus what clipping to [-1, 1] takes
off, plus the direct shifts of events and of defections. Booking each of these for every ordered
pair of partners, step after step, splits the change of a tie since the start exactly into its
causes (the decomposition is additive because the step is: ``W' = clip(W + dt sum_f F_f + noise)``,
and the clipping correction ``clip(x) - x`` is booked as its own term).

What is tracked, per declared alliance and replicate:

- an alliance that ended: the *first defector's* mean disposition toward its partners, from t = 0
  to the moment it decided to leave (after the events of that step);
- an alliance that held: the mean over members of each member's mean disposition toward its
  partners (the alliance's cohesion), from t = 0 to the horizon.

The parts are booked over the whole run and over a window of the last ``window`` steps before
that moment (default 12: a year of monthly steps). The forces are the mechanisms of
:data:`sim.vocabulary.MECHANISMS`, then one term per event that shifts or sets a tracked tie
directly (``event:<name>``), then ``defections`` (betrayal and reputation shocks of any
alliance's defection) and ``clipping``. Events that change positions, saliences, ambitions,
dependences, pressure or growth act through the mechanisms they feed and are booked there.

This is the accounting of the forces' increments along the realised path (as in a growth
accounting), not a counterfactual: switching a force off changes the path and therefore every
other force's increments too.
"""

from __future__ import annotations

import numpy as np

from sim.spec.params import Params
from sim.vocabulary import MECHANISMS, event_force, why_column

DEFAULT_WINDOW = 12
DEFECTIONS, CLIPPING = "defections", "clipping"


class Attribution:
    """Books, for every member of every declared alliance, each force's part in the change of its
    mean disposition toward its partners.

    Parameters
    ----------
    params : Params
        The compiled parameters of the run (``n`` replicates).
    window : int
        Length of the window before an alliance's end (or the horizon), in steps: the last
        ``window`` steps up to the decision to defect, the events of the ending step included.

    Notes
    -----
    Each force is recomputed here for the members' ties alone from its own formula (see
    :mod:`sim.model.dynamics`), rather than taken from the step's fused sum, so that the parts
    adding up to the observed change is a check of the fused step and not a tautology.
    The parts of each step are kept for ``window`` steps (a ring), older ones summed.
    """

    def __init__(self, params: Params, window: int = DEFAULT_WINDOW):
        if window < 1:
            raise ValueError(f"expected a window of at least one step, got {window}")
        self.params, self.window = params, int(window)
        A, n, L = params.A, params.n, len(params.alliances)
        members = sorted({int(i) for al in params.alliances for i in al.members})
        self.U = np.array(members, dtype=np.intp)  # every actor in some alliance
        u, where = len(members), {a: k for k, a in enumerate(members)}
        pairs, local, weight, self.span, seat = [], [], [], [], 0
        for al in params.alliances:
            k = len(al.members)
            self.span.append(slice(seat, seat + k))
            for a, i in enumerate(al.members):
                for j in al.members:
                    if j != i:
                        pairs.append(int(i) * A + int(j))
                        local.append(where[int(i)] * u + where[int(j)])
                        weight.append((seat + a, 1.0 / (k - 1)))
            seat += k
        M, P = seat, len(pairs)
        self.pairs = np.array(pairs, dtype=np.intp)  # flat (i, j) of each ordered pair of partners
        self.local = np.array(local, dtype=np.intp)  # the same among the alliance actors only
        #: (P, M): a seat's mean disposition toward its partners from its pairs
        self.seat_mean = np.zeros((P, M))
        for p, (s, w) in enumerate(weight):
            self.seat_mean[p, s] = w
        tracked = {(q // A, q % A) for q in pairs}
        self.event_index: dict[int, int] = {}
        names = list(MECHANISMS)
        for e, ev in enumerate(params.events):
            touched = set()
            for f in ev.effects:
                if f.kind == "tie":
                    touched |= {(f.i, f.j), (f.j, f.i)} if f.symmetric else {(f.i, f.j)}
            if touched & tracked:
                self.event_index[e] = len(names)
                names.append(event_force(ev.name))
        names += [DEFECTIONS, CLIPPING]
        #: the force of each booked part
        self.forces: tuple[str, ...] = tuple(names)
        F = len(names)
        self.column = {name: f for f, name in enumerate(names)}
        self.pair_from, self.pair_to = self.pairs // A, self.pairs % A
        self._competition: np.ndarray | None = None
        self._stale = np.empty(0, dtype=np.intp)
        self.ring = np.zeros((self.window, F, n, M))  # each recent step's parts, per seat
        self.older = np.zeros((F, n, M))  # the parts of the steps before those
        self.slot = self.ring[0]
        self.run_parts = np.zeros((n, L, F))  # per alliance: the tracked mean's parts, whole run
        self.window_parts = np.zeros((n, L, F))  # the same over the window
        self.start_value = np.zeros((n, L))  # the tracked mean at t = 0
        self.end_value = np.zeros((n, L))  # ... and at the end (the defection or the horizon)

    # -- the hooks the step calls -------------------------------------------------------------

    def ties(self, state, rows=slice(None)) -> np.ndarray:
        """The tracked ties (every ordered pair of partners) of ``rows``, in float64: (rows, P)."""
        return state.ties.reshape(state.ties.shape[0], -1)[rows][:, self.pairs].astype(np.float64)

    def start(self, state) -> None:
        """Note the tracked means at t = 0."""
        self.seats_at_start = self.ties(state) @ self.seat_mean
        for a, sl in enumerate(self.span):
            self.start_value[:, a] = self.seats_at_start[:, sl].mean(axis=1)
        self.end_value[:] = self.start_value

    def begin(self, t: int) -> None:
        """Start of step t: the ring's oldest step joins the older parts; its slot is cleared."""
        self.slot = self.ring[t % self.window]
        if t >= self.window:
            self.older += self.slot
        self.slot.fill(0.0)

    def interests_changed(self, rows: np.ndarray) -> None:
        """Events changed the interests (positions, saliences, ambitions, dependences) of ``rows``."""
        self._stale = rows

    def moved_by(self, e_index: int) -> bool:
        """Whether event ``e_index`` shifts or sets a tracked tie."""
        return e_index in self.event_index

    def event(self, e_index: int, rows, before, after) -> None:
        """Book an event's direct change of the tracked ties in ``rows``."""
        self.slot[self.event_index[e_index], rows] += self.project(after - before)

    def project(self, part: np.ndarray) -> np.ndarray:
        """(h, P) parts of the ordered pairs -> (h, M) parts of each seat's mean over its partners."""
        return part @ self.seat_mean

    def book(self, name: str, part: np.ndarray) -> None:
        """Book a mechanism's (n, P) increments of the tracked ties."""
        np.matmul(part.astype(np.float64, copy=False), self.seat_mean, out=self.slot[self.column[name]])

    def fused(self, kind: str, product: np.ndarray, params: Params, state) -> None:
        """Book a term the step computed for every tie (``product``: (n, A, A)), at the tracked pairs.

        ``"balance"``: the step's product ``W (b W - a I)`` holds balance and affinity's ``-a W``
        together; the latter is booked under affinity (:meth:`mechanisms`) and taken off here.
        ``"threat"``: the step's ``tau^T tau``.
        """
        n = params.n
        part = product.reshape(n, -1)[:, self.pairs].astype(np.float64)
        if kind == "balance":
            part += (params.dt * params.coef["affinity"][:, None]) * self.ties(state)
        self.book(kind, part)

    def mechanisms(self, params: Params, state, stepper, noise) -> None:
        """Book ``dt`` times each mechanism's force on the tracked ties, at the state the step reads.

        Balance and threat come from the step's own products (:meth:`fused`); affinity, pressure,
        competition, dependence and noise are recomputed here for the tracked pairs from their
        formulas (:mod:`sim.model.dynamics`).
        """
        n = params.n
        W = state.ties
        ws = stepper.work
        U, pairs, local = self.U, self.pairs, self.local
        c = {k: v[:, None] for k, v in params.coef.items()}
        dt = params.dt
        w = self.ties(state)

        def among(x):  # (n, u, u) -> the pairs of partners, (n, P)
            return x.reshape(n, -1)[:, local]

        # affinity: dt a_aff (U_ij - W_ij); dt a_aff U is the stepper's cached similarity
        self.book("affinity", stepper.similarity.reshape(n, -1)[:, pairs] - (dt * c["affinity"]) * w)
        if ws.pressure is not None:  # dt a_prs p_i p_j at the pressure folded into the step
            p = stepper.pressure_used[:, U].astype(np.float64)
            self.book("pressure", (dt * c["pressure"]) * among(p[:, :, None] * p[:, None, :]))
        if np.any(c["competition"]):  # -dt a_cmp sum_m a_im a_jm v_m, changes with ambitions only

            def competition(rows):
                amb = state.ambition[rows][:, U, :].astype(np.float64)
                value = params.strategic_value[rows][:, None, :]
                product = ((amb * value) @ np.swapaxes(amb, 1, 2)).reshape(amb.shape[0], -1)
                return (-dt * c["competition"][rows]) * product[:, local]

            if self._competition is None:
                self._competition = competition(slice(None))
            elif self._stale.size:
                self._competition[self._stale] = competition(self._stale)
            self.book("competition", self._competition)
        if ws.dependence is not None:  # dt a_dep (d_ij + sum_k d_ik min(0, W_jk))
            part = state.dependence.reshape(n, -1)[:, pairs].astype(np.float64)
            for i, k in ws.dependence_pairs:  # the few (i, k) where i may depend on k
                mine = self.pair_from == i
                if mine.any():
                    part[:, mine] += state.dependence[:, i, k, None] * np.minimum(
                        W[:, self.pair_to[mine], k], 0.0
                    )
            self.book("dependence", (dt * c["dependence"]) * part)
        if ws.noise is not None:
            self.book("noise", noise.reshape(n, -1)[:, pairs] * ws.noise.reshape(n, 1))

    def clipped(self, before, after) -> None:
        """Book what clipping to [-1, 1] took off the tracked ties."""
        self.slot[-1] += self.project(after - before)

    def shocked(self, before, after) -> None:
        """Book the betrayal and reputation shocks of this step's defections."""
        self.slot[-2] += self.project(after - before)

    def _parts(self, rows, seat):
        """(whole run, window) parts of ``seat[r]`` in ``rows[r]``: two (h, F) arrays."""
        recent = self.ring[:, :, rows, seat].sum(axis=0).T  # (h, F)
        return self.older[:, rows, seat].T + recent, recent

    def ended(self, a: int, rows: np.ndarray, first: np.ndarray, t: int, state) -> None:
        """Alliance ``a`` ended at step t in ``rows``, its member ``first`` (a position among its
        members) the first to defect: close its books at the defector's mean disposition."""
        seat = self.span[a].start + first
        self.run_parts[rows, a], self.window_parts[rows, a] = self._parts(rows, seat)
        self.end_value[rows, a] = (self.ties(state, rows) @ self.seat_mean)[np.arange(rows.size), seat]
        self.start_value[rows, a] = self.seats_at_start[rows, seat]

    def finish(self, state) -> None:
        """Close the books of the alliances still active at the horizon (the mean over members)."""
        seats = self.ties(state) @ self.seat_mean
        for a, sl in enumerate(self.span):
            rows = np.flatnonzero(state.active[:, a])
            if rows.size == 0:
                continue
            run, recent = zip(*(self._parts(rows, np.full(rows.size, s)) for s in range(sl.start, sl.stop)))
            self.run_parts[rows, a] = np.mean(run, axis=0)
            self.window_parts[rows, a] = np.mean(recent, axis=0)
            self.end_value[rows, a] = seats[rows, sl].mean(axis=1)

    # -- results ------------------------------------------------------------------------------

    def columns(self) -> dict[str, np.ndarray]:
        """The ``why:`` columns of the replicate table: each force's part over the whole run and
        over the window, per alliance (see :func:`sim.vocabulary.why_column`)."""
        out = {}
        for a, al in enumerate(self.params.alliances):
            for f, force in enumerate(self.forces):
                out[why_column(al.name, force)] = self.run_parts[:, a, f]
            for f, force in enumerate(self.forces):
                out[why_column(al.name, force, window=True)] = self.window_parts[:, a, f]
        return out
