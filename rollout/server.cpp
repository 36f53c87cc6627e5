// rollout/server.cpp: the rollout worker's gRPC service (see server.h).
// Handlers run on gRPC's sync-server threads; the engine runs on one driver thread guarded
// by model_mu (held during a step and during a weight swap). A Generate handler owns a
// CallState shared with the engine's sink, so a cancelled call can return at once while
// the engine drops its sequences at the next step.
#include "rollout/server.h"

#include <ATen/core/grad_mode.h>
#include <ATen/Context.h>
#include <ATen/ops/from_blob.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <deque>
#include <map>
#include <thread>

#include "core/error.h"
#include "core/fs.h"
#include "core/job_config.h"
#include "core/log.h"
#include "kernels/ops.h"
#include "models/causal_lm.h"
#include "proto/rollout.grpc.pb.h"
#include "tokenizer/tokenizer.h"

namespace grpo::rollout {

namespace pb = ::grpo::rollout::v1;  // generated code (proto package grpo.rollout.v1)
using Clock = std::chrono::steady_clock;

uint64_t fnv1a64(const void* data, size_t n, uint64_t h) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 1099511628211ULL;
  return h;
}

namespace {

bool token_matches(const grpc::ServerContext* ctx, const std::string& token) {
  if (token.empty()) return true;
  auto& md = ctx->client_metadata();
  auto it = md.find("authorization");
  if (it == md.end()) return false;
  std::string got(it->second.data(), it->second.size());
  std::string want = "Bearer " + token;
  if (got.size() != want.size()) return false;
  unsigned char diff = 0;  // constant time over the length
  for (size_t i = 0; i < got.size(); ++i) diff |= static_cast<unsigned char>(got[i] ^ want[i]);
  return diff == 0;
}

at::ScalarType dtype_of(const std::string& s, const std::string& where) {
  if (s == "float32") return at::kFloat;
  if (s == "bfloat16") return at::kBFloat16;
  if (s == "float16") return at::kHalf;
  throw Error(str(where, ": unsupported dtype '", s, "' (float32, bfloat16 or float16)"));
}

struct CallState {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Completion> ready;
  std::string error;
};

}  // namespace

struct WorkerServer::Impl final : public pb::RolloutWorker::Service {
  std::unique_ptr<models::CausalLM> model;
  WorkerOptions opt;
  std::unique_ptr<Engine> engine;
  std::unique_ptr<grpc::Server> server;
  int bound_port = 0;
  std::string host;

  std::mutex model_mu;  // engine steps and weight swaps
  std::atomic<uint64_t> version{0};
  std::atomic<bool> stopping{false};
  std::atomic<bool> engine_stop{false};
  std::thread driver;
  std::mutex wake_mu;
  std::condition_variable wake;
  std::mutex shutdown_mu;
  bool shut = false;
  std::condition_variable shut_cv;

  std::map<std::string, at::Tensor> params;  // HF name -> live tensor

  void drive() {
    while (!engine_stop.load()) {
      bool did = false;
      {
        std::lock_guard<std::mutex> lock(model_mu);
        at::NoGradGuard no_grad;
        did = engine->step();
      }
      if (!did) {
        std::unique_lock<std::mutex> lock(wake_mu);
        wake.wait_for(lock, std::chrono::milliseconds(2));
      }
    }
  }

  grpc::Status check_call(grpc::ServerContext* ctx) {
    if (!token_matches(ctx, opt.auth_token))
      return {grpc::StatusCode::UNAUTHENTICATED,
              "missing or wrong rollout token (metadata 'authorization: Bearer <token>')"};
    if (stopping.load()) return {grpc::StatusCode::UNAVAILABLE, "worker is shutting down"};
    return grpc::Status::OK;
  }

  grpc::Status Generate(grpc::ServerContext* ctx, const pb::GenerateRequest* req,
                        grpc::ServerWriter<pb::Completion>* writer) override {
    if (auto st = check_call(ctx); !st.ok()) return st;
    const uint64_t v = version.load();
    if (req->has_policy_version() && req->policy_version() != v)
      return {grpc::StatusCode::FAILED_PRECONDITION,
              str("request ", req->request_id(), " wants policy version ", req->policy_version(),
                  " but this worker holds version ", v,
                  req->policy_version() < v ? " (stale request)" : " (weights not pushed yet)")};
    if (req->group_size() < 1)
      return {grpc::StatusCode::INVALID_ARGUMENT, str("group_size must be >= 1, got ", req->group_size())};
    auto sp = std::make_shared<SamplingParams>();
    const auto& s = req->sampling();
    sp->temperature = s.temperature();
    sp->top_p = s.top_p() == 0 ? 1.0 : s.top_p();
    sp->top_k = s.top_k();
    sp->max_new_tokens = s.max_new_tokens();
    sp->seed = s.seed();
    for (int32_t e : s.eos_token_ids()) sp->eos_ids.push_back(e);
    for (int64_t e : opt.default_eos_ids)
      if (std::find(sp->eos_ids.begin(), sp->eos_ids.end(), e) == sp->eos_ids.end())
        sp->eos_ids.push_back(e);
    for (const auto& st : s.stop()) sp->stop.push_back(st);
    std::vector<GroupRequest> groups;
    for (const auto& p : req->prompts()) {
      GroupRequest g;
      g.prompt.assign(p.token_ids().begin(), p.token_ids().end());
      g.prompt_index = p.prompt_index();
      g.group_size = req->group_size();
      g.params = sp;
      groups.push_back(std::move(g));
    }
    const size_t expected = groups.size() * static_cast<size_t>(req->group_size());
    auto state = std::make_shared<CallState>();
    uint64_t ticket = 0;
    try {
      ticket = engine->submit(
          std::move(groups),
          [state](Completion&& c) {
            std::lock_guard<std::mutex> lock(state->mu);
            state->ready.push_back(std::move(c));
            state->cv.notify_one();
          },
          [state](const std::string& e) {
            std::lock_guard<std::mutex> lock(state->mu);
            state->error = e;
            state->cv.notify_one();
          });
    } catch (const Error& e) {
      return {grpc::StatusCode::INVALID_ARGUMENT, e.what()};
    }
    wake.notify_one();
    size_t sent = 0;
    while (sent < expected) {
      std::deque<Completion> batch;
      {
        std::unique_lock<std::mutex> lock(state->mu);
        state->cv.wait_for(lock, std::chrono::milliseconds(20),
                           [&] { return !state->ready.empty() || !state->error.empty(); });
        if (!state->error.empty()) {
          engine->cancel(ticket);
          return {grpc::StatusCode::INTERNAL, state->error};
        }
        batch.swap(state->ready);
      }
      if (ctx->IsCancelled()) {
        engine->cancel(ticket);
        return {grpc::StatusCode::CANCELLED, "call cancelled or past its deadline"};
      }
      for (auto& c : batch) {
        pb::Completion m;
        m.set_prompt_index(c.prompt_index);
        m.set_sample_index(c.sample_index);
        m.mutable_token_ids()->Add(c.tokens.begin(), c.tokens.end());
        m.mutable_logprobs()->Add(c.logprobs.begin(), c.logprobs.end());
        m.set_finish_reason(static_cast<pb::FinishReason>(static_cast<int>(c.finish)));
        m.set_policy_version(v);
        if (!writer->Write(m)) {
          engine->cancel(ticket);
          return {grpc::StatusCode::CANCELLED, "client went away"};
        }
        ++sent;
      }
    }
    return grpc::Status::OK;
  }

  grpc::Status LoadWeights(grpc::ServerContext* ctx, grpc::ServerReader<pb::WeightsChunk>* reader,
                           pb::LoadWeightsReply* reply) override {
    if (auto st = check_call(ctx); !st.ok()) return st;
    pb::WeightsChunk chunk;
    if (!reader->Read(&chunk) || !chunk.has_manifest())
      return {grpc::StatusCode::INVALID_ARGUMENT, "LoadWeights: the first message must be the manifest"};
    const pb::WeightsManifest man = chunk.manifest();
    // Version 0 is the run's initial weights: a learner starting fresh sends them once as
    // version 0 (the start-up sync), so it is taken while the worker still holds 0.
    const uint64_t held = version.load();
    if (man.version() < held || (man.version() == held && held != 0))
      return {grpc::StatusCode::FAILED_PRECONDITION,
              str("LoadWeights: stale version ", man.version(), "; worker already holds ", held)};
    uint64_t total = 0;
    for (const auto& t : man.tensors()) {
      auto it = params.find(t.name());
      if (it == params.end())
        return {grpc::StatusCode::INVALID_ARGUMENT, str("LoadWeights: unknown tensor '", t.name(), "'")};
      std::vector<int64_t> shape(t.shape().begin(), t.shape().end());
      if (it->second.sizes() != at::IntArrayRef(shape))
        return {grpc::StatusCode::INVALID_ARGUMENT,
                str("LoadWeights: tensor '", t.name(), "' has shape ", at::IntArrayRef(shape),
                    ", the model's is ", it->second.sizes())};
      at::ScalarType st;
      try {
        st = dtype_of(t.dtype(), str("LoadWeights: tensor '", t.name(), "'"));
      } catch (const Error& e) {
        return {grpc::StatusCode::INVALID_ARGUMENT, e.what()};
      }
      uint64_t want = static_cast<uint64_t>(it->second.numel()) * c10::elementSize(st);
      if (t.nbytes() != want)
        return {grpc::StatusCode::INVALID_ARGUMENT,
                str("LoadWeights: tensor '", t.name(), "' declares ", t.nbytes(), " bytes, expected ", want)};
      total += want;
    }
    if (total != man.total_bytes())
      return {grpc::StatusCode::INVALID_ARGUMENT,
              str("LoadWeights: manifest total_bytes ", man.total_bytes(), " != sum of tensors ", total)};
    std::string staged;  // the update, applied only after commit and checksum
    staged.reserve(total);
    bool committed = false;
    while (reader->Read(&chunk)) {
      if (chunk.has_commit()) {
        committed = true;
        break;
      }
      if (chunk.kind_case() != pb::WeightsChunk::kData)
        return {grpc::StatusCode::INVALID_ARGUMENT, "LoadWeights: a second manifest in one stream"};
      if (staged.size() + chunk.data().size() > total)
        return {grpc::StatusCode::INVALID_ARGUMENT,
                str("LoadWeights: more bytes than the manifest's ", total)};
      staged.append(chunk.data());
    }
    if (!committed)
      return {grpc::StatusCode::ABORTED,
              str("LoadWeights: version ", man.version(), " ended after ", staged.size(), " of ",
                  total, " bytes without a commit; not applied")};
    if (staged.size() != total)
      return {grpc::StatusCode::INVALID_ARGUMENT,
              str("LoadWeights: commit after ", staged.size(), " of ", total, " bytes; not applied")};
    if (fnv1a64(staged.data(), staged.size()) != man.checksum())
      return {grpc::StatusCode::DATA_LOSS, "LoadWeights: checksum mismatch; not applied"};

    // Swap between steps, after running sequences drain (each completion has one version).
    engine->set_admission_paused(true);
    while (engine->num_running() > 0) {
      if (ctx->IsCancelled()) {
        engine->set_admission_paused(false);
        return {grpc::StatusCode::CANCELLED, "LoadWeights cancelled while draining"};
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    {
      std::lock_guard<std::mutex> lock(model_mu);
      at::NoGradGuard no_grad;
      size_t off = 0;
      for (const auto& t : man.tensors()) {
        at::Tensor& dst = params.at(t.name());
        at::Tensor src = at::from_blob(staged.data() + off, dst.sizes(),
                                       at::TensorOptions().dtype(dtype_of(t.dtype(), t.name())));
        dst.copy_(src);
        off += t.nbytes();
      }
      version.store(man.version());
    }
    engine->set_admission_paused(false);
    wake.notify_one();
    reply->set_version(man.version());
    reply->set_bytes_received(staged.size());
    log::info(str("rollout worker ", host, ":", bound_port, ": loaded weights version ",
                  man.version(), " (", staged.size() >> 20, " MiB)"));
    return grpc::Status::OK;
  }

  grpc::Status WorkerInfo(grpc::ServerContext* ctx, const pb::WorkerInfoRequest*,
                          pb::WorkerInfoReply* reply) override {
    if (auto st = check_call(ctx); !st.ok()) return st;
    reply->set_model(opt.model_name);
    reply->set_policy_version(version.load());
    reply->set_capacity(engine->capacity());
    reply->set_free_slots(std::max<int64_t>(0, engine->capacity() - engine->num_running() -
                                                   engine->num_waiting()));
    reply->set_vocab_size(engine->vocab_size());
    reply->set_device(model->lm_head_weight().device().str());
    return grpc::Status::OK;
  }
};

WorkerServer::WorkerServer(std::unique_ptr<models::CausalLM> model, WorkerOptions options)
    : impl_(std::make_unique<Impl>()) {
  GRPO_ENSURE(model != nullptr, "rollout worker: no model");
  impl_->model = std::move(model);
  impl_->opt = std::move(options);
  impl_->version = impl_->opt.policy_version;
  impl_->engine = std::make_unique<Engine>(
      *impl_->model, EngineOptions{.max_batch_seqs = impl_->opt.max_batch_seqs,
                                   .continuous = true,
                                   .decode = impl_->opt.decode});
  for (auto& [name, t] : impl_->model->state()) impl_->params[name] = t;
}

WorkerServer::~WorkerServer() {
  if (impl_ && impl_->server) shutdown(0);
}

void WorkerServer::start() {
  Impl& s = *impl_;
  grpc::EnableDefaultHealthCheckService(true);
  grpc::ServerBuilder b;
  std::shared_ptr<grpc::ServerCredentials> creds = grpc::InsecureServerCredentials();
  if (s.opt.tls) {
    GRPO_ENSURE(!s.opt.tls_cert.empty() && !s.opt.tls_key.empty(),
                "rollout.tls is on but rollout.tls_cert / rollout.tls_key are not set");
    grpc::SslServerCredentialsOptions o;
    o.pem_key_cert_pairs.push_back({fs::read_file(s.opt.tls_key), fs::read_file(s.opt.tls_cert)});
    creds = grpc::SslServerCredentials(o);
  }
  b.AddListeningPort(s.opt.listen, creds, &s.bound_port);
  const int max_bytes = static_cast<int>(std::min<int64_t>(s.opt.max_message_mb, 2047) << 20);
  b.SetMaxReceiveMessageSize(max_bytes);
  b.SetMaxSendMessageSize(max_bytes);
  b.RegisterService(&s);
  s.server = b.BuildAndStart();
  GRPO_ENSURE(s.server != nullptr && s.bound_port != 0, "rollout worker: cannot listen on '",
              s.opt.listen, "' (address in use or invalid HOST:PORT)");
  s.host = s.opt.listen.substr(0, s.opt.listen.rfind(':'));
  if (auto* h = s.server->GetHealthCheckService()) h->SetServingStatus(true);
  s.driver = std::thread([&s] { s.drive(); });
}

int WorkerServer::port() const { return impl_->bound_port; }

std::string WorkerServer::address() const {
  return str(impl_->host, ":", impl_->bound_port);
}

void WorkerServer::shutdown(double drain_s) {
  Impl& s = *impl_;
  {
    std::lock_guard<std::mutex> lock(s.shutdown_mu);
    if (s.shut || !s.server) return;
    s.shut = true;
  }
  if (auto* h = s.server->GetHealthCheckService()) h->SetServingStatus(false);
  s.stopping = true;  // new calls: UNAVAILABLE
  // In-flight calls run on until the deadline, then gRPC cancels them.
  s.server->Shutdown(std::chrono::system_clock::now() +
                     std::chrono::milliseconds(static_cast<int64_t>(drain_s * 1000)));
  s.engine_stop = true;
  if (s.driver.joinable()) s.driver.join();
  {
    std::lock_guard<std::mutex> lock(s.shutdown_mu);
    s.shut_cv.notify_all();
  }
}

void WorkerServer::wait() {
  std::unique_lock<std::mutex> lock(impl_->shutdown_mu);
  impl_->shut_cv.wait(lock, [&] { return impl_->shut && !impl_->driver.joinable(); });
}

std::string resolve_auth_token(const JobConfig& cfg) {
  if (!cfg.rollout.auth_token.empty()) return cfg.rollout.auth_token;
  if (!cfg.rollout.auth_token_env.empty())
    if (const char* v = std::getenv(cfg.rollout.auth_token_env.c_str())) return v;
  return "";
}

std::unique_ptr<WorkerServer> make_worker(const JobConfig& cfg, const std::string& listen) {
  std::string device = cfg.run.device;
  if (device == "auto") device = at::globalContext().hasCUDA() ? "cuda" : "cpu";
  kernels::set_use_kernels(cfg.model.use_kernels);
  std::unique_ptr<models::CausalLM> model;
  std::string name;
  if (!cfg.model.path.empty()) {
    model = models::load_model(cfg.model.path, cfg.model.dtype, device);
    name = cfg.model.path;
  } else {
    GRPO_ENSURE(!cfg.model.arch.empty(), "rollout worker: set model.path or model.arch");
    model = models::build_model(cfg.model.arch, static_cast<uint64_t>(cfg.run.seed),
                                cfg.model.dtype, device);
    name = cfg.model.arch.value("model_type", std::string("model")) + " (model.arch, seed " +
           std::to_string(cfg.run.seed) + ")";
  }
  WorkerOptions o;
  o.listen = listen;
  o.auth_token = resolve_auth_token(cfg);
  o.tls = cfg.rollout.tls;
  o.tls_cert = cfg.rollout.tls_cert;
  o.tls_key = cfg.rollout.tls_key;
  o.max_message_mb = cfg.rollout.max_message_mb;
  o.max_batch_seqs = cfg.rollout.max_batch_seqs;
  o.model_name = name;
  std::string tok_path = !cfg.tokenizer.path.empty() ? cfg.tokenizer.path : cfg.model.path;
  if (!tok_path.empty()) {
    auto tok = std::make_shared<tok::Tokenizer>(tok::Tokenizer::from_file(tok_path));
    // Ids the tokenizer lacks (a model vocabulary padded past it) decode to nothing.
    const int32_t tv = tok->vocab_size();
    o.decode = [tok, tv](std::span<const int32_t> ids) {
      std::vector<int32_t> known;
      for (int32_t i : ids)
        if (i >= 0 && i < tv) known.push_back(i);
      return tok->decode(known);
    };
    if (auto e = tok->eos_id()) o.default_eos_ids.push_back(*e);
  }
  return std::make_unique<WorkerServer>(std::move(model), std::move(o));
}

}  // namespace grpo::rollout
