"""A material system of your own, as data: Bi2Te3 on NbN(111) from a TOML file, no code changed.

    python examples/02_custom_material_system.py [OUTPUT_FOLDER]

Copies the bundled Bi2Te3/TiN file and replaces the substrate's numbers by NbN's (rock salt, a = 4.39 Å;
the (111) net's hexagonal a = a/sqrt2 = 3.104 Å, its projected column period a_hex*sqrt3/2 = 2.688 Å,
d(111) = a/sqrt3 = 2.535 Å) and the relative column intensities (Z^1.7 per atom over the atom spacing
along the beam). The numbers are for the example: check them against your own references before use.
Then simulates an image with that system and analyses it, naming the TOML file as the system.
"""

import sys
from pathlib import Path

import stemlayers
from stemlayers.materials import load_system
from stemlayers.simulate import SimulationParams, simulate

out = Path(sys.argv[1] if len(sys.argv) > 1 else "example_output")
out.mkdir(parents=True, exist_ok=True)

bundled = Path(stemlayers.__file__).parent / "materials" / "Bi2Te3-TiN.toml"
text = bundled.read_text(encoding="utf-8")
replacements = {
    'name = "Bi2Te3/TiN"': 'name = "Bi2Te3/NbN"',
    'aliases = ["Bi2Te3-TiN", "Bi2Te3"]': 'aliases = ["Bi2Te3-NbN"]',
    'name = "TiN"': 'name = "NbN"',
    'metal = "Ti"': 'metal = "Nb"',
    "lattice_a_A = 4.24\n": "lattice_a_A = 4.39\n",
    "plane_spacing_A = 2.448 ": "plane_spacing_A = 2.535 ",
    "inplane_a_A = 2.998 ": "inplane_a_A = 3.104 ",
    "projected_period_A = 2.596 ": "projected_period_A = 2.688 ",
    "beam_spacing_A = 2.998 ": "beam_spacing_A = 3.104 ",
    "atomic_number = { Ti = 22, N = 7, Bi = 83, Te = 52 }": "atomic_number = { Nb = 41, N = 7, Bi = 83, Te = 52 }",
    "relative_intensity = { Ti = 1.0, N = 0.143, Bi = 6.53, Te = 2.95 }":
        "relative_intensity = { Nb = 1.0, N = 0.050, Bi = 2.35, Te = 1.06 }",
    "reference_inplane_A = 2.998 ": "reference_inplane_A = 3.104 ",
    'band_elements = ["Bi", "Te", "Ti"]': 'band_elements = ["Bi", "Te", "Nb"]',
}
for old, new in replacements.items():
    if old not in text:
        sys.exit(f"{bundled}: expected {old!r} in it; the example needs updating")
    text = text.replace(old, new)
toml = out / "Bi2Te3-NbN.toml"
toml.write_text(text, encoding="utf-8")

system = load_system(toml)  # checked: a missing or inconsistent number is a one-line error naming the key
print(f"{system.name}: {system.substrate.name} projected period {system.substrate.projected_period_A} Å, "
      f"film/substrate period ratio {system.film.projected_period_A / system.substrate.projected_period_A:.3f}")

sim = simulate(SimulationParams(system=str(toml), interface="vdw", shape=(384, 384), pixel_size_A=0.1, seed=4))
report = stemlayers.analyze(stemlayers.load(sim.data, pixel_size=sim.pixel_size_A), system=str(toml))
print(f"analysed as {report.system}: interface {report.interface.interface_class} "
      f"(truth {sim.truth.interface}); {system.substrate.name} in-plane a "
      f"{report.strain.tin_inplane_A:.4f} ± {report.strain.tin_inplane_err_A:.4f} Å (truth "
      f"{sim.truth.tin_inplane_A:.4f} Å), strain {report.strain.strain_verdict}")
print(f"evidence: {report.interface.evidence[0]}")
