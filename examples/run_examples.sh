#!/usr/bin/env bash
# Every example experiment end to end on phantom cohorts, CPU-sized (tiny trainers on a coarse grid).
# Usage: examples/run_examples.sh WORK     (WORK: a new folder; nnU-Net folders and results go there)
# Each experiment's results: WORK/runs/<name>/results/summary.md. A rerun continues where it stopped.
set -euo pipefail
work=$(realpath -m "${1:?usage: examples/run_examples.sh WORK}")
here=$(cd "$(dirname "$0")" && pwd)
if [ -x "$here/../.venv/bin/strokeseg" ]; then export PATH="$here/../.venv/bin:$PATH"; fi  # the project's venv
mkdir -p "$work/examples"
export nnUNet_raw="$work/nnUNet_raw" nnUNet_preprocessed="$work/nnUNet_preprocessed" nnUNet_results="$work/nnUNet_results"
mkdir -p "$nnUNet_raw" "$nnUNet_preprocessed" "$nnUNet_results"
if [ ! -d "$nnUNet_raw/Dataset908_PhantomExternalDWI" ]; then  # the last dataset the script writes
  (cd "$work" && bash "$here/prepare_phantom_datasets.sh" "$work/phantom_cohorts")
fi
# learning_curve first: domain_adaptation reuses its pre-trained models (same split, same results folder)
for example in learning_curve domain_adaptation vendor_transfer zoom_ablation tomita_atlas_zoom ensemble noh_registry_dwi noh_swin_unetr_learning_curve kim_wmh_flair alis_vendor_dwi_adc; do
  sed "s#^output: runs/#output: $work/runs/#" "$here/$example.yaml" > "$work/examples/$example.yaml"
  echo "=== $example"
  strokeseg experiment run "$work/examples/$example.yaml"
done
