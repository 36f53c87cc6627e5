// models/file_util.h: the few file-system calls models/ needs, on POSIX directly.
// Why not std::filesystem: libtorch.so exports its own copies of std::filesystem symbols
// (remove_all, create_directory, ...) built against another libstdc++ ABI; a binary that
// links LibTorch can resolve to them and crash (seen: remove_all segfaults). Header-only,
// thread-safe, no torch.
#pragma once
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "core/error.h"

namespace grpo::models::file {

inline bool exists(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0;
}
inline bool is_dir(const std::string& p) {
  struct stat st {};
  return ::stat(p.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
}
inline std::string join(const std::string& dir, const std::string& name) {
  if (dir.empty() || dir.back() == '/') return dir + name;
  return dir + "/" + name;
}
// Sorted names (not paths) of the entries in `dir`; throws grpo::Error naming it.
inline std::vector<std::string> list(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  GRPO_ENSURE(d, "cannot list directory ", dir, ": ", std::strerror(errno));
  std::vector<std::string> out;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  std::sort(out.begin(), out.end());
  return out;
}
inline bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
// mkdir -p; throws grpo::Error naming the path.
inline void make_dirs(const std::string& path) {
  std::string cur;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    cur = path.substr(0, j);
    if (!cur.empty() && !is_dir(cur))
      GRPO_ENSURE(::mkdir(cur.c_str(), 0755) == 0 || errno == EEXIST, "cannot create directory ",
                  cur, ": ", std::strerror(errno));
    i = j + 1;
  }
}
inline void remove_file(const std::string& p) { ::unlink(p.c_str()); }

}  // namespace grpo::models::file
