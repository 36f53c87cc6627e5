// tests/core/progress_test.cpp: duration formatting and line output of Progress.
#include <gtest/gtest.h>

#include "core/progress.h"

namespace grpo {
namespace {

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(Progress::format_duration(12.4), "12s");
  EXPECT_EQ(Progress::format_duration(187), "3m07s");
  EXPECT_EQ(Progress::format_duration(3720), "1h02m");
}

TEST(Progress, PlainLinesWhenNotATerminal) {
  testing::internal::CaptureStderr();
  {
    Progress p("train", 4, "tok", Progress::Mode::kLines, 0.0);
    for (int i = 0; i < 4; ++i) p.update(1, 100);
    p.finish("done");
  }
  std::string out = testing::internal::GetCapturedStderr();
  EXPECT_NE(out.find("train 1/4"), std::string::npos) << out;
  EXPECT_NE(out.find("train 4/4"), std::string::npos) << out;
  EXPECT_NE(out.find("tok/s"), std::string::npos) << out;
  EXPECT_NE(out.find("ETA"), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << "no carriage returns off a terminal";
}

}  // namespace
}  // namespace grpo
