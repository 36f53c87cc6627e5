// kernels/cuda/grouped_gemm.cuh: a grouped GEMM over row-major matrices, one problem per
// expert, run as one cuBLAS grouped batched GEMM (cublasGemmGroupedBatchedEx, fp32
// accumulate), falling back to one cublasGemmEx per group where the grouped call reports
// the type combination unsupported. Failures throw grpo::Error naming the cuBLAS status.
#pragma once
#include <cublas_v2.h>

#include <cstdint>
#include <vector>

#include "kernels/cuda/types.h"

namespace grpo::kernels::cuda {

// One row-major problem: C[m, n] = op(A) @ op(B), with op(A) [m, k] and op(B) [k, n].
// trans_a: A is stored [k, m] (lda = its row length); likewise trans_b: B stored [n, k].
struct GemmProblem {
  const void* a = nullptr;
  const void* b = nullptr;
  void* c = nullptr;
  int m = 0, n = 0, k = 0;
  int lda = 0, ldb = 0, ldc = 0;  // row strides in elements
  bool trans_a = false, trans_b = false;
};

struct GroupedGemmParams {
  cublasHandle_t handle = nullptr;  // set to `stream` by the launcher
  cudaStream_t stream = nullptr;
  DType dtype = DType::kF32;        // A, B and C
  bool allow_tf32 = false;          // fp32 inputs: TF32 tensor cores
  std::vector<GemmProblem> problems;  // groups with m == 0 are skipped
  // Device scratch of at least 3 * problems.size() pointers (A, B, C arrays for cuBLAS).
  void** device_ptrs = nullptr;
};
void grouped_gemm_run(const GroupedGemmParams& p);

}  // namespace grpo::kernels::cuda
