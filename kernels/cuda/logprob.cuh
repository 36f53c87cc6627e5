// kernels/cuda/logprob.cuh: host launchers of the per-chunk steps of token_logprobs.
// Forward reduces a chunk of logits (rows x vocab, dtype) to fp32 per-row statistics in
// one pass (online softmax); backward turns the logits into dlogits in place. Launch on
// `stream`; failures throw grpo::Error.
#pragma once
#include <cstdint>

#include "kernels/cuda/types.h"

namespace grpo::kernels::cuda {

struct LogprobFwdParams {
  const void* logits = nullptr;    // rows x vocab, dtype (row stride = ld)
  const int64_t* targets = nullptr;  // rows
  float* logprob = nullptr;        // rows: z[target] - lse
  float* lse = nullptr;            // rows: logsumexp(z)
  float* entropy = nullptr;        // rows: lse - E_p[z]; nullable
  int64_t rows = 0, vocab = 0, ld = 0;
  float inv_t = 1.f;               // z = logits * inv_t
  DType dtype = DType::kF32;
  cudaStream_t stream = nullptr;
};
void logprob_forward(const LogprobFwdParams& p);

struct LogprobBwdParams {
  void* logits = nullptr;           // rows x vocab, dtype: read, then overwritten by dlogits
  const int64_t* targets = nullptr; // rows
  const float* lse = nullptr;       // rows
  const float* entropy = nullptr;   // rows; required when g_entropy is set
  const float* g_logprob = nullptr; // rows; nullable (zero)
  const float* g_entropy = nullptr; // rows; nullable (zero)
  int64_t rows = 0, vocab = 0, ld = 0;
  float inv_t = 1.f;
  DType dtype = DType::kF32;
  cudaStream_t stream = nullptr;
};
void logprob_backward_inplace(const LogprobBwdParams& p);

}  // namespace grpo::kernels::cuda
