"""Which system a field shows, and at what scale: the identify arrow of the data flow.

The planes are grouped under each candidate growth axis and material system
(:func:`stemlayers.structure.grouping.group_layers`) and the system is chosen by
calibration-free cues (:func:`stemlayers.verdict.identify.system_score`). The file's
pixel size comes first; when it shows no system in full, the pixel sizes
that turn a column step of the image into a known period are tried, up to
2.2x either way, then (where no step names one) scales that tile that range
with the field-scale search's own reach; the film sets the scale.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from ..columns.find import (CLOSEST_PAIR_A, MIN_SIGNIFICANCE, N_SATELLITE_A, SATELLITE_DISTANCE_A, Columns,
                            find_columns)
from ..io.read import Image
from ..materials import MaterialSystem
from ..structure.grouping import group_layers
from ..structure.orient import growth_axes, in_plane_step
from ..structure.planes import FIELD_SCALE_RANGE, at_search_bound
from .identify import detect_system, structure_cues, system_score

__all__ = ["FieldScale", "LARGEST_FILE_ERROR", "RECALIBRATE_ABOVE", "planes_and_system", "scale_trials"]

#: A file calibration further than this from the film lattice's has its columns found again at the film's scale.
RECALIBRATE_ABOVE = 0.04
# Light columns beside heavy ones (Ti beside Bi under a steep Z contrast, at a low dose) may each stand
# only 4-6 standard deviations out, though the lattice they make is plain. Columns down to this
# significance are looked for when part of the system is missing, and kept only where they make
# TiN planes: a lone 4-sigma peak may be noise, a periodic, ABC-stacked plane of them is not.
FAINT_SIGNIFICANCE = 4.0
def _strength(cues) -> int:
    """How much of a found system shows: 1, plus one each for its substrate, its film and their period ratio."""
    return 1 + cues.substrate_fits + cues.film_fits + cues.ratio_fits


def _group_and_identify(columns, candidates, pixel_size_A, shape, periods, max_axes=None):
    """Planes grouped under each candidate growth axis and system; the axis that shows the most structure.

    An axis under which the substrate, the film and their period ratio all
    fit a known system ends the search; otherwise the axis whose best system
    fits the most of those three wins (None if no axis shows any).

    Returns
    -------
    (dict, MaterialSystem or None, int)
        The LayerSets per system name under the chosen axis, the system the
        field shows, and how much of it shows (0: none; 1 + one each for
        substrate, film and period ratio: 4 is all of it).
    """
    best = None
    for orientation in growth_axes(columns.xy, columns.amplitude, pixel_size_A, periods)[:max_axes]:
        layersets = {s.name: group_layers(columns, orientation, s, pixel_size_A, shape) for s in candidates}
        found = detect_system(layersets, candidates)
        strength = 0
        if found is not None:
            cues = structure_cues(layersets[found.name], found)
            strength = _strength(cues)
        if best is None or strength > best[0]:
            best = (strength, layersets, found)
        if strength == 4:
            break
    return best[1], best[2], best[0]


#: Pixel-size errors the search covers: the file's pixel size may be this many times too small or too large.
LARGEST_FILE_ERROR = 2.2


@dataclass(frozen=True)
class FieldScale:
    """The pixel size the planes were grouped at, and the film's verdict on the file's.

    Attributes
    ----------
    working_pixel_size_A : float
        The file's pixel size times the trial factor that showed the system.
    file_factor : float or None
        The file's pixel size over the one the film lattice implies (None:
        no film standard in the field).
    """

    working_pixel_size_A: float
    file_factor: float | None


def _columns_key(columns) -> bytes:
    """A digest of everything a grouping reads from `columns`: equal digests, equal groupings."""
    digest = hashlib.blake2b(digest_size=16)
    for array in (columns.xy, columns.amplitude, columns.sigma, columns.background, columns.xy_err,
                  columns.significance, columns.reduced_chi2, columns.converged):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update(repr((columns.pixel_size_A, columns.separation_px)).encode())
    return digest.digest()


def _grouping_once(candidates, shape, periods):
    """:func:`_group_and_identify` for one image, remembering each result.

    A column finder rerun at another scale, or with fainter columns, often
    returns the very columns it had: they are then not grouped again.
    """
    done = {}

    def group_and_identify(columns, pixel_size_A, max_axes=None):
        key = (_columns_key(columns), pixel_size_A, max_axes)
        if key not in done:
            done[key] = _group_and_identify(columns, candidates, pixel_size_A, shape, periods, max_axes)
        return done[key]

    return group_and_identify


#: Trial factors on the file's pixel size that, with the field-scale search's ±FIELD_SCALE_RANGE about each and
#: about the file's own, cover every file error from 0.42x to 2.3x, each reach overlapping the next by 7 %.
SCALE_TILES = tuple(float((0.93 * (1 + FIELD_SCALE_RANGE) / (1 - FIELD_SCALE_RANGE)) ** k) for k in (-1, 1, -2, 2))

#: The scale columns were found at, over the film's, between which the finder's satellite rule (in Å) still
#: drops an N beside Ti and keeps the closest pair of real columns.
SATELLITE_RULE_HOLDS = (SATELLITE_DISTANCE_A / CLOSEST_PAIR_A, SATELLITE_DISTANCE_A / N_SATELLITE_A)

#: Largest disagreement (log) of the film's two rulers, in-plane period and QL thickness: more than any scan
#: distortion, less than a period taken for a whole fraction of itself.
RULERS_AGREE = 0.15


def film_factor(layerset, trial):
    """The file's pixel size over the film's, from a grouping at `trial` x the file's.

    None when there is no film standard, or when its in-plane period and its
    QL thickness disagree about the scale (a grouping that took some other
    lattice row for the film's).
    """
    calibration = layerset.calibration
    if calibration is None or calibration.inplane_scale is None:
        return None
    growth = calibration.growth_scale
    if growth is not None and abs(np.log(growth / calibration.inplane_scale)) > RULERS_AGREE:
        return None
    return calibration.inplane_scale / trial


def _film_factor_of(layersets, found, trial):
    """:func:`film_factor` of the found system's grouping, None when no system was found."""
    return film_factor(layersets[found.name], trial) if found is not None else None


def scale_trials(columns, pixel_size_A, candidates, n_axes=2):
    """Factors on the file's pixel size worth a grouping: 1, then those that make a column step a known period.

    Along the lines of each of the first candidate plane normals, the step
    between neighbouring columns is read in pixels, so it needs no
    calibration: the step of the bright columns (the film's, where there is
    a film) against the films' periods, the step of all columns against the
    substrates'. Each factor that turns a step into a period is where that
    material would be; factors within 10 % of 1 (the file's own grouping
    absorbs ±20 %) or of each other are tried once.

    Returns
    -------
    list of float
        1.0 first.
    """
    weight = np.clip(columns.amplitude, 0, None)
    xy_A = columns.xy * pixel_size_A
    bright = xy_A[weight >= np.median(weight)]
    films = {s.film.projected_period_A for s in candidates}
    substrates = {s.substrate.projected_period_A for s in candidates}
    trials = [1.0]
    for axis in growth_axes(columns.xy, columns.amplitude, pixel_size_A)[:n_axes]:
        for points, periods in ((bright, films), (xy_A, substrates)):
            step_A = in_plane_step(points, axis.angle_deg)
            if not (np.isfinite(step_A) and step_A > 0):
                continue
            for factor in sorted(period / step_A for period in periods):
                if (abs(np.log(factor)) <= np.log(LARGEST_FILE_ERROR)
                        and all(abs(np.log(factor / t)) > 0.1 for t in trials)):
                    trials.append(float(factor))
    return trials


@dataclass(frozen=True)
class _Grouping:
    """The columns grouped at `trial` x the file's pixel size, and how the grouping ranks against others.

    `rank` orders groupings by how much of the system shows, a film standard,
    the calibration-free fit and, last, the smaller file error.
    """

    rank: tuple
    trial: float
    columns: Columns
    layersets: dict
    found: MaterialSystem | None
    factor: float | None

    @property
    def strength(self) -> int:
        return self.rank[0]

    @property
    def complete(self) -> bool:
        """All of a system shows, with a film standard: a scale other than the file's counts only so."""
        return self.rank[0] == 4 and self.rank[1]


def _ranked(trial, columns, layersets, found, strength) -> _Grouping:
    """A grouping at `trial`, ranked (see :class:`_Grouping`)."""
    factor = _film_factor_of(layersets, found, trial)
    score = system_score(layersets[found.name], found) if found is not None else np.inf
    rank = (strength, factor is not None, -score, -abs(np.log(factor or 1.0)))
    return _Grouping(rank, trial, columns, layersets, found, factor)


@dataclass(frozen=True)
class _ScaleSearch:
    """What every grouping of one image's search for its scale shares."""

    image: Image
    candidates: list[MaterialSystem]
    group_and_identify: Callable  # :func:`_grouping_once`'s, for this image

    @property
    def px(self) -> float:
        return self.image.pixel_size_A

    def found_at(self, pixel_size_A, min_significance=MIN_SIGNIFICANCE) -> Columns:
        """The image's columns found at `pixel_size_A` (its rules in Å read at that scale), on the file's pixel size."""
        return replace(find_columns(self.image, pixel_size=pixel_size_A, min_significance=min_significance),
                       pixel_size_A=self.px)

    def found_free(self) -> Columns:
        """The image's columns found with rules relative to their spacing (none in Å), on the file's pixel size."""
        return replace(find_columns(self.image.data), pixel_size_A=self.px)


def _grouped(search, trial, columns, stepped=True) -> _Grouping:
    """`columns` grouped at `trial` x the file's pixel size, under the axes a trial of its kind looks along.

    At a trial scale the axis whose column step is a system's period comes
    first: it is grouped first, and the second (:func:`scale_trials` reads
    its steps along both) only where it shows less than all of a system (a
    tilted step reads off by ~10 %). The file's own scale, and a scale no
    step named (`stepped` False), look along every axis.
    """
    first = None if trial == 1.0 or not stepped else 1
    layersets, found, strength = search.group_and_identify(columns, search.px * trial, max_axes=first)
    if strength < 4 and first is not None:
        layersets, found, strength = search.group_and_identify(columns, search.px * trial, max_axes=2)
    return _ranked(trial, columns, layersets, found, strength)


def _at_trial(search, trial, free, stepped=True) -> _Grouping:
    """The best grouping at a trial scale: of `free` (the columns found with rules relative to their spacing),
    of the columns found with the rules in Å at that scale, and with faint TiN columns added."""
    result = _grouped(search, trial, free, stepped)
    if result.strength < 4:
        # the rules relative to the column spacing drop faint film columns a system may need
        refound = search.found_at(search.px * trial)
        result = max(result, _grouped(search, trial, refound, stepped), key=lambda g: g.rank)
    if result.strength < 4 and result.found is not None:
        # the file's own scale gets the faint substrate columns (see planes_and_system): so does a trial's
        fainter = _with_faint_substrate(search, search.px * trial, search.px * trial)
        if fainter is not None:
            result = max(result, _ranked(trial, *fainter), key=lambda g: g.rank)
    return result


def _groupings(search, columns) -> list:
    """The file's own grouping and, where it shows no system in full or puts the film more than 10 % off, every
    trial scale's that shows all of a system with a film (:func:`planes_and_system`). Where the file's own
    shows only part of a system and a trial shows more of another, the file's names no system."""
    tried = [_grouped(search, 1.0, columns)]
    if tried[0].complete and abs(np.log(tried[0].factor)) < 0.1:
        return tried
    # past the file's own scale, the column finder's rules in Å (N satellites, probe-tail overlaps) may
    # have dropped real columns: the columns again, with those rules relative to their spacing
    trials = scale_trials(columns, search.px, search.candidates)[1:]
    free = search.found_free() if trials else None
    if free is not None and tried[0].strength < 4:
        # the file's scale itself may be off by just enough to drop columns by those rules; then those
        # columns show more of the system, or as much with more columns. Where they show as much with fewer,
        # the columns found by the rules in Å stand: the rules relative to the spacing drop real columns
        # too (Se 1.96 A beside Bi, within 0.75 of the spacing), and the score alone would choose between
        # two column sets by a hair
        relative = _grouped(search, 1.0, free)
        if (relative.rank[:2], len(free.xy)) > (tried[0].rank[:2], len(columns.xy)):
            tried.append(relative)
    looked = [_at_trial(search, trial, free) for trial in trials]
    if not any(g.complete for g in tried + looked):
        # the column steps named no scale that shows all of a system (a step read along a tilted row, a
        # field mostly of one lattice): scales that tile the file's errors with the field-scale search's own
        tiles = [t for t in SCALE_TILES if all(abs(np.log(t / done)) > 0.1 for done in [1.0, *trials])]
        if tiles and free is None:
            free = search.found_free()
        looked += [_at_trial(search, trial, free, stepped=False) for trial in tiles]
        trials += tiles
    if not any(g.complete for g in tried + looked):
        # a scale that shows the film but not all of the system still names the film's own scale, where the
        # finder's rules in Å hold again (a trial 10 % off the truth may drop the columns a system needs)
        own = sorted({1.0 / g.factor for g in tried + looked if g.factor is not None
                      and abs(np.log(g.factor)) <= np.log(LARGEST_FILE_ERROR)
                      and all(abs(np.log(g.factor * done)) > 0.05 for done in [1.0, *trials])})
        looked += [_at_trial(search, trial, free if free is not None else columns, stepped=False) for trial in own]
    tried += [g for g in looked if g.complete]
    best = max(tried, key=lambda g: g.rank)
    if not best.complete and best.found is not None and any(
            g.found is not None and g.found.name != best.found.name and g.strength > best.strength for g in looked):
        # the file's scale shows part of one system, another scale more of another: the field names neither
        # (a file 2x off turns TiN's lattice into a film's; a trial 10 % off drops columns of the right one)
        tried = [_ranked(g.trial, g.columns, g.layersets, None, 0) for g in tried]
    beyond = _past_the_scale_search(max(tried, key=lambda g: g.rank))
    if beyond is not None:
        # the planes' periods ran into the bound of the field-scale search: search again around it
        result = _grouped(search, beyond, search.found_at(search.px * beyond))
        if result.complete:
            tried.append(result)
    return tried


def planes_and_system(image, columns, candidates):
    """(columns, LayerSets per system name, the system the field shows or None, FieldScale).

    The system is identified from calibration-free cues at the file's pixel
    size and, when that shows no system in full or puts the film more than
    10 % off, at pixel sizes up to 2.2x larger and smaller that make a
    column step a known period (:func:`scale_trials`): a trial other than
    the file's counts only when the substrate, the film and their period
    ratio all fit under its first axis, and the film sets the scale. Where
    no step names such a scale, SCALE_TILES are tried, along every axis; where
    still none shows all of a system, the scale that a trial's film implies is
    tried too. At a
    trial as at the file's scale, where part of the system is missing,
    fainter columns that make TiN planes are looked for; and where the
    file's scale shows less than all of a system, the columns found with
    rules relative to their spacing are grouped at it too. The
    column finder tells N satellites and probe-tail overlaps from real
    columns by their distance in Å: with the file's pixel size more than
    RECALIBRATE_ABOVE off what the film implies, the columns are found
    again at the film's scale.
    """
    px = image.pixel_size_A
    periods = sorted({p for s in candidates for p in (s.substrate.projected_period_A, s.film.projected_period_A)})
    search = _ScaleSearch(image, candidates, _grouping_once(candidates, image.data.shape, periods))
    best = max(_groupings(search, columns), key=lambda g: g.rank)
    trial, columns, layersets, found, factor, strength = (best.trial, best.columns, best.layersets, best.found,
                                                          best.factor, best.strength)
    found_at = px * trial
    # the columns again at the film's scale where the file is off it, or where the scale they were found at
    # puts the finder's satellite rule past an N beside Ti or a real pair (a trial's faint columns may show
    # the system at a scale 17 % off, with N satellites taken for columns)
    lo, hi = SATELLITE_RULE_HOLDS
    if factor and (abs(factor - 1.0) > RECALIBRATE_ABOVE or not lo < trial * factor < hi):
        found_at = px / factor
        columns = search.found_at(found_at)
        layersets, found, strength = search.group_and_identify(columns, px * trial)
        factor = _film_factor_of(layersets, found, trial)
    if strength < 4:
        # a chosen trial showed all of the system, so this runs only for the file's own scale (or after a
        # re-find above that lost part of it): it never repeats a trial's look for faint columns
        fainter = _with_faint_substrate(search, found_at, px * trial)
        if fainter is not None and fainter[3] > strength:
            columns, layersets, found, _ = fainter
            factor = _film_factor_of(layersets, found, trial)
    if found is not None and factor is not None and abs(np.log(factor)) > FILM_ALONE_CONFIRMS:
        found = _film_on_its_own_scale(search, columns, layersets, found, factor)
        if found is None:
            factor = None
    return columns, layersets, found, FieldScale(px * trial, factor)


#: A file whose pixel size is off by more than this (log) does not tell films on one substrate apart by their
#: period: half the gap between the candidates' film periods (Bi2Te3 / Bi2Se3: 6 %).
FILM_ALONE_CONFIRMS = 0.03


def _film_on_its_own_scale(search, columns, layersets, found, factor):
    """`found`, or None where another candidate film on its substrate, grouped at the scale its own period
    implies, shows as much of its system and fits the calibration-free ratios as well.

    With the file off by more than FILM_ALONE_CONFIRMS, the film's period no longer names the film: Bi2Se3's at
    1.25x the pixel size reads as Bi2Te3's at 1.18x, and the field-scale search around the file's pixel size
    cannot reach Bi2Se3's. Each rival is given its own scale; the calibration-free cues then decide.
    """
    mine = layersets[found.name]
    my_strength = _strength(structure_cues(mine, found))
    my_score = system_score(mine, found)
    for rival in search.candidates:
        if rival.name == found.name or rival.substrate.name != found.substrate.name:
            continue
        at_A = search.px / factor * rival.film.projected_period_A / found.film.projected_period_A
        theirs, _, _ = search.group_and_identify(columns, at_A)
        strength = _strength(structure_cues(theirs[rival.name], rival))
        if strength > my_strength or (strength == my_strength and system_score(theirs[rival.name], rival) <= my_score):
            return None
    return found


def _past_the_scale_search(grouping: _Grouping) -> float | None:
    """The trial factor to search around next, where a grouping found a system with no film standard and its
    field scale at the bound of :func:`~stemlayers.structure.planes.field_scale`'s search (a file more than
    ±20 % off the trial); None otherwise."""
    if grouping.found is None or grouping.factor is not None:
        return None
    scale = grouping.layersets[grouping.found.name].field_scale
    return float(grouping.trial / scale) if at_search_bound(scale) else None


def _with_faint_substrate(search, found_at_A, working_px_A):
    """(columns, LayerSets, system, strength) with columns down to FAINT_SIGNIFICANCE in TiN planes added.

    None when the fainter columns show no system. The columns are found at
    `found_at_A` and grouped at `working_px_A`; they keep the file's pixel size.
    """
    faint = search.found_at(found_at_A, min_significance=FAINT_SIGNIFICANCE)
    layersets, found, _ = search.group_and_identify(faint, working_px_A)
    if found is None:
        return None
    layerset = layersets[found.name]
    in_tin = np.array([L.material == "TiN" for L in layerset.layers] + [False], bool)[layerset.plane_of_column]
    keep = (faint.significance >= MIN_SIGNIFICANCE) | in_tin
    faint = faint.select(keep)
    layersets, found, strength = search.group_and_identify(faint, working_px_A)
    if found is None or not _ratio_nearest(layersets[found.name], found, search.candidates):
        return None
    return faint, layersets, found, strength


def _ratio_nearest(layerset, system, candidates):
    """Whether the film/substrate period ratio of the planes is nearer `system`'s than any other candidate's.

    The systems' ratios are 6 % apart, as wide as the tolerance under which a
    ratio fits: a substrate found from faint columns must point at the system
    it completes, not merely fit it.
    """
    ratio = structure_cues(layerset, system).period_ratio
    if ratio is None:
        return False
    return min(candidates, key=lambda s: abs(np.log(ratio / s.inplane_ratio))).name == system.name
