"""Regenerate the bundled sample images and their truth, deterministically.

    python sample_images/make_samples.py

Every image comes from stemlayers' own simulator with a fixed seed, so the
files (and their ``NAME.truth.json``) are the same on every run. The table in
sample_images/README.md is written from the same list.
"""

from __future__ import annotations

from pathlib import Path

from stemlayers.simulate import SimulationParams, simulate, write_simulation

HERE = Path(__file__).parent

# name, what it shows, simulation parameters (everything else at the defaults)
SAMPLES = [
    ("bi2te3_bilayer.hspy", "Bi2Te3/TiN with the BiTe bilayer (seed Fig. 1d)",
     dict(system="Bi2Te3/TiN", interface="bilayer", pixel_size_A=0.10, dose=150, seed=1)),
    ("bi2te3_vdw.tif", "Bi2Te3 directly on TiN across a vdW gap",
     dict(system="Bi2Te3/TiN", interface="vdw", pixel_size_A=0.10, dose=150, seed=2)),
    ("bi2te3_deteriorated.hspy", "Bi2Te3/TiN with a deteriorated, intermixed interface (seed Fig. 2d)",
     dict(system="Bi2Te3/TiN", interface="deteriorated", pixel_size_A=0.10, dose=150, seed=3)),
    ("bi2se3_bilayer.tif", "Bi2Se3/TiN with the BiSe bilayer (seed Fig. 1e)",
     dict(system="Bi2Se3/TiN", interface="bilayer", pixel_size_A=0.08, dose=100, seed=4)),
    ("bi2se3_vdw.hspy", "Bi2Se3 directly on TiN (seed Fig. S7, 70 nm TiN)",
     dict(system="Bi2Se3/TiN", interface="vdw", pixel_size_A=0.12, dose=200, seed=5)),
    ("bi2se3_deteriorated.tif", "Bi2Se3/TiN with a deteriorated interface",
     dict(system="Bi2Se3/TiN", interface="deteriorated", pixel_size_A=0.10, dose=120, seed=6)),
    ("bi2te3_bilayer_strained.hspy", "Bi2Te3/TiN bilayer, TiN strained in-plane by +2 %",
     dict(system="Bi2Te3/TiN", interface="bilayer", tin_strain_pct=2.0, pixel_size_A=0.10, dose=200, seed=7)),
    ("bi2se3_bilayer_rotated.emd", "Bi2Se3/TiN bilayer rotated by 197° and mirrored (TiN on top)",
     dict(system="Bi2Se3/TiN", interface="bilayer", rotation_deg=197.0, flip=True, pixel_size_A=0.09,
          dose=150, seed=8)),
]

# artefacts every sample has, as a real scan would
COMMON = dict(shape=(512, 512), jitter_px=0.1, drift_shear=0.001, background=0.08, background_ramp=0.05,
              read_noise=0.5, tail_fraction=0.06)


def main() -> None:
    rows = ["| file | shows | system | interface | Å/px | dose | TiN strain | rotation | mirrored |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, shows, kwargs in SAMPLES:
        params = SimulationParams(**{**COMMON, **kwargs})
        sim = simulate(params)
        write_simulation(sim, HERE / name)
        rows.append(f"| {name} | {shows} | {params.system} | {params.interface} | {params.pixel_size_A:.2f} | "
                    f"{params.dose:.0f} | {params.tin_strain_pct:+.1f} % | {params.rotation_deg:.0f}° | "
                    f"{'yes' if params.flip else 'no'} |")
        print(f"wrote {name}")
    readme = HERE / "README.md"
    text = readme.read_text(encoding="utf-8")
    start, end = "<!-- samples:start -->", "<!-- samples:end -->"
    head, rest = text.split(start)
    tail = rest.split(end)[1]
    readme.write_text(head + start + "\n" + "\n".join(rows) + "\n" + end + tail, encoding="utf-8")


if __name__ == "__main__":
    main()
