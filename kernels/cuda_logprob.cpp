// kernels/cuda_logprob.cpp: tensor adapter of the per-chunk token log-prob kernels
// (kernels/cuda/logprob.cuh); the chunk loop and autograd live in token_logprobs.cpp.
#include <c10/cuda/CUDAGuard.h>

#include "kernels/cuda/logprob.cuh"
#include "kernels/cuda_adapter.h"
#include "kernels/cuda_ops.h"

namespace grpo::kernels::cuda {

void logprob_chunk_forward(const at::Tensor& logits, const at::Tensor& targets, double inv_t,
                           at::Tensor& logprob, at::Tensor& lse, at::Tensor& entropy) {
  c10::cuda::CUDAGuard guard(logits.device());
  TORCH_CHECK(logits.dim() == 2 && logits.stride(1) == 1, "logprob (CUDA): logits chunk must be "
              "[n, V] with unit column stride");
  TORCH_CHECK(targets.is_contiguous() && logprob.is_contiguous() && lse.is_contiguous() &&
                  (!entropy.defined() || entropy.is_contiguous()),
              "logprob (CUDA): per-row buffers must be contiguous");
  LogprobFwdParams p;
  p.logits = logits.data_ptr();
  p.targets = targets.data_ptr<int64_t>();
  p.logprob = logprob.data_ptr<float>();
  p.lse = lse.data_ptr<float>();
  p.entropy = entropy.defined() ? entropy.data_ptr<float>() : nullptr;
  p.rows = logits.size(0);
  p.vocab = logits.size(1);
  p.ld = logits.stride(0);
  p.inv_t = static_cast<float>(inv_t);
  p.dtype = dtype_of(logits, "token_logprobs");
  p.stream = stream_of(logits);
  logprob_forward(p);
}

void logprob_chunk_backward_(at::Tensor& logits, const at::Tensor& targets, double inv_t,
                             const at::Tensor& lse, const at::Tensor& entropy,
                             const at::Tensor& g_logprob, const at::Tensor& g_entropy) {
  c10::cuda::CUDAGuard guard(logits.device());
  TORCH_CHECK(logits.dim() == 2 && logits.stride(1) == 1, "logprob (CUDA): logits chunk must be "
              "[n, V] with unit column stride");
  TORCH_CHECK(!g_entropy.defined() || entropy.defined(),
              "logprob (CUDA): an entropy gradient needs the saved entropy");
  LogprobBwdParams p;
  p.logits = logits.data_ptr();
  p.targets = targets.data_ptr<int64_t>();
  p.lse = lse.data_ptr<float>();
  p.entropy = entropy.defined() ? entropy.data_ptr<float>() : nullptr;
  p.g_logprob = g_logprob.defined() ? g_logprob.data_ptr<float>() : nullptr;
  p.g_entropy = g_entropy.defined() ? g_entropy.data_ptr<float>() : nullptr;
  p.rows = logits.size(0);
  p.vocab = logits.size(1);
  p.ld = logits.stride(0);
  p.inv_t = static_cast<float>(inv_t);
  p.dtype = dtype_of(logits, "token_logprobs backward");
  p.stream = stream_of(logits);
  logprob_backward_inplace(p);
}

}  // namespace grpo::kernels::cuda
