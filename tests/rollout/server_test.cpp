// tests/rollout/server_test.cpp: in-process rollout workers (real gRPC servers on loopback,
// toy model) and the learner-side client: fan-out returns every group exactly once and
// equal to a local engine run, a lost worker's groups are re-sent, auth, vocabulary,
// stale version and message-size rejections, atomic weight loading, health service.
#include "rollout/server.h"

#include <ATen/ops/full.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <thread>

#include "core/error.h"
#include "models/causal_lm.h"
#include <nlohmann/json.hpp>
#include "proto/rollout.grpc.pb.h"
#include "rollout/client.h"
#include "tests/rollout/toy_model.h"

namespace grpo::rollout {
namespace {

using testing::ToyModel;
constexpr int64_t kVocab = 26;
namespace pb = ::grpo::rollout::v1;

struct Worker {
  ToyModel* model = nullptr;  // owned by the server
  std::unique_ptr<WorkerServer> server;
};

Worker start_worker(const std::string& token = "s3cret", int64_t delay_us = 0,
                    int64_t max_message_mb = 64) {
  auto m = std::make_unique<ToyModel>(kVocab);
  m->delay_us_ = delay_us;
  Worker w;
  w.model = m.get();
  WorkerOptions o;
  o.auth_token = token;
  o.max_batch_seqs = 8;
  o.max_message_mb = max_message_mb;
  o.model_name = "toy";
  w.server = std::make_unique<WorkerServer>(std::move(m), o);
  w.server->start();
  return w;
}

ClientOptions opts(std::vector<std::string> addr, const std::string& token = "s3cret") {
  ClientOptions o;
  o.addresses = std::move(addr);
  o.auth_token = token;
  o.request_timeout_s = 60;
  return o;
}

std::vector<std::vector<int32_t>> prompts(int n) {
  std::vector<std::vector<int32_t>> out;
  for (int p = 0; p < n; ++p) out.push_back({static_cast<int32_t>(p % kVocab), static_cast<int32_t>((p * 5 + 1) % kVocab), 3});
  return out;
}

// Reference: the same groups on a local engine.
std::vector<Completion> local_run(int n, int64_t G, const SamplingParams& sp) {
  ToyModel m(kVocab);
  Engine e(m, {.max_batch_seqs = 64});
  auto shared = std::make_shared<SamplingParams>(sp);
  std::vector<GroupRequest> groups;
  auto ps = prompts(n);
  for (int p = 0; p < n; ++p) groups.push_back({ps[p], p, G, shared});
  return e.generate(groups);
}

void expect_matches_local(const std::vector<Group>& got, int n, int64_t G,
                          const SamplingParams& sp) {
  auto want = local_run(n, G, sp);
  ASSERT_EQ(got.size(), static_cast<size_t>(n));
  for (int p = 0; p < n; ++p) {
    ASSERT_EQ(got[p].samples.size(), static_cast<size_t>(G)) << "prompt " << p;
    EXPECT_EQ(*got[p].prompt, prompts(n)[p]) << "each group holds its own prompt";
    for (int64_t g = 0; g < G; ++g) {
      const auto& a = got[p].samples[g];
      const auto& b = want[p * G + g];
      EXPECT_EQ(a.prompt_index, p);
      EXPECT_EQ(a.sample_index, g);
      EXPECT_EQ(a.tokens, b.tokens) << "prompt " << p << " sample " << g;
      EXPECT_EQ(a.logprobs, b.logprobs);
      EXPECT_EQ(a.finish, b.finish);
    }
  }
}

SamplingParams sampling(int64_t max_new = 8) {
  SamplingParams sp;
  sp.max_new_tokens = max_new;
  sp.seed = 17;
  sp.temperature = 0.9;
  return sp;
}

TEST(RolloutWorker, TwoWorkersReturnEveryGroupOnceAndEqualToALocalRun) {
  auto a = start_worker(), b = start_worker();
  RolloutClient c(opts({a.server->address(), b.server->address()}));
  auto sp = sampling();
  auto got = c.generate(prompts(10), 3, sp);
  expect_matches_local(got, 10, 3, sp);
  EXPECT_GT(a.model->calls_, 0);  // both workers got a share
  EXPECT_GT(b.model->calls_, 0);
  auto info = c.workers_info();
  EXPECT_TRUE(info[0].alive);
  EXPECT_EQ(info[0].capacity, 8);
  EXPECT_EQ(info[0].vocab_size, kVocab);
  EXPECT_EQ(info[0].model, "toy");
}

TEST(RolloutWorker, GroupsOfAWorkerThatDiesMidBatchAreResentElsewhere) {
  auto a = start_worker("s3cret", 5000), b = start_worker("s3cret", 5000);
  RolloutClient c(opts({a.server->address(), b.server->address()}));
  auto sp = sampling(80);  // >= 400 ms of decoding per share
  std::thread killer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    a.server->shutdown(0);  // in-flight calls cancelled: the worker is gone
  });
  auto got = c.generate(prompts(6), 2, sp);
  killer.join();
  EXPECT_LT(a.model->calls_, 60);  // it really died mid-batch
  expect_matches_local(got, 6, 2, sp);
  EXPECT_EQ(c.live_addresses(), std::vector<std::string>{b.server->address()});
}

TEST(RolloutWorker, CallsWithoutTheTokenAreRefused) {
  auto a = start_worker();
  RolloutClient bad(opts({a.server->address()}, "wrong"));
  auto info = bad.workers_info();
  EXPECT_FALSE(info[0].alive);
  EXPECT_NE(info[0].error.find("status 16"), std::string::npos) << info[0].error;  // UNAUTHENTICATED
  EXPECT_THROW(bad.generate(prompts(1), 1, sampling()), grpo::Error);
  RolloutClient none(opts({a.server->address()}, ""));
  EXPECT_FALSE(none.workers_info()[0].alive);
  EXPECT_EQ(a.model->calls_, 0);
}

TEST(RolloutWorker, TokenIdsOutsideTheVocabularyAreRejectedWithAClearMessage) {
  auto a = start_worker();
  RolloutClient c(opts({a.server->address()}));
  try {
    c.generate({{1, 2, kVocab + 5}}, 2, sampling());
    FAIL() << "expected a rejection";
  } catch (const grpo::Error& e) {
    EXPECT_NE(std::string(e.what()).find("outside the vocabulary"), std::string::npos) << e.what();
  }
}

TEST(RolloutWorker, OversizedMessagesAreRejected) {
  auto a = start_worker("s3cret", 0, /*max_message_mb=*/1);
  RolloutClient c(opts({a.server->address()}));
  std::vector<int32_t> huge(600000, 1);  // 3 x 600 KB of one-byte varints > 1 MiB
  try {
    c.generate({huge, huge, huge}, 1, sampling(1));
    FAIL() << "expected RESOURCE_EXHAUSTED";
  } catch (const grpo::Error& e) {
    EXPECT_NE(std::string(e.what()).find("status 8"), std::string::npos) << e.what();
  }
}

TEST(RolloutWorker, StartUpSyncOfVersionZeroIsTakenWhileTheWorkerHoldsVersionZero) {
  auto a = start_worker();
  RolloutClient c(opts({a.server->address()}));
  c.push_weights({{"lm_head.weight", at::full({kVocab, 4}, 0.25f)}}, 0);  // the start-up sync
  EXPECT_EQ(c.workers_info()[0].policy_version, 0u);
  EXPECT_FLOAT_EQ(a.model->lm_head_weight()[3][1].item<float>(), 0.25f);
  c.push_weights({{"lm_head.weight", at::full({kVocab, 4}, 0.5f)}}, 1);
  RolloutClient c2(opts({a.server->address()}));
  EXPECT_THROW(c2.push_weights({{"lm_head.weight", at::full({kVocab, 4}, 1.f)}}, 0), grpo::Error);
  RolloutClient c3(opts({a.server->address()}));
  EXPECT_THROW(c3.push_weights({{"lm_head.weight", at::full({kVocab, 4}, 1.f)}}, 1), grpo::Error);
  EXPECT_FLOAT_EQ(a.model->lm_head_weight()[3][1].item<float>(), 0.5f);
}

TEST(RolloutWorker, WeightsLoadAtomicallyAndStaleVersionsAreRefused) {
  auto a = start_worker();
  RolloutClient c(opts({a.server->address()}));
  at::Tensor w = at::full({kVocab, 4}, 0.5f);
  c.push_weights({{"lm_head.weight", w}}, 3);
  EXPECT_EQ(c.workers_info()[0].policy_version, 3u);
  EXPECT_FLOAT_EQ(a.model->lm_head_weight()[7][2].item<float>(), 0.5f);
  // Completions carry the version that produced them; a request for another is refused.
  auto got = c.generate(prompts(2), 2, sampling(), 3);
  EXPECT_EQ(got[1].samples[1].policy_version, 3u);
  try {
    c.generate(prompts(1), 1, sampling(), 2);
    FAIL();
  } catch (const grpo::Error& e) {
    EXPECT_NE(std::string(e.what()).find("stale"), std::string::npos) << e.what();
  }
  // Pushing an older version is refused (and the worker keeps version 3).
  RolloutClient c2(opts({a.server->address()}));
  EXPECT_THROW(c2.push_weights({{"lm_head.weight", w * 2}}, 2), grpo::Error);
  RolloutClient c3(opts({a.server->address()}));
  EXPECT_EQ(c3.workers_info()[0].policy_version, 3u);

  // A half-sent update (no commit) and a corrupted one are never applied.
  auto ch = grpc::CreateChannel(a.server->address(), grpc::InsecureChannelCredentials());
  auto stub = pb::RolloutWorker::NewStub(ch);
  for (int corrupt = 0; corrupt < 2; ++corrupt) {
    grpc::ClientContext ctx;
    ctx.AddMetadata("authorization", "Bearer s3cret");
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    pb::LoadWeightsReply reply;
    auto wr = stub->LoadWeights(&ctx, &reply);
    std::vector<float> ones(kVocab * 4, 9.0f);
    pb::WeightsChunk m;
    auto* man = m.mutable_manifest();
    man->set_version(4);
    auto* t = man->add_tensors();
    t->set_name("lm_head.weight");
    t->add_shape(kVocab);
    t->add_shape(4);
    t->set_dtype("float32");
    t->set_nbytes(ones.size() * 4);
    man->set_total_bytes(ones.size() * 4);
    man->set_checksum(fnv1a64(ones.data(), ones.size() * 4) ^ static_cast<uint64_t>(corrupt));
    ASSERT_TRUE(wr->Write(m));
    pb::WeightsChunk d;
    d.set_data(std::string(reinterpret_cast<const char*>(ones.data()), corrupt ? ones.size() * 4 : 100));
    ASSERT_TRUE(wr->Write(d));
    if (corrupt) {
      pb::WeightsChunk cm;
      cm.set_commit(true);
      wr->Write(cm);
    }
    wr->WritesDone();
    grpc::Status st = wr->Finish();
    EXPECT_EQ(st.error_code(), corrupt ? grpc::StatusCode::DATA_LOSS : grpc::StatusCode::ABORTED)
        << st.error_message();
  }
  EXPECT_EQ(c3.workers_info()[0].policy_version, 3u);
  EXPECT_FLOAT_EQ(a.model->lm_head_weight()[7][2].item<float>(), 0.5f);
}

TEST(RolloutWorker, HealthServiceReportsServingUntilShutdown) {
  auto a = start_worker();
  RolloutClient c(opts({a.server->address()}));
  EXPECT_TRUE(c.health_check(0));
  a.server->shutdown(1);
  EXPECT_FALSE(c.health_check(0));
}

TEST(RolloutWorker, PushedWeightsOfARealModelServeTheNextRequest) {
  auto cfg = nlohmann::json::parse(R"({
      "model_type": "qwen3", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48,
      "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16,
      "max_position_embeddings": 128, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
      "tie_word_embeddings": false, "initializer_range": 0.2})");
  WorkerOptions o;
  o.auth_token = "t";
  WorkerServer server(models::build_model(cfg, /*seed=*/1), o);
  server.start();
  auto trained = models::build_model(cfg, /*seed=*/2);  // the "learner's" new policy
  RolloutClient c(opts({server.address()}, "t"));
  c.push_weights(trained->state(), 1);
  SamplingParams sp;
  sp.temperature = 0;
  sp.max_new_tokens = 8;
  std::vector<std::vector<int32_t>> ps = {{3, 9, 27}, {5, 7}};
  auto got = c.generate(ps, 1, sp, 1);
  Engine local(*trained, {.max_batch_seqs = 4});
  auto shared = std::make_shared<SamplingParams>(sp);
  auto want = local.generate({{ps[0], 0, 1, shared}, {ps[1], 1, 1, shared}});
  EXPECT_EQ(got[0].samples[0].tokens, want[0].tokens);
  EXPECT_EQ(got[1].samples[0].tokens, want[1].tokens);
  EXPECT_EQ(got[0].samples[0].policy_version, 1u);
  auto old = models::build_model(cfg, 1);
  Engine before(*old, {.max_batch_seqs = 4});
  auto was = before.generate({{ps[0], 0, 1, shared}, {ps[1], 1, 1, shared}});
  EXPECT_TRUE(was[0].tokens != want[0].tokens || was[1].tokens != want[1].tokens)
      << "the two seeds should give different greedy answers";
}

TEST(RolloutWorker, TlsWorkerServesTlsClientsAndRefusesPlaintextAndUnknownCas) {
  // A self-signed certificate for 127.0.0.1 made by openssl for this test, and a second
  // one the worker does not use (an unknown CA for the client).
  namespace fsys = std::filesystem;
  const fsys::path dir = fsys::temp_directory_path() / ("grpo_tls_" + std::to_string(getpid()));
  fsys::create_directories(dir);
  auto make_cert = [&](const std::string& name) {
    const std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost "
                            "-addext subjectAltName=IP:127.0.0.1,DNS:localhost -keyout " +
                            (dir / (name + ".key")).string() + " -out " +
                            (dir / (name + ".pem")).string() + " >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
  };
  if (!make_cert("worker") || !make_cert("other")) GTEST_SKIP() << "openssl cannot make a test certificate";
  WorkerOptions o;
  o.auth_token = "s3cret";
  o.max_batch_seqs = 8;
  o.tls = true;
  o.tls_cert = (dir / "worker.pem").string();
  o.tls_key = (dir / "worker.key").string();
  WorkerServer server(std::make_unique<ToyModel>(kVocab), o);
  server.start();

  ClientOptions tls = opts({server.address()});
  tls.tls = true;
  tls.tls_ca = (dir / "worker.pem").string();
  RolloutClient good(tls);
  const SamplingParams sp = sampling();
  expect_matches_local(good.generate(prompts(3), 2, sp), 3, 2, sp);

  ClientOptions plain = opts({server.address()});
  plain.info_timeout_s = 2;
  EXPECT_FALSE(RolloutClient(plain).workers_info()[0].alive);
  ClientOptions wrong_ca = tls;
  wrong_ca.tls_ca = (dir / "other.pem").string();
  wrong_ca.info_timeout_s = 2;
  EXPECT_FALSE(RolloutClient(wrong_ca).workers_info()[0].alive);
  server.shutdown(0);
  fsys::remove_all(dir);
}

TEST(RolloutClient, NoLiveWorkerGivesAClearError) {
  ClientOptions o = opts({"127.0.0.1:1"});
  o.info_timeout_s = 2;
  RolloutClient c(o);
  try {
    c.generate(prompts(1), 1, sampling());
    FAIL();
  } catch (const grpo::Error& e) {
    EXPECT_NE(std::string(e.what()).find("no live rollout worker"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace grpo::rollout
