#!/usr/bin/env bash
# Every GPU measurement of keras-avl in one call (under 8 minutes on one
# H100-class GPU), under KERAS_BACKEND=jax, JSON results into OUT_DIR:
#   mfb_gpu_jax.json         fused MFB vs reference, forward+backward (AVE size)
#   train_gpu_jax.json       Keras fit, steady-state steps: paper/avatt,
#                            fused=True/auto, bf16, unrolled LSTMs,
#                            steps_per_execution, with XLA FLOPs and matmul peaks
#   train_ave_gpu_jax.json   AVE size (d_v = 512, batch 64): paper, avatt, psp,
#                            cmbs in float32 and bf16 (bench_train.py --ave-size),
#                            with XLA FLOPs and the matmul peaks
#   resident_<variant>_<precision>.json
#                            device-resident features + lax.scan multi-step
#                            trainer (benchmarks/resident_jax.py)
#   pytorch_loops_gpu_jax.json
#                            keras-avl vs the released PyTorch training loops
#                            (bench_pytorch_loops.py), only when their checkouts
#                            are given: AVE_ECCV18=path PSP_CODE=path CMBS_CODE=path
#                            (any of them; none: the step is skipped)
#
# Usage: bash benchmarks/gpu_suite.sh [--smoke] [OUT_DIR]
#   --smoke: tiny sizes on the CPU (a check that the suite works, no GPU).
# PYTHON selects the interpreter (default: python); TORCH_PYTHON the one with
# PyTorch for the released loops (default: PYTHON).
set -euo pipefail
export KERAS_BACKEND=jax
smoke=0
if [ "${1:-}" = "--smoke" ]; then smoke=1; shift; fi
out=$(realpath -m "${1:-benchmarks/results/gpu}")
py=${PYTHON:-python}
# The released checkouts' paths, resolved before the cd below.
checkouts=()
[ -n "${AVE_ECCV18:-}" ] && checkouts+=(--ave-eccv18 "$(realpath "$AVE_ECCV18")")
[ -n "${PSP_CODE:-}" ] && checkouts+=(--psp "$(realpath "$PSP_CODE")")
[ -n "${CMBS_CODE:-}" ] && checkouts+=(--cmbs "$(realpath "$CMBS_CODE")")
cd "$(dirname "$0")"
mkdir -p "$out"
if [ "$smoke" = 1 ]; then
    device=cpu
    mfb=(--quick --repeats 1)
    train=(--smoke --visual-dim 8 --batch 4 --steps 8 --rounds 1)
    resident=(--smoke --videos 24 --visual-dim 8 --batch 4 --batches-per-call 2 --epochs 1)
    ave=(--smoke --visual-dim 8 --batch 4 --steps 3 --rounds 1)
    loops=(--smoke --steps 2 --rounds 1 --methods avatt psp cmbs --settings float32)
else
    device=gpu
    "$py" -c "import jax, sys; sys.exit(0 if any(d.platform == 'gpu' for d in jax.devices()) else 'gpu_suite.sh: JAX sees no GPU (use --smoke on a CPU).')"
    mfb=(--repeats 10)
    train=(--visual-dim 512 --steps 16 --rounds 3)
    resident=(--videos 3339 --visual-dim 512 --batch 64 --batches-per-call 13 --epochs 3)
    ave=(--visual-dim 512 --batch 64 --steps 16 --rounds 3)
    loops=(--steps 8 --rounds 3)
fi
uptime
"$py" bench_mfb.py "${mfb[@]}" --out "$out/mfb_gpu_jax.json"
"$py" bench_train.py "${train[@]}" --out "$out/train_gpu_jax.json" --only \
    "paper, issue-time (fused=True)" "paper, fused=auto" "paper, bf16" "paper, unroll" \
    "avatt" "avatt, bf16" "avatt, unroll" "avatt, bf16, spe 4"
"$py" bench_train.py "${ave[@]}" --ave-size --out "$out/train_ave_gpu_jax.json"
for variant in paper avatt; do
    "$py" resident_jax.py "${resident[@]}" --device "$device" --variant "$variant" \
        --out "$out/resident_${variant}_float32.json"
    "$py" resident_jax.py "${resident[@]}" --device "$device" --variant "$variant" --bf16 \
        --out "$out/resident_${variant}_bfloat16.json"
done
if [ "${#checkouts[@]}" -gt 0 ]; then
    "$py" bench_pytorch_loops.py "${loops[@]}" "${checkouts[@]}" --torch-python "${TORCH_PYTHON:-$py}" \
        --out "$out/pytorch_loops_gpu_jax.json"
else
    echo "gpu_suite.sh: no released checkouts given (AVE_ECCV18, PSP_CODE, CMBS_CODE): PyTorch loops skipped"
fi
uptime
