"""Results per sample from hand-built batch rows with known coverage and TiN a."""

import numpy as np
import pytest

from stemlayers.report.per_sample import sample_of, sample_table, write_sample_results


def _row(file, bilayer, length=100.0, a=2.998, err=0.004, status="ok", coverage_err=0.02, system="Bi2Te3/TiN"):
    return {"file": file, "status": status, "system": system, "bilayer_coverage": bilayer, "vdw_coverage": 1 - bilayer,
            "deteriorated_coverage": 0.0, "interface_length_A": length, "coverage_err": coverage_err,
            "tin_inplane_A": a, "tin_inplane_err_A": err, "tin_inplane_deviation_pct": 100 * (a / 2.998 - 1)}


def test_samples_by_folder_or_by_pattern():
    assert sample_of("data/A/x.tif") == "data/A"
    assert sample_of("data/run_S7_003.tif", r"_(S\d+)_") == "S7"
    assert sample_of("data/run_S7_003.tif", r"S\d+") == "S7"
    assert sample_of("data/other.tif", r"_(S\d+)_") == "(no match)"


def test_coverage_is_length_weighted_with_a_ci_over_images():
    rows = [_row("A/1.tif", 0.2, length=50.0), _row("A/2.tif", 0.8, length=150.0), _row("B/1.tif", 0.5),
            _row("B/2.tif", 0.5, status="error")]
    frame = sample_table(rows).set_index("sample")
    assert frame.loc["A", "bilayer_coverage"] == pytest.approx((0.2 * 50 + 0.8 * 150) / 200, abs=1e-3)
    lo, hi = frame.loc["A", "bilayer_coverage_ci95"]
    assert lo < 0.65 < hi and hi - lo > 0.2  # two images that disagree: a wide interval
    assert frame.loc["B", "n_images"] == 2 and frame.loc["B", "n_analysed"] == 1
    failed = sample_table([_row("C/1.tif", 0.5, status="error")]).set_index("sample")
    assert failed.loc["C", "n_analysed"] == 0 and failed.loc["C", "tin_inplane_A"] is None
    lo, hi = frame.loc["B", "bilayer_coverage_ci95"]
    assert lo < 0.5 < hi and hi - lo < 0.1  # one image: its own boundary uncertainty only


def test_tin_a_and_the_strain_verdict_per_sample():
    rows = [_row(f"S/{k}.tif", 0.5, a=2.998 * 1.02 + d) for k, d in enumerate([-0.002, 0.0, 0.002])]
    rows += [_row(f"T/{k}.tif", 0.5, a=2.998 + d) for k, d in enumerate([-0.003, 0.001, 0.002])]
    frame = sample_table(rows).set_index("sample")
    assert frame.loc["S", "tin_inplane_A"] == pytest.approx(2.998 * 1.02, abs=1e-3)
    assert frame.loc["S", "strain_verdict"] == "strained" and frame.loc["T", "strain_verdict"] == "ok"
    lo, hi = frame.loc["T", "tin_inplane_ci95_A"]
    assert lo < 2.998 < hi


def test_the_strain_threshold_is_the_systems_own(tmp_path, monkeypatch):
    """The same +2 % TiN is strained under the bundled 1 % threshold and not under a user's system of 3 %."""
    from importlib.resources import files

    text = (files("stemlayers.materials") / "Bi2Te3-TiN.toml").read_text()
    assert "threshold_pct = 1.0" in text
    user = text.replace('name = "Bi2Te3/TiN"', 'name = "Bi2Te3/TiN-loose"').replace("threshold_pct = 1.0",
                                                                               "threshold_pct = 3.0")
    (tmp_path / "Bi2Te3-TiN-loose.toml").write_text(user)
    monkeypatch.setenv("STEMLAYERS_MATERIALS", str(tmp_path))
    rows = [_row(f"S/{k}.tif", 0.5, a=2.998 * 1.02 + d, system="Bi2Te3/TiN-loose")
            for k, d in enumerate([-0.002, 0.0, 0.002])]
    assert sample_table(rows).loc[0, "strain_verdict"] == "ok"
    rows = [{**r, "system": "Bi2Te3/TiN"} for r in rows]
    assert sample_table(rows).loc[0, "strain_verdict"] == "strained"


def test_the_ci_covers_the_truth_of_simulated_samples():
    """Samples of 5-20 images drawn around a true coverage: the 95 % CI covers the sample's truth >= 90 %."""
    rng = np.random.default_rng(4)
    covered = 0
    for trial in range(60):
        n = int(rng.integers(5, 21))
        true = rng.uniform(0.1, 0.9, n)
        length = rng.uniform(80, 120, n)
        measured = np.clip(true + rng.normal(0, 0.04, n), 0, 1)  # each image's coverage off by its boundaries
        rows = [_row(f"S/{k}.tif", m, length=L, coverage_err=0.04) for k, (m, L) in enumerate(zip(measured, length))]
        frame = sample_table(rows, seed=trial)
        lo, hi = frame.loc[0, "bilayer_coverage_ci95"]
        covered += lo <= np.sum(true * length) / length.sum() <= hi
    assert covered >= 0.9 * 60


def test_table_and_plot_are_written_beside_the_results(tmp_path):
    csv, png = write_sample_results([_row("A/1.tif", 0.3), _row("B/1.tif", 0.6)], tmp_path / "results.csv")
    assert csv.name == "results_samples.csv" and "bilayer_coverage_ci95" in csv.read_text()
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_an_undecided_share_may_be_any_class():
    rows = [{**_row(f"U/{k}.tif", 0.0), "vdw_coverage": 0.85} for k in range(5)]  # 15 % of each undecided
    frame = sample_table(rows)
    lo, hi = frame.loc[0, "bilayer_coverage_ci95"]
    assert frame.loc[0, "bilayer_coverage"] == 0.0 and lo == 0.0 and 0.05 < hi <= 0.15 + 1e-9
