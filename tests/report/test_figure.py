"""The summary figure: drawn from a report built from the simulator's truth."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from matplotlib.figure import Figure

from stemlayers import analyze, load
from stemlayers.report.figure import format_inplane, format_value, plot_report, reference_spacings, title_lines
from stemlayers.report.figure.scalebar import SCALE_BAR_GID, scale_bar_label, scale_bar_length
from stemlayers.materials import load_system
from stemlayers.verdict.strain import Strain
from stemlayers.simulate import simulate


def report_of(sim):
    """The Report of a simulated image, analysed as a user would (the figure's input, not a stand-in)."""
    return analyze(load(sim.data, pixel_size=sim.pixel_size_A))


def empty_report():
    """The Report of a featureless field: nothing found, every panel empty."""
    flat = np.random.default_rng(0).normal(100.0, 1.0, (96, 96))
    return analyze(load(flat, pixel_size=0.1))


@pytest.fixture(autouse=True)
def _disable_qt_warnings():
    """Shadow napari's autouse fixture of this name: it imports Qt, which a figure never needs."""


@pytest.fixture(scope="module")
def report():
    return report_of(simulate(shape=(224, 200), pixel_size_A=0.18))


@pytest.fixture(scope="module")
def svg_figure(report, tmp_path_factory):
    path = tmp_path_factory.mktemp("figure") / "report.svg"
    return plot_report(report, path, dpi=60), path


def _profile_axis(fig):
    return next(ax for ax in fig.axes if "spacing" in ax.get_ylabel())


def _reference_texts(fig):
    """The reference-line labels of the profile panel (one string per line of text)."""
    texts = [t.get_text() for t in _profile_axis(fig).texts if "top " not in t.get_text()]
    return [line for t in texts for line in t.split("\n")]


def _hline_values(ax):
    """y of the horizontal lines of an axes."""
    out = []
    for line in ax.get_lines():
        y = np.asarray(line.get_ydata(), dtype=float)
        if y.size == 2 and y[0] == y[1]:
            out.append(float(y[0]))
    return out


@pytest.fixture(scope="module")
def reports_by_class():
    """Reports of the three interface classes, the specimen rotated on screen (as in real images)."""
    return {klass: report_of(simulate(shape=(224, 200), pixel_size_A=0.18, interface=klass, rotation_deg=25))
            for klass in ("bilayer", "vdw", "deteriorated")}


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
    n_spacings = sum(L.spacing_to_next_A is not None for L in report.planes)
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
        report.strain.per_plane)


def test_title_has_numbers_with_units_and_errors(report):
    first, second = title_lines(report, report.material_system)
    interface, strain = report.interface, report.strain
    assert interface.interface_class == "bilayer"  # the simulator's default interface
    assert f"class: bilayer (confidence {interface.confidence:.2f})" in first
    assert f"gap {format_value(interface.gap_A, interface.gap_err_A)}" in first and " Å" in first
    assert abs(strain.tin_inplane_A - 2.998) < 0.01  # the simulated TiN is unstrained
    assert f"TiN in-plane a = {format_inplane(strain)}" in second
    low, high = strain.ci95_pct
    assert f"95 % CI [{low:+.2f}, {high:+.2f}] %" in second  # the CLI's two decimals
    assert "strain < 1 %: ok" in second


def test_empty_report_still_draws(tmp_path):
    report = empty_report()
    fig = plot_report(report, tmp_path / "empty.png", dpi=50)
    assert len(fig.axes) >= 3
    assert (tmp_path / "empty.png").stat().st_size > 0
    texts = [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]
    assert "no atomic planes" in texts
    assert "no known material system:\nno substrate lattice parameter" in texts
    assert any("class: not decidable" in t for t in texts)
    assert any("signal-to-noise ratio" in t and "too weak to find columns" in t for t in texts)


def test_columns_without_image_or_growth_direction(report):
    partial = replace(report, image=None, growth_dir=None, origin_xy=None, system="no such system",
                      material_system=None, calibration=None, pixel_size_A=None)
    fig = plot_report(partial, dpi=50)
    assert fig.axes[0].get_xlabel() == "x (px)"
    assert len(_profile_axis(fig).containers) > 0


def test_title_deviation_two_decimals_and_stat_sys_parts(report):
    """Small deviations keep two decimals (as the CLI); TiN a shows its statistical and systematic parts."""
    r = replace(report, strain=replace(report.strain, tin_inplane_A=2.99753861, tin_inplane_err_A=0.0031007,
                                       deviation_pct=-0.0153898, ci95_pct=[-0.2181027, 0.1873232],
                                       tin_inplane_stat_err_A=0.00038377, tin_inplane_sys_err_A=0.00307684))
    second = title_lines(r)[1]
    assert "(-0.02 %, 95 % CI [-0.22, +0.19] %)" in second
    assert "-0.0 %" not in second and "[-0.2," not in second
    assert "a = 2.9975 ± 0.0004 (stat) ± 0.0031 (sys) Å" in second
    fig = plot_report(r, dpi=50)
    strain_ax = next(ax for ax in fig.axes if "in-plane" in ax.get_ylabel())
    legend = [t.get_text() for t in strain_ax.get_legend().get_texts()]
    assert "all planes 2.9975 ± 0.0004 (stat) ± 0.0031 (sys) Å" in legend


def test_format_inplane_falls_back_to_total_error():
    none = Strain.not_measured("no system")
    assert format_inplane(replace(none, tin_inplane_A=2.9981, tin_inplane_err_A=0.004)) == "2.998 ± 0.004 Å"
    assert format_inplane(none) == "n/a" and format_inplane(None) == "n/a"
    both = replace(none, tin_inplane_A=3.01, tin_inplane_stat_err_A=0.002, tin_inplane_sys_err_A=0.003)
    assert format_inplane(both) == "3.010 ± 0.002 (stat) ± 0.003 (sys) Å"


def test_reference_spacings_follow_the_interface_class():
    system = load_system("Bi2Te3/TiN")
    names = {k: [t for t, _ in reference_spacings(system, k)]
             for k in ("bilayer", "vdw", "deteriorated", None)}
    assert all(t.endswith(" Å") for ts in names.values() for t in ts)
    for k in names:
        assert "TiN d(111) 2.448 Å" in names[k] and "QL Te1–Bi 1.747 Å" in names[k]
        assert "vdW gap between QLs 2.598 Å" in names[k]
    # every value to the pm
    assert {"TiN–bilayer gap 2.600 Å", "bilayer Bi–Te 3.300 Å", "bilayer–QL gap 2.600 Å"} <= set(names["bilayer"])
    assert "TiN–QL vdW contact 2.900 Å" in names["vdw"]
    assert not any("bilayer" in t for k in ("vdw", "deteriorated", None) for t in names[k])
    assert names["deteriorated"] == names[None] and len(names["deteriorated"]) == 4


def test_profile_reference_lines_of_each_class(reports_by_class):
    system = load_system("Bi2Te3/TiN")
    for klass, r in reports_by_class.items():
        fig = plot_report(r, dpi=60)
        texts = _reference_texts(fig)
        lines = _hline_values(_profile_axis(fig))
        assert any(t.startswith("vdW gap between QLs") for t in texts)
        assert not any(t.startswith("vdW gap ") and "between" not in t for t in texts)
        has_bilayer = any("bilayer" in t for t in texts)
        assert has_bilayer == (klass == "bilayer"), (klass, texts)
        assert any(np.isclose(y, system.bilayer.spacing_A) for y in lines) == (klass == "bilayer")
        assert any("vdW contact" in t for t in texts) == (klass == "vdw")
        assert any(np.isclose(y, system.vdw.tin_gap_A) for y in lines) == (klass == "vdw")
        assert len(texts) == len({round(v, 3) for v in lines})  # every distinct line labelled once


def test_unassigned_columns_in_the_legend(reports_by_class):
    r = reports_by_class["vdw"]
    n_none = int((r.plane_of_column < 0).sum())
    assert n_none > 0
    fig = plot_report(r, dpi=60)
    legend = fig.axes[0].get_legend()
    assert legend is not None
    assert f"unassigned column ({n_none})" in [t.get_text() for t in legend.get_texts()]
    # no legend when every column is in a plane
    r2 = replace(r, plane_of_column=np.where(r.plane_of_column < 0, 0, r.plane_of_column))
    assert plot_report(r2, dpi=60).axes[0].get_legend() is None


def test_scale_bar_in_the_lower_left(report):
    fig = plot_report(report, dpi=60)
    ax = fig.axes[0]
    bars = [a for a in ax.artists if a.get_gid() == SCALE_BAR_GID]
    assert len(bars) == 1
    texts = [c.get_text() for c in bars[0].get_child().get_children() if hasattr(c, "get_text")]
    width_A = report.image.data.shape[1] * report.image.pixel_size_A
    assert texts == [scale_bar_label(scale_bar_length(width_A))]
    box, frame = bars[0].get_window_extent(), ax.get_window_extent()
    assert frame.x0 <= box.x0 and box.x1 < frame.x0 + 0.5 * frame.width
    assert frame.y0 <= box.y0 and box.y1 < frame.y0 + 0.25 * frame.height
    # no scale bar without a pixel size
    partial = replace(report, image=replace(report.image, pixel_size_A=None), calibration=None, pixel_size_A=None)
    assert not [a for a in plot_report(partial, dpi=50).axes[0].artists
                if a.get_gid() == SCALE_BAR_GID]


def test_scale_bar_lengths():
    assert scale_bar_length(46.0) == 10.0 and scale_bar_label(10.0) == "1 nm"
    assert scale_bar_length(19.2) == 2.0 and scale_bar_label(2.0) == "2 Å"
    assert scale_bar_length(204.8) == 50.0 and scale_bar_label(50.0) == "5 nm"
    assert scale_bar_length(float("nan")) is None


@pytest.mark.parametrize("shape", [(192, 192), (128, 256), (256, 150)])
def test_image_panel_takes_at_least_45_percent_of_the_width(shape):
    r = report_of(simulate(shape=shape))
    fig = plot_report(r, dpi=50)
    position = fig.axes[0].get_position()  # the drawn (aspect-adjusted) box, in figure fractions
    assert position.width >= 0.45
    assert position.height <= 1.0


def test_plane_labels_inside_the_axes_and_apart(reports_by_class):
    for klass, r in reports_by_class.items():
        fig = plot_report(r, dpi=80)
        ax = fig.axes[0]
        labels = [t for t in ax.texts if t.get_text().endswith(" Å")]
        n_spacings = sum(L.spacing_to_next_A is not None for L in r.planes)
        assert len(labels) >= max(1, n_spacings // 2), klass
        frame = ax.get_window_extent()
        for label in labels:
            box = label.get_window_extent()
            assert frame.x0 <= box.x0 and box.x1 <= frame.x1, (klass, label.get_text())
            assert frame.y0 <= box.y0 and box.y1 <= frame.y1, (klass, label.get_text())
        # labels of neighbouring planes are not written on top of each other
        centers = np.array([label.get_window_extent().get_points().mean(axis=0) for label in labels])
        if len(centers) > 1:
            d = np.hypot(*(centers[:, None] - centers[None]).transpose(2, 0, 1))
            assert d[np.triu_indices(len(centers), 1)].min() > 0.8 * 6 * 80 / 72


def test_format_value_gives_the_digits_its_uncertainty_earns():
    assert format_value(2.6123, 0.02) == "2.61 ± 0.02 Å"
    assert format_value(2.9981, 0.004) == "2.998 ± 0.004 Å"
    assert format_value(None, 0.1) == "n/a"
    assert format_value(2.5, float("nan")) == "2.500 Å"


def test_the_interface_strip_is_coloured_by_segment_class():
    from stemlayers.report.figure._style import CLASS_COLORS
    from stemlayers.simulate import SimulationParams

    sim = simulate(SimulationParams(system="Bi2Te3/TiN", shape=(420, 1000), pixel_size_A=0.1, seed=3, segments=(
        (-1e3, "bilayer", 0), (-25.0, "vdw", 0), (0.0, "bilayer", 0), (25.0, "vdw", 0))))
    report = analyze(load(sim.data, pixel_size=sim.pixel_size_A))
    image_ax = plot_report(report, dpi=50).axes[0]
    legend = image_ax.get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == ["bilayer", "vdw"]
    strips = [line for line in image_ax.get_lines() if line.get_linewidth() == 3.0]
    assert [line.get_color() for line in strips] == [CLASS_COLORS[s.interface_class] for s in report.interface.segments]
    # the strip runs along the interface: its ends at the segments' pixel positions, in Å
    assert strips[0].get_xdata()[0] == pytest.approx(report.interface.segments[0].start_px[0] * 0.1, rel=1e-3)
