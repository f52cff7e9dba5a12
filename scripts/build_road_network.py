"""Build the road MDP of chapter 6 from the OpenStreetMap network shipped with AequilibraE.

The book does not need this script to run: its output, data/roads/la_serena.npz,
is committed. It reproduces that file from the road network of La Serena and
Coquimbo, Chile, that the PyPI package ``aequilibrae`` ships inside its wheel
as the example project ``coquimbo`` (``aequilibrae/reference_files/coquimbo.zip``,
an OpenStreetMap import; © OpenStreetMap contributors, ODbL 1.0). The script
reads the wheel as a zip file, so it needs neither AequilibraE installed nor a
network connection once the wheel is on disk:

    pip download --no-deps aequilibrae==1.7.2 -d /tmp/aeq
    python scripts/build_road_network.py --wheel /tmp/aeq/aequilibrae-1.7.2-*.whl

It keeps the links inside :data:`LA_SERENA_BBOX`, the centre of La Serena.

As in Ziebart et al. (2008), a *state* is a directed road segment and an
*action* a transition from one segment to the next at an intersection. Here a
segment runs from one *decision point* to the next: the links are cut into the
straight pieces of their polylines, and a run of directed pieces in which each
has exactly one continuation and each next piece exactly one predecessor is
merged into one state. Its features are the distances it contains of each road
class, speed limit and lane count, so the merge changes no path's feature
counts, only removes states at which nothing is decided.

One-way links are driven in their direction only; others in both. Lanes are
counted per direction (AequilibraE's ``lanes_ab``/``lanes_ba``, rounded up; where
untagged, one lane on residential and unclassified roads and two-way tertiary
roads, two elsewhere); speed limits are ``speed_ab``/``speed_ba``, else Chile's
urban limit of 50 km/h. A U-turn is an action only where a road ends
(including where a road leaves the box); it is then a hard turn. Only the
largest strongly connected part of the network is kept (found before the
merge, so that no segment is left with a lone continuation that could have
been merged), so every segment can reach every other.

Saved per state: length (m), travel time at the speed limit (s), distances (m)
on each road class, at a limit of 30 km/h or less, on one-lane and on two-lane
roads, and the segment's polyline (for maps); per action: src, dst (sorted by
src), turn angle (degrees, positive = right) and turn type. The features are
defined from these in ``maxentrl.irl.roads``.
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


AEQUILIBRAE_WHEEL = "aequilibrae-1.7.2-cp311-cp311-manylinux_2_24_x86_64.manylinux_2_28_x86_64.whl"
"""The wheel whose ``aequilibrae/reference_files/coquimbo.zip`` holds the La Serena–Coquimbo network."""

AEQUILIBRAE_CLASSES = {"motorway": "primary", "trunk": "primary", "primary": "primary", "secondary": "secondary",
                       "tertiary": "tertiary", "unclassified": "unclassified", "residential": "residential",
                       "living_street": "residential"}
"""AequilibraE link types (OSM ``highway`` values, ``_link`` ramps included) to the book's road classes."""

CHILE_URBAN_SPEED_KMH = 50
"""Chile's general urban speed limit, used where a link carries no ``maxspeed``."""


def _spatialite_coords(blob: bytes) -> list[tuple[float, float]]:
    """Points of a SpatiaLite POINT or LINESTRING geometry blob (little-endian, XY)."""
    import struct

    if blob[1] != 1:
        raise ValueError("expected a little-endian SpatiaLite geometry")
    kind = struct.unpack("<i", blob[39:43])[0]
    if kind == 1:
        return [struct.unpack("<dd", blob[43:59])]
    if kind == 2:
        n = struct.unpack("<i", blob[43:47])[0]
        xy = struct.unpack(f"<{2 * n}d", blob[47:47 + 16 * n])
        return list(zip(xy[0::2], xy[1::2]))
    raise ValueError(f"unsupported SpatiaLite geometry class {kind}")


def load_coquimbo_edges(wheel: Path, bbox: tuple[float, float, float, float]):
    """Directed edges ``(u, v, length_m, (class, speed, lanes))`` and point coordinates of the
    La Serena–Coquimbo network inside ``bbox = (lon_min, lat_min, lon_max, lat_max)``.

    The network is the OpenStreetMap import that AequilibraE ships as its ``coquimbo`` example
    project (``project_database.sqlite``, table ``links``: ``a_node``, ``b_node``, ``direction``
    (0 both ways, 1 from a to b only), ``link_type`` = OSM ``highway``, ``speed_ab``/``speed_ba``,
    ``lanes_ab``/``lanes_ba`` and the link's polyline). Each link is cut into the straight pieces
    of its polyline (so that turn angles are measured on the last and first metres of a road);
    the merge of :func:`merge_chains` joins the pieces again. Links of other types (footways,
    service roads, centroid connectors) and links not open to cars are dropped, and so is every
    link with a point outside ``bbox``.
    """
    import io
    import sqlite3
    import tempfile
    import zipfile

    with zipfile.ZipFile(wheel) as whl, zipfile.ZipFile(io.BytesIO(whl.read("aequilibrae/reference_files/coquimbo.zip"))) as prj, \
            tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "project_database.sqlite"
        db.write_bytes(prj.read("project_database.sqlite"))
        con = sqlite3.connect(db)
        rows = con.execute("SELECT link_id, a_node, b_node, direction, distance, modes, link_type, speed_ab, speed_ba, "
                           "lanes_ab, lanes_ba, geometry FROM links ORDER BY link_id").fetchall()
        con.close()
    lon0, lat0, lon1, lat1 = bbox
    coord: dict[int, tuple[float, float]] = {}
    directed = []
    for link_id, a, b, direction, distance, modes, link_type, sp_ab, sp_ba, ln_ab, ln_ba, geom in rows:
        cls_name = AEQUILIBRAE_CLASSES.get(str(link_type))
        if cls_name is None or "c" not in str(modes):
            continue
        pts = _spatialite_coords(geom)
        if not all(lon0 <= x <= lon1 and lat0 <= y <= lat1 for x, y in pts):
            continue
        cls = ROAD_CLASSES.index(cls_name)
        # a link's own points get ids of their own; its end points are the network's nodes
        ids = [int(a)] + [-(int(link_id) * 10_000 + i) for i in range(1, len(pts) - 1)] + [int(b)]
        for i, p in zip(ids, pts):
            coord.setdefault(i, (float(p[0]), float(p[1])))
        piece = np.array([haversine_m(*pts[i], *pts[i + 1]) for i in range(len(pts) - 1)])
        piece = piece * (float(distance) / piece.sum()) if piece.sum() > 0 else np.full(len(piece), float(distance) / len(piece))
        oneway = int(direction) != 0
        for forward, speed, lanes in ((True, sp_ab, ln_ab), (False, sp_ba, ln_ba)):
            if oneway and forward != (int(direction) == 1):
                continue
            v_kmh = int(speed) if speed else CHILE_URBAN_SPEED_KMH
            if lanes:
                n_lanes = max(1, math.ceil(float(lanes)))
            else:
                n_lanes = 1 if cls_name in ("residential", "unclassified") or not oneway and cls_name == "tertiary" else 2
            seq = list(range(len(ids) - 1)) if forward else list(range(len(ids) - 2, -1, -1))
            for i in seq:
                u, v = (ids[i], ids[i + 1]) if forward else (ids[i + 1], ids[i])
                directed.append((u, v, float(piece[i]), (cls, v_kmh, n_lanes)))
    return directed, coord


def haversine_m(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = math.sin((p2 - p1) / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    return 2 * 6_371_008.8 * math.asin(math.sqrt(a))


def continuations(directed) -> list[list[int]]:
    """For each directed OSM edge u→v, the edges v→w it may continue onto (U-turns only at dead ends)."""
    out = defaultdict(list)
    for k, (u, _, _, _) in enumerate(directed):
        out[u].append(k)
    nxt = []
    for k, (u, v, _, _) in enumerate(directed):
        onward = [j for j in out[v] if directed[j][1] != u]
        nxt.append(onward if onward else list(out[v]))
    return nxt


def merge_chains(directed, nxt: list[list[int]]) -> list[list[int]]:
    """Group directed OSM edges into segments between decision points (lists of edge indices in order)."""
    preds = defaultdict(list)
    for k, js in enumerate(nxt):
        for j in js:
            preds[j].append(k)

    def merges_into_next(k: int) -> bool:
        return len(nxt[k]) == 1 and len(preds[nxt[k][0]]) == 1 and nxt[k][0] != k

    starts = [k for k in range(len(directed)) if not (len(preds[k]) == 1 and merges_into_next(preds[k][0]))]
    chains, used = [], set()
    for k in starts:
        chain = [k]
        used.add(k)
        while merges_into_next(chain[-1]) and nxt[chain[-1]][0] not in used:
            chain.append(nxt[chain[-1]][0])
            used.add(chain[-1])
        chains.append(chain)
    # pure cycles of single continuations (none expected on a road network) become one segment each
    for k in range(len(directed)):
        if k not in used:
            chain = [k]
            used.add(k)
            while merges_into_next(chain[-1]) and nxt[chain[-1]][0] not in used:
                chain.append(nxt[chain[-1]][0])
                used.add(chain[-1])
            chains.append(chain)
    return chains


def largest_scc(num: int, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Boolean mask of the largest strongly connected component."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    g = coo_matrix((np.ones(len(src)), (src, dst)), shape=(num, num)).tocsr()
    _, labels = connected_components(g, directed=True, connection="strong")
    return labels == np.bincount(labels).argmax()


def build(out_path: Path, directed, coord, source: str) -> dict:
    """Turn directed edges into the road MDP and save it to ``out_path``; returns facts about it."""
    nxt = continuations(directed)
    # keep the largest strongly connected part of the turn graph (directed OSM edges as nodes) ...
    e_src = np.array([k for k, js in enumerate(nxt) for _ in js])
    e_dst = np.array([j for js in nxt for j in js])
    keep_edge = largest_scc(len(directed), e_src, e_dst)
    nxt = [[j for j in js if keep_edge[j]] if keep_edge[k] else [] for k, js in enumerate(nxt)]
    # ... and merge what remains into segments between decision points
    chains = [c for c in merge_chains(directed, nxt) if keep_edge[c[0]]]
    chain_of = -np.ones(len(directed), dtype=np.int64)
    for i, c in enumerate(chains):
        chain_of[c] = i
    # actions: from the last edge of a chain onto the first edge of the next
    src, dst, ang = [], [], []
    for i, c in enumerate(chains):
        last = directed[c[-1]]
        b_in = bearing(*coord[last[0]], *coord[last[1]])
        for j in nxt[c[-1]]:
            first = directed[j]
            b_out = bearing(*coord[first[0]], *coord[first[1]])
            src.append(i)
            dst.append(int(chain_of[j]))
            ang.append((b_out - b_in + 180.0) % 360.0 - 180.0)
    src, dst, ang = np.array(src), np.array(dst), np.array(ang)
    assert largest_scc(len(chains), src, dst).all()
    order = np.lexsort((dst, src))
    src, dst, ang = src[order], dst[order], ang[order]
    kept = chains
    S = len(kept)
    length = np.zeros(S)
    time_s = np.zeros(S)
    class_m = np.zeros((S, len(ROAD_CLASSES)))
    slow_m = np.zeros(S)
    lanes_m = np.zeros((S, 2))
    poly, ptr = [], [0]
    for i, c in enumerate(kept):
        for k in c:
            _, _, ln, (cls, speed, lanes) = directed[k]
            length[i] += ln
            time_s[i] += ln / 1000.0 / speed * 3600.0
            class_m[i, cls] += ln
            slow_m[i] += ln * (speed < 40)
            if lanes <= 2:
                lanes_m[i, lanes - 1] += ln
        pts = [coord[directed[c[0]][0]]] + [coord[directed[k][1]] for k in c]
        poly.extend(pts)
        ptr.append(len(poly))
    data = {
        "length_m": length.astype(np.float32),
        "time_s": time_s.astype(np.float32),
        "class_m": class_m.astype(np.float32),
        "speed30_m": slow_m.astype(np.float32),
        "lanes_m": lanes_m.astype(np.float32),
        "polyline_lonlat": np.array(poly, dtype=np.float64),
        "polyline_ptr": np.array(ptr, dtype=np.int32),
        "src": src.astype(np.int32),
        "dst": dst.astype(np.int32),
        "turn_angle_deg": ang.astype(np.float32),
        "turn_type": np.array([turn_type(a) for a in ang], dtype=np.int8),
        "road_classes": np.array(ROAD_CLASSES),
        "turn_types": np.array(TURN_TYPES),
        "source": np.array(source),
    }
    out_path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out_path, **data)
    deg = np.bincount(src, minlength=S)
    return {"states": S, "actions": int(len(src)), "osm_directed_edges": len(directed),
            "directed_edges_kept": int(keep_edge.sum()),
            "out_degree_histogram": np.bincount(deg).tolist(), "bytes": out_path.stat().st_size}


LA_SERENA_BBOX = (-71.275, -29.93, -71.225, -29.88)
"""Longitude/latitude box of the La Serena network (lon_min, lat_min, lon_max, lat_max): the
city centre's grid, the districts around it and the arterials that cross them, Ruta 5 included."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, default=Path(AEQUILIBRAE_WHEEL),
                        help="the AequilibraE wheel (pip download --no-deps aequilibrae==1.7.2)")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "roads" / "la_serena.npz")
    args = parser.parse_args()
    if not args.wheel.is_file():
        parser.error(f"no AequilibraE wheel at {args.wheel}; get it with: pip download --no-deps aequilibrae==1.7.2")
    directed, coord = load_coquimbo_edges(args.wheel, LA_SERENA_BBOX)
    print(build(args.out, directed, coord, source=f"AequilibraE 1.7.2 example project 'coquimbo' ({args.wheel.name}), "
                                                  f"links inside lon/lat box {LA_SERENA_BBOX}; "
                                                  "(c) OpenStreetMap contributors, ODbL 1.0"))


if __name__ == "__main__":
    main()
