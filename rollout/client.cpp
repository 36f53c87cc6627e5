// rollout/client.cpp: fan-out, deadlines and requeue over the rollout workers, weight
// pushes, and local workers (see client.h).
// generate() keeps one table of groups under a mutex; each dispatched share runs its own
// streaming call on a thread and, when the stream ends badly, returns its incomplete
// groups to the pending queue and marks the worker dead. The main thread loops: dispatch
// pending groups to live workers, wait for a share to end, until every group is complete.
#include "rollout/client.h"

#include <ATen/ops/empty.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <deque>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "core/job_config.h"
#include "core/log.h"
#include "proto/rollout.grpc.pb.h"
#include "rollout/server.h"

extern char** environ;

namespace grpo::rollout {

namespace pb = ::grpo::rollout::v1;
using Clock = std::chrono::system_clock;

namespace {

std::chrono::system_clock::time_point deadline_in(double s) {
  return Clock::now() + std::chrono::milliseconds(static_cast<int64_t>(s * 1000));
}

// Failures that another worker might not have (the worker is gone, slow or draining).
bool retryable(grpc::StatusCode c) {
  return c == grpc::StatusCode::UNAVAILABLE || c == grpc::StatusCode::DEADLINE_EXCEEDED ||
         c == grpc::StatusCode::CANCELLED || c == grpc::StatusCode::ABORTED ||
         c == grpc::StatusCode::INTERNAL || c == grpc::StatusCode::UNKNOWN;
}

std::string status_text(const grpc::Status& s) {
  return str("status ", static_cast<int>(s.error_code()), " (", s.error_message(), ")");
}

const char* dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kBFloat16: return "bfloat16";
    case at::kHalf: return "float16";
    default: return nullptr;
  }
}

}  // namespace

ClientOptions client_options_from(const JobConfig& cfg, std::vector<std::string> addresses) {
  ClientOptions o;
  o.addresses = std::move(addresses);
  o.auth_token = resolve_auth_token(cfg);
  o.tls = cfg.rollout.tls;
  o.tls_ca = cfg.rollout.tls_ca;
  o.request_timeout_s = cfg.rollout.request_timeout_s;
  o.max_message_mb = cfg.rollout.max_message_mb;
  return o;
}

struct Worker {
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::RolloutWorker::Stub> stub;
  bool alive = true;
  std::string error;
  int64_t free_slots = 1;
};

struct RolloutClient::Impl {
  ClientOptions opt;
  std::vector<Worker> workers;

  void prepare(grpc::ClientContext& ctx, double timeout_s) const {
    ctx.set_deadline(deadline_in(timeout_s));
    if (!opt.auth_token.empty()) ctx.AddMetadata("authorization", "Bearer " + opt.auth_token);
  }
};

RolloutClient::RolloutClient(ClientOptions options) : impl_(std::make_unique<Impl>()) {
  impl_->opt = std::move(options);
  GRPO_ENSURE(!impl_->opt.addresses.empty(), "rollout client: no worker addresses");
  std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
  if (impl_->opt.tls) {
    grpc::SslCredentialsOptions o;
    if (!impl_->opt.tls_ca.empty()) o.pem_root_certs = fs::read_file(impl_->opt.tls_ca);
    creds = grpc::SslCredentials(o);
  }
  grpc::ChannelArguments args;
  const int max_bytes = static_cast<int>(std::min<int64_t>(impl_->opt.max_message_mb, 2047) << 20);
  args.SetMaxReceiveMessageSize(max_bytes);
  args.SetMaxSendMessageSize(max_bytes);
  for (const auto& a : impl_->opt.addresses) {
    Worker w;
    w.address = a;
    w.channel = grpc::CreateCustomChannel(a, creds, args);
    w.stub = pb::RolloutWorker::NewStub(w.channel);
    impl_->workers.push_back(std::move(w));
  }
}

RolloutClient::~RolloutClient() = default;

std::vector<std::string> RolloutClient::live_addresses() const {
  std::vector<std::string> out;
  for (const auto& w : impl_->workers)
    if (w.alive) out.push_back(w.address);
  return out;
}

std::vector<WorkerStatus> RolloutClient::workers_info() {
  std::vector<WorkerStatus> out(impl_->workers.size());
  std::vector<std::thread> th;
  for (size_t i = 0; i < impl_->workers.size(); ++i) {
    th.emplace_back([this, i, &out] {
      Worker& w = impl_->workers[i];
      grpc::ClientContext ctx;
      impl_->prepare(ctx, impl_->opt.info_timeout_s);
      pb::WorkerInfoReply r;
      grpc::Status st = w.stub->WorkerInfo(&ctx, pb::WorkerInfoRequest(), &r);
      WorkerStatus& s = out[i];
      s.address = w.address;
      if (!st.ok()) {
        s.error = status_text(st);
        if (st.error_code() == grpc::StatusCode::UNAUTHENTICATED)
          s.error += ": check rollout.auth_token / rollout.auth_token_env";
        return;
      }
      s.alive = true;
      s.model = r.model();
      s.policy_version = r.policy_version();
      s.capacity = r.capacity();
      s.free_slots = r.free_slots();
      s.vocab_size = r.vocab_size();
    });
  }
  for (auto& t : th) t.join();
  for (size_t i = 0; i < out.size(); ++i) {
    impl_->workers[i].alive = out[i].alive;
    impl_->workers[i].error = out[i].error;
    impl_->workers[i].free_slots = std::max<int64_t>(1, out[i].free_slots);
  }
  return out;
}

bool RolloutClient::health_check(size_t worker) {
  GRPO_ENSURE(worker < impl_->workers.size(), "no worker ", worker);
  grpc::GenericStub stub(impl_->workers[worker].channel);
  grpc::ClientContext ctx;
  ctx.set_deadline(deadline_in(impl_->opt.info_timeout_s));
  grpc::Slice empty(std::string{});  // HealthCheckRequest{service: ""} is empty on the wire
  grpc::ByteBuffer req(&empty, 1), resp;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &req, &resp,
                 [&](grpc::Status s) {
                   std::lock_guard<std::mutex> lock(mu);
                   status = std::move(s);
                   done = true;
                   cv.notify_one();
                 });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  if (!status.ok()) return false;
  std::vector<grpc::Slice> slices;
  if (!resp.Dump(&slices).ok()) return false;
  std::string bytes;
  for (auto& s : slices) bytes.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // HealthCheckResponse{status: SERVING (1)}: field 1, varint -> 0x08 0x01.
  return bytes == std::string("\x08\x01", 2);
}

std::vector<std::vector<Completion>> RolloutClient::generate(
    const std::vector<std::vector<int32_t>>& prompts, int64_t group_size,
    const SamplingParams& sampling, std::optional<uint64_t> policy_version) {
  sampling.validate();
  GRPO_ENSURE(group_size >= 1, "group_size must be >= 1, got ", group_size);
  const int64_t P = static_cast<int64_t>(prompts.size());
  std::vector<std::vector<Completion>> result(P);
  if (P == 0) return result;
  workers_info();  // liveness and free capacity

  pb::SamplingParams sp;
  sp.set_temperature(sampling.temperature);
  sp.set_top_p(sampling.top_p);
  sp.set_top_k(sampling.top_k);
  sp.set_max_new_tokens(sampling.max_new_tokens);
  sp.set_seed(sampling.seed);
  for (auto e : sampling.eos_ids) sp.add_eos_token_ids(static_cast<int32_t>(e));
  for (const auto& s : sampling.stop) sp.add_stop(s);

  std::mutex mu;
  std::condition_variable cv;
  std::deque<int64_t> pending;
  for (int64_t p = 0; p < P; ++p) pending.push_back(p);
  std::vector<std::vector<std::optional<Completion>>> partial(P);  // per share in flight
  std::vector<int> owner(P, -1);       // share id holding the group, -1: none
  std::vector<int64_t> attempts(P, 0);
  std::vector<bool> complete(P, false);
  int64_t n_complete = 0;
  int active = 0, next_share = 0;
  std::string fatal;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  std::vector<std::shared_ptr<grpc::ClientContext>> contexts;

  auto run_share = [&](int share, size_t wi, std::vector<int64_t> idx,
                       std::shared_ptr<grpc::ClientContext> ctx) {
    Worker& w = impl_->workers[wi];
    pb::GenerateRequest req;
    req.set_request_id(str("share-", share));
    req.set_group_size(group_size);
    *req.mutable_sampling() = sp;
    if (policy_version) req.set_policy_version(*policy_version);
    for (int64_t p : idx) {
      auto* m = req.add_prompts();
      m->set_prompt_index(p);
      m->mutable_token_ids()->Add(prompts[p].begin(), prompts[p].end());
    }
    auto reader = w.stub->Generate(ctx.get(), req);
    pb::Completion c;
    while (reader->Read(&c)) {
      std::lock_guard<std::mutex> lock(mu);
      const int64_t p = c.prompt_index();
      if (p < 0 || p >= P || owner[p] != share || c.sample_index() < 0 ||
          c.sample_index() >= group_size)
        continue;  // not ours (or a group already re-sent elsewhere)
      auto& slot = partial[p][c.sample_index()];
      if (slot) continue;  // duplicate
      Completion out;
      out.prompt_index = p;
      out.sample_index = c.sample_index();
      out.tokens.assign(c.token_ids().begin(), c.token_ids().end());
      out.logprobs.assign(c.logprobs().begin(), c.logprobs().end());
      out.finish = static_cast<FinishReason>(static_cast<int>(c.finish_reason()));
      out.policy_version = c.policy_version();
      slot = std::move(out);
      bool full = true;
      for (auto& s : partial[p]) full = full && s.has_value();
      if (full) {
        for (auto& s : partial[p]) result[p].push_back(std::move(*s));
        partial[p].clear();
        complete[p] = true;
        owner[p] = -1;
        ++n_complete;
      }
    }
    grpc::Status st = reader->Finish();
    std::lock_guard<std::mutex> lock(mu);
    std::vector<int64_t> lost;
    for (int64_t p : idx)
      if (owner[p] == share) lost.push_back(p);
    if (!st.ok()) {
      if (retryable(st.error_code())) {
        w.alive = false;
        w.error = status_text(st);
        failures.push_back(str(w.address, ": ", status_text(st)));
        log::warn(str("rollout worker ", w.address, " failed (", status_text(st), "); re-sending ",
                      lost.size(), " unfinished groups"));
      } else if (fatal.empty()) {
        fatal = str("rollout worker ", w.address, " refused the request: ", status_text(st));
      }
    } else if (!lost.empty() && fatal.empty()) {
      fatal = str("rollout worker ", w.address, " ended a call with ", lost.size(),
                  " groups incomplete");
    }
    for (int64_t p : lost) {
      owner[p] = -1;
      partial[p].clear();
      pending.push_back(p);
    }
    --active;
    cv.notify_all();
  };

  std::unique_lock<std::mutex> lock(mu);
  while (n_complete < P && fatal.empty()) {
    if (!pending.empty()) {
      std::vector<size_t> live;
      for (size_t i = 0; i < impl_->workers.size(); ++i)
        if (impl_->workers[i].alive) live.push_back(i);
      if (live.empty()) {
        if (active == 0) {
          std::string why;
          for (const auto& f : failures) why += "\n  " + f;
          for (const auto& w : impl_->workers)
            if (!w.error.empty()) why += "\n  " + w.address + ": " + w.error;
          fatal = str("no live rollout worker left for ", pending.size(), " prompts:", why);
          break;
        }
      } else {
        // Split the pending groups in proportion to free capacity (in sequences).
        int64_t total_free = 0;
        for (size_t i : live) total_free += impl_->workers[i].free_slots;
        std::vector<std::vector<int64_t>> shares(live.size());
        const int64_t n = static_cast<int64_t>(pending.size());
        int64_t given = 0;
        for (size_t k = 0; k < live.size(); ++k) {
          int64_t want = (k + 1 == live.size())
                             ? n - given
                             : (n * impl_->workers[live[k]].free_slots + total_free - 1) / total_free;
          want = std::min(want, n - given);
          for (int64_t j = 0; j < want; ++j) {
            int64_t p = pending.front();
            pending.pop_front();
            if (++attempts[p] > impl_->opt.max_attempts) {
              fatal = str("prompt ", p, " failed on ", impl_->opt.max_attempts,
                          " workers; last failures:", failures.empty() ? "" : "\n  " + failures.back());
              break;
            }
            shares[k].push_back(p);
          }
          given += want;
          if (!fatal.empty()) break;
        }
        if (!fatal.empty()) break;
        for (size_t k = 0; k < live.size(); ++k) {
          if (shares[k].empty()) continue;
          int share = next_share++;
          for (int64_t p : shares[k]) {
            owner[p] = share;
            partial[p].assign(group_size, std::nullopt);
          }
          auto ctx = std::make_shared<grpc::ClientContext>();
          impl_->prepare(*ctx, impl_->opt.request_timeout_s);
          contexts.push_back(ctx);
          ++active;
          threads.emplace_back(run_share, share, live[k], shares[k], ctx);
        }
      }
    }
    if (n_complete < P && fatal.empty()) cv.wait(lock);
  }
  if (!fatal.empty())
    for (auto& c : contexts) c->TryCancel();
  lock.unlock();
  for (auto& t : threads) t.join();
  GRPO_ENSURE(fatal.empty(), fatal);
  return result;
}

void RolloutClient::push_weights(const std::vector<std::pair<std::string, at::Tensor>>& named,
                                 uint64_t version) {
  pb::WeightsManifest man;
  man.set_version(version);
  std::vector<at::Tensor> host;
  uint64_t total = 0, sum = 1469598103934665603ULL;
  for (const auto& [name, t] : named) {
    const char* dt = dtype_name(t.scalar_type());
    GRPO_ENSURE(dt != nullptr, "push_weights: tensor '", name, "' has dtype ", t.scalar_type(),
                " (float32, bfloat16 or float16 expected)");
    at::Tensor h = t.detach().to(at::kCPU).contiguous();
    auto* m = man.add_tensors();
    m->set_name(name);
    for (int64_t d : h.sizes()) m->add_shape(d);
    m->set_dtype(dt);
    m->set_nbytes(h.nbytes());
    total += h.nbytes();
    sum = fnv1a64(h.data_ptr(), h.nbytes(), sum);
    host.push_back(h);
  }
  man.set_total_bytes(total);
  man.set_checksum(sum);

  std::vector<std::string> errors(impl_->workers.size());
  std::vector<std::thread> th;
  for (size_t i = 0; i < impl_->workers.size(); ++i) {
    if (!impl_->workers[i].alive) {
      errors[i] = "marked dead: " + impl_->workers[i].error;
      continue;
    }
    th.emplace_back([&, i] {
      Worker& w = impl_->workers[i];
      grpc::ClientContext ctx;
      impl_->prepare(ctx, impl_->opt.weights_timeout_s);
      pb::LoadWeightsReply reply;
      auto writer = w.stub->LoadWeights(&ctx, &reply);
      pb::WeightsChunk chunk;
      *chunk.mutable_manifest() = man;
      bool ok = writer->Write(chunk);
      const size_t step = static_cast<size_t>(impl_->opt.weights_chunk_bytes);
      std::string buf;
      buf.reserve(step);
      auto flush = [&] {
        if (buf.empty() || !ok) return;
        pb::WeightsChunk d;
        d.set_data(buf);
        ok = writer->Write(d);
        buf.clear();
      };
      for (const auto& h : host) {
        const char* p = static_cast<const char*>(h.data_ptr());
        size_t left = h.nbytes();
        while (left > 0 && ok) {
          size_t take = std::min(left, step - buf.size());
          buf.append(p, take);
          p += take, left -= take;
          if (buf.size() == step) flush();
        }
      }
      flush();
      if (ok) {
        pb::WeightsChunk c;
        c.set_commit(true);
        ok = writer->Write(c);
      }
      writer->WritesDone();
      grpc::Status st = writer->Finish();
      if (!st.ok()) errors[i] = status_text(st);
    });
  }
  for (auto& t : th) t.join();
  size_t ok = 0;
  std::string why;
  for (size_t i = 0; i < errors.size(); ++i) {
    if (errors[i].empty()) {
      ++ok;
      continue;
    }
    why += "\n  " + impl_->workers[i].address + ": " + errors[i];
    if (impl_->workers[i].alive) {
      log::warn(str("rollout worker ", impl_->workers[i].address, " did not take weights version ",
                    version, ": ", errors[i]));
      impl_->workers[i].alive = false;
      impl_->workers[i].error = errors[i];
    }
  }
  GRPO_ENSURE(ok > 0, "push_weights: no worker accepted version ", version, ":", why);
}

// --- LocalWorkers ----------------------------------------------------------------------

LocalWorkers::LocalWorkers(const JobConfig& cfg_in, int64_t n, const std::string& mode,
                           const std::string& exe, double timeout_s) {
  GRPO_ENSURE(n >= 1, "rollout.num_local_workers must be >= 1, got ", n);
  GRPO_ENSURE(mode == "process" || mode == "thread", "rollout.local_mode must be process or thread, got '",
              mode, "'");
  token_ = resolve_auth_token(cfg_in);
  if (token_.empty()) {
    std::random_device rd;
    char buf[33];
    for (int i = 0; i < 32; i += 8) std::snprintf(buf + i, 9, "%08x", rd());
    token_ = std::string(buf, 32);
  }
  JobConfig cfg = cfg_in;
  cfg.rollout.auth_token.clear();
  cfg.rollout.auth_token_env = "GRPO_ROLLOUT_TOKEN";
  cfg.rollout.tls = false;  // loopback only
  if (mode == "thread") {
    cfg.rollout.auth_token = token_;
    for (int64_t i = 0; i < n; ++i) {
      auto w = make_worker(cfg, "127.0.0.1:0");
      w->start();
      addresses_.push_back(w->address());
      servers_.push_back(std::move(w));
    }
    return;
  }
  namespace sfs = std::filesystem;
  std::string base = (sfs::temp_directory_path() / ("grpo-workers-" + std::to_string(getpid()) + "-" +
                                                    token_.substr(0, 8))).string();
  sfs::create_directories(base);
  sfs::permissions(base, sfs::perms::owner_all, sfs::perm_options::replace);
  const std::string yaml_path = base + "/config.yaml";
  fs::write_atomic(yaml_path, cfg.to_yaml());
  std::vector<std::string> env_store;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "GRPO_ROLLOUT_TOKEN=", 19) != 0) env_store.push_back(*e);
  env_store.push_back("GRPO_ROLLOUT_TOKEN=" + token_);
  std::vector<char*> envp;
  for (auto& s : env_store) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::vector<std::string> port_files;
  for (int64_t i = 0; i < n; ++i) {
    std::string dir = base + "/w" + std::to_string(i);
    sfs::create_directories(dir);
    dirs_.push_back(dir);
    std::string port_file = dir + "/port", log_file = dir + "/worker.log";
    port_files.push_back(port_file);
    std::vector<std::string> argv_s = {exe, "rollout-worker", "--listen", "127.0.0.1:0",
                                       "--port-file", port_file, "--config", yaml_path};
    std::vector<char*> argv;
    for (auto& s : argv_s) argv.push_back(s.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid = 0;
    int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), envp.data());
    posix_spawn_file_actions_destroy(&fa);
    GRPO_ENSURE(rc == 0, "cannot start local rollout worker '", exe, "': ", std::strerror(rc));
    pids_.push_back(pid);
  }
  auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  addresses_.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    while (true) {
      if (sfs::exists(port_files[i])) {
        std::string port = fs::read_file(port_files[i]);
        if (!port.empty() && port.back() == '\n') {
          addresses_[i] = "127.0.0.1:" + port.substr(0, port.size() - 1);
          break;
        }
      }
      int status = 0;
      if (waitpid(pids_[i], &status, WNOHANG) == pids_[i]) {
        pids_[i] = -1;
        throw Error(str("local rollout worker ", i, " exited during start-up (status ", status,
                        "); see ", dirs_[i], "/worker.log"));
      }
      GRPO_ENSURE(std::chrono::steady_clock::now() < until, "local rollout worker ", i,
                  " did not listen within ", timeout_s, " s; see ", dirs_[i], "/worker.log");
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
}

LocalWorkers::~LocalWorkers() {
  for (auto& s : servers_) s->shutdown(5);
  for (int pid : pids_)
    if (pid > 0) kill(pid, SIGTERM);
  for (int pid : pids_) {
    if (pid <= 0) continue;
    int status = 0;
    for (int i = 0; i < 500; ++i) {  // up to 10 s of drain, then SIGKILL
      pid_t r = waitpid(pid, &status, WNOHANG);
      if (r == pid || (r < 0 && errno == ECHILD)) {  // exited (or already reaped by the caller)
        pid = -1;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
    }
  }
}

}  // namespace grpo::rollout
