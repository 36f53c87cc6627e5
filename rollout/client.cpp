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
#include "core/log.h"
#include "proto/rollout.grpc.pb.h"
#include "rollout/group_table.h"
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

struct Worker {
  std::string address;
  std::shared_ptr<grpc::Channel> channel;
  std::unique_ptr<pb::RolloutWorker::Stub> stub;
  bool alive = true;
  std::string error;
  int64_t free_slots = 1;
};

struct GenerateCall;

struct RolloutClient::Impl {
  ClientOptions opt;
  std::vector<Worker> workers;

  void run_share(GenerateCall& call, int share, size_t wi, std::vector<int64_t> idx,
                 std::shared_ptr<grpc::ClientContext> ctx);
  bool dispatch(GenerateCall& call);

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

namespace {

pb::SamplingParams to_proto(const SamplingParams& s) {
  pb::SamplingParams sp;
  sp.set_temperature(s.temperature);
  sp.set_top_p(s.top_p);
  sp.set_top_k(s.top_k);
  sp.set_max_new_tokens(s.max_new_tokens);
  sp.set_seed(s.seed);
  for (auto e : s.eos_ids) sp.add_eos_token_ids(static_cast<int32_t>(e));
  for (const auto& x : s.stop) sp.add_stop(x);
  return sp;
}

Completion from_proto(const pb::Completion& c) {
  Completion out;
  out.prompt_index = c.prompt_index();
  out.sample_index = c.sample_index();
  out.tokens.assign(c.token_ids().begin(), c.token_ids().end());
  out.logprobs.assign(c.logprobs().begin(), c.logprobs().end());
  out.finish = static_cast<FinishReason>(static_cast<int>(c.finish_reason()));
  out.policy_version = c.policy_version();
  return out;
}

}  // namespace

// The state of one generate() call, shared by its share threads under `mu`.
struct GenerateCall {
  GenerateCall(const std::vector<SharedIds>& p, int64_t g, int64_t max_attempts)
      : prompts(p), table(static_cast<int64_t>(p.size()), g, max_attempts) {}
  const std::vector<SharedIds>& prompts;
  pb::GenerateRequest base;  // sampling, group size, version; prompts added per share
  std::mutex mu;
  std::condition_variable cv;
  GroupTable table;
  int active = 0, next_share = 0;
  std::string fatal;
  std::vector<std::string> failures;
  std::vector<std::thread> threads;
  std::vector<std::shared_ptr<grpc::ClientContext>> contexts;
};

// One streaming Generate call: worker `wi` answers the groups `idx` as share `share`.
void RolloutClient::Impl::run_share(GenerateCall& call, int share, size_t wi,
                                    std::vector<int64_t> idx,
                                    std::shared_ptr<grpc::ClientContext> ctx) {
  Worker& w = workers[wi];
  pb::GenerateRequest req = call.base;
  req.set_request_id(str("share-", share));
  for (int64_t p : idx) {
    auto* m = req.add_prompts();
    m->set_prompt_index(p);
    const TokenIds& ids = *call.prompts[static_cast<size_t>(p)];
    m->mutable_token_ids()->Add(ids.begin(), ids.end());
  }
  auto reader = w.stub->Generate(ctx.get(), req);
  pb::Completion c;
  while (reader->Read(&c)) {
    std::lock_guard<std::mutex> lock(call.mu);
    call.table.accept(share, from_proto(c));
  }
  grpc::Status st = reader->Finish();
  std::lock_guard<std::mutex> lock(call.mu);
  std::vector<int64_t> lost = call.table.release(share, idx);
  if (!st.ok() && retryable(st.error_code())) {
    w.alive = false;
    w.error = status_text(st);
    call.failures.push_back(str(w.address, ": ", status_text(st)));
    log::warn(str("rollout worker ", w.address, " failed (", status_text(st), "); re-sending ",
                  lost.size(), " unfinished groups"));
  } else if (!st.ok() && call.fatal.empty()) {
    call.fatal = str("rollout worker ", w.address, " refused the request: ", status_text(st));
  } else if (st.ok() && !lost.empty() && call.fatal.empty()) {
    call.fatal = str("rollout worker ", w.address, " ended a call with ", lost.size(),
                     " groups incomplete");
  }
  --call.active;
  call.cv.notify_all();
}

// Splits the pending groups over the live workers and starts a share per worker. Returns
// false (with call.fatal set) when nothing can be sent any more. Caller holds call.mu.
bool RolloutClient::Impl::dispatch(GenerateCall& call) {
  std::vector<size_t> live;
  std::vector<int64_t> free;
  for (size_t i = 0; i < workers.size(); ++i) {
    if (!workers[i].alive) continue;
    live.push_back(i);
    free.push_back(workers[i].free_slots);
  }
  if (live.empty()) {
    if (call.active > 0) return true;  // wait for the shares in flight
    std::string why;
    for (const auto& f : call.failures) why += "\n  " + f;
    for (const auto& w : workers)
      if (!w.error.empty()) why += "\n  " + w.address + ": " + w.error;
    call.fatal = str("no live rollout worker left for ", call.table.num_pending(), " prompts:", why);
    return false;
  }
  std::vector<int64_t> counts = split_by_capacity(call.table.num_pending(), free);
  for (size_t k = 0; k < live.size(); ++k) {
    if (counts[k] == 0) continue;
    const int share = call.next_share++;
    std::vector<int64_t> idx;
    try {
      idx = call.table.dispatch(share, counts[k]);
    } catch (const Error& e) {
      call.fatal = str(e.what(), "; last failures:",
                       call.failures.empty() ? "" : "\n  " + call.failures.back());
      return false;
    }
    auto ctx = std::make_shared<grpc::ClientContext>();
    prepare(*ctx, opt.request_timeout_s);
    call.contexts.push_back(ctx);
    ++call.active;
    call.threads.emplace_back(&Impl::run_share, this, std::ref(call), share, live[k],
                              std::move(idx), ctx);
  }
  return true;
}

std::vector<Group> RolloutClient::generate(const std::vector<SharedIds>& prompts,
                                           int64_t group_size, const SamplingParams& sampling,
                                           std::optional<uint64_t> policy_version) {
  sampling.validate();
  GRPO_ENSURE(group_size >= 1, "group_size must be >= 1, got ", group_size);
  if (prompts.empty()) return {};
  workers_info();  // liveness and free capacity

  GenerateCall call(prompts, group_size, impl_->opt.max_attempts);
  call.base.set_group_size(group_size);
  *call.base.mutable_sampling() = to_proto(sampling);
  if (policy_version) call.base.set_policy_version(*policy_version);

  std::unique_lock<std::mutex> lock(call.mu);
  while (!call.table.done() && call.fatal.empty()) {
    if (call.table.num_pending() > 0 && !impl_->dispatch(call)) break;
    if (!call.table.done() && call.fatal.empty()) call.cv.wait(lock);
  }
  if (!call.fatal.empty())
    for (auto& c : call.contexts) c->TryCancel();
  lock.unlock();
  for (auto& t : call.threads) t.join();
  GRPO_ENSURE(call.fatal.empty(), call.fatal);
  return call.table.take_groups(prompts);
}

std::vector<Group> RolloutClient::generate(const std::vector<TokenIds>& prompts, int64_t group_size,
                                           const SamplingParams& sampling,
                                           std::optional<uint64_t> policy_version) {
  std::vector<SharedIds> shared;
  shared.reserve(prompts.size());
  for (const auto& p : prompts) shared.push_back(share_ids(p));
  return generate(shared, group_size, sampling, policy_version);
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

namespace {

std::string random_token() {
  std::random_device rd;
  char buf[33];
  for (int i = 0; i < 32; i += 8) std::snprintf(buf + i, 9, "%08x", rd());
  return std::string(buf, 32);
}

// The environment of a process worker: ours, with GRPO_ROLLOUT_TOKEN set to `token`.
std::vector<std::string> worker_env(const std::string& token) {
  std::vector<std::string> env;
  for (char** e = environ; *e; ++e)
    if (std::strncmp(*e, "GRPO_ROLLOUT_TOKEN=", 19) != 0) env.push_back(*e);
  env.push_back("GRPO_ROLLOUT_TOKEN=" + token);
  return env;
}

// Starts `argv` with stdout and stderr going to `log_file`. Returns its pid.
pid_t spawn_logged(std::vector<std::string> argv_s, std::vector<std::string> env_s,
                   const std::string& log_file) {
  std::vector<char*> argv, envp;
  for (auto& a : argv_s) argv.push_back(a.data());
  argv.push_back(nullptr);
  for (auto& e : env_s) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, log_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&fa, 1, 2);
  pid_t pid = 0;
  int rc = posix_spawn(&pid, argv_s[0].c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  GRPO_ENSURE(rc == 0, "cannot start local rollout worker '", argv_s[0], "': ", std::strerror(rc));
  return pid;
}

}  // namespace

LocalWorkers::LocalWorkers(LocalWorkerOptions o) {
  GRPO_ENSURE(o.num_workers >= 1, "rollout.num_local_workers must be >= 1, got ", o.num_workers);
  GRPO_ENSURE(o.mode == "process" || o.mode == "thread",
              "rollout.local_mode must be process or thread, got '", o.mode, "'");
  token_ = o.auth_token.empty() ? random_token() : o.auth_token;
  if (o.mode == "thread") {
    start_threads(o);
  } else {
    start_processes(o);
  }
}

void LocalWorkers::start_threads(const LocalWorkerOptions& o) {
  GRPO_ENSURE(o.make_worker != nullptr, "local workers in thread mode need a worker factory");
  for (int64_t i = 0; i < o.num_workers; ++i) {
    auto w = o.make_worker("127.0.0.1:0", token_);
    w->start();
    addresses_.push_back(w->address());
    servers_.push_back(std::move(w));
  }
}

void LocalWorkers::start_processes(const LocalWorkerOptions& o) {
  GRPO_ENSURE(!o.config_yaml.empty(), "local worker processes need the job config");
  namespace sfs = std::filesystem;
  std::string base = (sfs::temp_directory_path() / ("grpo-workers-" + std::to_string(getpid()) +
                                                    "-" + token_.substr(0, 8))).string();
  sfs::create_directories(base);
  sfs::permissions(base, sfs::perms::owner_all, sfs::perm_options::replace);
  const std::string yaml_path = base + "/config.yaml";
  fs::write_atomic(yaml_path, o.config_yaml);
  const std::vector<std::string> env = worker_env(token_);
  std::vector<std::string> port_files;
  for (int64_t i = 0; i < o.num_workers; ++i) {
    std::string dir = base + "/w" + std::to_string(i);
    sfs::create_directories(dir);
    dirs_.push_back(dir);
    port_files.push_back(dir + "/port");
    pids_.push_back(spawn_logged({o.exe, "rollout-worker", "--listen", "127.0.0.1:0",
                                  "--port-file", port_files.back(), "--config", yaml_path},
                                 env, dir + "/worker.log"));
  }
  wait_listening(port_files, o.timeout_s);
}

// Waits until worker i has written its port to port_files[i] (or has exited).
void LocalWorkers::wait_listening(const std::vector<std::string>& port_files, double timeout_s) {
  auto until = std::chrono::steady_clock::now() +
               std::chrono::milliseconds(static_cast<int64_t>(timeout_s * 1000));
  addresses_.resize(port_files.size());
  for (size_t i = 0; i < port_files.size(); ++i) {
    while (true) {
      if (std::filesystem::exists(port_files[i])) {
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
