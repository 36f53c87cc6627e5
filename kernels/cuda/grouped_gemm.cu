// kernels/cuda/grouped_gemm.cu: grouped expert GEMMs through cuBLAS.
// defines: grouped_gemm_run
// Row-major C = op(A) op(B) is column-major C^T = op(B)^T op(A)^T, so each problem is
// handed to cuBLAS with A and B swapped. All groups share one transposition pattern per
// call in practice, but cuBLAS takes per-group arrays, so nothing assumes it. The pointer
// arrays go to the device through the caller's scratch (one copy from pageable host memory,
// ordered on the stream).
#include "kernels/cuda/grouped_gemm.cuh"

#include <string>

#include "core/error.h"
#include "kernels/cuda/common.cuh"

namespace grpo::kernels::cuda {
namespace {
void check_cublas(cublasStatus_t st, const char* what) {
  GRPO_ENSURE(st == CUBLAS_STATUS_SUCCESS, "grouped_gemm (CUDA): ", what, " failed: ",
              cublasGetStatusName(st), " (", cublasGetStatusString(st), ")");
}
cudaDataType_t cuda_type(DType d) {
  switch (d) {
    case DType::kF32: return CUDA_R_32F;
    case DType::kBF16: return CUDA_R_16BF;
    case DType::kF16: return CUDA_R_16F;
  }
  return CUDA_R_32F;
}
}  // namespace

void grouped_gemm_run(const GroupedGemmParams& p) {
  std::vector<GemmProblem> probs;
  for (const GemmProblem& q : p.problems)
    if (q.m > 0 && q.n > 0) probs.push_back(q);
  if (probs.empty()) return;
  check_cublas(cublasSetStream(p.handle, p.stream), "cublasSetStream");
  const int g = static_cast<int>(probs.size());
  // Column-major view: C^T[n, m] = op(B)^T [n, k] * op(A)^T [k, m].
  std::vector<cublasOperation_t> ta(g), tb(g);
  std::vector<int> mm(g), nn(g), kk(g), lda(g), ldb(g), ldc(g), size(g, 1);
  std::vector<float> alpha(g, 1.f), beta(g, 0.f);
  std::vector<const void*> aptr(g), bptr(g);
  std::vector<void*> cptr(g);
  for (int i = 0; i < g; ++i) {
    const GemmProblem& q = probs[i];
    ta[i] = q.trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;  // cuBLAS A := our B
    tb[i] = q.trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;  // cuBLAS B := our A
    mm[i] = q.n;
    nn[i] = q.m;
    kk[i] = q.k;
    aptr[i] = q.b;
    lda[i] = q.ldb;
    bptr[i] = q.a;
    ldb[i] = q.lda;
    cptr[i] = q.c;
    ldc[i] = q.ldc;
  }
  const cudaDataType_t t = cuda_type(p.dtype);
  const cublasComputeType_t compute = (p.dtype == DType::kF32 && p.allow_tf32)
                                          ? CUBLAS_COMPUTE_32F_FAST_TF32
                                          : CUBLAS_COMPUTE_32F;
  // Pointer arrays to the device: [A..., B..., C...].
  std::vector<const void*> host_ptrs(3 * g);
  for (int i = 0; i < g; ++i) {
    host_ptrs[i] = aptr[i];
    host_ptrs[g + i] = bptr[i];
    host_ptrs[2 * g + i] = cptr[i];
  }
  GRPO_CUDA_CHECK(cudaMemcpyAsync(p.device_ptrs, host_ptrs.data(), sizeof(void*) * 3 * g,
                                  cudaMemcpyHostToDevice, p.stream));
  const void* const* dA = const_cast<const void* const*>(p.device_ptrs);
  const void* const* dB = const_cast<const void* const*>(p.device_ptrs + g);
  void* const* dC = p.device_ptrs + 2 * g;
  cublasStatus_t st = cublasGemmGroupedBatchedEx(
      p.handle, ta.data(), tb.data(), mm.data(), nn.data(), kk.data(), alpha.data(), dA, t,
      lda.data(), dB, t, ldb.data(), beta.data(), dC, t, ldc.data(), g, size.data(), compute);
  // A copy from pageable memory returns once the source has been staged, so host_ptrs
  // may go out of scope; the size arrays are read by cuBLAS during the call.
  if (st == CUBLAS_STATUS_NOT_SUPPORTED) {
    for (int i = 0; i < g; ++i) {
      check_cublas(cublasGemmEx(p.handle, ta[i], tb[i], mm[i], nn[i], kk[i], &alpha[i], aptr[i], t,
                                lda[i], bptr[i], t, ldb[i], &beta[i], cptr[i], t, ldc[i], compute,
                                CUBLAS_GEMM_DEFAULT),
                   "cublasGemmEx");
    }
    return;
  }
  check_cublas(st, "cublasGemmGroupedBatchedEx");
}

}  // namespace grpo::kernels::cuda
