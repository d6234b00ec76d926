"""Interfaces that change along their length: segments of different classes and TiN terrace steps.

A field is cut along the interface (u) into segments, each with its own
interface class and its own terrace: ``terrace_planes`` TiN (111) planes
missing from the top, the film lying that much lower. Each segment is built
by :func:`.structure.build_structure` on its own (its film takes its own
registry with the TiN, as separate nuclei do) and keeps the columns inside
its u range; the TiN below is the same everywhere.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..materials import MaterialSystem
from .params import SimulationParams, sample_params
from .structure import INTERFACES, Structure, build_structure

__all__ = ["interface_line", "lateral_structure", "sample_lateral_params", "segment_bounds"]


def segment_bounds(segments, u_half_A):
    """(lo, hi) u range (Å) of each segment: a segment runs from its start to the next one's.

    Parameters
    ----------
    segments : sequence of (start_A, interface, terrace_planes)
        Ordered by start; the first segment reaches back to the field's edge whatever its start.
    u_half_A : float
    """
    starts = [float(s[0]) for s in segments]
    if any(b <= a for a, b in zip(starts[1:], starts[2:])):
        raise ValueError(f"segment starts must increase, got {starts}")
    lows = [-u_half_A - 1.0] + starts[1:]
    highs = starts[1:] + [u_half_A + 1.0]
    return list(zip(lows, highs))


def lateral_structure(system: MaterialSystem, segments, u_half_A: float, v_range_A, *, rng, **options) -> Structure:
    """A cross-section whose interface class and TiN terrace change along u.

    Parameters
    ----------
    system : MaterialSystem
    segments : sequence of (start_A, interface, terrace_planes)
        ``start_A`` in the structure's u (Å); ``interface`` one of INTERFACES;
        ``terrace_planes`` the TiN (111) planes missing from the top there (0: the top terrace).
    u_half_A, v_range_A, rng, **options
        As for :func:`.structure.build_structure` (``interface`` and ``bilayer_coverage`` excepted).

    Returns
    -------
    Structure
        Heights are those of the highest terrace: v = 0 on its top Ti plane.
    """
    for start, interface, terrace in segments:
        if interface not in INTERFACES:
            raise ValueError(f"interface must be one of {INTERFACES}, got {interface!r}")
        if int(terrace) < 0:
            raise ValueError(f"terrace_planes must be >= 0, got {terrace}")
    deepest = max(int(s[2]) for s in segments)
    parts, planes, tin = [], [], None
    for (lo, hi), (_, interface, terrace) in zip(segment_bounds(segments, u_half_A), segments):
        terrace = int(terrace)
        # built taller by the terrace depth, so that the lowered film still fills the field
        s = build_structure(system, interface, u_half_A, (v_range_A[0], v_range_A[1] + deepest * system.substrate.plane_spacing_A),
                            rng=rng, **options)
        n_tin = s.top_tin_plane + 1
        if tin is None:
            tin = s.planes[:n_tin]
            planes.extend(tin)
        d111 = s.planes[s.top_tin_plane].height_A - s.planes[s.top_tin_plane - 2].height_A if n_tin > 2 else 0.0
        drop = terrace * d111
        keep = (s.u_A >= lo) & (s.u_A < hi)
        is_tin = (s.plane >= 0) & (s.plane < n_tin)
        keep &= ~(is_tin & (s.v_A > -drop + 0.1))
        offset = len(planes) - n_tin
        above = [dataclasses.replace(p, height_A=p.height_A - drop) for p in s.planes[n_tin:]]
        planes.extend(above)
        v = np.where(is_tin, s.v_A, s.v_A - drop)
        index = np.where(s.plane >= n_tin, s.plane + offset, s.plane)
        parts.append((s.u_A[keep], v[keep], s.element[keep], index[keep], s.weight[keep]))
    u, v, element, plane, weight = (np.concatenate(k) for k in zip(*parts))
    inside = (v >= v_range_A[0]) & (v <= v_range_A[1])
    return Structure(u[inside], v[inside], element[inside], plane[inside], weight[inside], tuple(planes),
                     len(tin) - 1, s.tin_inplane_A, s.film_inplane_A)


def interface_line(segments, u_half_A, d111_A, to_pixels, shape, step_A=0.25):
    """The true segments and steps of a field, in image pixels.

    Parameters
    ----------
    segments : sequence of (start_A, interface, terrace_planes)
    u_half_A : float
    d111_A : float
        The TiN (111) spacing: a terrace lies ``terrace_planes * d111_A`` lower.
    to_pixels : callable
        ``to_pixels(u_A, v_A) -> (N, 2)`` pixel positions.
    shape : (rows, cols)

    Returns
    -------
    (list of dict, list of dict)
        Segments as the report gives them (``start_px``, ``end_px``, ``length_A``, ``class``) and steps
        (``at_px``, ``height_planes``, ``height_A``), for the parts of the interface inside the field.
    """
    u = np.arange(-u_half_A, u_half_A, step_A)
    index = np.zeros(u.size, int)
    for k, (lo, _) in enumerate(segment_bounds(segments, u_half_A)[1:], start=1):
        index[u >= lo] = k
    depth = np.array([int(s[2]) for s in segments])[index]
    xy = to_pixels(u, -depth * d111_A)
    inside = (xy[:, 0] >= 0) & (xy[:, 0] <= shape[1] - 1) & (xy[:, 1] >= 0) & (xy[:, 1] <= shape[0] - 1)
    out, steps = [], []
    for k in np.unique(index[inside]):
        sel = np.flatnonzero(inside & (index == k))
        out.append({"start_px": xy[sel[0]].tolist(), "end_px": xy[sel[-1]].tolist(),
                    "length_A": float(len(sel) * step_A), "class": segments[k][1]})
        if k > 0 and inside[sel[0] - 1] and segments[k][2] != segments[k - 1][2]:
            planes = int(segments[k][2]) - int(segments[k - 1][2])
            steps.append({"at_px": xy[sel[0]].tolist(), "height_planes": abs(planes),
                          "height_A": float(abs(planes) * d111_A)})
    return out, steps


def sample_lateral_params(rng: np.random.Generator, n_boundaries=None, length_A=None, min_apart_A=20.0,
                          step_share=0.3, kinds=INTERFACES, **fixed) -> SimulationParams:
    """Draw a wide field whose interface changes along its length, over the ranges of :func:`sample_params`.

    The field is ~100 Å along the interface (within ±8° of level, either way up, either handedness), with
    `n_boundaries` (0-4 by default) places where the class changes, a terrace step, or both (a step at a
    share `step_share` of them), at least `min_apart_A` apart, between interface classes of `kinds`.
    Anything in `fixed` is kept as given.
    """
    base = dataclasses.asdict(sample_params(rng, **{k: v for k, v in fixed.items() if k != "segments"}))
    px = float(fixed.get("pixel_size_A", rng.uniform(0.07, 0.14)))
    length = float(length_A or rng.uniform(90.0, 110.0))
    k = int(rng.integers(0, 5) if n_boundaries is None else n_boundaries)
    half = 0.5 * length - 14.0
    while True:  # boundaries inside the field, apart from each other and from its ends
        cuts = np.sort(rng.uniform(-half + 5.0, half + 5.0, k))  # the field's centre is at u = 0-10 Å
        if k < 2 or np.diff(cuts).min() >= min_apart_A:
            break
    classes = [str(rng.choice(kinds))]
    terraces = [0]
    for _ in range(k):
        kind = rng.choice(["class", "step", "both"], p=[1 - step_share, step_share / 2, step_share / 2])
        cls = classes[-1]
        if kind != "step":
            cls = str(rng.choice([c for c in kinds if c != classes[-1]]))
        terrace = terraces[-1] + (int(rng.choice([-1, 1])) if kind != "class" else 0)
        classes.append(cls)
        terraces.append(terrace)
    lowest = min(terraces)
    segments = tuple((float(s), c, int(t - lowest)) for s, c, t in zip([-1e3, *cuts], classes, terraces))
    # 40-50 Å high: TiN, a deteriorated band and a quintuple layer or two above it at any pixel size
    base.update(pixel_size_A=px, shape=(int(round(rng.uniform(40.0, 50.0) / px)), int(round(length / px))),
                rotation_deg=float(rng.uniform(-8, 8) + rng.choice([0.0, 180.0])),
                interface=classes[0], interface_offset_A=float(rng.uniform(-3, 3)), segments=segments)
    base.update({k: v for k, v in fixed.items() if k not in ("pixel_size_A",)})
    base["shape"] = tuple(base["shape"])
    return SimulationParams(**base)
