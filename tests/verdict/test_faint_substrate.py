"""Dim Ti beside bright Bi: a TiN lattice plain to the eye whose columns each stand only 4-6 sigma out.

Two fields of the harsh nuisance grid (``bench_trust --harsh``), cut to 256 px: a Z exponent near 1.8 or a
thin TiN wedge at a dose of ~30 e/px. At the finder's default significance (6 sigma) too few Ti columns
are found for an ordered TiN; the fainter columns that make TiN planes complete it.
"""

import numpy as np
import pytest
from scipy.spatial import cKDTree

from stemlayers import analyze, load
from stemlayers.columns.find import find_columns
from stemlayers.simulate import SimulationParams, simulate

LOW_DOSE_STEEP_Z = dict(
    system="Bi2Te3/TiN", interface="deteriorated", shape=(256, 256), pixel_size_A=0.1581, rotation_deg=67.3419,
    dose=30.3598, probe_sigma_A=0.5357, tail_fraction=0.0679, tail_width_A=3.6974, tin_strain_pct=0.3301,
    interface_offset_A=2.2107, bilayer_spacing_A=3.509, bilayer_tin_gap_A=2.9055, vdw_gap_A=3.2629,
    jitter_px=0.1677, drift_shear=0.0012, drift_stretch=-0.0005, background=0.1758, background_ramp=0.1271,
    read_noise=0.9493, weight_jitter=0.0512, thickness_gradient=-0.107, background_smooth=0.0022,
    amorphous=0.0821, contrast_exponent=1.8246, channelling={"Bi": 0.937, "N": 0.862, "Te": 0.888, "Ti": 0.9},
    column_ellipticity=1.2162, column_ellipse_angle_deg=150.0104, scan_drift_nonlinear_px=0.7342,
    corrupted_lines=0.0023, seed=1794010066)
THIN_TIN_WEDGE = dict(
    system="Bi2Te3/TiN", interface="vdw", shape=(256, 256), pixel_size_A=0.1609, rotation_deg=148.193, flip=True,
    dose=29.6116, probe_sigma_A=0.4825, tail_fraction=0.0034, tail_width_A=3.3028, tin_strain_pct=1.5691,
    interface_offset_A=-3.5478, n_tin_planes=9, bilayer_spacing_A=2.8211, bilayer_tin_gap_A=2.7091,
    vdw_gap_A=2.6237, jitter_px=0.2515, drift_shear=0.0013, drift_stretch=-0.0005, background=0.1935,
    background_ramp=0.1567, read_noise=1.8769, weight_jitter=0.0764, thickness_gradient=0.0727, tin_wedge=0.7949,
    background_smooth=0.0324, amorphous=0.0275, contrast_exponent=1.3406,
    channelling={"Bi": 0.894, "N": 1.037, "Te": 0.862, "Ti": 0.961}, column_ellipticity=1.1052,
    column_ellipse_angle_deg=119.9774, scan_drift_nonlinear_px=0.5178, corrupted_lines=0.0166, seed=2126206873)


@pytest.fixture(scope="module", params=[LOW_DOSE_STEEP_Z, THIN_TIN_WEDGE], ids=["steep Z", "thin wedge"])
def field(request):
    params = SimulationParams(**request.param)
    return params, simulate(params)


def test_most_ti_columns_stand_below_the_default_significance(field):
    params, sim = field
    ti = sim.truth.xy[sim.truth.element == "Ti"]
    found = find_columns(sim.data, pixel_size=params.pixel_size_A)
    near = cKDTree(found.xy).query(ti)[0] < 0.5 / params.pixel_size_A
    assert near.mean() < 0.6


def test_the_faint_tin_completes_the_system_and_the_verdicts_are_right(field):
    params, sim = field
    report = analyze(load(sim.data, pixel_size=params.pixel_size_A))
    assert report.system == params.system
    assert report.interface.interface_class == params.interface
    expected = "ok" if abs(params.tin_strain_pct) < 1 else "strained"
    assert report.strain.strain_verdict in (expected, "inconclusive")
    assert report.strain.tin_inplane_A == pytest.approx(sim.truth.tin_inplane_A, rel=0.01)
    # columns below the default significance are kept only in TiN planes: none of them lies in the film
    faint = report.columns.significance < 6.0
    materials = np.array([p.material for p in report.planes] + ["none"])[report.plane_of_column]
    assert set(materials[faint]) <= {"TiN"}
