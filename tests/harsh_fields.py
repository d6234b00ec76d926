"""Fields of the harsh simulated grid that once went wrong, shared by the stage and end-to-end tests."""

from stemlayers.simulate import SimulationParams

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

# interface benchmark --harsh --seed 3, field 15: Bi2Se3, bilayer / vdw / bilayer / deteriorated over a one-plane
# step, dose 130, 0.130 Å/px, Z exponent 1.46. The columns found with rules relative to their spacing show the
# system as fully as those found by the rules in Å, with 4 more Se.
MORE_SE_BY_RELATIVE_RULES = SimulationParams(
    system="Bi2Se3/TiN", seed=1317756101, shape=(378, 820), pixel_size_A=0.13008628346416243,
    rotation_deg=0.3179135793541974, flip=True, dose=130.2344976429154, probe_sigma_A=0.5090948083955609,
    tail_fraction=0.019489554191099157, tail_width_A=3.8460277599774306, tin_strain_pct=2.6721751278539294,
    interface_offset_A=-1.4446416893409049, bilayer_spacing_A=2.5014218270075137,
    bilayer_tin_gap_A=2.8329790896343767, vdw_gap_A=2.668167600444998, jitter_px=0.23709053356766496,
    drift_shear=-0.0005115321284902268, drift_stretch=0.004488082930140956, background=0.15153953707084147,
    background_ramp=0.04599112465491391, read_noise=1.786721632518814, weight_jitter=0.04031627117063923,
    thickness_gradient=-0.12844398651387479, background_smooth=0.046341359759351275, amorphous=0.03957470323408736,
    contrast_exponent=1.4647552497195062, channelling={"Bi": 1.2232562894844603, "N": 1.0663365677063028,
                                                       "Se": 1.2294491531511094, "Ti": 0.9248941028931659},
    column_ellipticity=1.1698946883724242, column_ellipse_angle_deg=0.7202818593219029,
    scan_drift_nonlinear_px=0.5409013521728606, corrupted_lines=0.01612338044834701,
    segments=((-1000.0, "bilayer", 0), (-31.153076630903048, "bilayer", 1), (-10.721801733512226, "vdw", 1),
              (20.927488487127846, "bilayer", 1), (40.94024997411637, "deteriorated", 1)))
