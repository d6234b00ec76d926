"""A batch over a folder of images, then a plot of the results table.

    python examples/03_batch_and_plot.py [OUTPUT_FOLDER]

Simulates six small images (both systems; bilayer, vdW and deteriorated interfaces; TiN strained by 0,
+1.6 and -1.6 %) into OUTPUT_FOLDER/images, analyses the folder with stemlayers.batch.run_batch (as
``stemlayers batch images --out results.csv`` does), and plots each image's TiN in-plane deviation with
its 95 % CI against the ±1 % criterion, coloured by interface class.
"""

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from stemlayers.batch import run_batch  # noqa: E402
from stemlayers.simulate import SimulationParams, simulate, write_simulation  # noqa: E402

out = Path(sys.argv[1] if len(sys.argv) > 1 else "example_output")
images = out / "images"
images.mkdir(parents=True, exist_ok=True)
cases = [("Bi2Te3/TiN", "bilayer", 0.0), ("Bi2Te3/TiN", "vdw", 1.6), ("Bi2Te3/TiN", "deteriorated", -1.6),
         ("Bi2Se3/TiN", "bilayer", 1.6), ("Bi2Se3/TiN", "vdw", 0.0), ("Bi2Se3/TiN", "deteriorated", 0.0)]
for k, (system, interface, strain) in enumerate(cases):
    sim = simulate(SimulationParams(system=system, interface=interface, tin_strain_pct=strain, shape=(320, 320),
                                    dose=200, seed=10 + k))
    write_simulation(sim, images / f"{system.split('/')[0]}_{interface}_{strain:+.1f}.hspy")

result = run_batch([str(images)], out / "results.csv", figures=False)
print(f"{result.n_ok} analysed, {result.n_failed} failed -> {result.table}")

table = pd.read_csv(result.table)
table["name"] = table["file"].map(lambda f: Path(f).stem)
print(table[["name", "system", "interface_class", "tin_inplane_deviation_pct", "strain_verdict"]].to_string(index=False))

fig, ax = plt.subplots(figsize=(7, 3.5), constrained_layout=True)
ax.axhspan(-1, 1, color="tab:green", alpha=0.12, lw=0, label="±1 % criterion")
colors = {"bilayer": "tab:orange", "vdw": "tab:blue", "deteriorated": "tab:red"}
for klass, rows in table.groupby("interface_class"):
    low = rows["tin_inplane_deviation_pct"] - rows["tin_inplane_ci95_lo_pct"]
    high = rows["tin_inplane_ci95_hi_pct"] - rows["tin_inplane_deviation_pct"]
    ax.errorbar(rows["name"], rows["tin_inplane_deviation_pct"], yerr=[low, high], fmt="o", capsize=3,
                color=colors.get(klass, "tab:gray"), label=klass)
ax.set_ylabel("TiN in-plane a deviation (%)")
ax.set_title("TiN strain per image (error bars: 95 % CI)")
ax.tick_params(axis="x", labelrotation=30, labelsize=7)
ax.legend(fontsize=7)
fig.savefig(out / "strain_per_image.png", dpi=120)
print(f"wrote {out / 'strain_per_image.png'}")
