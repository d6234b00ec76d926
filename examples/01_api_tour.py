"""A tour of the Python API: load an image, find its columns, analyse it, read the typed results.

    python examples/01_api_tour.py [OUTPUT_FOLDER]

Writes the report figure, the JSON report and the plane table into OUTPUT_FOLDER
(default: example_output/) and prints the verdicts with their units.
"""

import sys
from pathlib import Path

import stemlayers
from stemlayers.report.export import layers_table, write_report_json
from stemlayers.report.figure import plot_report
from stemlayers.samples import sample_file

out = Path(sys.argv[1] if len(sys.argv) > 1 else "example_output")
out.mkdir(parents=True, exist_ok=True)

# an image with its calibration (any dm3/dm4/emd/ser/hspy/tif works the same way)
image = stemlayers.load(sample_file("bi2te3_bilayer.hspy"))
print(f"{image.name}: {image.data.shape[1]} x {image.data.shape[0]} px at {image.pixel_size_A:.3f} Å/px")

# every atomic column, with sub-pixel positions and their 1σ errors; an atomap Sublattice if you want one
columns = stemlayers.find_columns(image)
print(f"{len(columns)} columns; median position error {100 * image.pixel_size_A * columns.xy_err.mean():.1f} pm")

# the whole analysis: planes, spacing profile, interface class, TiN strain
report = stemlayers.analyze(image)
interface, strain = report.interface, report.strain
print(f"system {report.system}; interface {interface.interface_class} (confidence {interface.confidence:.2f}), "
      f"gap {interface.gap_A:.3f} ± {interface.gap_err_A:.3f} Å")
print(f"TiN in-plane a {strain.tin_inplane_A:.4f} ± {strain.tin_inplane_err_A:.4f} Å "
      f"({strain.deviation_pct:+.2f} %, 95 % CI [{strain.ci95_pct[0]:+.2f}, {strain.ci95_pct[1]:+.2f}] %): "
      f"{strain.strain_verdict}")
for line in interface.evidence:
    print("  evidence:", line)

# the planes from the substrate up, as records and as a table
top = next(p for p in report.planes if p.height_A == 0.0)
print(f"top TiN plane: {top.n_columns} columns, spacing to the next plane {top.spacing_to_next_A:.3f} Å")
layers_table(report).to_csv(out / "planes.csv", index=False)
write_report_json(report, out / "report.json")
plot_report(report, out / "report.png")

# a saved report comes back as the same typed records
again = stemlayers.Report.from_dict(report.to_dict())
assert again.planes == report.planes and again.interface == report.interface
print(f"wrote {out / 'report.png'}, {out / 'report.json'} and {out / 'planes.csv'}")
