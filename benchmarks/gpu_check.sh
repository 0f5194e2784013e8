#!/usr/bin/env bash
# The GPU check, in one go on a machine with an NVIDIA GPU: `pytest -m gpu`, then benchmarks/gpu.py.
#
#   bash benchmarks/gpu_check.sh          # logs and results in $OUT, else ./benchmark-results
#
# Needs CuPy (cupy-cuda12x or cupy-cuda13x, matching the driver), PyTorch with CUDA, pytest and
# hypothesis; numba is optional (without it the CPU side of the comparisons runs the NumPy
# reference). On a machine without internet access, missing pure-Python packages can come from a
# wheel folder prepared elsewhere and carried along (an ignored path such as build/):
#   pip download --no-deps -d build/device-wheels hypothesis attrs sortedcontainers
# Time: about 5 minutes on an H100 with a cold CuPy kernel cache; each stage has a time limit, so
# the whole script ends within 9.5 minutes whatever happens.
set -u
cd "$(dirname "$0")/.."
export OUT="${OUT:-benchmark-results}"
mkdir -p "$OUT"
WHEELS="${WHEELS:-build/device-wheels}"

{
    echo "== $(date -u '+%Y-%m-%d %H:%M:%S UTC') on $(hostname)"
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 || echo "nvidia-smi not found"
    for module in hypothesis numba; do
        if ! python -c "import $module" 2>/dev/null && [ -d "$WHEELS" ]; then
            python -m pip install --no-index --find-links "$WHEELS" "$module" 2>&1 | tail -1
        fi
    done
    python - <<'PY'
import importlib
for name in ["numpy", "cupy", "torch", "numba", "pytest", "hypothesis"]:
    try:
        module = importlib.import_module(name)
        print(f"{name} {getattr(module, '__version__', '?')}")
    except Exception as error:
        print(f"{name}: not available ({type(error).__name__}: {error})")
import scratchnet
print("scratchnet.cuda.is_available():", scratchnet.cuda.is_available())
PY
} 2>&1 | tee "$OUT/environment.log"

# The GPU tests. Without numba the backend warns once; the test settings would turn that into an error.
timeout 240 python -m pytest -m gpu -q -rs -p no:cacheprovider -W "ignore:numba could not be imported" \
    2>&1 | tee "$OUT/pytest-gpu.log"
tests_status=${PIPESTATUS[0]}

# The benchmark: strict FP32 and TF32, each in its own subprocess with its own time limit.
timeout 320 python benchmarks/gpu.py --timeout 150 2>&1 | tee "$OUT/benchmark.log"
bench_status=${PIPESTATUS[0]}

echo "pytest -m gpu: exit ${tests_status}; benchmarks/gpu.py: exit ${bench_status}" | tee "$OUT/summary.log"
[ "$tests_status" -eq 0 ] && [ "$bench_status" -eq 0 ]
