// tests/core/metrics_test.cpp: JSONL and TensorBoard sinks, read back independently.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "core/error.h"
#include "core/metrics.h"
#include "core/tfrecord.h"

namespace grpo {
namespace {

std::filesystem::path fresh_dir(const std::string& name) {
  auto d = std::filesystem::temp_directory_path() / name;
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  return d;
}

TEST(Crc32c, MatchesPublishedCheckValues) {
  // CRC-32C check value of "123456789" (RFC 3720 appendix / iSCSI): 0xE3069283.
  EXPECT_EQ(tfrecord::crc32c("123456789", 9), 0xE3069283u);
  // 32 bytes of zeros: 0x8A9136AA (RFC 3720 B.4).
  std::string zeros(32, '\0');
  EXPECT_EQ(tfrecord::crc32c(zeros.data(), zeros.size()), 0x8A9136AAu);
}

TEST(Metrics, JsonlLinesHoldStepAndScalars) {
  auto d = fresh_dir("grpo_metrics_jsonl");
  Metrics m = Metrics::for_run(d.string(), true, false);
  m.log(1, {{"reward/mean", 0.5}, {"loss", -1.25}});
  m.log(2, {{"reward/mean", 0.75}});
  std::ifstream in(d / "metrics.jsonl");
  std::string line;
  std::vector<nlohmann::json> rows;
  while (std::getline(in, line)) rows.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["step"], 1);
  EXPECT_DOUBLE_EQ(rows[0]["loss"].get<double>(), -1.25);
  EXPECT_DOUBLE_EQ(rows[1]["reward/mean"].get<double>(), 0.75);
}

namespace {
std::vector<int64_t> steps_in(const std::filesystem::path& f) {
  std::ifstream in(f);
  std::string line;
  std::vector<int64_t> steps;
  while (std::getline(in, line)) steps.push_back(nlohmann::json::parse(line)["step"].get<int64_t>());
  return steps;
}
}  // namespace

// A fresh run in a used directory must not mix its lines with the old run's (the demo's
// plot drew two runs over each other), nor lose them; a resumed run appends.
TEST(Metrics, FreshRunSetsOldMetricsAsideResumedRunAppends) {
  auto d = fresh_dir("grpo_metrics_rotate");
  { Metrics m = Metrics::for_run(d.string(), true, false); m.log(1, {{"x", 1}}); m.log(2, {{"x", 2}}); }
  { Metrics m = Metrics::for_run(d.string(), true, false); m.log(1, {{"x", 10}}); }
  EXPECT_EQ(steps_in(d / "metrics.jsonl"), (std::vector<int64_t>{1}));
  EXPECT_EQ(steps_in(d / "metrics.1.jsonl"), (std::vector<int64_t>{1, 2}));
  { Metrics m = Metrics::for_run(d.string(), true, false, /*append=*/true); m.log(2, {{"x", 20}}); }
  EXPECT_EQ(steps_in(d / "metrics.jsonl"), (std::vector<int64_t>{1, 2}));
  { Metrics m = Metrics::for_run(d.string(), true, false); m.log(5, {{"x", 5}}); }
  EXPECT_EQ(steps_in(d / "metrics.jsonl"), (std::vector<int64_t>{5}));
  EXPECT_EQ(steps_in(d / "metrics.1.jsonl"), (std::vector<int64_t>{1, 2}));  // untouched
  EXPECT_EQ(steps_in(d / "metrics.2.jsonl"), (std::vector<int64_t>{1, 2}));
}

// The same for TensorBoard: one event file per run folder, so runs show up separately.
TEST(Metrics, FreshRunSetsOldTensorBoardFolderAside) {
  auto d = fresh_dir("grpo_metrics_tb_rotate");
  auto files_in = [](const std::filesystem::path& dir) {
    size_t n = 0;
    for (auto& e : std::filesystem::directory_iterator(dir)) n += e.is_regular_file();
    return n;
  };
  { Metrics m = Metrics::for_run(d.string(), false, true); m.log(1, {{"x", 1}}); }
  { Metrics m = Metrics::for_run(d.string(), false, true); m.log(1, {{"x", 2}}); }
  EXPECT_EQ(files_in(d / "tb"), 1u);
  ASSERT_TRUE(std::filesystem::is_directory(d / "tb.1"));
  EXPECT_EQ(files_in(d / "tb.1"), 1u);
  auto old = *std::filesystem::directory_iterator(d / "tb.1");
  auto events = tfrecord::read_events(old.path().string());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_DOUBLE_EQ(events[1].scalars.at(0).second, 1.0);  // the first run's value, kept
  { Metrics m = Metrics::for_run(d.string(), false, true, /*append=*/true); m.log(2, {{"x", 3}}); }
  // A resumed run writes into the same run folder (its own file, or the same one when the
  // process and second coincide, as here): steps 1 and 2 are both in tb/.
  std::vector<int64_t> steps;
  for (auto& e : std::filesystem::directory_iterator(d / "tb"))
    for (auto& ev : tfrecord::read_events(e.path().string()))
      if (!ev.scalars.empty()) steps.push_back(ev.step);
  std::sort(steps.begin(), steps.end());
  EXPECT_EQ(steps, (std::vector<int64_t>{1, 2}));
  EXPECT_FALSE(std::filesystem::exists(d / "tb.2"));
}

TEST(Metrics, TensorBoardRecordsReadBackWithCrcChecks) {
  auto d = fresh_dir("grpo_metrics_tb");
  {
    Metrics m = Metrics::for_run(d.string(), false, true);
    m.log(3, {{"a", 1.5}, {"b", -2.0}});
    m.log(4, {{"a", 2.5}});
  }
  std::vector<std::filesystem::path> files;
  for (auto& e : std::filesystem::directory_iterator(d / "tb")) files.push_back(e.path());
  ASSERT_EQ(files.size(), 1u);
  auto events = tfrecord::read_events(files[0].string());
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[0].file_version, "brain.Event:2");
  EXPECT_EQ(events[1].step, 3);
  ASSERT_EQ(events[1].scalars.size(), 2u);
  EXPECT_EQ(events[1].scalars[0].first, "a");
  EXPECT_FLOAT_EQ(events[1].scalars[0].second, 1.5f);
  EXPECT_FLOAT_EQ(events[1].scalars[1].second, -2.0f);
  EXPECT_EQ(events[2].step, 4);
}

TEST(Metrics, CorruptedRecordIsReportedWithItsIndex) {
  auto d = fresh_dir("grpo_metrics_bad");
  std::string p = (d / "events.bin").string();
  std::string data = tfrecord::frame(tfrecord::encode_version_event(1.0)) +
                     tfrecord::frame(tfrecord::encode_scalar_event(1.0, 1, {{"x", 1.0f}}));
  data[data.size() - 6] ^= 0x40;  // flip a bit inside record 1's payload
  std::ofstream(p, std::ios::binary) << data;
  try {
    tfrecord::read_events(p);
    FAIL() << "expected a CRC error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("record 1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("CRC"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace grpo
