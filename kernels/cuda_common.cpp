// kernels/cuda_common.cpp: CUDA error reporting for the torch-free launchers and the
// adapter helpers of cuda_adapter.h.
#include <ATen/cuda/CUDAContextLight.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/Exception.h>

#include "core/error.h"
#include "kernels/cuda_adapter.h"
#include "kernels/cuda_ops.h"

namespace grpo::kernels::cuda {

void check_cuda(cudaError_t err, const char* what, const char* file, int line) {
  if (err == cudaSuccess) return;
  throw grpo::Error(grpo::str("CUDA error at ", file, ":", line, ": ", what, ": ",
                              cudaGetErrorName(err), " (", cudaGetErrorString(err), ")"));
}

bool device_present() {
  int n = 0;
  if (cudaGetDeviceCount(&n) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no device" error
    return false;
  }
  return n > 0;
}

DType dtype_of(const at::Tensor& t, const char* what) {
  switch (t.scalar_type()) {
    case at::kFloat: return DType::kF32;
    case at::kBFloat16: return DType::kBF16;
    case at::kHalf: return DType::kF16;
    default: TORCH_CHECK(false, what, ": CUDA kernels take float, bfloat16 or half, got ",
                         t.scalar_type());
  }
  return DType::kF32;
}

cudaStream_t stream_of(const at::Tensor& t) {
  return c10::cuda::getCurrentCUDAStream(t.device().index()).stream();
}

int sm_count(const at::Tensor& t) {
  return at::cuda::getDeviceProperties(t.device().index())->multiProcessorCount;
}

void check_on_device(const at::Tensor& t, const at::Tensor& like, const char* what) {
  TORCH_CHECK(t.defined() && t.device() == like.device(), what, " must be on ", like.device(),
              ", got ", t.defined() ? t.device().str() : std::string("undefined"));
}

}  // namespace grpo::kernels::cuda
