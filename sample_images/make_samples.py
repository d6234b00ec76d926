"""Regenerate the bundled sample images and their truth, deterministically.

    python sample_images/make_samples.py

Every image comes from stemlayers' own simulator with a fixed seed, so the
files (and their ``NAME.truth.json``) are the same on every run. The catalogue
(``stemlayers.samples.SAMPLES``) is also what the napari plugin offers under
File > Open Sample; the table in sample_images/README.md is written from it.
"""

from __future__ import annotations

from pathlib import Path

from stemlayers.samples import COMMON, SAMPLES, sample_params  # noqa: F401 - COMMON for the tests
from stemlayers.simulate import simulate, write_simulation

HERE = Path(__file__).parent


def main() -> None:
    rows = ["| file | shows | system | interface | Å/px | dose | TiN strain | rotation | mirrored |",
            "|---|---|---|---|---|---|---|---|---|"]
    for name, shows, _ in SAMPLES:
        params = sample_params(name)
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
