// core/sections/rollout.h: `rollout:` sampling settings and the rollout workers.
#pragma once
#include "core/config.h"

namespace grpo::cfg {
struct RolloutConfig {
  int64_t num_generations = 8;          // G answers per prompt (TRL: num_generations)
  int64_t max_completion_length = 256;  // TRL: max_completion_length
  double temperature = 1.0;
  double top_p = 1.0;
  int64_t top_k = 0;                    // 0: off
  std::vector<std::string> stop = {"</answer>"};
  std::vector<std::string> workers;     // host:port of remote workers; empty: local workers
  int64_t num_local_workers = 1;
  std::string local_mode = "process";   // process | thread (in-process server on loopback)
  std::string auth_token;               // shared secret; or the env var below
  std::string auth_token_env = "GRPO_ROLLOUT_TOKEN";
  bool tls = false;
  std::string tls_cert, tls_key, tls_ca;
  double request_timeout_s = 600;
  int64_t max_message_mb = 64;
  int64_t max_batch_seqs = 64;          // sequences decoded at once per worker
  int64_t num_threads = 0;              // CPU intra-op threads of a worker process (0: default)
  void visit(Visitor& v) {
    v.field("num_generations", num_generations, {.doc = "answers sampled per prompt (group size G)", .range = Range{1, 1e6}});
    v.field("max_completion_length", max_completion_length, {.doc = "maximum new tokens per answer", .range = Range{1, 1e7}});
    v.field("temperature", temperature, {.doc = "sampling temperature", .range = Range{0, 100}});
    v.field("top_p", top_p, {.doc = "nucleus sampling mass", .range = Range{0, 1, true, false}});
    v.field("top_k", top_k, {.doc = "keep the k most likely tokens (0: off)", .range = Range{0, 1e9}});
    v.field("stop", stop, {.doc = "stop strings; the completion ends after the first one"});
    v.field("workers", workers, {.doc = "HOST:PORT of remote rollout workers; empty starts local ones"});
    v.field("num_local_workers", num_local_workers, {.doc = "local workers started when no workers are listed", .range = Range{1, 1024}});
    v.field("local_mode", local_mode, {.doc = "how local workers run", .one_of = {"process", "thread"}});
    v.field("auth_token", auth_token, {.doc = "shared secret required on every call (prefer auth_token_env)"});
    v.field("auth_token_env", auth_token_env, {.doc = "environment variable holding the shared secret"});
    v.field("tls", tls, {.doc = "use TLS between learner and workers"});
    v.field("tls_cert", tls_cert, {.doc = "PEM certificate (server)"});
    v.field("tls_key", tls_key, {.doc = "PEM private key (server)"});
    v.field("tls_ca", tls_ca, {.doc = "PEM root certificate (client)"});
    v.field("request_timeout_s", request_timeout_s, {.doc = "deadline of one generate call", .range = Range{0, 1e7, true}});
    v.field("max_message_mb", max_message_mb, {.doc = "largest gRPC message accepted", .range = Range{1, 2047}});
    v.field("max_batch_seqs", max_batch_seqs, {.doc = "sequences a worker decodes at once", .range = Range{1, 1e6}});
    v.field("num_threads", num_threads, {.doc = "CPU intra-op threads of each rollout worker process (0: LibTorch's default; in-process workers share the trainer's)", .range = Range{0, 4096}});
  }
};
}  // namespace grpo::cfg
