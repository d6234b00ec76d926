"""The simulator's images and truth agree with the physics in the material files."""

import dataclasses
import json

import numpy as np
import pytest
from scipy.spatial import cKDTree

from stemlayers import load
from stemlayers.columns.render import render_gaussians
from stemlayers.materials import load_system
from stemlayers.simulate import (
    SimulationParams,
    Truth,
    load_truth,
    sample_params,
    sample_wide_params,
    simulate,
    truth_path,
    write_simulation,
)
from stemlayers.simulate.contrast import column_weights

SMALL = dict(shape=(192, 192))


def _subpixel_maxima(image, xy):
    """Brightest pixel within 2 px of each position, refined by a log-parabola through 3x3."""
    out = []
    log = np.log(np.clip(image, 1e-12, None))
    for x, y in xy:
        xi, yi = int(round(x)), int(round(y))
        window = image[yi - 2:yi + 3, xi - 2:xi + 3]
        dy, dx = np.unravel_index(window.argmax(), window.shape)
        xi, yi = xi + dx - 2, yi + dy - 2
        p = log[yi - 1:yi + 2, xi - 1:xi + 2]
        gx, gy = (p[1, 2] - p[1, 0]) / 2, (p[2, 1] - p[0, 1]) / 2
        gxx, gyy = p[1, 2] - 2 * p[1, 1] + p[1, 0], p[2, 1] - 2 * p[1, 1] + p[0, 1]
        out.append((xi - gx / gxx, yi - gy / gyy))
    return np.array(out)


def _subpixel_maxima_2d(image, xy):
    """As :func:`_subpixel_maxima`, with the cross term: exact for a tilted elliptical Gaussian."""
    out = []
    log = np.log(np.clip(image, 1e-12, None))
    for x, y in xy:
        xi, yi = int(round(x)), int(round(y))
        p = log[yi - 1:yi + 2, xi - 1:xi + 2]
        grad = np.array([p[1, 2] - p[1, 0], p[2, 1] - p[0, 1]]) / 2
        gxy = (p[2, 2] - p[2, 0] - p[0, 2] + p[0, 0]) / 4
        hess = np.array([[p[1, 2] - 2 * p[1, 1] + p[1, 0], gxy], [gxy, p[2, 1] - 2 * p[1, 1] + p[0, 1]]])
        out.append(np.array([xi, yi]) - np.linalg.solve(hess, grad))
    return np.array(out)


def _interior(truth, margin=4):
    rows, cols = truth.shape
    return ((truth.x_px > margin) & (truth.x_px < cols - 1 - margin)
            & (truth.y_px > margin) & (truth.y_px < rows - 1 - margin))


@pytest.mark.parametrize(
    "system, interface, pixel_size, rotation, flip",
    [
        ("Bi2Te3/TiN", "bilayer", 0.10, 0.0, False),
        ("Bi2Se3/TiN", "vdw", 0.07, 33.0, True),
        ("Bi2Te3/TiN", "deteriorated", 0.16, 251.0, False),
        ("Bi2Se3/TiN", "bilayer", 0.12, 180.0, True),
    ],
)
def test_noise_free_maxima_sit_on_the_truth_positions(system, interface, pixel_size, rotation, flip):
    sim = simulate(system=system, interface=interface, pixel_size_A=pixel_size, rotation_deg=rotation,
                   flip=flip, noise=False, weight_jitter=0.0, tail_fraction=0.1, **SMALL)
    t = sim.truth
    # a displaced column right beside a brighter one has no maximum of its own: keep resolvable ones
    vis = t.visible()
    near_bright = cKDTree(t.xy[vis]).query(t.xy, k=2)[0][:, 1] * t.pixel_size_A
    near_any = cKDTree(t.xy).query(t.xy, k=2)[0][:, 1] * t.pixel_size_A
    # the closest ordered pairs: Bi2Se3 X1-Bi at 1.96 Å, and Ti-N at 1.50 Å
    resolvable = (near_bright > 1.9) & (near_any > 1.45)
    m = vis & _interior(t) & resolvable
    assert m.sum() > 15
    found = _subpixel_maxima(sim.data.astype(float), t.xy[m])
    err = np.hypot(*(found - t.xy[m]).T)
    assert err.max() < 0.05


@pytest.mark.parametrize("system", ["Bi2Te3/TiN", "Bi2Se3/TiN"])
@pytest.mark.parametrize("interface", ["bilayer", "vdw"])
def test_plane_heights_follow_the_toml_spacings(system, interface):
    s = load_system(system)
    t = simulate(system=system, interface=interface, **SMALL).truth
    h, el, mat = t.plane_height_A, t.plane_element, t.plane_material
    assert h[t.top_tin_plane] == 0.0 and el[t.top_tin_plane] == "Ti"
    ti = np.flatnonzero(el == "Ti")
    assert np.diff(h[ti]) == pytest.approx(s.substrate.plane_spacing_A, abs=1e-9)
    n = np.flatnonzero(el == "N")
    assert (h[n] % s.substrate.plane_spacing_A) == pytest.approx(s.substrate.plane_spacing_A / 2, abs=1e-9)
    ti_planes = h[mat == "TI"]
    ql = np.diff(ti_planes[:5])
    assert ql == pytest.approx(s.film.ql_spacings_A, abs=1e-9)
    assert np.all(t.plane_element[mat == "TI"][:5] == np.array(s.film.ql_elements))
    if len(ti_planes) > 5:
        assert ti_planes[5] - ti_planes[4] == pytest.approx(s.film.vdw_gap_A, abs=1e-9)
    above = h[h > 0]
    if interface == "bilayer":
        assert list(el[mat == "bilayer"]) == list(s.bilayer.elements)
        assert np.diff(above[:3]) == pytest.approx([s.bilayer.spacing_A, s.bilayer.ql_gap_A], abs=1e-9)
        assert above[0] == pytest.approx(s.bilayer.tin_gap_A)
    else:
        assert not np.any(mat == "bilayer")
        assert above[0] == pytest.approx(s.vdw.tin_gap_A)
        assert el[h == above[0]][0] == s.film.ql_elements[0]


@pytest.mark.parametrize("strain_pct", [0.0, 2.0, -3.0])
def test_in_plane_periods_and_strain(strain_pct):
    s = load_system("Bi2Te3/TiN")
    t = simulate(tin_strain_pct=strain_pct, **SMALL).truth
    assert t.tin_inplane_A == pytest.approx(s.substrate.inplane_a_A * (1 + strain_pct / 100), rel=1e-3)
    assert t.film_inplane_A == pytest.approx(s.film.lattice_a_A, rel=1e-3)
    # columns of one plane really are one projected period apart
    top = t.plane == t.top_tin_plane
    u = np.sort(t.u_A[top])
    assert np.diff(u) == pytest.approx(s.substrate.projected_period_A * (1 + strain_pct / 100), abs=1e-9)
    # the biaxial strain contracts the (111) spacing by the Poisson ratio
    ti = np.flatnonzero(t.plane_element == "Ti")
    nu = s.substrate.poisson_ratio
    expected = s.substrate.plane_spacing_A * (1 - 2 * nu / (1 - nu) * strain_pct / 100)
    assert np.diff(t.plane_height_A[ti]) == pytest.approx(expected, abs=1e-9)


def test_each_plane_shifts_by_a_third_of_a_period():
    t = simulate(**SMALL).truth
    ti_planes = np.flatnonzero(t.plane_element == "Ti")[-3:]
    starts = [np.min(t.u_A[t.plane == p] % t.plane_period_A[p]) for p in ti_planes]
    period = t.plane_period_A[ti_planes[0]]
    steps = np.diff(starts) % period
    assert steps == pytest.approx([period / 3, period / 3], abs=1e-6) or \
        steps == pytest.approx([2 * period / 3, 2 * period / 3], abs=1e-6)


@pytest.mark.parametrize("system", ["Bi2Te3/TiN", "Bi2Se3/TiN"])
def test_column_contrast_follows_the_toml_intensities(system):
    s = load_system(system)
    sim = simulate(system=system, noise=False, weight_jitter=0.0, tail_fraction=0.0, background=0.0, **SMALL)
    t = sim.truth
    m = _interior(t, 6) & (t.plane >= 0)
    peak = {}
    for element in ("Ti", "Bi", s.film.ql_elements[0]):
        sel = m & (t.element == element)
        xy = np.round(t.xy[sel]).astype(int)
        peak[element] = np.median(sim.data[xy[:, 1], xy[:, 0]])
    assert peak["Bi"] / peak["Ti"] == pytest.approx(s.intensity("Bi"), rel=0.05)
    x = s.film.ql_elements[0]
    assert peak[x] / peak["Bi"] == pytest.approx(s.intensity(x) / s.intensity("Bi"), rel=0.05)
    # dose is the expected count at the brightest column's centre
    assert peak["Bi"] == pytest.approx(150, rel=0.05)


def test_counts_are_poisson_around_the_expected_image():
    params = SimulationParams(dose=200, **SMALL)
    clean = simulate(params, noise=False).data.astype(float)
    noisy = simulate(params).data.astype(float)
    z = (noisy - clean) / np.sqrt(clean)
    assert abs(z.mean()) < 0.05
    assert z.std() == pytest.approx(1.0, abs=0.05)


def test_growth_direction_and_upside_down():
    for rotation in (0.0, 180.0, 90.0):
        t = simulate(rotation_deg=rotation, **SMALL).truth
        center = (np.array(t.shape[::-1]) - 1) / 2
        height = (t.xy - center) @ np.array(t.growth_dir) * t.pixel_size_A
        # heights measured along growth_dir are the truth heights, up to the field's offset
        offset = height - t.v_A
        assert np.ptp(offset) < 1e-6
    t = simulate(rotation_deg=180.0, **SMALL).truth
    assert t.y_px[t.element == "Ti"].mean() < t.y_px[t.element == "Bi"].mean()  # TiN on top


def test_flip_mirrors_the_image():
    a = simulate(noise=False, weight_jitter=0.0, **SMALL)
    b = simulate(noise=False, weight_jitter=0.0, flip=True, **SMALL)
    assert np.allclose(a.truth.y_px, b.truth.y_px)
    assert np.allclose(a.truth.x_px + b.truth.x_px, a.truth.shape[1] - 1)


def test_deteriorated_interface_has_a_disordered_band_and_rough_top():
    s = load_system("Bi2Te3/TiN")
    t = simulate(interface="deteriorated", shape=(256, 256)).truth
    band = t.plane < 0
    assert band.sum() > 10
    assert t.v_A[band].min() > 0.5 and t.v_A[band].max() < 1.5 + s.deteriorated.band_thickness_A + 1.5
    top = (t.plane == t.top_tin_plane)
    assert np.std(t.v_A[top]) > 0.5 * s.deteriorated.roughness_A
    assert not np.any(t.plane_material == "bilayer")


def test_same_seed_same_image_and_scan_artefacts_change_it():
    a = simulate(seed=3, **SMALL).data
    assert np.array_equal(a, simulate(seed=3, **SMALL).data)
    assert not np.array_equal(a, simulate(seed=4, **SMALL).data)
    jittered = simulate(seed=3, jitter_px=0.3, **SMALL).data
    assert not np.array_equal(a, jittered)


def test_drift_moves_truth_positions_with_the_scan():
    a = simulate(weight_jitter=0.0, **SMALL).truth
    b = simulate(weight_jitter=0.0, drift_shear=0.01, drift_stretch=0.005, **SMALL).truth
    cy = (a.shape[0] - 1) / 2
    index_b = {(round(u, 6), round(v, 6)): i for i, (u, v) in enumerate(zip(b.u_A, b.v_A))}
    pairs = np.array([(i, index_b[k]) for i, k in enumerate(zip(np.round(a.u_A, 6), np.round(a.v_A, 6)))
                      if k in index_b])
    assert len(pairs) > 0.9 * len(a.x_px)
    ia, ib = pairs.T
    # the scan is row by row: x shears with the row, y stretches about the centre
    assert np.allclose(b.x_px[ib] - a.x_px[ia], 0.01 * (a.y_px[ia] - cy), atol=1e-6)
    assert np.allclose(b.y_px[ib] - cy, (a.y_px[ia] - cy) * 1.005, atol=1e-6)


def test_sampled_parameters_span_wide_ranges():
    rng = np.random.default_rng(0)
    draws = [sample_params(rng) for _ in range(200)]
    px = [p.pixel_size_A for p in draws]
    assert min(px) < 0.08 and max(px) > 0.15
    assert {p.interface for p in draws} == {"bilayer", "vdw", "deteriorated"}
    assert {p.system for p in draws} == {"Bi2Te3/TiN", "Bi2Se3/TiN"}
    assert max(p.rotation_deg for p in draws) > 300 and any(p.flip for p in draws)
    assert sample_params(rng, interface="vdw").interface == "vdw"
    sim = simulate(sample_params(rng, shape=(128, 128)))
    assert sim.data.shape == (128, 128) and np.isfinite(sim.data).all()


@pytest.mark.parametrize("suffix", [".hspy", ".tif", ".emd"])
def test_written_simulation_loads_back_with_its_truth(tmp_path, suffix):
    sim = simulate(pixel_size_A=0.087, **SMALL)
    path = write_simulation(sim, tmp_path / f"sim{suffix}")
    image = load(path)
    assert image.pixel_size_A == pytest.approx(0.087, rel=1e-6)
    assert np.allclose(image.data, sim.data)
    truth = load_truth(path)
    assert truth_path(path).name == "sim.truth.json"
    assert np.allclose(truth.xy, sim.truth.xy) and truth.interface == "bilayer"
    json.loads(truth_path(path).read_text())


# --------------------------------------------------------------------------- harsher images


def _column_peaks(sim, elements, margin=6):
    """Median noise-free count at the truth positions of each element's ordered columns."""
    t = sim.truth
    m = _interior(t, margin) & (t.plane >= 0)
    out = {}
    for element in elements:
        xy = np.round(t.xy[m & (t.element == element)]).astype(int)
        out[element] = float(np.median(sim.data[xy[:, 1], xy[:, 0]]))
    return out


def test_the_toml_exponent_reproduces_the_toml_intensities():
    for system in ("Bi2Te3/TiN", "Bi2Se3/TiN"):
        s = load_system(system)
        weights = column_weights(s, s.contrast.exponent)
        for element, expected in s.contrast.relative_intensity.items():
            assert weights[element] == pytest.approx(expected, rel=0.01), element
    s = load_system("Bi2Te3/TiN")
    assert column_weights(s) == s.contrast.relative_intensity  # None: the file's numbers, exactly


@pytest.mark.parametrize(
    "system, exponent, channelling",
    [
        ("Bi2Te3/TiN", 1.3, {"Bi": 0.85, "Te": 1.1, "Ti": 1.2}),
        ("Bi2Te3/TiN", 2.0, {"Bi": 1.2, "Te": 0.8}),
        ("Bi2Se3/TiN", 1.5, {"Bi": 0.9, "Se": 1.15, "Ti": 0.8}),
    ],
)
def test_column_ratios_follow_the_exponent_and_channelling(system, exponent, channelling):
    s = load_system(system)
    sim = simulate(system=system, noise=False, weight_jitter=0.0, tail_fraction=0.0, background=0.0,
                   contrast_exponent=exponent, channelling=channelling, **SMALL)
    x = s.film.ql_elements[0]
    peak = _column_peaks(sim, ("Bi", x, "Ti"))
    z = s.contrast.atomic_number
    ch = {e: channelling.get(e, 1.0) for e in ("Bi", x, "Ti")}
    bi_over_x = (z["Bi"] / z[x]) ** exponent * ch["Bi"] / ch[x]     # same spacing along the beam
    x_over_ti = ((z[x] / z["Ti"]) ** exponent * s.substrate.beam_spacing_A / s.film.beam_spacing_A
                 * ch[x] / ch["Ti"])
    assert peak["Bi"] / peak[x] == pytest.approx(bi_over_x, rel=0.02)
    assert peak[x] / peak["Ti"] == pytest.approx(x_over_ti, rel=0.02)
    assert peak["Bi"] == pytest.approx(150, rel=0.02)  # the dose is still the brightest column's count


def test_round_and_elliptical_paths_agree_when_the_ellipse_is_a_circle():
    rng = np.random.default_rng(1)
    xy = rng.uniform(0, 64, (40, 2))
    amp = rng.uniform(1, 5, 40)
    round_ = render_gaussians(xy, amp, 2.0, (64, 64))
    nearly = render_gaussians(xy, amp, 2.0, (64, 64), ellipticity=1 + 1e-12, angle_deg=37.0)
    assert np.allclose(round_, nearly, atol=1e-9)


@pytest.mark.parametrize("ellipticity, angle", [(1.4, 30.0), (1.2, -75.0), (1.3, 90.0)])
def test_elliptical_column_has_the_second_moments_asked_for(ellipticity, angle):
    sigma, centre = 3.0, np.array([40.3, 37.6])
    image = render_gaussians(centre[None], [2.0], sigma, (80, 80), ellipticity=ellipticity, angle_deg=angle)
    rows, cols = np.mgrid[0:80, 0:80]
    total = image.sum()
    assert total == pytest.approx(2.0 * 2 * np.pi * sigma**2, rel=1e-4)  # the area is kept
    mean = np.array([(image * cols).sum(), (image * rows).sum()]) / total
    assert mean == pytest.approx(centre, abs=1e-4)
    d = np.stack([cols - mean[0], rows - mean[1]])
    cov = np.einsum("iyx,jyx,yx->ij", d, d, image) / total
    theta = np.deg2rad(angle)
    rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    expected = rot @ np.diag([sigma**2 * ellipticity, sigma**2 / ellipticity]) @ rot.T
    assert cov == pytest.approx(expected, abs=2e-3 * sigma**2)


def test_elliptical_columns_in_a_simulation_keep_their_peak_and_position():
    sim = simulate(noise=False, weight_jitter=0.0, tail_fraction=0.0, background=0.0, column_ellipticity=1.3,
                   column_ellipse_angle_deg=20.0, **SMALL)
    assert _column_peaks(sim, ("Bi",))["Bi"] == pytest.approx(150, rel=0.02)
    t = sim.truth
    bi = np.flatnonzero(_interior(t, 8) & (t.element == "Bi"))
    found = _subpixel_maxima_2d(sim.data.astype(float), t.xy[bi])
    assert np.hypot(*(found - t.xy[bi]).T).max() < 0.05


@pytest.mark.parametrize("fraction", [0.01, 0.05])
def test_corrupted_lines_are_the_fraction_asked_for(fraction):
    rows = 200
    clean = simulate(noise=False, shape=(rows, 160))
    bad = simulate(noise=False, shape=(rows, 160), corrupted_lines=fraction)
    changed = np.flatnonzero(np.any(np.abs(bad.data - clean.data) > 1e-3, axis=1))
    assert len(bad.truth.corrupted_rows) == round(fraction * rows)
    assert np.array_equal(changed, bad.truth.corrupted_rows)
    assert set(bad.truth.corrupted_kind) <= {"shifted", "blanked", "duplicated"}
    blank = bad.truth.corrupted_rows[bad.truth.corrupted_kind == "blanked"]
    assert np.all(bad.data[blank] == 0)
    assert np.array_equal(bad.truth.xy, clean.truth.xy)  # a glitched line moves no column


def test_nonlinear_drift_moves_columns_with_the_scan_row():
    kw = dict(noise=False, weight_jitter=0.0, shape=(256, 192))
    still = simulate(**kw).truth
    moved = simulate(scan_drift_nonlinear_px=0.8, **kw)
    shift = moved.truth.xy - still.xy[: len(moved.truth.xy)] if len(moved.truth.xy) == len(still.xy) else None
    assert shift is not None
    assert np.abs(shift).max() <= 0.8 + 1e-9 and np.abs(shift).max() > 0.3
    # a function of the row alone: columns on the same row move alike, and smoothly from row to row
    order = np.argsort(still.y_px)
    y, dx = still.y_px[order], shift[order, 0]
    slope = np.abs(np.diff(dx)) / np.maximum(np.diff(y), 1e-9)
    assert np.all(slope[np.diff(y) > 0.5] < 0.05)
    # the image follows the truth
    t = moved.truth
    bi = np.flatnonzero(_interior(t, 8) & (t.element == "Bi"))
    found = _subpixel_maxima(moved.data.astype(float), t.xy[bi])
    assert np.hypot(*(found - t.xy[bi]).T).max() < 0.06


@pytest.mark.parametrize("field", ["tin_only", "ti_only", "perovskite", "honeycomb", "amorphous"])
def test_negative_fields_have_no_interface_in_their_truth(field):
    sim = simulate(field=field, rotation_deg=17.0, **SMALL)
    t = sim.truth
    assert t.interface is None and t.field == field
    assert np.isfinite(sim.data).all() and len(t.x_px) > 30
    elements = set(t.element)
    if field == "tin_only":
        assert t.system == "Bi2Te3/TiN" and elements == {"Ti", "N"}
        assert set(t.plane_material) == {"TiN"} and np.all(t.plane >= 0)
        assert t.tin_inplane_A == pytest.approx(2.998, rel=1e-3) and t.film_inplane_A is None
        assert np.all(t.plane_height_A < 0) and t.top_tin_plane == -1
    elif field == "ti_only":
        assert t.system == "Bi2Te3/TiN" and elements == {"Bi", "Te"}
        assert set(t.plane_material) == {"TI"} and t.tin_inplane_A is None and t.tin_strain_pct is None
    else:
        assert t.system is None and t.tin_inplane_A is None and t.film_inplane_A is None
        assert len(t.plane_height_A) == 0 and np.all(t.plane == -1)
    if field == "perovskite":
        assert elements == {"Sr", "Ti", "O"}
        sr = t.xy[t.element == "Sr"]
        nearest = cKDTree(sr).query(sr, k=2)[0][:, 1] * t.pixel_size_A
        assert np.median(nearest) == pytest.approx(3.905, abs=1e-6)
        w = {e: np.median(t.weight[t.element == e]) for e in elements}
        assert w["Sr"] > w["Ti"] > 3 * w["O"]
    if field == "honeycomb":
        assert elements == {"Mo", "S"}
        mo, s2 = t.xy[t.element == "Mo"], t.xy[t.element == "S"]
        assert np.median(cKDTree(mo).query(mo, k=2)[0][:, 1]) * t.pixel_size_A == pytest.approx(3.16, abs=1e-6)
        assert np.median(cKDTree(s2).query(mo)[0]) * t.pixel_size_A == pytest.approx(3.16 / np.sqrt(3), abs=1e-6)
        assert np.median(t.weight[t.element == "Mo"]) > np.median(t.weight[t.element == "S"])
    if field == "amorphous":
        # no lattice: nearest-neighbour distances spread like a random (Poisson) pattern's
        nearest = cKDTree(t.xy).query(t.xy, k=2)[0][:, 1] * t.pixel_size_A
        assert np.std(nearest) / np.mean(nearest) > 0.4


@pytest.mark.parametrize("field", ["interface", "tin_only", "perovskite"])
def test_truth_round_trips_through_json_with_none_and_empty_arrays(field):
    t = simulate(field=field, corrupted_lines=0.02, contrast_exponent=1.5, channelling={"Bi": 0.9},
                 **SMALL).truth
    back = Truth.from_dict(json.loads(json.dumps(t.to_dict())))
    for name in ("system", "interface", "field", "tin_strain_pct", "tin_inplane_A", "film_inplane_A", "shape",
                 "growth_dir", "top_tin_plane", "params"):
        assert getattr(back, name) == getattr(t, name), name
    for name in ("x_px", "y_px", "u_A", "v_A", "element", "plane", "weight", "plane_height_A",
                 "plane_element", "plane_material", "plane_period_A", "corrupted_rows", "corrupted_kind"):
        a, b = getattr(t, name), getattr(back, name)
        assert a.shape == b.shape and a.dtype.kind == b.dtype.kind and np.array_equal(a, b), name
    # a truth file written before the new keys existed still loads
    old = {k: v for k, v in t.to_dict().items() if k not in ("field", "corrupted_rows", "corrupted_kind")}
    assert Truth.from_dict(old).field == "interface" and len(Truth.from_dict(old).corrupted_rows) == 0


def test_wide_sampler_spans_the_harsh_ranges_and_the_plain_one_is_unchanged():
    rng = np.random.default_rng(0)
    plain = [sample_params(rng) for _ in range(50)]
    assert all(p.contrast_exponent is None and p.channelling is None and p.column_ellipticity == 1.0
               and p.scan_drift_nonlinear_px == 0 and p.corrupted_lines == 0 and p.field == "interface"
               for p in plain)
    draws = [sample_params(rng, wide=True) for _ in range(300)]
    n = np.array([p.contrast_exponent for p in draws])
    assert n.min() < 1.35 and n.max() > 1.95 and np.all((n >= 1.3) & (n <= 2.0))
    factors = np.array([f for p in draws for f in p.channelling.values()])
    assert factors.min() < 0.8 and factors.max() > 1.2 and np.all((factors >= 0.75) & (factors <= 1.25))
    ratios = {"Te": [], "Se": []}
    for p in draws:
        s = load_system(p.system)
        w = column_weights(s, p.contrast_exponent, p.channelling)
        x = s.film.ql_elements[0]
        ratios[x].append(w["Bi"] / w[x])
        assert w["Bi"] > w[x] > w["Ti"]  # the order of materials.md holds
    assert min(ratios["Te"]) < 1.6 and max(ratios["Te"]) > 2.8
    assert min(ratios["Se"]) < 2.5 and max(ratios["Se"]) > 5.0
    for name, lo, hi in [("column_ellipticity", 1.0, 1.3), ("scan_drift_nonlinear_px", 0.0, 1.0),
                         ("corrupted_lines", 0.0, 0.02), ("thickness_gradient", -0.3, 0.3),
                         ("pixel_size_A", 0.06, 0.2), ("dose", 40, 400)]:
        values = np.array([getattr(p, name) for p in draws])
        assert values.min() >= lo and values.max() <= hi, name
        assert values.min() < lo + 0.1 * (hi - lo) and values.max() > hi - 0.1 * (hi - lo), name
    fixed = sample_params(rng, wide=True, system="Bi2Se3/TiN", field="ti_only", contrast_exponent=1.3)
    assert (fixed.system, fixed.field, fixed.contrast_exponent) == ("Bi2Se3/TiN", "ti_only", 1.3)
    assert sample_wide_params(rng, interface="vdw").interface == "vdw"
    sim = simulate(sample_params(rng, wide=True, shape=(128, 128)))
    assert sim.data.shape == (128, 128) and np.isfinite(sim.data).all()


def test_a_tin_wedge_thins_the_tin_along_the_interface_and_nothing_else():
    params = SimulationParams(shape=(256, 256), seed=4, pixel_size_A=0.12)
    flat, wedge = simulate(params), simulate(dataclasses.replace(params, tin_wedge=0.8))
    t0, t1 = flat.truth, wedge.truth
    tin = np.isin(t0.element, ["Ti", "N"])
    ratio = t1.weight[tin] / t0.weight[tin]
    side = (t0.u_A[tin] - t0.u_A[tin].min()) / np.ptp(t0.u_A[tin])
    assert np.corrcoef(side, ratio)[0, 1] < -0.99  # thinner and thinner along the interface
    assert 0.15 < ratio.min() < 0.5 and ratio.max() > 0.8
    assert np.allclose(t1.weight[~tin], t0.weight[~tin])  # the film keeps its thickness


def test_harsh_sampler_adds_wedges_thin_tin_and_low_doses_to_the_wide_draws():
    from stemlayers.simulate import sample_harsh_params

    wide = [sample_params(np.random.default_rng(k), wide=True) for k in range(60)]
    harsh = [sample_harsh_params(np.random.default_rng(k)) for k in range(60)]
    assert all(w.seed == h.seed and w.contrast_exponent == h.contrast_exponent for w, h in zip(wide, harsh))
    wedges = np.array([h.tin_wedge for h in harsh])
    assert 0.3 < np.mean(wedges > 0) < 0.7 and wedges.max() <= 0.8
    thin = [h.n_tin_planes for h in harsh if h.n_tin_planes is not None]
    assert 10 <= len(thin) <= 30 and min(thin) >= 5 and max(thin) <= 10
    assert min(h.dose for h in harsh) < 40
