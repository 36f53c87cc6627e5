// rollout/client.h: the learner's side of the rollout workers.
//
//   RolloutClient client(options);                                // job/ builds the options
//   client.push_weights(policy.state(), version);                 // all workers, atomic each
//   std::vector<Group> groups = client.generate(prompts, G, sampling, version);
//   // groups[p].samples[g]: answer g of prompt p (token ids, log-probs, finish, version)
//
// Design: generate() asks every worker for its free capacity, splits the prompts in
// proportion (split_by_capacity), and runs one streaming Generate call per share, each
// with a deadline. When a call fails (worker killed, unreachable, past its deadline) the
// groups of that share that are not complete go back to the pending queue and are re-sent
// whole to the live workers; the GroupTable (group_table.h) accepts each group exactly
// once, so no group is lost or duplicated. Sample streams are seeded by (seed, prompt
// index, sample index), so a re-sent group reproduces the same answers. Errors that
// re-sending cannot fix (bad token ids, wrong token, stale version) throw at once.
// LocalWorkers starts workers on this machine; their addresses go through the same client.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "rollout/completion.h"
#include "rollout/engine.h"

namespace grpo::rollout {

class WorkerServer;

struct ClientOptions {
  std::vector<std::string> addresses;  // HOST:PORT of each worker
  std::string auth_token;              // sent as `authorization: Bearer <token>`
  bool tls = false;
  std::string tls_ca;                  // PEM root certificate file (empty: system roots)
  double request_timeout_s = 600;      // deadline of one Generate call
  double info_timeout_s = 10;          // deadline of WorkerInfo / health calls
  double weights_timeout_s = 600;      // deadline of one LoadWeights stream
  int64_t max_message_mb = 64;
  int64_t max_attempts = 3;            // sends of one group before generate() gives up
  int64_t weights_chunk_bytes = 4 << 20;
};

struct WorkerStatus {
  std::string address;
  bool alive = false;
  std::string error;   // why not alive
  std::string model;
  uint64_t policy_version = 0;
  int64_t capacity = 0, free_slots = 0, vocab_size = 0;
};

class RolloutClient {
 public:
  // Connects lazily; throws grpo::Error for no addresses or an unreadable tls_ca.
  explicit RolloutClient(ClientOptions options);
  ~RolloutClient();
  RolloutClient(const RolloutClient&) = delete;
  RolloutClient& operator=(const RolloutClient&) = delete;

  // Samples `group_size` completions for each prompt. Returns one Group per prompt, in
  // prompt order, holding that prompt (shared, not copied) and its G samples sorted by
  // sample index, each stamped with the policy version that produced it. When
  // `policy_version` is set the workers must hold exactly it. Blocks; not thread-safe (one
  // call at a time). Throws grpo::Error naming the worker and status when no live worker
  // remains, a group failed max_attempts times, or a worker rejects the request itself.
  std::vector<Group> generate(const std::vector<SharedIds>& prompts, int64_t group_size,
                              const SamplingParams& sampling,
                              std::optional<uint64_t> policy_version = {});
  // The same for callers holding plain ids (each prompt is copied once into a SharedIds).
  std::vector<Group> generate(const std::vector<TokenIds>& prompts, int64_t group_size,
                              const SamplingParams& sampling,
                              std::optional<uint64_t> policy_version = {});

  // Sends `named` (HF names -> tensors, any device/dtype float32|bfloat16|float16) as
  // version `version` to every live worker in parallel (manifest, 4 MiB chunks, commit).
  // A worker that fails is marked dead for later generate() calls; throws grpo::Error if
  // none accepted the update.
  void push_weights(const std::vector<std::pair<std::string, at::Tensor>>& named, uint64_t version);

  // WorkerInfo of every worker (dead ones with their error). Updates liveness.
  std::vector<WorkerStatus> workers_info();

  // Standard grpc.health.v1 Check of one worker: true when SERVING.
  bool health_check(size_t worker);

  // Addresses that are currently considered alive.
  std::vector<std::string> live_addresses() const;

  struct Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// How to start workers on this machine.
struct LocalWorkerOptions {
  int64_t num_workers = 1;
  std::string mode = "process";        // process | thread (in-process servers on loopback)
  std::string exe = "/proc/self/exe";  // the grpo binary (process mode)
  double timeout_s = 300;              // until every worker listens
  std::string auth_token;              // empty: a fresh random token
  // Process mode: the job config YAML each `exe rollout-worker --config` reads (with no
  // auth token and no TLS in it: the token travels in GRPO_ROLLOUT_TOKEN).
  std::string config_yaml;
  // Thread mode: builds one worker serving on `listen` with `token`.
  std::function<std::unique_ptr<WorkerServer>(const std::string& listen,
                                                    const std::string& token)>
      make_worker;
};

// Workers started on this machine: child processes of `exe rollout-worker` on free
// loopback ports (mode "process"), or in-process servers (mode "thread"). The destructor
// stops them (SIGTERM, then SIGKILL after a grace period). Not thread-safe.
class LocalWorkers {
 public:
  // Starts and waits until every worker listens. The token is passed to process workers
  // through the environment, never on the command line. Throws grpo::Error with the
  // worker's exit status / log path if one fails to start.
  explicit LocalWorkers(LocalWorkerOptions options);
  ~LocalWorkers();
  LocalWorkers(const LocalWorkers&) = delete;
  LocalWorkers& operator=(const LocalWorkers&) = delete;

  const std::vector<std::string>& addresses() const { return addresses_; }
  const std::string& auth_token() const { return token_; }
  // Process ids of process workers (tests kill one to simulate a lost worker).
  const std::vector<int>& pids() const { return pids_; }

 private:
  std::vector<std::string> addresses_;
  std::vector<int> pids_;
  std::vector<std::string> dirs_;
  std::vector<std::unique_ptr<WorkerServer>> servers_;
  std::string token_;

  void start_threads(const LocalWorkerOptions& o);
  void start_processes(const LocalWorkerOptions& o);
  void wait_listening(const std::vector<std::string>& port_files, double timeout_s);
};

}  // namespace grpo::rollout
