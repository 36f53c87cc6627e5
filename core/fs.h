// core/fs.h: small file helpers; every write that replaces a file goes through a
// temporary file and a rename, so a crash mid-write never leaves a torn file.
#pragma once
#include <string>
#include <string_view>

namespace grpo::fs {

// Reads a whole file. Throws grpo::Error naming the path.
std::string read_file(const std::string& path);

// Writes `data` to path.tmp.<pid>, fsyncs, renames over `path`. Throws grpo::Error.
void write_atomic(const std::string& path, std::string_view data);

}  // namespace grpo::fs
