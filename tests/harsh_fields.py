"""Fields of the harsh simulated grid that once went wrong, shared by the stage and end-to-end tests."""

from stemlayers.simulate import SimulationParams

# interface benchmark --harsh --seed 3, field 1: Bi2Se3, a bilayer then a deteriorated band, Z exponent 1.87,
# elliptical columns (1.17:1), a 0.5 Å probe, dose 98. The QLs' outer Se lie 1.96 Å from a Bi column.
SE_ON_BI_SLOPES = SimulationParams(
    system="Bi2Se3/TiN", seed=1359822905, shape=(377, 929), pixel_size_A=0.1112790200745446,
    rotation_deg=179.92299826456644, flip=True, dose=98.15555099580367, probe_sigma_A=0.5016810195003676,
    tail_fraction=0.00811406368064479, tail_width_A=2.4232157652360495, tin_strain_pct=-2.490631367007192,
    interface_offset_A=-0.11551798844361327, bilayer_spacing_A=2.6566403888305765,
    bilayer_tin_gap_A=2.8869135457327237, vdw_gap_A=2.614079481746475, jitter_px=0.12418944209736237,
    drift_shear=-0.003436369899465233, drift_stretch=0.0033636510901333613, background=0.2902647978344651,
    background_ramp=0.14162895413744833, read_noise=0.4273744388610963, weight_jitter=0.04359861451664033,
    thickness_gradient=0.06178771289606608, background_smooth=0.002594126386331258, amorphous=0.07439073337792572,
    contrast_exponent=1.8740973291388698, channelling={"Bi": 0.8768775973810166, "N": 0.9909815235941912,
                                                       "Se": 0.9213583753292576, "Ti": 0.8808666468143271},
    column_ellipticity=1.1714654749367892, column_ellipse_angle_deg=57.219466111366216,
    scan_drift_nonlinear_px=0.6186565457726523, corrupted_lines=0.011648330605435143,
    segments=((-1000.0, "bilayer", 0), (17.750634509565273, "deteriorated", 0)))

# interface benchmark --harsh --seed 3, field 0: Bi2Se3, a bilayer then a deteriorated band, dose 59, Z exponent
# 1.69, elliptical columns (1.22:1). Neither half shows a QL when the field's planes are taken as one.
LOW_DOSE_SE = SimulationParams(
    system="Bi2Se3/TiN", seed=299072409, shape=(355, 768), pixel_size_A=0.13241977493116103,
    rotation_deg=-2.0120986643444674, flip=True, dose=59.026536742328155, probe_sigma_A=0.419619196254389,
    tail_fraction=0.0718576947211251, tail_width_A=1.8993472865926964, tin_strain_pct=1.4074629084552868,
    interface_offset_A=0.963000404567369, bilayer_spacing_A=2.8694738285947943,
    bilayer_tin_gap_A=2.613392146097091, vdw_gap_A=2.88756521837276, jitter_px=0.19669964285953517,
    drift_shear=-0.002110301102410243, drift_stretch=-0.0007816019544693095, background=0.0995763258496616,
    background_ramp=0.12970944141596502, read_noise=1.3924319933403109, weight_jitter=0.023417659920998972,
    thickness_gradient=-0.14955297494734915, background_smooth=0.04867301373832064, amorphous=0.04387209784135006,
    contrast_exponent=1.693266803111623, channelling={"Bi": 0.9498281105652264, "N": 1.0564547459512195,
                                                      "Se": 0.8483196198860619, "Ti": 0.8401437704215475},
    column_ellipticity=1.2240581156949515, column_ellipse_angle_deg=135.40021530646993,
    scan_drift_nonlinear_px=0.5669778744529123, corrupted_lines=0.018421593545658598,
    segments=((-1000.0, "bilayer", 0), (2.885428827900462, "deteriorated", 0)))
