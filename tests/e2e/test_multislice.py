"""Verdicts on independent physics: abTEM PRISM multislice images (channelling, thermal diffuse scattering)
made by refgen/multislice_abtem.py, checked against the atomic model they were built from."""

from pathlib import Path

import numpy as np
import pytest
from multislice_refs import orientations, tin_on_film_standard, truth_of

from stemlayers import analyze

CASES = sorted((Path(__file__).resolve().parents[1] / "data" / "multislice").glob("*.hspy"))


def _origin(t):
    """Index of the top complete Ti plane (below a deteriorated interface's roughened ones)."""
    return t.get("origin_plane", t["top_tin_plane"])


def _true_planes(t):
    """Heights (0 = top complete Ti plane) of the ordered, non-N planes with >= 3 columns inside the frame."""
    rows, cols = t["shape"]
    x, y, plane = np.asarray(t["x_px"]), np.asarray(t["y_px"]), np.asarray(t["plane"])
    inside = (x > 5) & (x < cols - 5) & (y > 5) & (y < rows - 5)
    rough = set(t.get("roughened_planes") or [])  # part of the interface band
    heights = []
    for k, (h, element, material) in enumerate(zip(t["plane_height_A"], t["plane_element"], t["plane_material"])):
        if element != "N" and material != "disordered" and k not in rough and np.sum((plane == k) & inside) >= 3:
            heights.append(h)
    return np.asarray(heights) - t["plane_height_A"][_origin(t)]


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_multislice_image_gets_the_model_verdicts(path):
    t = truth_of(path)
    d = analyze(path).to_dict()
    assert d["system"] == t["system"] and d["interface"]["class"] == t["interface"]
    assert d["strain"]["strain_verdict"] == ("ok" if abs(t["tin_strain_pct"]) < 1 else "strained")
    assert d["strain"]["tin_inplane_A"] == pytest.approx(tin_on_film_standard(t), rel=0.003)
    assert d["strain"]["tin_over_ti_ratio"] == pytest.approx(t["tin_inplane_A"] / t["film_inplane_A"], rel=0.003)
    if t["interface"] == "deteriorated":  # no gap: a band from the top complete Ti plane to the first QL
        film = np.asarray(t["plane_height_A"])[np.asarray(t["plane_material"]) == "TI"]
        band = film.min() - t["plane_height_A"][_origin(t)]
        assert d["interface"]["gap_A"] is None
        assert d["interface"]["band_thickness_A"] == pytest.approx(band, abs=0.3)
    # every ordered plane of the model found at its height, and the spacings right
    true_h = _true_planes(t)
    found = np.array([L["height_A"] for L in d["layers"]])
    nearest = np.abs(found[None, :] - true_h[:, None]).min(axis=1)
    assert np.mean(nearest < 0.2) >= 0.98
    spacing_err = np.abs(np.diff(np.sort(found[np.abs(found[:, None] - true_h[None, :]).min(axis=1) < 0.2]))
                         - np.diff(np.sort(true_h[nearest < 0.2])))
    assert np.median(spacing_err) <= 0.02
    # the film's planes are named from the image's own contrast (not a Z^n formula), each one right
    top = t["plane_height_A"][_origin(t)]
    model_h = np.asarray(t["plane_height_A"]) - top
    film = [L for L in d["layers"] if L["material"] in ("TI", "bilayer")]
    assert film
    for L in film:
        k = int(np.argmin(np.abs(model_h - L["height_A"])))
        assert L["element"] == t["plane_element"][k] and L["element_probability"] > 0.9


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_multislice_verdicts_survive_rotation_mirror_and_a_wrong_calibration(path):
    from stemlayers import load

    t = truth_of(path)
    image = load(path)
    seen = orientations(image.data)
    variants = {"rotated 33°": (seen["rotated 33°"], 1.0), "mirrored": (seen["mirrored"], 1.0),
                "pixel size 10 % small": (image.data, 0.9)}
    for name, (data, factor) in variants.items():
        d = analyze(load(np.ascontiguousarray(data, np.float32), pixel_size=image.pixel_size_A * factor)).to_dict()
        assert (d["system"], d["interface"]["class"], d["strain"]["strain_verdict"]) == (
            t["system"], t["interface"], "ok" if abs(t["tin_strain_pct"]) < 1 else "strained"), name
        assert d["strain"]["tin_inplane_A"] == pytest.approx(tin_on_film_standard(t), rel=0.003), name
