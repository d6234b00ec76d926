"""Column finding against ground truth (simulator) and against atomap on a real micrograph."""

import itertools
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from stemlayers import load
from stemlayers.columns.find import Columns, find_columns, lattice_scale
from stemlayers.simulate import SimulationParams, sample_params, simulate
from stemlayers.simulate.score import score_columns

REAL_ADF = Path(find_spec("atomap").origin).parent / "tests" / "datasets" / "test_ADF_cropped.hdf5"


# ----------------------------------------------------------------------------- simulated truth

GRID = list(itertools.product(["Bi2Te3/TiN", "Bi2Se3/TiN"], [60, 150, 400], [0.07, 0.11, 0.16]))


@pytest.fixture(scope="module")
def grid_scores():
    """Find columns on 36 images drawn over wide ranges (rotation, flip, probe, jitter, drift, tails...)."""
    rng = np.random.default_rng(2026)
    scores = []
    for (system, dose, pixel_size), interface in itertools.product(GRID, ["bilayer", "vdw"]):
        # precision is judged without an amorphous surface film (tested on its own below)
        params = sample_params(rng, system=system, dose=dose, pixel_size_A=pixel_size, interface=interface,
                               shape=(192, 192), amorphous=0.0)
        sim = simulate(params)
        columns = find_columns(sim.data, pixel_size=pixel_size)
        scores.append((params, score_columns(columns, sim.truth)))
    return scores


def test_recall_of_ti_and_heavier_columns_over_the_grid(grid_scores):
    n_true = sum(s.n_true for _, s in grid_scores)
    found = sum(s.recall * s.n_true for _, s in grid_scores)
    assert found / n_true >= 0.99
    assert min(s.recall for _, s in grid_scores) >= 0.95


def test_false_positives_over_the_grid(grid_scores):
    n_found = sum(s.n_found for _, s in grid_scores)
    n_false = sum(s.false_positive_rate * s.n_found for _, s in grid_scores)
    assert n_false / n_found <= 0.01
    # per image, a rate of a few dozen columns is noisy: bound the count instead
    assert max(round(s.false_positive_rate * s.n_found) for _, s in grid_scores) <= 2


def test_position_errors_are_picometres(grid_scores):
    rms = np.array([s.rms_error_pm for _, s in grid_scores])
    assert np.median(rms) < 5.0
    assert rms.max() < 15.0


def test_error_bars_are_honest(grid_scores):
    # std of (error / reported error): 1 for honest error bars
    ratio = np.array([s.error_ratio_std for _, s in grid_scores])
    assert 0.7 <= np.median(ratio) <= 1.5
    assert np.mean((ratio > 0.7) & (ratio < 1.5)) >= 0.75


@pytest.mark.parametrize("amorphous", [0.05, 0.1])
def test_an_amorphous_surface_film_costs_little(amorphous):
    """Random atoms over the whole field (a contamination film, up to ~30 % of the TiN's intensity)."""
    params = sample_params(np.random.default_rng(8), shape=(256, 256), amorphous=amorphous, dose=150,
                           pixel_size_A=0.1, interface="vdw")
    sim = simulate(params)
    score = score_columns(find_columns(sim.data, pixel_size=0.1), sim.truth)
    assert score.recall >= 0.98
    assert score.rms_error_pm < 12.0


def test_dim_ti_beside_bright_bi_is_found():
    """Ti columns 6-7x dimmer than Bi, at dose 60, with a wide probe: every ordered Ti plane is found."""
    sim = simulate(SimulationParams(system="Bi2Se3/TiN", dose=60, pixel_size_A=0.12, probe_sigma_A=0.5,
                                    shape=(192, 192), seed=4))
    columns = find_columns(sim.data, pixel_size=0.12)
    score = score_columns(columns, sim.truth)
    matched_elements = sim.truth.element[score.matched_true]
    wanted = sim.truth.visible() & (sim.truth.plane >= 0) & (sim.truth.element == "Ti")
    inside = ((sim.truth.x_px > 2) & (sim.truth.x_px < 189) & (sim.truth.y_px > 2) & (sim.truth.y_px < 189))
    assert (matched_elements == "Ti").sum() >= 0.99 * (wanted & inside).sum()
    assert (matched_elements == "Bi").sum() > 0


def test_n_columns_are_not_reported_even_at_high_dose():
    sim = simulate(SimulationParams(dose=400, pixel_size_A=0.10, interface_offset_A=-12.0, shape=(192, 192)))
    columns = find_columns(sim.data, pixel_size=0.10)
    score = score_columns(columns, sim.truth)
    matched = sim.truth.element[score.matched_true]
    n_found_n = np.isin(np.arange(len(sim.truth.x_px)), score.matched_true) & (sim.truth.element == "N")
    assert n_found_n.sum() <= 0.01 * len(columns)
    assert (matched == "Ti").size >= 0.99 * score.n_true


@pytest.mark.parametrize("offset, only", [(-15.0, "Ti"), (20.0, "Bi")])
def test_single_material_fields(offset, only):
    """An image with only TiN, and one with only Bi2Te3."""
    sim = simulate(SimulationParams(interface_offset_A=offset, shape=(160, 160), dose=150))
    assert set(sim.truth.element[sim.truth.visible()]) <= ({"Ti"} if only == "Ti" else {"Bi", "Te"})
    score = score_columns(find_columns(sim.data, pixel_size=0.1), sim.truth)
    assert score.recall >= 0.98 and score.false_positive_rate <= 0.02


def test_columns_at_the_image_edge():
    sim = simulate(SimulationParams(shape=(256, 256), dose=200, seed=9))
    columns = find_columns(sim.data, pixel_size=0.1)
    t = sim.truth
    score = score_columns(columns, t, margin_px=0.0)
    near_edge = (np.minimum.reduce([t.x_px, t.y_px, 255 - t.x_px, 255 - t.y_px]) < 4) & t.visible()
    assert near_edge.sum() >= 3
    found = np.isin(np.flatnonzero(near_edge), score.matched_true)
    assert found.mean() >= 0.9
    assert np.all((columns.xy > -0.5) & (columns.xy < 255.5))


def test_constant_and_pure_noise_images_give_no_columns():
    assert len(find_columns(np.full((128, 128), 7.0), pixel_size=0.1)) == 0
    noise = np.random.default_rng(1).poisson(20.0, (256, 256)).astype(float)
    assert len(find_columns(noise, pixel_size=0.1)) <= 2
    white = np.random.default_rng(2).normal(0, 1, (256, 256))
    assert len(find_columns(white)) <= 2


def test_separation_and_width_are_estimated_from_the_image():
    sim = simulate(SimulationParams(shape=(256, 256), pixel_size_A=0.1, probe_sigma_A=0.4))
    sigma, separation = lattice_scale(sim.data)
    assert 2.5 < sigma < 5.0  # the probe is 4 px
    assert 15 < separation < 40  # nearest strong columns 2.2-2.6 Å apart
    explicit = find_columns(sim.data, separation=20.0, pixel_size=0.1)
    assert score_columns(explicit, sim.truth).recall >= 0.99


def test_image_object_and_file_inputs(tmp_path):
    from stemlayers.simulate import write_simulation

    sim = simulate(SimulationParams(shape=(128, 128)))
    path = write_simulation(sim, tmp_path / "cell.hspy")
    from_file = find_columns(path)
    from_image = find_columns(load(path))
    assert from_file.pixel_size_A == pytest.approx(0.1)
    np.testing.assert_allclose(from_file.xy, from_image.xy)
    df = from_file.to_dataframe()
    assert {"x", "y", "x_err", "y_err", "amplitude", "sigma", "x_A", "y_err_A"} <= set(df.columns)
    assert len(df) == len(from_file)


def test_atomap_round_trip_keeps_positions():
    sim = simulate(SimulationParams(shape=(128, 128)))
    columns = find_columns(sim.data, pixel_size=0.1)
    sublattice = columns.to_atomap(load(sim.data, pixel_size=0.1))
    assert sublattice.pixel_size == pytest.approx(0.1)
    back = Columns.from_atomap(sublattice)
    np.testing.assert_allclose(back.xy, columns.xy, atol=1e-9, rtol=0)
    np.testing.assert_allclose(back.sigma, columns.sigma, atol=1e-9, rtol=0)
    np.testing.assert_allclose(back.amplitude, columns.amplitude, atol=1e-9, rtol=0)


# ----------------------------------------------------------------------------- a real micrograph


@pytest.fixture(scope="module")
def srtio3():
    if not REAL_ADF.exists():
        pytest.skip("atomap's test data set is not installed")
    image = load(REAL_ADF, pixel_size=0.0933)
    return image, find_columns(image)


def test_real_srtio3_matches_atomap(srtio3):
    """SrTiO3 [110]: our columns against atomap's own 2D-Gaussian refinement on the same image."""
    import atomap.api as am
    import hyperspy.api as hs

    image, columns = srtio3
    positions = am.get_atom_positions(hs.signals.Signal2D(image.data), separation=8)
    sublattice = am.Sublattice(positions, image=image.data)
    sublattice.find_nearest_neighbors()
    sublattice.refine_atom_positions_using_2d_gaussian(show_progressbar=False)
    theirs = Columns.from_atomap(sublattice).xy
    inside = np.all((theirs > 10) & (theirs < np.array(image.data.shape[::-1]) - 10), axis=1)
    from scipy.spatial import cKDTree

    distance, _ = cKDTree(columns.xy).query(theirs[inside])
    distance_A = distance * image.pixel_size_A
    assert np.mean(distance_A < 0.3) >= 0.99
    median_pm = np.median(distance_A) * 100
    print(f"median offset from atomap's refined positions: {median_pm:.1f} pm over {inside.sum()} columns")
    assert median_pm < 5.0


def test_real_srtio3_lattice_periods(srtio3):
    """The periods from the columns are SrTiO3's: 3.905 Å along [001] and 2.761 Å along [1-10]/2."""
    image, columns = srtio3
    bright = columns.xy[columns.amplitude > np.median(columns.amplitude)]
    from scipy.spatial import cKDTree

    distance, index = cKDTree(bright).query(bright, k=5)
    vectors = (bright[index[:, 1:]] - bright[:, None, :]).reshape(-1, 2) * image.pixel_size_A
    length = np.hypot(*vectors.T)
    angle = np.degrees(np.arctan2(np.abs(vectors[:, 1]), np.abs(vectors[:, 0])))
    horizontal = np.median(length[(angle < 20) & (length < 5)])
    vertical = np.median(length[(angle > 70) & (length < 5)])
    assert horizontal == pytest.approx(3.905, rel=0.02)
    assert vertical == pytest.approx(2.761, rel=0.02)
