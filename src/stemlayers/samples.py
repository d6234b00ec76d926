"""The bundled sample images: a catalogue, and a file for each wherever stemlayers is installed.

Every sample comes from stemlayers' own simulator with a fixed seed. In a
source checkout the files are in ``sample_images/``; elsewhere (a wheel) the
same file is simulated once into the user cache folder, bit for bit the same.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["COMMON", "SAMPLES", "sample_file", "sample_names", "sample_params"]

# name, what it shows, simulation parameters (everything else at COMMON or the defaults)
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

#: Artefacts every sample has, as a real scan would.
COMMON = dict(shape=(512, 512), jitter_px=0.1, drift_shear=0.001, background=0.08, background_ramp=0.05,
              read_noise=0.5, tail_fraction=0.06)

# src/stemlayers/samples.py -> the checkout's sample_images/
_CHECKOUT = Path(__file__).resolve().parents[2] / "sample_images"


def sample_names() -> list[str]:
    """File names of the samples, in catalogue order."""
    return [name for name, _, _ in SAMPLES]


def sample_params(name: str):
    """The :class:`~stemlayers.simulate.SimulationParams` of sample `name`."""
    from .simulate import SimulationParams

    for sample, _, kwargs in SAMPLES:
        if sample == name:
            return SimulationParams(**{**COMMON, **kwargs})
    raise KeyError(f"{name}: not a sample image; the samples are {', '.join(sample_names())}")


def sample_file(name: str, folder=None) -> Path:
    """The path of sample `name`, simulating it into `folder` (the user cache) when not bundled.

    Parameters
    ----------
    name : str
        One of :func:`sample_names`.
    folder : path, optional
        Where to look first and write a missing sample; by default the
        checkout's ``sample_images/`` and then ``<user cache>/stemlayers/samples``.

    Returns
    -------
    Path
        A calibrated image file with its ``.truth.json`` beside it.
    """
    params = sample_params(name)
    if folder is None:
        if (_CHECKOUT / name).exists():
            return _CHECKOUT / name
        from platformdirs import user_cache_dir

        folder = Path(user_cache_dir("stemlayers")) / "samples"
    path = Path(folder) / name
    if not path.exists():
        from .simulate import simulate, write_simulation

        path.parent.mkdir(parents=True, exist_ok=True)
        write_simulation(simulate(params), path)
    return path
