"""Infarct location: the 8-class MNI location atlas and the lookup of a case's lesion class.

A shared service that converters, evaluation, post-processing and the phantom cohorts call:
``atlas`` (building the class map from packaged sources, cached), ``registration`` (every SimpleITK
registration: intra-session channel alignment for the converters, affine to MNI with a QC), ``lookup``
(``locate_case`` and the pure class rule), ``cache`` (per-report cache of atlas locations for evaluation's
strata) and ``cli`` (``strokeseg location``). Submodules are imported explicitly, so that a converter that
registers two channels does not load the atlas code.
"""
