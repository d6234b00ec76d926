"""Exports of a report: the column and plane tables, JSON, CSV and an atomap lattice, against the truth."""

import json

import numpy as np
import pandas as pd
import pytest

from stemlayers import analyze
from stemlayers.report.analysis import STAGES, analyze_stages
from stemlayers.report.export import columns_table, layers_table, write_report_json, write_sublattice, write_tables
from stemlayers.samples import sample_file
from stemlayers.simulate import load_truth
from stemlayers.simulate.score import match_points


@pytest.fixture(scope="module")
def report():
    return analyze(sample_file("bi2te3_bilayer.hspy"))


def test_stages_come_in_order_and_end_in_the_same_report(report):
    stages = analyze_stages(sample_file("bi2te3_bilayer.hspy"))
    seen = []
    with pytest.raises(StopIteration) as finished:
        while True:
            seen.append(next(stages))
    assert tuple(seen) == STAGES
    staged = finished.value.value
    assert [L.height_A for L in staged.planes] == pytest.approx([L.height_A for L in report.planes])
    assert staged.interface.interface_class == report.interface.interface_class == "bilayer"


def test_columns_table_puts_each_column_in_its_plane_with_units(report):
    table = columns_table(report)
    truth = load_truth(sample_file("bi2te3_bilayer.hspy"))
    assert len(table) == report.n_columns
    px = report.pixel_size_A
    assert np.allclose(table["x_A"], table["x_px"] * px) and np.allclose(table["y_A"], table["y_px"] * px)
    # positions against the simulator's truth: pm precision, and stated errors of the right size
    visible = truth.xy[truth.visible()]  # N columns are too faint to see beside Ti
    found, true = match_points(table[["x_px", "y_px"]].to_numpy(), visible, 0.5 / px)
    error_pm = np.hypot(*(table[["x_px", "y_px"]].to_numpy()[found] - visible[true]).T) * px * 100
    assert len(found) >= 0.98 * len(visible) and len(found) >= 0.98 * len(table)
    assert np.median(error_pm) < 5
    assert 0.3 < np.median(error_pm) / np.median(np.hypot(table["x_err_pm"], table["y_err_pm"])[found]) < 3
    # the plane columns agree with the planes table
    assigned = table["plane"] >= 0
    assert assigned.mean() > 0.95
    layers = layers_table(report)
    merged = table[assigned].merge(layers, on="plane", suffixes=("", "_plane"))
    assert (merged["material"] == merged["material_plane"]).all()
    assert np.allclose(merged["plane_height_A"], merged["height_A"])
    assert (table.loc[~assigned, "material"] == "").all()
    assert set(table.loc[assigned, "element"]) <= {"Ti", "Bi", "Te"}


def test_files_round_trip(report, tmp_path):
    import atomap.api as am

    saved = json.loads(write_report_json(report, tmp_path / "r.json").read_text())
    assert saved["interface"]["class"] == "bilayer" and len(saved["layers"]) == len(report.planes)
    columns_csv, layers_csv = write_tables(report, tmp_path / "r.csv")
    assert columns_csv.name == "r_columns.csv" and layers_csv.name == "r_layers.csv"
    back = pd.read_csv(columns_csv)
    assert len(back) == report.n_columns
    assert np.allclose(back["x_px"], report.columns.xy[:, 0])
    assert pd.read_csv(layers_csv)["height_A"].to_numpy() == pytest.approx([L.height_A for L in report.planes])
    lattice = am.load_atom_lattice_from_hdf5(str(write_sublattice(report, tmp_path / "r.hspy")), construct_zone_axes=False)
    atoms = lattice.sublattice_list[0].atom_list
    assert np.allclose([[a.pixel_x, a.pixel_y] for a in atoms], report.columns.xy)
    assert not list(tmp_path.glob(".*"))  # no temporary file left behind


def test_a_saved_report_reloads_as_the_same_typed_records(report, tmp_path):
    from stemlayers import Report
    from stemlayers.structure.grouping import AtomicPlane

    path = write_report_json(report, tmp_path / "r.json")
    saved = json.loads(path.read_text())
    again = Report.from_dict(saved)
    assert again.to_dict() == saved  # every key and value, the planes under "layers"
    assert isinstance(again.planes[0], AtomicPlane) and again.planes == report.planes
    assert again.interface == report.interface and again.strain == report.strain
    assert again.calibration == report.calibration
    assert again.material_system.name == "Bi2Te3/TiN"
    assert again.material_system.path == report.material_system.path  # the same TOML file (same SHA-256)
    # a report of a material file that changed since (other hash) or moved: the system of its name
    saved["material"] = {"name": "Bi2Te3/TiN", "file": str(tmp_path / "gone.toml"), "sha256": "0" * 64}
    assert Report.from_dict(saved).material_system.name == "Bi2Te3/TiN"
    # an older report without the newer blocks still loads (missing fields as None)
    old = {k: v for k, v in saved.items() if k not in ("calibration", "material", "schema_version")}
    old["interface"] = {k: v for k, v in saved["interface"].items() if k != "decided_by"}
    older = Report.from_dict(old)
    assert older.interface.decided_by is None and older.interface.interface_class == "bilayer"
    assert older.calibration is None and older.material_system.name == "Bi2Te3/TiN"
