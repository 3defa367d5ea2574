#!/usr/bin/env bash
# Phantom nnU-Net raw datasets for the example experiments (CPU, a few minutes; see docs/experiments.md).
#   901 PhantomInternal  DWI+ADC+b0, sites A (Siemens) and B (GE), every 5th case in imagesTs
#   903 PhantomZoom      the internal cohort once more, for the zoom ablation (nnU-Net's own folds, no study split)
#   902 PhantomExternal  DWI+ADC+b0, sites C (Philips) and D (Siemens): the external cohort of the adaptation
#   904 PhantomWMH       FLAIR+T1w, three WMH sites, every 5th subject in imagesTs
#   905 PhantomATLAS     T1w with chronic lesions in MNI space (ATLAS layout); 906 its train/dev/test split
#   907, 908             the internal and external cohorts with DWI only (Noh et al.'s input; noh_registry_dwi.yaml)
#   909 PhantomInternalDWIADC  the internal cohort with DWI + ADC (Alis et al.'s input; alis_vendor_dwi_adc.yaml)
# Usage: export nnUNet_raw=... nnUNet_preprocessed=... nnUNet_results=...; examples/prepare_phantom_datasets.sh [WORK]
set -euo pipefail
: "${nnUNet_raw:?export nnUNet_raw, nnUNet_preprocessed and nnUNet_results first}"
work=${1:-phantom_cohorts}
cases=${CASES:-30}

mark_test_cases() {  # every 5th case of a registry manifest becomes a test case (imagesTs/labelsTs)
  python - "$1" <<'PY'
import sys, pandas as pd
manifest = pd.read_csv(sys.argv[1], dtype=str)
manifest["split"] = ["test" if i % 5 == 4 else "train" for i in range(len(manifest))]
manifest.to_csv(sys.argv[1], index=False)
PY
}

strokeseg synth --out "$work/internal" --layout registry --n-cases "$cases" --seed 1 --sites HospitalA,HospitalB -j 2
mark_test_cases "$work/internal/manifest.csv"
strokeseg convert registry "$work/internal/manifest.csv" -d 901 --name PhantomInternal -j 2
strokeseg convert registry "$work/internal/manifest.csv" -d 903 --name PhantomZoom -j 2

strokeseg synth --out "$work/external" --layout registry --n-cases "$cases" --seed 2 --sites HospitalC,HospitalD -j 2
strokeseg convert registry "$work/external/manifest.csv" -d 902 --name PhantomExternal -j 2

strokeseg synth --out "$work/wmh" --layout wmh --n-cases "$cases" --seed 3 -j 2
mkdir -p "$work/wmh/test"
i=0
for subject in "$work"/wmh/training/*/*; do  # every 5th subject goes to the test folder (imagesTs/labelsTs)
  i=$((i + 1))
  if [ $((i % 5)) -eq 0 ]; then
    site=$(basename "$(dirname "$subject")")
    mkdir -p "$work/wmh/test/$site" && mv "$subject" "$work/wmh/test/$site/"
  fi
done
strokeseg convert wmh "$work/wmh" -d 904 --name PhantomWMH -j 2

strokeseg synth --out "$work/atlas" --layout atlas2 --n-cases "$cases" --seed 4 -j 2
strokeseg convert atlas "$work/atlas" -d 905 --name PhantomATLAS -j 2
# Tomita et al.'s 182/26/31 split, rescaled to the phantom cohort; the test part goes to 906's imagesTs/labelsTs
strokeseg split train-dev-test -d 905 --derived-id 906 --counts 182,26,31
# Alis et al.'s input: the internal cohort with DWI + ADC
strokeseg convert registry "$work/internal/manifest.csv" -d 909 --name PhantomInternalDWIADC --channels DWI,ADC -j 2
# Noh et al.'s input: the same cohorts with DWI only (written last: run_examples.sh checks for 908)
strokeseg convert registry "$work/internal/manifest.csv" -d 907 --name PhantomInternalDWI --channels DWI -j 2
strokeseg convert registry "$work/external/manifest.csv" -d 908 --name PhantomExternalDWI --channels DWI -j 2
