// bench/tokenizer_bench.cpp: load time and single-thread encode/decode throughput of
// grpo::tok::Tokenizer on a JSON-lines corpus ({"text": ...} per line). Prints one JSON object
// (bench/tokenizer_bench.py runs this and HF `tokenizers` on the same corpus and prints
// the ratio). Times are process CPU seconds (single thread), load also as wall time.
// Usage: tokenizer_bench TOKENIZER CORPUS.jsonl [REPEATS]
//        tokenizer_bench --train CORPUS.txt VOCAB OUT.json   (train_bpe time)
#include <chrono>
#include <cstdio>
#include <ctime>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/error.h"
#include "core/fs.h"
#include "tokenizer/tokenizer.h"

namespace {
// Process CPU time: on a shared, oversubscribed machine wall time mostly measures the
// neighbours; everything timed here is single-threaded, so CPU time is the honest figure.
double now_s() { return static_cast<double>(std::clock()) / CLOCKS_PER_SEC; }
double wall_s() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}
}  // namespace

// --train CORPUS.txt VOCAB OUT.json: times train_bpe (CPU seconds) and writes the file.
int train_main(int argc, char** argv) {
  if (argc < 5) {
    std::fprintf(stderr, "usage: %s --train CORPUS.txt VOCAB OUT.json\n", argv[0]);
    return 2;
  }
  try {
    const std::vector<std::string> texts = {grpo::fs::read_file(argv[2])};
    grpo::tok::BpeTrainOptions o;
    o.vocab_size = std::atoi(argv[3]);
    const double t0 = now_s();
    const std::string json = grpo::tok::train_bpe(texts, o);
    const double train_s = now_s() - t0;
    grpo::fs::write_atomic(argv[4], json);
    nlohmann::json r = {{"impl", "grpo"}, {"bytes", texts[0].size()}, {"train_s", train_s}};
    std::printf("%s\n", r.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 1 && std::string(argv[1]) == "--train") return train_main(argc, argv);
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s TOKENIZER CORPUS.jsonl [REPEATS]\n", argv[0]);
    return 2;
  }
  try {
    const int repeats = argc > 3 ? std::atoi(argv[3]) : 3;
    std::vector<std::string> docs;
    size_t bytes = 0;
    {
      std::ifstream in(argv[2]);
      GRPO_ENSURE(in.good(), "cannot open ", argv[2]);
      std::string line;
      while (std::getline(in, line)) {
        if (line.empty()) continue;
        docs.push_back(nlohmann::json::parse(line).at("text").get<std::string>());
        bytes += docs.back().size();
      }
    }
    const double t0 = now_s(), w0 = wall_s();
    const grpo::tok::Tokenizer tok = grpo::tok::Tokenizer::from_file(argv[1]);
    const double load_s = now_s() - t0, load_wall_s = wall_s() - w0;

    // First pass: the pre-token cache starts empty. Later passes: warm cache (best of).
    std::vector<std::vector<int32_t>> ids(docs.size());
    double t = now_s();
    for (size_t i = 0; i < docs.size(); ++i) ids[i] = tok.encode(docs[i]);
    const double cold_s = now_s() - t;
    double warm_s = 1e30;
    for (int r = 0; r < repeats; ++r) {
      t = now_s();
      for (size_t i = 0; i < docs.size(); ++i) ids[i] = tok.encode(docs[i]);
      warm_s = std::min(warm_s, now_s() - t);
    }
    size_t n_tokens = 0;
    uint64_t checksum = 1469598103934665603ULL;  // FNV-1a over all ids
    for (const auto& v : ids) {
      n_tokens += v.size();
      for (int32_t x : v) checksum = (checksum ^ static_cast<uint32_t>(x)) * 1099511628211ULL;
    }
    double dec_s = 1e30;
    for (int r = 0; r < std::max(1, repeats); ++r) {
      t = now_s();
      size_t out_bytes = 0;
      for (const auto& v : ids) out_bytes += tok.decode(v).size();
      dec_s = std::min(dec_s, now_s() - t);
      if (out_bytes == 0) std::fprintf(stderr, "empty decode\n");
    }
    nlohmann::json r = {{"impl", "grpo"},
                        {"docs", docs.size()},
                        {"bytes", bytes},
                        {"tokens", n_tokens},
                        {"checksum", std::to_string(checksum)},
                        {"load_s", load_s},
                        {"load_wall_s", load_wall_s},
                        {"encode_cold_mb_s", bytes / cold_s / 1e6},
                        {"encode_warm_mb_s", bytes / warm_s / 1e6},
                        {"decode_mb_s", bytes / dec_s / 1e6}};
    std::printf("%s\n", r.dump().c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tokenizer_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}
