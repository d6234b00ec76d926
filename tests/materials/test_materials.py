"""Material systems load from TOML, match the reference numbers, and bad files name the bad key."""

import numpy as np
import pytest

from stemlayers.materials import BUNDLED_DIR, MaterialsError, list_systems, load_system


def test_bundled_systems_are_listed():
    names = list_systems()
    assert "Bi2Te3/TiN" in names and "Bi2Se3/TiN" in names


@pytest.mark.parametrize("name", ["Bi2Te3/TiN", "bi2te3-tin", "Bi2Te3", str(BUNDLED_DIR / "Bi2Te3-TiN.toml")])
def test_names_aliases_and_paths_find_the_same_system(name):
    assert load_system(name).name == "Bi2Te3/TiN"


@pytest.mark.parametrize(
    "name, film_period, ratio, ql_thickness, ql_period",
    [("Bi2Te3/TiN", 3.798, 1.463, 7.564, 10.166), ("Bi2Se3/TiN", 3.588, 1.382, 6.968, 9.545)],
)
def test_numbers_match_the_reference(name, film_period, ratio, ql_thickness, ql_period):
    s = load_system(name)
    # TiN(111) seen along <1-10>, from a = 4.24 Å
    assert s.substrate.plane_spacing_A == pytest.approx(4.24 / np.sqrt(3), abs=1e-3)
    assert s.substrate.inplane_a_A == pytest.approx(4.24 / np.sqrt(2), abs=1e-3)
    assert s.substrate.projected_period_A == pytest.approx(s.substrate.inplane_a_A * np.sqrt(3) / 2, abs=1e-3)
    assert s.film.projected_period_A == pytest.approx(film_period, abs=1e-3)
    assert s.film.projected_period_A == pytest.approx(s.film.lattice_a_A * np.sqrt(3) / 2, abs=1e-3)
    assert s.inplane_ratio == pytest.approx(ratio, abs=2e-3)
    assert s.ql_thickness_A == pytest.approx(ql_thickness, abs=1e-3)
    assert s.film.ql_period_A == pytest.approx(ql_period, abs=1e-3)
    assert s.film.ql_period_A == pytest.approx(s.film.lattice_c_A / 3, abs=1e-3)
    assert s.strain.threshold_pct == 1.0
    assert s.strain.reference_inplane_A == pytest.approx(2.998)


@pytest.mark.parametrize("name", ["Bi2Te3/TiN", "Bi2Se3/TiN"])
def test_relative_intensities_follow_z_to_the_1p7_per_atom_over_beam_spacing(name):
    s = load_system(name)
    z = s.contrast.atomic_number
    ti = z["Ti"] ** s.contrast.exponent / s.substrate.beam_spacing_A
    for element in set(s.film.ql_elements):
        expected = z[element] ** s.contrast.exponent / s.film.beam_spacing_A / ti
        assert s.intensity(element) == pytest.approx(expected, rel=0.01)
    # Bi columns are 6-10x brighter than Ti: the detection challenge
    assert 6 < s.intensity("Bi") < 10


@pytest.fixture
def user_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("STEMLAYERS_MATERIALS", str(tmp_path))
    return tmp_path


def _bundled_text():
    return (BUNDLED_DIR / "Bi2Te3-TiN.toml").read_text(encoding="utf-8")


def test_user_system_is_found_without_touching_code(user_folder):
    text = _bundled_text().replace('name = "Bi2Te3/TiN"', 'name = "Sb2Te3/TiN"')
    text = text.replace('aliases = ["Bi2Te3-TiN", "Bi2Te3"]', 'aliases = ["Sb2Te3"]')
    text = text.replace("lattice_a_A = 4.386", "lattice_a_A = 4.264")
    (user_folder / "Sb2Te3-TiN.toml").write_text(text, encoding="utf-8")
    assert "Sb2Te3/TiN" in list_systems()
    s = load_system("sb2te3")
    assert s.film.lattice_a_A == 4.264
    assert s.path.startswith(str(user_folder))


@pytest.mark.parametrize(
    "old, new, key",
    [
        ("vdw_gap_A = 2.598", "", "film.vdw_gap_A"),  # missing
        ("lattice_a_A = 4.24", 'lattice_a_A = "4.24"', "substrate.lattice_a_A"),  # wrong type
        ("ql_period_A = 10.166", "ql_period_A = 12.0", "film.ql_period_A"),  # inconsistent
        ("ql_spacings_A = [1.747, 2.035, 2.035, 1.747]", "ql_spacings_A = [1.747, 2.035]", "film.ql_spacings_A"),
        ("tin_gap_A = 2.90", "tin_gap_A = -2.90", "vdw.tin_gap_A"),  # impossible length
        ("threshold_pct = 1.0", "threshold_pct = 1.0\nthreshold = 2", "strain.threshold"),  # unknown key
        ("Bi = 6.53, ", "", "contrast.relative_intensity"),  # element without an intensity
    ],
)
def test_malformed_file_names_the_bad_key(tmp_path, old, new, key):
    text = _bundled_text()
    assert old in text
    bad = tmp_path / "bad.toml"
    bad.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(MaterialsError) as info:
        load_system(bad)
    assert key in str(info.value) and "bad.toml" in str(info.value)


def test_invalid_toml_syntax_names_the_file(tmp_path):
    bad = tmp_path / "broken.toml"
    bad.write_text("name = [unclosed\n", encoding="utf-8")
    with pytest.raises(MaterialsError, match="broken.toml.*not valid TOML"):
        load_system(bad)


def test_unknown_system_lists_the_known_ones():
    with pytest.raises(MaterialsError, match="no material system.*Bi2Te3/TiN"):
        load_system("NbN/Si")


def test_materials_error_is_a_value_error():
    assert issubclass(MaterialsError, ValueError)
