"""The command line: simulate writes a calibrated file and its truth; info describes files, one line per bad one."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from stemlayers import load
from stemlayers.cli import app
from stemlayers.simulate import load_truth

runner = CliRunner()


def test_help_lists_the_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("info", "simulate"):
        assert command in result.output


@pytest.mark.parametrize("suffix, units", [(".hspy", "nm"), (".tif", "pm"), (".emd", "Å")])
def test_simulate_writes_calibrated_file_and_truth(tmp_path, suffix, units):
    out = tmp_path / f"cell{suffix}"
    result = runner.invoke(app, ["simulate", str(out), "--system", "Bi2Se3/TiN", "--interface", "vdw",
                                 "--strain", "1.5", "--pixel-size", "0.09", "--size", "128",
                                 "--rotation", "180", "--dose", "80", "--seed", "5", "--units", units])
    assert result.exit_code == 0, result.output
    image = load(out)
    assert image.data.shape == (128, 128)
    assert image.pixel_size_A == pytest.approx(0.09, rel=1e-6)
    truth = load_truth(out)
    assert truth.system == "Bi2Se3/TiN" and truth.interface == "vdw"
    assert truth.tin_strain_pct == 1.5
    assert truth.tin_inplane_A == pytest.approx(2.998 * 1.015, rel=1e-3)
    assert truth.growth_dir == pytest.approx((0.0, 1.0), abs=1e-9)  # rotated 180°: growth points down


def test_simulate_rejects_an_unknown_interface(tmp_path):
    result = runner.invoke(app, ["simulate", str(tmp_path / "x.hspy"), "--interface", "amorphous"])
    assert result.exit_code == 2
    assert "bilayer, vdw, deteriorated" in result.output


def test_simulate_unknown_system_is_one_line(tmp_path):
    result = runner.invoke(app, ["simulate", str(tmp_path / "x.hspy"), "--system", "NbN/Si"])
    assert result.exit_code == 1
    assert "no material system" in result.output and "Traceback" not in result.output


def test_info_describes_good_files_and_reports_bad_ones_in_one_line(tmp_path):
    good = tmp_path / "good.hspy"
    assert runner.invoke(app, ["simulate", str(good), "--size", "96", "--pixel-size", "0.11"]).exit_code == 0
    bad = tmp_path / "bad.dm3"
    bad.write_text("this is not a DigitalMicrograph file\n")
    result = runner.invoke(app, ["info", str(good), str(bad), str(tmp_path / "missing.tif")])
    assert result.exit_code == 1
    assert "good.hspy" in result.output and "0.11" in result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(errors) == 2
    assert "bad.dm3" in errors[0] and "missing.tif" in errors[1]
    assert "Traceback" not in result.output


def test_info_json_is_machine_readable(tmp_path):
    good = tmp_path / "good.tif"
    runner.invoke(app, ["simulate", str(good), "--size", "96", "--pixel-size", "0.12"])
    result = runner.invoke(app, ["info", "--json", str(good)])
    assert result.exit_code == 0, result.output
    d = json.loads(result.output)
    assert d["pixel_size_A"] == pytest.approx(0.12, rel=1e-6)
    assert list(d["shape"]) == [96, 96]


def test_info_accepts_pixel_size_for_uncalibrated_files(tmp_path):
    raw = tmp_path / "raw.npy"
    np.save(raw, np.random.default_rng(0).random((64, 64)).astype(np.float32))
    described = runner.invoke(app, ["info", "--json", str(raw)])  # described, with no pixel size
    assert described.exit_code == 0 and json.loads(described.output)["pixel_size_A"] is None
    result = runner.invoke(app, ["info", "--json", "--pixel-size", "0.1", str(raw)])
    assert result.exit_code == 0 and json.loads(result.output)["pixel_size_A"] == 0.1


def test_reference_image_sets_the_strain_reference(tmp_path):
    """A bare, strained TiN film as the reference: the sample's deviation is measured against its a."""
    from stemlayers.simulate import SimulationParams, simulate, write_simulation

    bare = write_simulation(simulate(SimulationParams(interface="vdw", n_ql=0, tin_strain_pct=1.5,
                                                      shape=(384, 384), seed=11)), tmp_path / "bare.hspy")
    sample = write_simulation(simulate(SimulationParams(interface="bilayer", shape=(384, 384), seed=12)),
                              tmp_path / "sample.hspy")
    result = runner.invoke(app, ["analyze", str(sample), "--reference-image", str(bare),
                                 "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "reference: TiN in-plane a = 3.04" in result.output
    strain = json.loads((tmp_path / "r.json").read_text())["strain"]
    assert strain["reference_A"] == pytest.approx(load_truth(bare).tin_inplane_A, abs=0.003)
    # the sample's TiN is bulk: 1.5 % smaller than the strained reference
    assert strain["deviation_pct"] == pytest.approx(100 * (1 / 1.015 - 1), abs=0.15)
    assert strain["strain_ok"] is False


def test_reference_image_without_tin_is_a_one_line_error(tmp_path):
    from stemlayers.simulate import SimulationParams, simulate, write_simulation

    film = write_simulation(simulate(SimulationParams(interface="vdw", n_tin_planes=0, shape=(384, 384), seed=13)),
                            tmp_path / "film_only.hspy")
    sample = tmp_path / "sample.hspy"
    write_simulation(simulate(SimulationParams(shape=(256, 256), seed=14)), sample)
    result = runner.invoke(app, ["analyze", str(sample), "--reference-image", str(film)])
    assert result.exit_code == 1
    assert "film_only.hspy: no ordered TiN planes found" in result.output
    assert "Traceback" not in result.output


def test_analyze_warns_when_the_file_calibration_is_off_and_batch_records_it(tmp_path):
    sample = tmp_path / "off.hspy"
    runner.invoke(app, ["simulate", str(sample), "--interface", "vdw", "--pixel-size", "0.1", "--size", "256",
                        "--seed", "3"])
    result = runner.invoke(app, ["analyze", str(sample), "--pixel-size", "0.107", "--json", str(tmp_path / "r.json")])
    assert result.exit_code == 0, result.output
    assert "is 1.070x (+7.0 ± 0.0 %) what the film lattice implies" in result.output
    d = json.loads((tmp_path / "r.json").read_text())
    assert d["interface"]["class"] == "vdw" and d["strain"]["strain_verdict"] == "ok"
    assert d["calibration"]["standard"] == "film" and d["calibration"]["file_error_pct"] == pytest.approx(7.0, abs=0.2)
    assert d["schema_version"] >= 2 and d["material"]["sha256"] and len(d["material"]["sha256"]) == 64
    table = tmp_path / "results.csv"
    result = runner.invoke(app, ["batch", str(sample), "--out", str(table), "--pixel-size", "0.107"])
    import pandas as pd

    row = pd.read_csv(table).iloc[0]
    assert row["strain_verdict"] == "ok" and row["length_standard"] == "film"
    assert row["file_calibration_error_pct"] == pytest.approx(7.0, abs=0.2)
    assert "(+7.0 ± 0.0 %) what the film lattice implies" in row["calibration_warning"]
    assert "Calibration warnings" in (tmp_path / "results_summary.md").read_text()


def test_analyze_and_batch_write_the_same_json_report(tmp_path):
    sample = tmp_path / "same.hspy"
    runner.invoke(app, ["simulate", str(sample), "--interface", "bilayer", "--size", "192", "--seed", "5"])
    assert runner.invoke(app, ["analyze", str(sample), "--json", str(tmp_path / "one.json")]).exit_code == 0
    assert runner.invoke(app, ["batch", str(sample), "--out", str(tmp_path / "t.csv")]).exit_code == 0
    from_cli = (tmp_path / "one.json").read_text()
    from_batch = (tmp_path / "t_reports" / "same.json").read_text()
    assert from_cli.endswith("}\n") and from_batch.endswith("}\n")
    cli_d, batch_d = json.loads(from_cli), json.loads(from_batch)
    cli_d.pop("seconds"), batch_d.pop("seconds")
    assert cli_d == batch_d


def test_a_bad_file_size_limit_in_the_environment_is_a_usage_error(tmp_path):
    sample = tmp_path / "s.hspy"
    runner.invoke(app, ["simulate", str(sample), "--size", "128", "--seed", "2"])
    result = runner.invoke(app, ["info", str(sample)], env={"STEMLAYERS_MAX_MB": "lots"})
    assert result.exit_code == 2
    assert "STEMLAYERS_MAX_MB='lots' is not a positive number of MB" in result.output
