// rewards/remote.cpp: the `remote` reward, a client of proto/reward.proto's RewardService.
// A batch is cut into requests of batch_size items; all requests of a batch are in
// flight at once (gRPC callback API), each with its own deadline of timeout_s. A request
// that fails marks only its items: DEADLINE_EXCEEDED as timed_out, anything else
// (server down, wrong count) as thrown. One channel per reward object, shared by threads.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

#include "proto/reward.grpc.pb.h"
#include "rewards/args.h"
#include "rewards/builtin_registry.h"
#include "rewards/reward.h"

namespace grpo::rewards {
namespace {

namespace pb = ::grpo::reward;

class RemoteReward final : public Reward {
 public:
  explicit RemoteReward(const Json& args) {
    detail::Args a("remote", args);
    address_ = a.get_string("address", "", /*required=*/true);
    batch_size_ = static_cast<size_t>(a.get_int("batch_size", 64, 1, 1 << 20));
    reward_ = a.get_string("reward", "");
    server_args_ = a.get_json("server_args", Json::object()).dump();
    a.finish();
    grpc::ChannelArguments ch;
    ch.SetMaxReceiveMessageSize(256 << 20);
    ch.SetMaxSendMessageSize(256 << 20);
    channel_ = grpc::CreateCustomChannel(address_, grpc::InsecureChannelCredentials(), ch);
    stub_ = pb::RewardService::NewStub(channel_);
  }

  bool batched() const override { return true; }

  RewardResult score(const Sample& s) const override {
    std::vector<RewardResult> r = score_batch(std::span<const Sample>(&s, 1), 10.0);
    if (r[0].status == RewardResult::Status::kThrown ||
        r[0].status == RewardResult::Status::kTimedOut) {
      throw grpo::Error(r[0].message);
    }
    return r[0];
  }

  std::vector<RewardResult> score_batch(std::span<const Sample> samples,
                                        double timeout_s) const override {
    struct Request {
      grpc::ClientContext ctx;
      pb::ScoreRequest req;
      pb::ScoreResponse resp;
      grpc::Status status;
      size_t begin = 0, end = 0;
    };
    const size_t n = samples.size();
    std::vector<std::unique_ptr<Request>> reqs;
    auto deadline = std::chrono::system_clock::now() +
                    std::chrono::duration_cast<std::chrono::system_clock::duration>(
                        std::chrono::duration<double>(timeout_s));
    for (size_t b = 0; b < n; b += batch_size_) {
      auto r = std::make_unique<Request>();
      r->begin = b;
      r->end = std::min(n, b + batch_size_);
      r->ctx.set_deadline(deadline);
      r->req.set_reward(reward_);
      r->req.set_args_json(server_args_);
      for (size_t i = r->begin; i < r->end; ++i) {
        pb::RewardItem* item = r->req.add_items();
        item->set_prompt(samples[i].prompt);
        item->set_completion(samples[i].completion);
        item->set_ground_truth_json(
            samples[i].ground_truth.dump(-1, ' ', false, Json::error_handler_t::replace));
      }
      reqs.push_back(std::move(r));
    }
    std::mutex mu;
    std::condition_variable cv;
    size_t pending = reqs.size();
    for (auto& r : reqs) {
      Request* raw = r.get();
      stub_->async()->Score(&raw->ctx, &raw->req, &raw->resp,
                            [raw, &mu, &cv, &pending](grpc::Status st) {
                              std::lock_guard<std::mutex> lock(mu);
                              raw->status = std::move(st);
                              if (--pending == 0) cv.notify_all();
                            });
    }
    {
      // gRPC guarantees every callback runs (on success, error or deadline).
      std::unique_lock<std::mutex> lock(mu);
      cv.wait(lock, [&] { return pending == 0; });
    }
    std::vector<RewardResult> out(n);
    for (const auto& r : reqs) {
      auto mark = [&](RewardResult::Status st, const std::string& why) {
        for (size_t i = r->begin; i < r->end; ++i) {
          out[i].status = st;
          out[i].message = why;
        }
      };
      if (!r->status.ok()) {
        std::string why = grpo::str("remote reward at ", address_, ": ", r->status.error_message(),
                                    " (gRPC code ", static_cast<int>(r->status.error_code()), ")");
        mark(r->status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED
                 ? RewardResult::Status::kTimedOut
                 : RewardResult::Status::kThrown,
             why);
        continue;
      }
      size_t want = r->end - r->begin;
      if (static_cast<size_t>(r->resp.scores_size()) != want) {
        mark(RewardResult::Status::kThrown,
             grpo::str("remote reward at ", address_, " returned ", r->resp.scores_size(),
                       " scores for ", want, " items"));
        continue;
      }
      for (size_t i = r->begin; i < r->end; ++i) {
        const pb::ItemScore& s = r->resp.scores(static_cast<int>(i - r->begin));
        if (!s.error().empty()) {
          out[i].status = RewardResult::Status::kThrown;
          out[i].message = grpo::str("remote reward at ", address_, ": ", s.error());
          continue;
        }
        out[i].score = s.score();
        if (!s.details_json().empty()) {
          out[i].details = Json::parse(s.details_json(), nullptr, /*allow_exceptions=*/false);
          if (out[i].details.is_discarded()) out[i].details = Json{{"raw", s.details_json()}};
        }
      }
    }
    return out;
  }

 private:
  std::string address_, reward_, server_args_;
  size_t batch_size_ = 64;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<pb::RewardService::Stub> stub_;
};

}  // namespace

namespace detail {
void register_remote_reward(const AddReward& add) {
  add("remote", [](const Json& a) { return std::make_unique<RemoteReward>(a); });
}
}  // namespace detail

}  // namespace grpo::rewards
