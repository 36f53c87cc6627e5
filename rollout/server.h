// rollout/server.h: the rollout worker: serves proto/rollout.proto (Generate, LoadWeights,
// WorkerInfo) plus the standard grpc.health.v1 service over one Engine.
// Design: one driver thread steps the engine; gRPC handler threads only queue work and
// stream finished completions back, so requests from many callers share one continuous
// batch. Weight updates are staged in full, verified (sizes, names, shapes, checksum) and
// swapped between engine steps once running sequences drain, so a completion is produced
// by exactly one policy version and a half-received update never serves requests.
// Authentication: when a token is set every call must carry `authorization: Bearer
// <token>` metadata, checked by the handlers themselves (UNAUTHENTICATED otherwise);
// the health service stays open for probes.
#pragma once
#include <cstdint>
#include <memory>
#include <string>

#include "rollout/engine.h"

namespace grpo::models {
class CausalLM;
}

namespace grpo::rollout {

struct WorkerOptions {
  std::string listen = "127.0.0.1:0";  // HOST:PORT; port 0 picks a free one
  std::string auth_token;              // empty: no authentication
  bool tls = false;
  std::string tls_cert, tls_key;       // PEM files (server side) when tls
  int64_t max_message_mb = 64;         // larger messages are refused (RESOURCE_EXHAUSTED)
  int64_t max_batch_seqs = 64;
  std::string model_name;              // reported by WorkerInfo
  DecodeFn decode;                     // for stop strings (from the tokenizer)
  std::vector<int64_t> default_eos_ids;  // added to every request's EOS ids
  uint64_t policy_version = 0;         // version of the initial weights
};

class WorkerServer {
 public:
  // Takes ownership of `model`. Nothing runs until start().
  WorkerServer(std::unique_ptr<models::CausalLM> model, WorkerOptions options);
  ~WorkerServer();  // shutdown(0) if still running
  WorkerServer(const WorkerServer&) = delete;
  WorkerServer& operator=(const WorkerServer&) = delete;

  // Binds and starts serving. Throws grpo::Error if the address cannot be bound or the
  // TLS files cannot be read.
  void start();
  // The bound port / "host:port" (valid after start()).
  int port() const;
  std::string address() const;
  // Refuses new calls, lets in-flight ones finish for up to `drain_s` seconds, cancels
  // the rest, then stops the engine. Idempotent; thread-safe.
  void shutdown(double drain_s);
  // Blocks until shutdown() has completed.
  void wait();

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// FNV-1a 64 over bytes, continuing from `h` (the LoadWeights checksum).
uint64_t fnv1a64(const void* data, size_t n, uint64_t h = 1469598103934665603ULL);

}  // namespace grpo::rollout
