"""The road network as a deterministic MDP, and simulated drivers on it.

The network is central La Serena (Chile), from the OpenStreetMap import that
the PyPI package ``aequilibrae`` ships as its Coquimbo example project
(© OpenStreetMap contributors, ODbL 1.0), preprocessed by
``scripts/build_road_network.py`` into ``data/roads/la_serena.npz``: states are
directed road segments between decision points, actions are the transitions
between them (Ziebart et al. 2008, "Route Choice as an MDP").

Features follow the paper's four dimensions ("Path Features"): distance
driven on each road class, distance at a low speed limit (30 km/h or less),
distance on one-lane and on two-lane roads (higher limits and three or more
lanes are the reference levels, so that the features are not collinear), and the
number of turns of each type. Distances are in units of 100 m.

Drivers are simulated: each trip's driver plans the *cheapest* route under a
planted cost perturbed for that trip (their own weights and their own view of
each road segment's cost). That is not the MaxEnt model, so fitting it is an
honest test of every model in Table 1. :func:`competing_od_pairs` picks the
origin-destination pairs whose drivers really choose between a grid district
and an arterial, where label bias has something to act on, and
:func:`network_statistics` and :func:`route_branching` measure how much choice
the network and each route offer.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from torch import Tensor

from maxentrl.errors import ConfigError, require_in_interval, require_int_at_least
from maxentrl.irl import _checks as check
from maxentrl.irl.graph import GraphMDP
from maxentrl.irl.maxent import Demonstrations, make_demonstrations
from maxentrl.paths import data_dir

__all__ = [
    "ROAD_FILE",
    "FEATURE_NAMES",
    "PLANTED_COST",
    "RoadNetwork",
    "load_road_network",
    "shortest_path",
    "shortest_paths_from",
    "simulate_trips",
    "Trips",
    "path_length_m",
    "route_match",
]

ROAD_FILE = ("roads", "la_serena.npz")
"""Where the committed road MDP lives, relative to the book's ``data/`` folder (see
``scripts/build_road_network.py``)."""

ROAD_CLASSES = ("primary", "secondary", "tertiary", "unclassified", "residential")
TURN_TYPES = ("straight", "right", "left", "hard_right", "hard_left")

FEATURE_NAMES: tuple[str, ...] = (
    *(f"road:{c}" for c in ROAD_CLASSES),
    "speed:30 km/h",
    "lanes:1",
    "lanes:2",
    *(f"turn:{t}" for t in TURN_TYPES),
)
"""The K = 13 features: 5 road classes, 1 speed, 2 lane levels (per 100 m) and 5 turn types (per turn).

The reference levels (limits above 30 km/h, three or more lanes) are the fastest ones, so
that every planted cost is positive, as exponentiated gradient requires."""

PLANTED_COST = torch.tensor(
    [7.0, 8.0, 10.0, 12.0, 15.0]     # seconds per 100 m on each road class (limit above 30 km/h, 3+ lanes)
    + [3.0]                          # extra seconds per 100 m at a limit of 30 km/h or less
    + [3.5, 1.0]                     # extra seconds per 100 m on one-lane and two-lane roads
    + [1.0, 6.0, 12.0, 15.0, 20.0],  # seconds per turn: straight, right, left, hard right, hard left
    dtype=torch.float64,
)
"""The drivers' planted cost w* (seconds), one entry per FEATURE_NAMES entry."""


@dataclasses.dataclass(frozen=True)
class RoadNetwork:
    """A road MDP with the raw attributes its features were built from.

    Attributes:
        mdp: the :class:`GraphMDP` (features as in :data:`FEATURE_NAMES`).
        length_m: ``[S]`` segment lengths in metres.
        time_s: ``[S]`` travel time of each segment at its speed limit(s), seconds.
        polyline: ``[P, 2]`` points of all segments' polylines (longitude/latitude for a real
            network, metres for a synthetic one); segment s is ``polyline[ptr[s]:ptr[s + 1]]``.
        polyline_ptr: ``[S + 1]`` offsets into ``polyline``.
        turn_type: ``[E]`` index into the turn types of each action.
        geographic: whether ``polyline`` holds longitude/latitude.
        name: a short description for plots.
    """

    mdp: GraphMDP
    length_m: np.ndarray
    time_s: np.ndarray
    polyline: np.ndarray
    polyline_ptr: np.ndarray
    turn_type: np.ndarray
    geographic: bool = True
    name: str = ""

    @property
    def num_states(self) -> int:
        return self.mdp.num_states

    @property
    def start_point(self) -> np.ndarray:
        """``[S, 2]`` first point of each segment."""
        return self.polyline[self.polyline_ptr[:-1]]

    @property
    def end_point(self) -> np.ndarray:
        """``[S, 2]`` last point of each segment."""
        return self.polyline[self.polyline_ptr[1:] - 1]

    def segment_points(self, s: int) -> np.ndarray:
        """``[n, 2]`` the polyline of segment ``s``."""
        return self.polyline[self.polyline_ptr[s]:self.polyline_ptr[s + 1]]


def road_features(class_m: np.ndarray, speed30_m: np.ndarray, lanes_m: np.ndarray, turn_type: np.ndarray,
                  *, dtype: torch.dtype = torch.float64, device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """State features ``[S, 13]`` and action features ``[E, 13]`` in the order of :data:`FEATURE_NAMES`.

    Args:
        class_m: ``[S, 5]`` metres of each road class in each segment.
        speed30_m: ``[S]`` metres with a speed limit of 30 km/h or less.
        lanes_m: ``[S, 2]`` metres with one and with two lanes in the direction of travel.
        turn_type: ``[E]`` turn type of each action (index into the five turn types).
    """
    class_m, speed30_m, lanes_m = (np.asarray(x, dtype=np.float64) for x in (class_m, speed30_m, lanes_m))
    turn_type = np.asarray(turn_type)
    S, E = class_m.shape[0], turn_type.shape[0]
    if (class_m.shape != (S, 5) or speed30_m.shape != (S,) or lanes_m.shape != (S, 2) or turn_type.ndim != 1
            or not all(np.all(np.isfinite(x)) and np.all(x >= 0) for x in (class_m, speed30_m, lanes_m))):
        raise ConfigError("road attributes must be finite, non-negative arrays of shapes [S, 5], [S], [S, 2] and [E]")
    if E and (turn_type.min() < 0 or turn_type.max() >= len(TURN_TYPES)):
        raise ConfigError(f"turn types must lie in [0, {len(TURN_TYPES)})")
    f = np.zeros((S, len(FEATURE_NAMES)))
    f[:, :5] = class_m / 100.0
    f[:, 5] = speed30_m / 100.0
    f[:, 6:8] = lanes_m / 100.0
    g = np.zeros((E, len(FEATURE_NAMES)))
    g[np.arange(E), 8 + turn_type.astype(int)] = 1.0
    return torch.tensor(f, dtype=dtype, device=device), torch.tensor(g, dtype=dtype, device=device)


def load_road_network(path: Path | str | None = None, *, dtype: torch.dtype = torch.float64,
                      device: torch.device | str = "cpu") -> RoadNetwork:
    """Read the committed ``.npz`` (default ``data/roads/la_serena.npz``) and build the features
    (Ziebart et al. 2008, "Path Features")."""
    path = Path(path) if path is not None else data_dir().joinpath(*ROAD_FILE)
    if not path.exists():
        raise ConfigError(f"road data {path} not found; run scripts/build_road_network.py")
    d = np.load(path)
    f, g = road_features(d["class_m"].astype(np.float64), d["speed30_m"].astype(np.float64),
                         d["lanes_m"].astype(np.float64), d["turn_type"], dtype=dtype, device=device)
    S = f.shape[0]
    mdp = GraphMDP.from_edges(S, d["src"].astype(np.int64), d["dst"].astype(np.int64), f, g)
    return RoadNetwork(mdp, d["length_m"].astype(np.float64), d["time_s"].astype(np.float64),
                       d["polyline_lonlat"], d["polyline_ptr"].astype(np.int64), d["turn_type"].astype(np.int64),
                       geographic=True, name="La Serena")


DISTRICT_CLASSES = (3, 4)
"""Road classes of a grid district: unclassified and residential streets."""

ARTERIAL_CLASSES = (0, 1)
"""Road classes of arterials: primary and secondary roads."""


def network_statistics(net: RoadNetwork) -> dict:
    """Facts about the network that decide whether routes compete (all computed, for the chapter).

    Returns the numbers of states and actions, the out-degree histogram and its
    mean, the share of segments where the driver has a choice, the kilometres of
    road per class (both directions counted), and the share of the distance on
    district streets and on arterials.
    """
    mdp = net.mdp
    deg = mdp.out_degree().cpu().numpy()
    f = mdp.state_features.cpu().numpy()
    km_class = (f[:, :5].sum(0) / 10.0).tolist()
    total = float(net.length_m.sum() / 1000)
    return {
        "states": int(mdp.num_states),
        "actions": int(mdp.num_actions),
        "out_degree_histogram": np.bincount(deg).tolist(),
        "mean_out_degree": float(deg.mean()),
        "choice_share": float((deg >= 2).mean()),
        "km": total,
        "km_per_class": km_class,
        "district_share": float(sum(km_class[c] for c in DISTRICT_CLASSES) / total),
        "arterial_share": float(sum(km_class[c] for c in ARTERIAL_CLASSES) / total),
        "mean_segment_m": float(net.length_m.mean()),
    }


def route_branching(mdp: GraphMDP, actions: list[int] | tuple[int, ...]) -> float:
    """Σ_t log(out-degree of s_t) along a route: the nats a uniform random walk spends on its choices."""
    deg = mdp.out_degree().double()
    a = check.indices("actions", list(actions), mdp.num_actions).to(mdp.src.device)
    return float(torch.log(deg[mdp.src[a]]).sum())


def _edge_matrix(mdp: GraphMDP, edge_cost: np.ndarray) -> csr_matrix:
    """Sparse S×S matrix of action costs (state graph for Dijkstra); costs must be > 0."""
    src, dst = mdp.src.cpu().numpy(), mdp.dst.cpu().numpy()
    return csr_matrix((edge_cost, (src, dst)), shape=(mdp.num_states, mdp.num_states))


def _action_lookup(mdp: GraphMDP) -> dict[tuple[int, int], int]:
    return {(int(s), int(t)): a for a, (s, t) in enumerate(zip(mdp.src.tolist(), mdp.dst.tolist()))}


def _edge_costs(mdp: GraphMDP, edge_cost) -> np.ndarray:
    c = np.asarray(edge_cost, dtype=np.float64)
    if c.shape != (mdp.num_actions,) or not np.all(np.isfinite(c)):
        raise ConfigError(f"edge costs must be a finite [E={mdp.num_actions}] array")
    if np.any(c <= 0):
        raise ConfigError("Dijkstra needs strictly positive action costs")
    return c


def shortest_paths_from(mdp: GraphMDP, edge_cost: np.ndarray, starts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Dijkstra from each start over the state graph; returns ``(dist [n, S], predecessors [n, S])``."""
    edge_cost = _edge_costs(mdp, edge_cost)
    starts = check.indices("starts", starts, mdp.num_states).tolist()
    return dijkstra(_edge_matrix(mdp, edge_cost), directed=True, indices=starts, return_predecessors=True)


def shortest_path(mdp: GraphMDP, edge_cost: np.ndarray, start: int, goal: int,
                  *, lookup: dict[tuple[int, int], int] | None = None,
                  predecessors: np.ndarray | None = None) -> list[int]:
    """The cheapest path from ``start`` to ``goal`` as action indices (``edge_cost[a]`` > 0 per action)."""
    for name, x in (("start", start), ("goal", goal)):
        if not isinstance(x, (int, np.integer)) or isinstance(x, bool) or not 0 <= int(x) < mdp.num_states:
            raise ConfigError(f"{name} must be a state in [0, {mdp.num_states}), got {x!r}")
    if predecessors is not None and np.shape(predecessors) != (mdp.num_states,):
        raise ConfigError(f"predecessors must have shape [S={mdp.num_states}]")
    if predecessors is None:
        _, pred = shortest_paths_from(mdp, edge_cost, [start])
        predecessors = pred[0]
    lookup = lookup if lookup is not None else _action_lookup(mdp)
    nodes = [goal]
    while nodes[-1] != start:
        p = int(predecessors[nodes[-1]])
        if p < 0:
            raise ConfigError(f"goal {goal} unreachable from {start}")
        nodes.append(p)
    nodes.reverse()
    return [lookup[(u, v)] for u, v in zip(nodes[:-1], nodes[1:])]


@dataclasses.dataclass(frozen=True)
class Trips:
    """Simulated trips split into training (20%) and test (80%) sets.

    Attributes:
        train, test: :class:`Demonstrations` of each split.
        driver_noise: (σ_weights, σ_segment) of the drivers' per-trip cost perturbation.
    """

    train: Demonstrations
    test: Demonstrations
    driver_noise: tuple[float, float]


def driver_route(net: RoadNetwork, origin: int, destination: int, *, generator: torch.Generator,
                 planted_cost: Tensor = PLANTED_COST, sigma_weights: float = 0.3, sigma_segment: float = 0.4,
                 lookup: dict[tuple[int, int], int] | None = None) -> list[int]:
    """One simulated driver's route: the cheapest under the planted cost, perturbed for this trip.

    The driver's cost weights are w* ⊙ exp(σ_w ε) (one ε per feature), and each
    road segment's cost is further multiplied by exp(σ_s η_s) (one η per
    segment: the driver's own view of that road today). The route is the
    cheapest under those costs (Dijkstra).
    """
    mdp = net.mdp
    planted_cost = check.theta("planted_cost", planted_cost, mdp.num_features)
    if bool((planted_cost <= 0).any()):
        raise ConfigError("planted_cost must be positive")
    for name, x in (("sigma_weights", sigma_weights), ("sigma_segment", sigma_segment)):
        if not isinstance(x, (int, float)) or not math.isfinite(x) or x < 0:
            raise ConfigError(f"{name} must be a finite number >= 0, got {x!r}")
    f = mdp.state_features.cpu().double()
    g = mdp.action_features.cpu().double()
    K = len(planted_cost)
    w = planted_cost * torch.exp(sigma_weights * torch.randn(K, generator=generator, dtype=torch.float64))
    seg_noise = torch.exp(sigma_segment * torch.randn(mdp.num_states, generator=generator, dtype=torch.float64))
    state_cost = (f @ w) * seg_noise
    edge_cost = (state_cost[mdp.src.cpu()] + g @ w).clamp(min=0.1).numpy()
    return shortest_path(mdp, edge_cost, origin, destination, lookup=lookup)


def district_share(net: RoadNetwork, actions: list[int] | tuple[int, ...]) -> float:
    """Fraction of a route's distance on district streets (:data:`DISTRICT_CLASSES`)."""
    f = net.mdp.state_features.cpu().numpy()
    src = net.mdp.src.cpu().numpy()[check.indices("actions", list(actions), net.mdp.num_actions).numpy()]
    total = f[src, :5].sum()
    return float(f[src][:, list(DISTRICT_CLASSES)].sum() / total) if total > 0 else 0.0


def competing_od_pairs(net: RoadNetwork, *, generator: torch.Generator, candidates: int, probes: int,
                       min_split: float = 0.2, min_segments: int = 10, planted_cost: Tensor = PLANTED_COST,
                       sigma_weights: float = 0.3, sigma_segment: float = 0.4, state: dict | None = None,
                       on_candidate: Callable[[dict], None] | None = None) -> list[tuple[int, int]]:
    """Origin–destination pairs whose drivers choose between a grid district and an arterial.

    For ``candidates`` random pairs, ``probes`` simulated drivers each plan a
    route (:func:`driver_route`). A route is a *district* route when more than
    half of its distance is on district streets. A pair is kept when the share
    of district routes among its probes lies in [``min_split``, 1 − ``min_split``]
    — both families are really chosen — and every probe route has at least
    ``min_segments`` segments.

    ``on_candidate(state)`` receives the screening's state after each candidate
    (the count, the pairs kept and seen, and the generator's state; the lists
    are the screening's own, to be saved or copied at once); passing it
    back as ``state`` continues the screening exactly, the generator's state
    included, so a long screening can be checkpointed and resumed.
    """
    require_int_at_least("candidates", candidates, 1)
    require_int_at_least("probes", probes, 2)
    require_in_interval("min_split", min_split, 0.0, 0.5, closed=True)
    S = net.mdp.num_states
    lookup = _action_lookup(net.mdp)
    pairs: list[tuple[int, int]] = []
    seen: set[tuple[int, int]] = set()
    seen_order: list[tuple[int, int]] = []  # the same pairs in the order drawn, for the state
    k0 = 0
    if state is not None:
        if not (isinstance(state, dict) and {"candidate", "pairs", "seen", "generator"} <= set(state)):
            raise ConfigError("a screening state must be a dict with the keys candidate, pairs, seen and generator")
        k0 = int(state["candidate"])
        pairs = [(int(o), int(d)) for o, d in state["pairs"]]
        seen_order = [(int(o), int(d)) for o, d in state["seen"]]
        seen = set(seen_order)
        generator.set_state(state["generator"])
    for k in range(k0, candidates):
        o, d = (int(x) for x in torch.randint(S, (2,), generator=generator))
        if o != d and (o, d) not in seen:
            seen.add((o, d))
            seen_order.append((o, d))
            routes = [driver_route(net, o, d, generator=generator, planted_cost=planted_cost,
                                   sigma_weights=sigma_weights, sigma_segment=sigma_segment, lookup=lookup)
                      for _ in range(probes)]
            if min(len(r) for r in routes) >= min_segments:
                share = float(np.mean([district_share(net, r) > 0.5 for r in routes]))
                if min_split <= share <= 1.0 - min_split:
                    pairs.append((o, d))
        if on_candidate is not None:
            on_candidate({"candidate": k + 1, "pairs": pairs, "seen": seen_order, "generator": generator.get_state()})
    return pairs


def simulate_trips(
    net: RoadNetwork,
    *,
    num_trips: int,
    generator: torch.Generator,
    planted_cost: Tensor = PLANTED_COST,
    sigma_weights: float = 0.3,
    sigma_segment: float = 0.4,
    min_segments: int = 10,
    destinations: list[int] | None = None,
    destination_prior: list[float] | None = None,
    od_pairs: list[tuple[int, int]] | None = None,
    train_fraction: float = 0.2,
) -> Trips:
    """Trips of drivers who plan the cheapest route under their own noisy costs (:func:`driver_route`).

    For each trip: draw an origin–destination pair uniformly from ``od_pairs``,
    or else an origin uniformly and a destination uniformly or from
    ``destinations`` with probabilities ``destination_prior``. Trips shorter
    than ``min_segments`` segments are discarded, as in the paper. A random
    ``train_fraction`` of the trips (20%) is the training set, the rest the test set.
    """
    require_int_at_least("num_trips", num_trips, 2)
    require_in_interval("train_fraction", train_fraction, 0.0, 1.0)
    mdp = net.mdp
    S = mdp.num_states
    if od_pairs is not None:
        if not od_pairs:
            raise ConfigError("od_pairs is empty: no origin-destination pair to draw trips from")
        for o, d in od_pairs:
            if not (0 <= o < S and 0 <= d < S) or o == d:
                raise ConfigError(f"od_pairs must hold distinct states in [0, {S}), got ({o}, {d})")
    if destinations is not None:
        if any(not 0 <= d < S for d in destinations):
            raise ConfigError(f"destinations must be states in [0, {S})")
        if destination_prior is not None and (len(destination_prior) != len(destinations)
                                              or any(not p > 0 for p in destination_prior)):
            raise ConfigError("destination_prior needs one positive number per destination")
    lookup = _action_lookup(mdp)
    prior = torch.tensor(destination_prior if destination_prior is not None else [1.0] * len(destinations or [0]),
                         dtype=torch.float64)
    paths: list[list[int]] = []
    tries = 0
    while len(paths) < num_trips:
        tries += 1
        if tries > 50 * num_trips:
            raise ConfigError("could not draw enough trips of the required length")
        if od_pairs is not None:
            o, d = od_pairs[int(torch.randint(len(od_pairs), (1,), generator=generator))]
        else:
            o = int(torch.randint(S, (1,), generator=generator))
            if destinations is None:
                d = int(torch.randint(S, (1,), generator=generator))
            else:
                d = destinations[int(torch.multinomial(prior, 1, generator=generator))]
        if o == d:
            continue
        path = driver_route(net, o, d, generator=generator, planted_cost=planted_cost, sigma_weights=sigma_weights,
                            sigma_segment=sigma_segment, lookup=lookup)
        if len(path) < min_segments:
            continue
        paths.append(path)
    perm = torch.randperm(num_trips, generator=generator).tolist()
    n_train = max(1, int(round(train_fraction * num_trips)))
    demos = make_demonstrations(mdp, paths)
    return Trips(demos.subset(perm[:n_train]), demos.subset(perm[n_train:]), (sigma_weights, sigma_segment))


def path_length_m(net: RoadNetwork, actions: list[int] | tuple[int, ...]) -> float:
    """Distance driven along a path: the lengths of the segments it traverses (start included, goal not)."""
    a = check.indices("actions", list(actions), net.mdp.num_actions).numpy()
    return float(net.length_m[net.mdp.src.cpu().numpy()[a]].sum())


def route_match(net: RoadNetwork, demonstrated: list[int] | tuple[int, ...], predicted: list[int] | tuple[int, ...]) -> float:
    """Fraction of the demonstrated route's distance that the predicted route shares (Table 1, "Matching")."""
    if len(demonstrated) == 0:
        raise ConfigError("the demonstrated route must take at least one action")
    demonstrated = check.indices("demonstrated", list(demonstrated), net.mdp.num_actions).tolist()
    predicted = check.indices("predicted", list(predicted), net.mdp.num_actions).tolist()
    src = net.mdp.src.cpu().numpy()
    demo_states = set(src[list(demonstrated)].tolist())
    pred_states = set(src[list(predicted)].tolist())
    shared = sum(net.length_m[s] for s in demo_states & pred_states)
    total = sum(net.length_m[s] for s in demo_states)
    return float(shared / total)
