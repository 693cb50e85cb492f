#!/bin/bash
# One call on a lent GPU machine (bench/device/README.md): from a folder holding this repository's
# packages, bench/, tests/ and whl/ (the wheels and faiss_gpu_sm90.tar.xz made by make_bundle.sh):
# install them under /tmp/site, check FAISS on the GPU, run tests/test_gpu.py, then bench/gpu.py.
# Everything it reports goes to $OUT. BENCH_ARGS adds arguments to bench/gpu.py.
set -u
export PYTHONUNBUFFERED=1
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" /tmp/site
started=$(date +%s)
nvidia-smi --query-gpu=name,memory.total,memory.used,clocks.sm,clocks.max.sm,driver_version --format=csv 2>&1 | tee "$OUT/nvidia-smi.txt"
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target /tmp/site whl/*.whl || exit 1
python3 -c "import tarfile; tarfile.open('whl/faiss_gpu_sm90.tar.xz').extractall('/tmp/site')" || exit 1
export PYTHONPATH=$PWD:/tmp/site FAISS_CUDA12_LIBDIR=/tmp/site/cuda12
CUBLAS13_PATH=$(python3 -c "
import glob, site, sys
for d in site.getsitepackages() + sys.path:
    for p in glob.glob(d + '/nvidia/**/libcublas.so.13', recursive=True):
        print(p); sys.exit()")
export CUBLAS13_PATH
echo "cuBLAS 13 at $CUBLAS13_PATH; setup took $(( $(date +%s) - started )) s"
timeout 90 python3 bench/device/smoke.py 2>&1 | tee "$OUT/smoke.txt"
smoke=${PIPESTATUS[0]}
extra=""
if [ "$smoke" != 0 ]; then
  echo "FAISS GPU smoke test failed ($smoke): FAISS runs on the CPU, 1M vectors only"
  extra="--no-faiss-gpu --sizes 1000000"
fi
timeout 150 python3 -m pytest --noconftest -p no:cacheprovider tests/test_gpu.py -q -rs 2>&1 | tee "$OUT/pytest.txt"
left=$(( ${TOTAL_S:-450} - ($(date +%s) - started) ))
echo "bench/gpu.py gets $left s"
timeout "$left" python3 bench/gpu.py --out "$OUT/gpu_bench.md" --budget-s $(( left - 120 )) $extra ${BENCH_ARGS:-} 2>&1 | tee "$OUT/bench.log"
echo "bench exit ${PIPESTATUS[0]}; the call took $(( $(date +%s) - started )) s"
