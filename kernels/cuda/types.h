// kernels/cuda/types.h: plain types shared by the torch-free CUDA launchers and their
// tensor adapters (host-compilable; no torch, no device code).
#pragma once
#include <cuda_runtime_api.h>

#include <cstdint>

namespace grpo::kernels::cuda {

// Element type of a floating-point buffer passed to a launcher.
enum class DType { kF32, kBF16, kF16 };

// Throws grpo::Error naming the call, file:line and CUDA's message when err is not
// cudaSuccess (defined in kernels/cuda_common.cpp).
void check_cuda(cudaError_t err, const char* what, const char* file, int line);

}  // namespace grpo::kernels::cuda

// Every CUDA runtime call goes through this; after every launch: GRPO_CUDA_CHECK_LAUNCH().
#define GRPO_CUDA_CHECK(expr) \
  ::grpo::kernels::cuda::check_cuda((expr), #expr, __FILE__, __LINE__)
#define GRPO_CUDA_CHECK_LAUNCH() \
  ::grpo::kernels::cuda::check_cuda(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
