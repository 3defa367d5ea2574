"""Cohort converters: real on-disk layouts -> nnU-Net raw datasets plus ``cases.csv``."""
