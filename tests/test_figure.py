"""The summary figure: drawn from a report built from the simulator's truth."""

from __future__ import annotations

import types

import numpy as np
import pytest
from matplotlib.figure import Figure

from stemlayers.figure import format_pm, plot_report, title_lines
from stemlayers.simulate import simulate


def fake_report(sim, rng=None):
    """A Report-like namespace made from the truth of a simulated image.

    Layers are the visible atomic planes (N planes are skipped), ordered by
    height; errors are small made-up numbers, one of them NaN and one None.
    """
    rng = np.random.default_rng(0) if rng is None else rng
    t = sim.truth
    visible = t.visible() & (t.plane >= 0)
    planes = [int(k) for k in np.unique(t.plane[visible]) if t.plane_element[k] != "N"]
    planes.sort(key=lambda k: t.plane_height_A[k])
    layer_of_plane = {k: i for i, k in enumerate(planes)}
    plane_of_column = np.array([layer_of_plane.get(int(k), -1) if v else -1
                                for k, v in zip(t.plane, visible)], dtype=int)

    layers = []
    for i, k in enumerate(planes):
        nxt = planes[i + 1] if i + 1 < len(planes) else None
        layers.append({
            "height_A": float(t.plane_height_A[k] - t.plane_height_A[t.top_tin_plane]),
            "height_err_A": 0.01,
            "spacing_to_next_A": (None if nxt is None
                                  else float(t.plane_height_A[nxt] - t.plane_height_A[k])),
            "spacing_err_A": None if nxt is None else 0.015,
            "material": str(t.plane_material[k]),
            "element": str(t.plane_element[k]),
            "inplane_period_A": float(t.plane_period_A[k]),
            "inplane_period_err_A": 0.003,
            "intensity": 1.0,
            "n_columns": int((plane_of_column == i).sum()),
            "scatter_A": 0.02,
        })
    if len(layers) > 2:
        layers[1]["spacing_err_A"] = float("nan")

    per_plane = [{"height_A": L["height_A"],
                  "tin_inplane_A": L["inplane_period_A"] * 2 / np.sqrt(3) + rng.normal(0, 0.004),
                  "tin_inplane_err_A": 0.004}
                 for L in layers if L["material"] == "TiN"]

    top = np.flatnonzero(t.plane == t.top_tin_plane)
    origin = t.xy[top].mean(axis=0) if top.size else None
    gap = next((L["spacing_to_next_A"] for L in layers if L["height_A"] == 0.0), None)
    return types.SimpleNamespace(
        image=types.SimpleNamespace(data=sim.data, pixel_size_A=sim.pixel_size_A),
        columns_xy=t.xy,
        plane_of_column=plane_of_column,
        layers=layers,
        growth_dir=np.asarray(t.growth_dir),
        origin_xy=origin,
        system=t.system,
        file="simulated_bilayer.tif",
        interface={"class": t.interface, "confidence": 0.93, "gap_A": gap, "gap_err_A": 0.02,
                   "evidence": ["two planes between TiN and the first QL"]},
        strain={"tin_inplane_A": 2.998, "tin_inplane_err_A": 0.004, "deviation_pct": 0.1,
                "ci95_pct": [-0.2, 0.4], "strain_ok": True, "reference_A": 2.998,
                "per_plane": per_plane},
        messages=[],
    )


def empty_report():
    return types.SimpleNamespace(
        image=None, columns_xy=None, plane_of_column=None, layers=[], growth_dir=None,
        origin_xy=None, system="Bi2Te3/TiN", file="empty.tif",
        interface={"class": None, "confidence": None, "gap_A": None, "gap_err_A": None,
                   "evidence": []},
        strain={"tin_inplane_A": None, "tin_inplane_err_A": None, "deviation_pct": None,
                "ci95_pct": [None, None], "strain_ok": None, "reference_A": None,
                "per_plane": []},
        messages=["no interface in the field"],
    )


@pytest.fixture(autouse=True)
def _disable_qt_warnings():
    """Shadow napari's autouse fixture of this name: it imports Qt, which a figure never needs."""


@pytest.fixture(scope="module")
def report():
    return fake_report(simulate(shape=(192, 192)))


@pytest.fixture(scope="module")
def svg_figure(report, tmp_path_factory):
    path = tmp_path_factory.mktemp("figure") / "report.svg"
    return plot_report(report, path, dpi=60), path


def _profile_axis(fig):
    return next(ax for ax in fig.axes if "spacing" in ax.get_ylabel())


def test_writes_png_and_svg(report, svg_figure, tmp_path):
    fig = plot_report(report, tmp_path / "report.png", dpi=60)
    assert isinstance(fig, Figure) and isinstance(svg_figure[0], Figure)
    png = (tmp_path / "report.png").read_bytes()
    assert len(png) > 1000 and png[:8] == b"\x89PNG\r\n\x1a\n"
    svg = svg_figure[1].read_bytes()
    assert len(svg) > 1000 and b"<svg" in svg[:2000]


def test_panels_points_and_reference_lines(report, svg_figure):
    fig = svg_figure[0]
    assert len(fig.axes) >= 3
    profile = _profile_axis(fig)
    n_points = sum(len(c.lines[0].get_xdata()) for c in profile.containers)
    n_spacings = sum(L["spacing_to_next_A"] is not None for L in report.layers)
    assert n_spacings >= 3 and n_points == n_spacings
    y_of_lines = [np.asarray(line.get_ydata(), dtype=float) for line in profile.get_lines()]
    assert any(y.size and np.allclose(y, 2.448, atol=1e-6) for y in y_of_lines)
    assert any("top TiN plane" in t.get_text() for t in profile.texts)
    # plane lines in the image panel, labelled with spacings
    image_ax = fig.axes[0]
    assert image_ax.get_xlabel() == "x (Å)" and len(image_ax.images) == 1
    assert any(t.get_text().endswith(" Å") and t.get_text()[0].isdigit() for t in image_ax.texts)
    strain_ax = next(ax for ax in fig.axes if "in-plane" in ax.get_ylabel())
    assert sum(len(c.lines[0].get_xdata()) for c in strain_ax.containers) == len(
        report.strain["per_plane"])


def test_title_has_numbers_with_units_and_errors(report):
    first, second = title_lines(report)
    assert "bilayer" in first and "confidence 0.93" in first and " ± 0.02 Å" in first
    assert "2.998 ± 0.004 Å" in second and "+0.10 %" in second  # the CLI's two decimals
    assert "95 % CI [-0.20, +0.40] %" in second and "strain < 1 %: yes" in second


def test_empty_report_still_draws(tmp_path):
    report = empty_report()
    fig = plot_report(report, tmp_path / "empty.png", dpi=50)
    assert len(fig.axes) >= 3
    assert (tmp_path / "empty.png").stat().st_size > 0
    texts = [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]
    assert "no ordered TiN planes" in texts
    assert any("class: not decidable" in t for t in texts)
    assert any("no interface in the field" in t for t in texts)


def test_columns_without_image_or_growth_direction(report):
    partial = types.SimpleNamespace(**vars(report))
    partial.image, partial.growth_dir, partial.origin_xy = None, None, None
    partial.system = "no such system"
    fig = plot_report(partial, dpi=50)
    assert fig.axes[0].get_xlabel() == "x (px)"
    assert len(_profile_axis(fig).containers) > 0


def test_format_pm():
    assert format_pm(2.6123, 0.02) == "2.61 ± 0.02 Å"
    assert format_pm(2.9981, 0.004) == "2.998 ± 0.004 Å"
    assert format_pm(None, 0.1) == "n/a"
    assert format_pm(2.5, float("nan")) == "2.500 Å"
