/* libcublas.so.12 that forwards to cuBLAS 13, for running the CUDA 12 faiss-gpu wheel on a machine that
 * has only CUDA 13 libraries (see bench/device/README.md). FAISS 1.15.1's GPU code calls these eight
 * functions; their cuBLAS 12 and 13 signatures are the same. Built with version nodes libcublas.so.12
 * (cublas12.map), because libfaiss.so asks for e.g. cublasGemmEx@libcublas.so.12. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

typedef int status_t;
typedef void *handle_t;

static void *real(const char *name) {
    static void *lib;
    if (!lib) {
        const char *path = getenv("CUBLAS13_PATH");
        lib = dlopen(path ? path : "libcublas.so.13", RTLD_NOW | RTLD_GLOBAL);
        if (!lib) { fprintf(stderr, "cublas12 shim: %s\n", dlerror()); abort(); }
    }
    void *f = dlsym(lib, name);
    if (!f) { fprintf(stderr, "cublas12 shim: no %s in cuBLAS 13\n", name); abort(); }
    return f;
}

#define FWD(name, params, args) \
    status_t name params { static status_t (*f) params; if (!f) f = real(#name); return f args; }

FWD(cublasCreate_v2, (handle_t *h), (h))
FWD(cublasDestroy_v2, (handle_t h), (h))
FWD(cublasSetStream_v2, (handle_t h, void *s), (h, s))
FWD(cublasGetMathMode, (handle_t h, int *m), (h, m))
FWD(cublasSetMathMode, (handle_t h, int m), (h, m))
FWD(cublasSgemmEx,
    (handle_t h, int ta, int tb, int m, int n, int k, const float *alpha, const void *A, int At, int lda,
     const void *B, int Bt, int ldb, const float *beta, void *C, int Ct, int ldc),
    (h, ta, tb, m, n, k, alpha, A, At, lda, B, Bt, ldb, beta, C, Ct, ldc))
FWD(cublasGemmEx,
    (handle_t h, int ta, int tb, int m, int n, int k, const void *alpha, const void *A, int At, int lda,
     const void *B, int Bt, int ldb, const void *beta, void *C, int Ct, int ldc, int compute, int algo),
    (h, ta, tb, m, n, k, alpha, A, At, lda, B, Bt, ldb, beta, C, Ct, ldc, compute, algo))
FWD(cublasGemmStridedBatchedEx,
    (handle_t h, int ta, int tb, int m, int n, int k, const void *alpha, const void *A, int At, int lda,
     long long sA, const void *B, int Bt, int ldb, long long sB, const void *beta, void *C, int Ct, int ldc,
     long long sC, int count, int compute, int algo),
    (h, ta, tb, m, n, k, alpha, A, At, lda, sA, B, Bt, ldb, sB, beta, C, Ct, ldc, sC, count, compute, algo))
