#!/usr/bin/env bash
# strokeseg's GPU check: one prepared command for a CUDA machine that cannot reach a package registry.
#
#   benchmarks/gpu_check.sh --prepare          here (registry access): wheels -> .gpu_wheels/ (budget printed)
#   benchmarks/gpu_check.sh [--out DIR]        on the GPU machine (python3 with CUDA torch): install the carried
#                                              wheels, CUDA tests, GPU benchmarks -> DIR/gpu_check.txt
#   benchmarks/gpu_check.sh --dry-run [--out DIR]
#                                              here, on the CPU: the same steps at tiny sizes with .venv's Python,
#                                              plus the wheel-set and import audits (what CI runs)
#
# DIR defaults to $OUT when set (the device tool's folder), else benchmarks/results. Each step has its own
# timeout; on the GPU they add up to 6 minutes (the dry run allows 10 times more on a shared CPU). The exit status
# is the number of failed steps.
set -u

mode=run
out_dir="${OUT:-}"
while [ $# -gt 0 ]; do
    case "$1" in
        --prepare) mode=prepare ;;
        --dry-run) mode=dry-run ;;
        --out) out_dir="$2"; shift ;;
        -h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "gpu_check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done

repo="$(cd "$(dirname "$0")/.." && pwd)"
cd "$repo" || exit 2
wheels="$repo/.gpu_wheels"
out_dir="${out_dir:-$repo/benchmarks/results}"

if [ "$mode" = prepare ]; then
    exec "${PYTHON:-$repo/.venv/bin/python}" benchmarks/gpu_wheels.py prepare --dest "$wheels"
fi

mkdir -p "$out_dir"
results="$out_dir/gpu_check.txt"
: > "$results"
failed=0
export PYTHONUNBUFFERED=1 nnUNet_compile=false

# step NAME TIMEOUT_S COMMAND...: runs COMMAND under a timeout (times $scale: the dry run on a shared CPU gets more),
# appends its output and status to the results file.
scale=1
step() {
    local name="$1" limit=$(( $2 * scale )) started status
    shift 2
    started=$(date +%s)
    printf '\n===== %s (timeout %s s) =====\n$ %s\n' "$name" "$limit" "$*" >> "$results"
    timeout --kill-after=10 "$limit" "$@" >> "$results" 2>&1
    status=$?
    printf -- '----- %s: exit %s after %s s -----\n' "$name" "$status" "$(( $(date +%s) - started ))" >> "$results"
    echo "$name: exit $status after $(( $(date +%s) - started )) s"
    [ "$status" -eq 0 ] || failed=$((failed + 1))
}

if [ "$mode" = dry-run ]; then
    python="${PYTHON:-$repo/.venv/bin/python}"
    device=cpu
    tiny=(--tiny --warmup 1)
    iterations=1
    cases=(--cases 1 --repeats 1)
    scale=10
    audit="$(mktemp -d)"
    export STROKESEG_IMPORT_AUDIT="$audit" PYTHONPATH="$repo/benchmarks/gpu_audit${PYTHONPATH:+:$PYTHONPATH}"
    if [ -f "$wheels/manifest.json" ]; then
        step "wheel set resolves for cp312 manylinux x86_64" 120 "$python" benchmarks/gpu_wheels.py verify --source "$wheels"
    else
        echo "no $wheels (run --prepare to build it): wheel resolution not checked" | tee -a "$results"
    fi
else
    python="${PYTHON:-python3}"
    device=cuda
    tiny=()
    iterations=10
    cases=(--cases 3 --repeats 3)
    site=/tmp/strokeseg_gpu_site
    step "install carried wheels" 50 "$python" benchmarks/gpu_wheels.py install --source "$wheels" --target "$site"
    export PYTHONPATH="$site:$repo${PYTHONPATH:+:$PYTHONPATH}" PATH="$site/bin:$PATH"
    step "register strokeseg's trainers with nnU-Net" 20 "$python" -m strokeseg nnunet install
fi

work="$(mktemp -d)"  # the plans of bench_trainers.py, shared by its two steps
step "environment" 20 "$python" -c "import sys, torch; print(sys.version.split()[0], 'torch', torch.__version__, \
'CUDA', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU')"
# CUDA tests: engine parity with the CPU engine, every trainer's forward/backward, nnUNetv2_train + _predict on the GPU
step "CUDA tests (pytest -m cuda)" 130 "$python" -m pytest -p no:cacheprovider -p no:xdist -m cuda -q -rs \
    tests/evaluation/test_evaluation_engines.py tests/trainers/test_trainers_nnunet.py
step "evaluation: torch engine on $device vs CPU engine (DWI and 1 mm MNI grids)" 30 \
    "$python" benchmarks/bench_evaluation.py --engines-only --torch-device "$device" "${cases[@]}"
step "training iterations/s, strokeseg's trainers vs stock nnUNetTrainer" 55 "$python" benchmarks/bench_trainers.py \
    --device "$device" --skip-prediction --iterations "$iterations" --workdir "$work" "${tiny[@]}"
step "inference per case, every preset's network on its own input" 55 "$python" benchmarks/bench_trainers.py \
    --device "$device" --skip-training --no-tta --workdir "$work" "${tiny[@]}"
rm -rf "$work"

if [ "$mode" = dry-run ]; then
    step "import audit: every imported distribution is carried or preinstalled" 60 \
        "$python" benchmarks/gpu_wheels.py audit "$audit"
    rm -rf "$audit"
fi
echo "failed steps: $failed; results: $results" | tee -a "$results"
exit "$failed"
