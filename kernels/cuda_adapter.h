// kernels/cuda_adapter.h: helpers shared by the tensor adapters cuda_<op>.cpp (GRPO_CUDA
// builds only): dtype mapping, the current stream, tensor checks. Not for use outside
// kernels/.
#pragma once
#include <ATen/core/Tensor.h>
#include <cuda_runtime_api.h>

#include "kernels/cuda/types.h"

namespace grpo::kernels::cuda {

// Storage type of a float/bf16/half tensor; TORCH_CHECK fails for any other dtype.
DType dtype_of(const at::Tensor& t, const char* what);
// The current CUDA stream of t's device.
cudaStream_t stream_of(const at::Tensor& t);
// Number of SMs of t's device.
int sm_count(const at::Tensor& t);
// TORCH_CHECK that t is defined and on the same CUDA device as `like`.
void check_on_device(const at::Tensor& t, const at::Tensor& like, const char* what);

}  // namespace grpo::kernels::cuda
