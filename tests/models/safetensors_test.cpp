// tests/models/safetensors_test.cpp: the safetensors reader/writer — round trips of every
// float dtype, a file transformers wrote, sharded directories, and each malformed-file
// case failing with a grpo::Error that names the file and the tensor.
#include "models/safetensors.h"

#include <ATen/ops/arange.h>
#include <ATen/ops/randn.h>
#include <gtest/gtest.h>

#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/causal_lm.h"
#include "test_util.h"

namespace grpo::models {
namespace {

using testing::fixture;
using testing::temp_dir;

// Writes a raw safetensors file from a header JSON string and `data_bytes` zero bytes.
std::string write_raw(const std::string& dir, const std::string& header, size_t data_bytes,
                      int64_t declared_len = -1) {
  std::string p = dir + "/raw.safetensors";
  std::ofstream f(p, std::ios::binary);
  uint64_t n = declared_len >= 0 ? static_cast<uint64_t>(declared_len) : header.size();
  for (int i = 0; i < 8; ++i) f.put(static_cast<char>((n >> (8 * i)) & 0xff));
  f << header << std::string(data_bytes, '\0');
  return p;
}

std::string error_of(const std::function<void()>& fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Safetensors, RoundTripKeepsDtypesShapesAndValues) {
  std::string dir = temp_dir("st_roundtrip");
  at::Tensor f32 = at::randn({3, 5});
  at::Tensor bf16 = at::randn({4}).to(at::kBFloat16);
  at::Tensor f16 = at::randn({2, 2, 2}).to(at::kHalf);
  at::Tensor i64 = at::arange(7, at::kLong);
  at::Tensor strided = at::randn({4, 6}).t();  // non-contiguous input
  save_safetensors(dir + "/a.safetensors",
                   {{"f32", f32}, {"bf16", bf16}, {"f16", f16}, {"i64", i64}, {"t", strided}},
                   {{"note", "x"}});
  SafetensorsFile f(dir + "/a.safetensors");
  EXPECT_EQ(f.names().size(), 5u);
  EXPECT_TRUE(f.get("f32").equal(f32));
  EXPECT_TRUE(f.get("bf16").equal(bf16));
  EXPECT_TRUE(f.get("f16").equal(f16));
  EXPECT_TRUE(f.get("i64").equal(i64));
  EXPECT_TRUE(f.get("t").equal(strided));
  EXPECT_EQ(f.entry("bf16").dtype, "BF16");
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.metadata().at("note"), "x");
}

TEST(Safetensors, ReadsAFileWrittenByTransformers) {
  SafetensorsFile f(fixture("qwen3_tiny/model.safetensors"));
  EXPECT_TRUE(f.contains("model.embed_tokens.weight"));
  EXPECT_EQ(f.entry("model.embed_tokens.weight").shape, (std::vector<int64_t>{320, 64}));
  EXPECT_EQ(f.get("model.norm.weight").numel(), 64);
}

TEST(Safetensors, BadHeaderLengthNamesTheFile) {
  std::string dir = temp_dir("st_badlen");
  std::string p = write_raw(dir, "{}", 0, 1 << 20);
  std::string e = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(e.find("bad header length"), std::string::npos) << e;
  EXPECT_NE(e.find(p), std::string::npos) << e;
  std::ofstream(dir + "/short.safetensors") << "abc";
  e = error_of([&] { SafetensorsFile f(dir + "/short.safetensors"); });
  EXPECT_NE(e.find("too short"), std::string::npos) << e;
}

TEST(Safetensors, OffsetsOutsideTheFileNameTheTensor) {
  std::string dir = temp_dir("st_offsets");
  std::string p = write_raw(dir, R"({"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8);
  std::string e = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(e.find("'w'"), std::string::npos) << e;
  EXPECT_NE(e.find("outside"), std::string::npos) << e;
}

TEST(Safetensors, ByteSizeNotMatchingTheShapeIsAnError) {
  std::string dir = temp_dir("st_size");
  std::string p = write_raw(dir, R"({"w":{"dtype":"F32","shape":[3],"data_offsets":[0,16]}})", 16);
  std::string e = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(e.find("'w'"), std::string::npos) << e;
  EXPECT_NE(e.find("needs 12"), std::string::npos) << e;
}

TEST(Safetensors, UnknownDtypeNamesTheTensorAndDtype) {
  std::string dir = temp_dir("st_dtype");
  std::string p = write_raw(dir, R"({"w":{"dtype":"F8_E9","shape":[4],"data_offsets":[0,4]}})", 4);
  std::string e = error_of([&] { SafetensorsFile f(p); });
  EXPECT_NE(e.find("'w'"), std::string::npos) << e;
  EXPECT_NE(e.find("F8_E9"), std::string::npos) << e;
}

TEST(Safetensors, InvalidJsonHeaderIsAnError) {
  std::string dir = temp_dir("st_json");
  std::string p = write_raw(dir, "{not json", 0);
  EXPECT_NE(error_of([&] { SafetensorsFile f(p); }).find("not valid JSON"), std::string::npos);
}

// Copies a fixture checkpoint so a test can damage it.
std::string copy_fixture(const std::string& name, const std::string& to) {
  std::string dir = temp_dir(to);
  for (const char* f : {"config.json", "model.safetensors"})
    testing::copy_file(fixture(name) + "/" + f, dir + "/" + f);
  return dir;
}

TEST(Checkpoint, MissingTensorNamesTheTensorAndDirectory) {
  std::string dir = copy_fixture("qwen3_tiny", "ck_missing");
  SafetensorsFile src(dir + "/model.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> kept;
  for (const auto& n : src.names())
    if (n != "model.layers.1.self_attn.k_norm.weight") kept.emplace_back(n, src.get(n).clone());
  save_safetensors(dir + "/model.safetensors", kept);
  std::string e = error_of([&] { load_model(dir); });
  EXPECT_NE(e.find("model.layers.1.self_attn.k_norm.weight"), std::string::npos) << e;
  EXPECT_NE(e.find(dir), std::string::npos) << e;
}

TEST(Checkpoint, ShapeMismatchNamesFileTensorAndShapes) {
  std::string dir = copy_fixture("qwen3_tiny", "ck_shape");
  SafetensorsFile src(dir + "/model.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& n : src.names()) {
    at::Tensor t = src.get(n).clone();
    if (n == "model.norm.weight") t = at::randn({63});
    out.emplace_back(n, t);
  }
  save_safetensors(dir + "/model.safetensors", out);
  std::string e = error_of([&] { load_model(dir); });
  EXPECT_NE(e.find("'model.norm.weight'"), std::string::npos) << e;
  EXPECT_NE(e.find("[63]"), std::string::npos) << e;
  EXPECT_NE(e.find("model.safetensors"), std::string::npos) << e;
}

TEST(Checkpoint, ShardedIndexLoadsLikeOneFileAndAMissingShardIsNamed) {
  std::string dir = copy_fixture("qwen3_tiny", "ck_sharded");
  SafetensorsFile src(dir + "/model.safetensors");
  std::vector<std::pair<std::string, at::Tensor>> a, b;
  nlohmann::json map;
  auto names = src.names();
  for (size_t i = 0; i < names.size(); ++i) {
    bool first = i < names.size() / 2;
    (first ? a : b).emplace_back(names[i], src.get(names[i]).clone());
    map[names[i]] = first ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors";
  }
  save_safetensors(dir + "/model-00001-of-00002.safetensors", a);
  save_safetensors(dir + "/model-00002-of-00002.safetensors", b);
  file::remove_file(dir + "/model.safetensors");
  std::ofstream(dir + "/model.safetensors.index.json")
      << nlohmann::json{{"weight_map", map}}.dump();
  auto sharded = load_model(dir);
  auto single = load_model(fixture("qwen3_tiny"));
  auto s1 = sharded->state(), s2 = single->state();
  ASSERT_EQ(s1.size(), s2.size());
  for (size_t i = 0; i < s1.size(); ++i)
    EXPECT_TRUE(s1[i].second.equal(s2[i].second)) << s1[i].first;

  file::remove_file(dir + "/model-00002-of-00002.safetensors");
  std::string e = error_of([&] { load_model(dir); });
  EXPECT_NE(e.find("model-00002-of-00002.safetensors"), std::string::npos) << e;
}

TEST(Checkpoint, LoadCastsToTheRequestedDtype) {
  auto m = load_model(fixture("qwen3_tiny"), "bfloat16");
  EXPECT_EQ(m->lm_head_weight().scalar_type(), at::kBFloat16);
  EXPECT_THROW(load_model(fixture("qwen3_tiny"), "int8"), Error);
  EXPECT_THROW(load_model(fixture("no_such_model")), Error);
}

}  // namespace
}  // namespace grpo::models
