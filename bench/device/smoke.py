"""Does the carried FAISS GPU build work here? Flat and IVF-SQ8 on the GPU against the CPU, in a few seconds.
Exit 0 when it does (bench/device/run.sh then lets bench/gpu.py use it)."""

import sys
import time

import numpy as np
import torch

import faiss

t0 = time.perf_counter()
print(f"torch {torch.__version__} cuda {torch.cuda.is_available()}; faiss {faiss.__version__} from {faiss.__file__}; "
      f"GPUs seen by faiss: {faiss.get_num_gpus()}", flush=True)
rng = np.random.default_rng(0)
x = rng.standard_normal((20000, 128)).astype(np.float32)
x /= np.linalg.norm(x, axis=1, keepdims=True)
q = x[:100] + 0.05 * rng.standard_normal((100, 128)).astype(np.float32)
res = faiss.StandardGpuResources()
cpu = faiss.IndexFlatIP(128)
cpu.add(x)
gpu = faiss.index_cpu_to_gpu(res, 0, cpu)
d_c, i_c = cpu.search(q, 10)
d_g, i_g = gpu.search(q, 10)
print("flat: same top 10", float(np.mean(i_c == i_g)), "max score diff", float(np.abs(d_c - d_g).max()), flush=True)
ivf = faiss.index_factory(128, "IVF64,SQ8", faiss.METRIC_INNER_PRODUCT)
g_ivf = faiss.index_cpu_to_gpu(res, 0, ivf)
g_ivf.train(x)
g_ivf.add(x)
back = faiss.index_gpu_to_cpu(g_ivf)
faiss.extract_index_ivf(back).nprobe = 8
faiss.GpuParameterSpace().set_index_parameter(g_ivf, "nprobe", 8)
_, a = back.search(q, 10)
_, b = g_ivf.search(q, 10)
print("ivf-sq8 trained on the GPU: GPU vs its CPU copy, same top 10", float(np.mean(a == b)),
      f"({time.perf_counter() - t0:.1f}s)", flush=True)
sys.exit(0 if np.mean(i_c == i_g) > 0.99 and np.mean(a == b) > 0.9 else 1)
