"""The simulator's images and truth agree with the physics in the material files."""

import json

import numpy as np
import pytest
from scipy.spatial import cKDTree

from stemlayers import load
from stemlayers.materials import load_system
from stemlayers.simulate import (
    SimulationParams,
    load_truth,
    sample_params,
    simulate,
    truth_path,
    write_simulation,
)

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
