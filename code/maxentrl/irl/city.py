"""A synthetic grid city with an express road: the controlled setting of chapter 6's mechanism check.

Label bias (Ziebart et al. 2008, Fig. 2 and "Related Work") needs two route
families that compete and branch unequally. This city has both by
construction:

* a grid district of ``rows × cols`` intersections, 100 m apart, joined by
  two-way residential streets (30 km/h, one lane each way): at every interior
  intersection a driver may go straight, left or right;
* an express road north of the grid (primary, 40 km/h, three lanes each way)
  with ramps (tertiary, 40 km/h, two lanes) down to the grid's top row every
  ``exit_every`` blocks: between ramps there is nothing to decide.

A trip across the city can stay in the district, where many routes of
nearly equal cost branch at every block, or climb to the express road,
where one route branches only at the ramps. ``exit_every = 1`` gives the
express road a ramp at every block, so both families branch about equally.

States are directed street segments between intersections and actions the
turns between them (U-turns only at dead ends), with the features of
:mod:`maxentrl.irl.roads`, so the same drivers and models run on it.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from maxentrl.errors import ConfigError, require_int_at_least
from maxentrl.irl.graph import GraphMDP
from maxentrl.irl.roads import RoadNetwork, road_features

__all__ = ["grid_city", "turn_type_of_angle"]

_ROAD = {  # class index, speed (km/h), lanes per direction
    "residential": (4, 30, 1),
    "ramp": (2, 40, 2),
    "express": (0, 40, 3),
}


def turn_type_of_angle(angle: float) -> int:
    """Turn type (straight, right, left, hard right, hard left) of a heading change of ``angle`` degrees (right > 0)."""
    if abs(angle) <= 30:
        return 0
    if 30 < angle <= 120:
        return 1
    if -120 <= angle < -30:
        return 2
    return 3 if angle > 0 else 4


def grid_city(rows: int, cols: int, *, exit_every: int, block_m: float = 100.0) -> RoadNetwork:
    """The city described in the module docstring, as a :class:`~maxentrl.irl.roads.RoadNetwork` (metres).

    Args:
        rows, cols: intersections of the grid district (at least 2 × 2).
        exit_every: blocks between consecutive express ramps (≥ 1, at most ``cols − 1``);
            ramps stand at columns 0, k, 2k, … and at the last column.
        block_m: distance between neighbouring intersections.
    """
    require_int_at_least("rows", rows, 2)
    require_int_at_least("cols", cols, 2)
    require_int_at_least("exit_every", exit_every, 1)
    if exit_every > cols - 1:
        raise ConfigError(f"exit_every must be at most cols - 1 = {cols - 1}, got {exit_every}")
    if not (math.isfinite(block_m) and block_m > 0):
        raise ConfigError(f"block_m must be positive and finite, got {block_m!r}")
    xy: list[tuple[float, float]] = []
    node: dict[tuple[str, int, int], int] = {}

    def add(key: tuple[str, int, int], x: float, y: float) -> int:
        node[key] = len(xy)
        xy.append((x, y))
        return node[key]

    for r in range(rows):
        for c in range(cols):
            add(("g", r, c), c * block_m, (rows - 1 - r) * block_m)
    ramp_cols = sorted(set(range(0, cols, exit_every)) | {cols - 1})
    top = (rows - 1) * block_m
    for c in ramp_cols:
        add(("x", 0, c), c * block_m, top + block_m)
    edges: list[tuple[int, int, str]] = []  # directed (u, v, road)

    def both(u: int, v: int, road: str) -> None:
        edges.append((u, v, road))
        edges.append((v, u, road))

    for r in range(rows):
        for c in range(cols):
            if c + 1 < cols:
                both(node[("g", r, c)], node[("g", r, c + 1)], "residential")
            if r + 1 < rows:
                both(node[("g", r, c)], node[("g", r + 1, c)], "residential")
    for c0, c1 in zip(ramp_cols[:-1], ramp_cols[1:]):
        both(node[("x", 0, c0)], node[("x", 0, c1)], "express")
    for c in ramp_cols:
        both(node[("x", 0, c)], node[("g", 0, c)], "ramp")

    P = np.array(xy)
    S = len(edges)
    out: dict[int, list[int]] = {}
    for k, (u, _, _) in enumerate(edges):
        out.setdefault(u, []).append(k)
    src, dst, ttype = [], [], []
    for k, (u, v, _) in enumerate(edges):
        onward = [j for j in out.get(v, []) if edges[j][1] != u] or out.get(v, [])
        h_in = math.degrees(math.atan2(*(P[v] - P[u])))  # compass heading: atan2(dx, dy)
        for j in onward:
            w = edges[j][1]
            h_out = math.degrees(math.atan2(*(P[w] - P[v])))
            src.append(k)
            dst.append(j)
            ttype.append(turn_type_of_angle((h_out - h_in + 180.0) % 360.0 - 180.0))
    order = np.lexsort((dst, src))
    src_a, dst_a, ttype_a = np.array(src)[order], np.array(dst)[order], np.array(ttype)[order]
    length = np.array([float(np.linalg.norm(P[v] - P[u])) for u, v, _ in edges])
    class_m = np.zeros((S, 5))
    speed30 = np.zeros(S)
    lanes_m = np.zeros((S, 2))
    time_s = np.zeros(S)
    for k, (_, _, road) in enumerate(edges):
        cls, speed, lanes = _ROAD[road]
        class_m[k, cls] = length[k]
        speed30[k] = length[k] * (speed < 40)
        if lanes <= 2:
            lanes_m[k, lanes - 1] = length[k]
        time_s[k] = length[k] / 1000.0 / speed * 3600.0
    f, g = road_features(class_m, speed30, lanes_m, ttype_a)
    mdp = GraphMDP.from_edges(S, torch.as_tensor(src_a), torch.as_tensor(dst_a), f, g)
    poly = np.stack([P[[u for u, _, _ in edges]], P[[v for _, v, _ in edges]]], 1).reshape(-1, 2)
    return RoadNetwork(mdp, length, time_s, poly, np.arange(0, 2 * S + 1, 2), ttype_a.astype(np.int64),
                       geographic=False, name=f"grid city {rows}×{cols}, {exit_every}-block express ramps")
