"""The examples/ gallery runs as a user would run it, and says what it promises."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(script, out):
    run = subprocess.run([sys.executable, str(EXAMPLES / script), str(out)], capture_output=True, text=True,
                         timeout=300, env={**os.environ, "MPLBACKEND": "Agg"})
    assert run.returncode == 0, f"{script} exited {run.returncode}: {run.stderr[-2000:]}"
    return run.stdout


def test_api_tour(tmp_path):
    text = _run("01_api_tour.py", tmp_path)
    assert "interface bilayer" in text and "%): ok" in text
    assert (tmp_path / "report.png").stat().st_size > 10_000
    planes = pd.read_csv(tmp_path / "planes.csv")
    assert (planes["height_A"] == 0.0).sum() == 1 and {"TiN", "bilayer", "TI"} <= set(planes["material"])


def test_custom_material_system(tmp_path):
    text = _run("02_custom_material_system.py", tmp_path)
    assert (tmp_path / "Bi2Te3-NbN.toml").exists()
    assert "analysed as Bi2Te3/NbN: interface vdw (truth vdw)" in text
    value = float(text.split("NbN in-plane a ")[1].split()[0])
    assert value == pytest.approx(3.104, rel=0.003)


def test_batch_and_plot(tmp_path):
    text = _run("03_batch_and_plot.py", tmp_path)
    assert "6 analysed, 0 failed" in text and (tmp_path / "strain_per_image.png").exists()
    table = pd.read_csv(tmp_path / "results.csv")
    truth = {Path(f).stem: Path(f).stem.split("_")[1] for f in table["file"]}
    assert all(truth[Path(f).stem] == k for f, k in zip(table["file"], table["interface_class"]))
    strained = table["file"].map(lambda f: Path(f).stem.endswith(("+1.6", "-1.6")))
    assert (table.loc[strained, "strain_verdict"] == "strained").all()
    assert (table.loc[~strained, "strain_verdict"] == "ok").all()
