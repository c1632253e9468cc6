"""The model written plainly: one Mesa agent per country, each deciding with ordinary loops.

This is the readable specification of :mod:`sim.model.dynamics` (read it next to the table in
docs/design.md, "The forces on the ties"), the oracle the vectorized kernel is tested against, and
the baseline the benchmarks compare with. It is synchronous like the kernel: every agent reads the
state at the start of the step and the new state is written once all have decided.

It runs one replicate. Given the same parameters and the same random draws as the kernel it
produces the same trajectory (see ``tests/test_reference.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import mesa
import numpy as np

from sim.model.dynamics import DRIFT, HOLDS, STAB, Draws, draw, member_count, stochastic_event_count
from sim.spec.params import Params, compile_params
from sim.spec.scenario import Scenario
from sim.vocabulary import ALLIANCE_KEYS


class ReferenceCountry(mesa.Agent):
    """A state deciding its dispositions and its alliance memberships one at a time."""

    def __init__(self, model: ReferenceModel, index: int, name: str):
        super().__init__(model)
        self.index = index
        self.name = name

    # -- the forces on the ties (docs/design.md), term by term -------------------------------
    def interest_similarity(self, j: int) -> float:
        """U_ij: one minus twice the salience-weighted distance of positions, on each issue's scale."""
        m = self.model
        i = self.index
        total = sum(m.salience[i])
        if total <= 0:
            return 0.0
        u = 1.0
        for k in range(m.K):
            u -= (
                2.0
                * (m.salience[i][k] / total)
                * abs(m.position[i][k] - m.position[j][k])
                / (m.high[k] - m.low[k])
            )
        return u

    def balance(self, j: int) -> float:
        """The structural-balance pull on W_ij: mean over third parties k of W_ik W_kj."""
        m = self.model
        i = self.index
        s = 0.0
        for k in range(m.A):
            if k != i and k != j:
                s += m.W[i][k] * m.W[k][j]
        return s / max(m.A - 2, 1)

    def threat(self, j: int) -> float:
        """The balance-of-threat pull on W_ij: sum over third parties h of tau_hi tau_hj."""
        m = self.model
        i = self.index
        s = 0.0
        for h in range(m.A):
            if h != i and h != j:
                tau_hi = m.capability[h] * max(0.0, -m.W[h][i])
                tau_hj = m.capability[h] * max(0.0, -m.W[h][j])
                s += tau_hi * tau_hj
        return s

    def competition(self, j: int) -> float:
        """The sphere-competition push on W_ij: sum over clients m of a_im a_jm v_m."""
        m = self.model
        i = self.index
        s = 0.0
        for c in range(m.A):
            s += m.ambition[i][c] * m.ambition[j][c] * m.strategic_value[c]
        return -s

    def dependence_conflict(self, j: int) -> float:
        """j's hostility toward a state this agent depends on sours the tie toward j (¶8-¶9)."""
        m = self.model
        i = self.index
        s = 0.0
        for k in range(m.A):
            if k != i and k != j:
                s += m.dependence[i][k] * max(0.0, -m.W[j][k])
        return -s

    def new_ties(self, pressure: list[float], noise: list[list[float]]) -> list[float]:
        """This agent's row of dispositions after one step."""
        m = self.model
        i = self.index
        c = m.coef
        row = []
        for j in range(m.A):
            if j == i:
                row.append(0.0)
                continue
            force = (
                c["affinity"] * (self.interest_similarity(j) - m.W[i][j])
                + c["balance"] * self.balance(j)
                + c["threat"] * self.threat(j)
                + c["pressure"] * pressure[i] * pressure[j]
                + c["competition"] * self.competition(j)
                + c["dependence"] * (m.dependence[i][j] + self.dependence_conflict(j))
            )
            w = m.W[i][j] + m.dt * force + c["noise"] * math.sqrt(m.dt) * noise[i][j]
            row.append(min(1.0, max(-1.0, w)))
        return row

    def defection_probability(self, alliance: dict) -> float:
        """Chance that this member leaves ``alliance`` during the step (Leeds & Savun 2007)."""
        m = self.model
        i = self.index
        partners = [j for j in alliance["members"] if j != i]
        w_mean = sum(m.W[i][j] for j in partners) / len(partners)
        change = abs(m.log_relative_power(i, alliance["members"]) - alliance["log_power0"][i])
        exponent = alliance["beta"] * (alliance["theta_stay"] - w_mean) + alliance["power_shift"] * change
        hazard = alliance["h0"] * math.exp(min(exponent, 50.0))
        return 1.0 - math.exp(-hazard * m.dt)


class ReferenceModel(mesa.Model):
    """One replicate of a scenario, stepped agent by agent.

    Parameters
    ----------
    scenario
        A validated scenario.
    rng
        Seed or generator (draws the uncertain parameters, then each step's random numbers).
    params
        Parameters of exactly one replicate; drawn from ``scenario`` when omitted.
    draws
        An iterator of :class:`~sim.model.dynamics.Draws` (n = 1) to consume instead of drawing.
    """

    def __init__(
        self, scenario: Scenario, rng=None, params: Params | None = None, draws: Iterator[Draws] | None = None
    ):
        super().__init__(rng=rng)
        self.spec = scenario
        if params is None:
            params = compile_params(scenario, 1, self.rng)
        assert params.n == 1, "the reference model runs one replicate"
        self.params = params
        self.A, self.K, self.dt = params.A, params.K, params.dt
        self.low = params.low.tolist()
        self.high = params.high.tolist()
        self.coef = {k: float(v[0]) for k, v in params.coef.items()}
        self.W = params.ties[0].tolist()
        for i in range(self.A):
            self.W[i][i] = 0.0
        total = sum(params.capability[0])
        self.capability = [c / total for c in params.capability[0].tolist()]
        self.growth = params.growth[0].tolist()
        self.position = params.position[0].tolist()
        self.salience = params.salience[0].tolist()
        self.ambition = params.ambition[0].tolist()
        self.dependence = params.dependence[0].tolist()
        self.strategic_value = params.strategic_value[0].tolist()
        self.pressure_offset = [0.0] * self.A
        self.fired = [False] * len(params.events)
        self.alliances: list[dict[str, Any]] = []
        for al in params.alliances:
            members = [int(x) for x in al.members]
            entry: dict[str, Any] = {k: float(getattr(al, k)[0]) for k in ALLIANCE_KEYS}
            entry.update(name=al.name, members=members, active=True, fate=HOLDS, end_step=-1, defector=-1)
            entry["log_power0"] = {i: self.log_relative_power(i, members) for i in members}
            self.alliances.append(entry)
        self.countries = [ReferenceCountry(self, i, name) for i, name in enumerate(params.actors)]
        self._draws = draws
        self.t = 0
        self.datacollector = mesa.DataCollector(
            model_reporters={
                f"cohesion:{a['name']}": (lambda m, a=a: m.cohesion(a["members"])) for a in self.alliances
            }
            | {
                f"status:{a['name']}": (lambda m, a=a: "active" if a["active"] else "ended")
                for a in self.alliances
            }
        )
        self.datacollector.collect(self)

    # -- derived quantities ---------------------------------------------------------------
    def log_relative_power(self, i: int, members: list[int]) -> float:
        """Log of actor i's capability over its partners' total."""
        others = [self.capability[j] for j in members if j != i]
        mean_other = sum(others) / len(others)
        return math.log(max(self.capability[i], 1e-300)) - math.log(max(mean_other, 1e-300))

    def cohesion(self, members: list[int]) -> float:
        """Mean disposition of the members toward one another."""
        s = sum(self.W[i][j] for i in members for j in members if i != j)
        return s / (len(members) * (len(members) - 1))

    def pressure(self) -> list[float]:
        """Each actor's pressure at this step (schedule plus event offsets)."""
        p = self.params
        t = min(self.t, p.steps - 1)
        out = []
        for a in range(self.A):
            left = int(p.pressure_index[t, a])
            w = float(p.pressure_weight[t, a])
            v = p.pressure_values[0, a, left] * (1 - w) + p.pressure_values[0, a, left + 1] * w
            out.append(max(0.0, float(v) + self.pressure_offset[a]))
        return out

    # -- one step ---------------------------------------------------------------------------
    def next_draws(self) -> Draws:
        """This step's random numbers, drawn in the kernel's order."""
        if self._draws is not None:
            return next(self._draws)
        return draw(self.rng, 1, self.A, stochastic_event_count(self.params), member_count(self.params))

    def fire_events(self, u: list[float]) -> None:
        """Fire this step's scheduled events and the stochastic ones whose draw falls under their
        probability."""
        s = 0
        for e_index, ev in enumerate(self.params.events):
            if ev.at is not None:
                fires = ev.at == self.t
            else:
                assert ev.hazard is not None  # an event has a step or a hazard
                prob = 1.0 - math.exp(-float(ev.hazard[0]) * self.dt)
                fires = u[s] < prob and (ev.repeat or not self.fired[e_index])
                s += 1
            if not fires:
                continue
            self.fired[e_index] = True
            for f in ev.effects:
                self.apply_effect(f)

    def apply_effect(self, f) -> None:
        """Apply one compiled event effect to this replicate."""
        v = float(f.value[0])

        def upd(cur):
            return cur + v if f.op == "shift" else v

        i, j = f.i, f.j
        pairs = ((i, j), (j, i)) if f.symmetric else ((i, j),)
        if f.kind == "tie":
            for a, b in pairs:
                self.W[a][b] = min(1.0, max(-1.0, upd(self.W[a][b])))
        elif f.kind == "dependence":
            for a, b in pairs:
                self.dependence[a][b] = max(0.0, upd(self.dependence[a][b]))
        elif f.kind == "position":
            self.position[i][j] = min(self.high[j], max(self.low[j], upd(self.position[i][j])))
        elif f.kind == "salience":
            self.salience[i][j] = min(1.0, max(0.0, upd(self.salience[i][j])))
        elif f.kind == "ambition":
            self.ambition[i][j] = min(1.0, max(0.0, upd(self.ambition[i][j])))
        elif f.kind == "pressure":
            self.pressure_offset[i] = upd(self.pressure_offset[i])
        elif f.kind == "growth":
            self.growth[i] = min(0.5, max(-0.5, upd(self.growth[i])))

    def decide_alliances(self, u: list[float]) -> list[tuple[dict, int]]:
        """Every member of every active alliance decides; returns (alliance, defector) that ended."""
        ended = []
        col = 0
        for al in self.alliances:
            members = al["members"]
            draws = u[col : col + len(members)]
            col += len(members)
            if not al["active"]:
                continue
            first, best = None, math.inf
            for pos, i in enumerate(members):
                prob = self.countries[i].defection_probability(al)
                if draws[pos] < prob:
                    ratio = draws[pos] / prob
                    if ratio < best:
                        first, best = i, ratio
            if first is None:
                continue
            partners = [j for j in members if j != first]
            trust = sum(self.W[j][first] for j in partners) / len(partners)
            al.update(
                active=False,
                end_step=self.t,
                defector=first,
                fate=STAB if trust >= al["theta_trust"] else DRIFT,
            )
            ended.append((al, first))
        return ended

    def step(self) -> None:
        """One step: events, forces and noise on every tie, decisions, defections, growth, bargaining."""
        d = self.next_draws()
        self.fire_events(d.events[0].tolist())
        pressure = self.pressure()
        ended = self.decide_alliances(d.defect[0].tolist())
        noise = d.noise[0].tolist()
        rows = [country.new_ties(pressure, noise) for country in self.countries]
        self.W = rows
        for al, who in ended:
            for k in range(self.A):
                if k == who:
                    continue
                loss = al["betrayal_shock"] if k in al["members"] else al["reputation"]
                self.W[k][who] = min(1.0, max(-1.0, self.W[k][who] - loss))
        cap = [max(0.0, c * (1.0 + g * self.dt)) for c, g in zip(self.capability, self.growth)]
        total = sum(cap)
        self.capability = [c / total for c in cap] if total > 0 else [1.0 / self.A] * self.A
        every = self.params.bargain_every
        if every and (self.t + 1) % every == 0:
            from sim.model.bargaining import bdm_step

            new = bdm_step(
                np.array([self.capability]),
                np.array([self.position]),
                np.array([self.salience]),
                self.params.low,
                self.params.high,
                salience_scale=1.0,
            )
            self.position = new[0].tolist()
        self.t += 1
        self.datacollector.collect(self)
        if self.t >= self.params.steps:
            self.running = False
