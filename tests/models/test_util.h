// tests/models/test_util.h: helpers shared by the model tests (fixture paths, tensor
// comparison, temporary directories).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdlib>
#include <string>

#include "core/fs.h"
#include "models/file_util.h"

namespace grpo::models::testing {

inline std::string fixture(const std::string& name) {
  return std::string(GRPO_SOURCE_DIR) + "/tests/models/fixtures/" + name;
}

// A fresh empty directory under the build tree, removed first if present. (POSIX, not
// std::filesystem: see models/file_util.h.)
inline std::string temp_dir(const std::string& name) {
  std::string p = std::string(GRPO_BINARY_DIR) + "/tests_tmp/models/" + name;
  std::string cmd = "rm -rf '" + p + "'";
  if (std::system(cmd.c_str()) != 0) return p;
  file::make_dirs(p);
  return p;
}

inline void copy_file(const std::string& from, const std::string& to) {
  fs::write_atomic(to, fs::read_file(from));
}

inline double max_abs_diff(const at::Tensor& a, const at::Tensor& b) {
  return a.to(at::kDouble).sub(b.to(at::kDouble)).abs().max().item<double>();
}

}  // namespace grpo::models::testing
