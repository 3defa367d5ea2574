"""The papers' intensity pipelines (skull strip, N4, histogram-peak and WMH normalizations) as nnU-Net parts."""
