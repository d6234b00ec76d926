"""A Report as tables and files: columns and planes as DataFrames, JSON, CSV, an atomap lattice.

The CLI, the batch and the napari plugin all export through these functions,
so a column's plane, material and uncertainty mean the same everywhere.
Every file is written atomically (a temporary file in the same folder, then
renamed), so an export that fails half way leaves no partial file behind.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np

from ..io.write import write_json, write_text_atomic

__all__ = ["columns_table", "layers_table", "write_report_json", "write_sublattice", "write_tables"]


def columns_table(report):
    """One row per atomic column, with its plane.

    Parameters
    ----------
    report : Report

    Returns
    -------
    pandas.DataFrame
        ``x_px``, ``y_px`` (pixel centres, x = image column), ``x_A``,
        ``y_A``, ``x_err_pm``, ``y_err_pm`` (1σ), ``amplitude`` (counts above
        background), ``sigma_A`` (Gaussian width), ``background``,
        ``significance`` (σ above a flat background), ``plane`` (index into
        the report's ``layers``, -1 for none), ``material``, ``element`` (empty
        strings for columns in no plane), ``plane_height_A`` (NaN for those),
        ``element_probability`` (the plane's element's posterior probability from
        the image's own brightness groups, NaN where none) and
        ``integrated_intensity`` (the fitted Gaussian's volume, counts x px²).
    """
    import pandas as pd

    columns = report.columns
    n = 0 if columns is None else len(columns)
    px = float(report.pixel_size_A)
    if n == 0:
        xy = err = np.zeros((0, 2))
        amplitude = sigma = background = significance = np.zeros(0)
    else:
        xy, err = np.asarray(columns.xy, float), np.asarray(columns.xy_err, float)
        amplitude, sigma = columns.amplitude, columns.sigma
        background, significance = columns.background, columns.significance
    plane = np.full(n, -1) if report.plane_of_column is None else np.asarray(report.plane_of_column, int)
    planes = report.planes
    in_plane = plane >= 0
    pick = np.where(in_plane, plane, 0)

    def per_plane(key, none):
        values = [getattr(p, key) for p in planes]
        values = np.array([none if v is None else v for v in values] or [none], dtype=object)
        return np.where(in_plane, values[pick], none)

    return pd.DataFrame({
        "x_px": xy[:, 0], "y_px": xy[:, 1], "x_A": xy[:, 0] * px, "y_A": xy[:, 1] * px,
        "x_err_pm": err[:, 0] * px * 100, "y_err_pm": err[:, 1] * px * 100,
        "amplitude": amplitude, "sigma_A": np.asarray(sigma) * px, "background": background,
        "significance": significance, "plane": plane,
        "material": per_plane("material", "").astype(str), "element": per_plane("element", "").astype(str),
        "plane_height_A": per_plane("height_A", np.nan).astype(float),
        "element_probability": np.array([np.nan if v is None else v for v in per_plane("element_probability", None)],
                                        float),
        "integrated_intensity": amplitude * 2 * np.pi * np.asarray(sigma, float) ** 2,
    })


def layers_table(report):
    """One row per atomic plane, from the substrate up (the report's ``planes``, with ``plane`` first)."""
    import dataclasses

    import pandas as pd

    from ..structure.grouping import AtomicPlane

    columns = [f.name for f in dataclasses.fields(AtomicPlane)]
    table = pd.DataFrame([dataclasses.asdict(p) for p in report.planes], columns=columns)
    table.insert(0, "plane", np.arange(len(table)))
    return table


def write_report_json(report, path) -> Path:
    """The report's ``to_dict()`` as indented JSON at `path`."""
    return write_json(report.to_dict(), path)


def write_tables(report, path) -> tuple[Path, Path]:
    """Write ``STEM_columns.csv`` and ``STEM_layers.csv`` for `path` = ``STEM.csv`` (or ``STEM``).

    Returns
    -------
    (Path, Path)
        The columns table and the planes table.
    """
    path = Path(path)
    stem = path.with_suffix("") if path.suffix.lower() == ".csv" else path
    written = []
    for kind, table in (("columns", columns_table(report)), ("layers", layers_table(report))):
        target = stem.with_name(f"{stem.name}_{kind}.csv")
        written.append(write_text_atomic(target, table.to_csv(index_label="column" if kind == "columns" else None,
                                                                index=kind == "columns")))
    return tuple(written)


def write_sublattice(report, path) -> Path:
    """The columns as an atomap Atom_Lattice file (HDF5; ``.hdf5`` or ``.hspy``).

    Read it back with ``atomap.api.load_atom_lattice_from_hdf5(path)``: one
    sublattice holds every column with its fitted position, width and amplitude.
    """
    from ..columns.find import quiet_atomap

    with quiet_atomap():
        import atomap.api as am
    if report.columns is None or report.image is None:
        raise ValueError("the report holds no columns or image to export")
    path = Path(path)
    sublattice = report.columns.to_atomap(report.image, name="columns")
    lattice = am.Atom_Lattice(image=np.asarray(report.image.data), name=str(report.file),
                              sublattice_list=[sublattice])
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:8]}{path.suffix}")
    try:
        lattice.save(str(tmp), overwrite=True)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
