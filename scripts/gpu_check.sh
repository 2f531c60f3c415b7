#!/usr/bin/env bash
# The checks that need a CUDA device, as one script: the CUDA tests, then the timing
# benchmarks on CPU and GPU side by side. Meant for a GPU machine whose Python already
# has torch, BoTorch, GPyTorch, JAX and NumPyro; the project's other pure-Python
# dependencies may come as wheels in .whl/ (installed to /tmp/site when present).
# Usage: bash scripts/gpu_check.sh [OUTPUT_DIR]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT_DIR="${1:-${OUT:-/tmp/gpu-check}}"
mkdir -p "$OUT_DIR"
PY="${PYTHON:-python3}"
if ls .whl/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
  export PYTHONPATH="/tmp/site:$PWD"
else
  export PYTHONPATH="$PWD"
fi
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT_DIR/gpu.txt"
"$PY" -c 'import torch, botorch, gpytorch; print("torch", torch.__version__, "botorch",
botorch.__version__, "gpytorch", gpytorch.__version__, "cuda", torch.cuda.is_available())'

echo "== CUDA tests"
"$PY" -m pytest -q -p no:cacheprovider tests/bayesopt/test_cuda.py tests/surrogates -k cuda \
  2>&1 | tee "$OUT_DIR/pytest_cuda.log" | tail -25

echo "== seconds per decision, CPU and GPU"
timeout "${DECISION_LIMIT:-300}" "$PY" benchmarks/decision_time.py --repeats 2 \
  --output "$OUT_DIR/decision_time.md" 2>&1 | tail -20

echo "== exact vs sparse GP scaling on the GPU"
timeout "${SCALING_LIMIT:-150}" "$PY" benchmarks/surrogate_scaling.py --seeds 1 --max-n 32000 \
  --limit 20 --output "$OUT_DIR/surrogate_scaling_cuda.md" 2>&1 | tail -20
