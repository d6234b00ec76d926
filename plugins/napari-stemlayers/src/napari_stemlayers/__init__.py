"""napari-stemlayers: open HAADF-STEM cross-sections, run the stemlayers analysis, see columns,
atomic planes, the spacing profile and the interface and strain verdicts as napari layers.

The plugin holds no analysis: it calls ``stemlayers.analyze`` (stage by stage)
and turns the Report into layers. napari finds it through ``napari.yaml``.
"""

__version__ = "0.1.0"
