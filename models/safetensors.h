// models/safetensors.h: reading and writing the safetensors format (an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}}, then raw data).
// Design: a file is memory-mapped once and tensors are zero-copy views into the mapping
// that keep it alive; every header field is validated up front, so a malformed file fails
// with a grpo::Error naming the file and the tensor before any weight is used.
// A CheckpointFiles object opens a Hugging Face checkpoint directory: a single
// model.safetensors, a sharded set listed in model.safetensors.index.json, or any
// *.safetensors files found there.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace grpo::models {

struct SafetensorsEntry {
  std::string dtype;  // safetensors dtype code: F32, BF16, F16, F64, I64, ...
  std::vector<int64_t> shape;
  uint64_t begin = 0, end = 0;  // byte offsets into the data section
};

// One memory-mapped .safetensors file. Immutable after construction; thread-safe to read.
class SafetensorsFile {
 public:
  // Maps `path` and validates the header (length, JSON, dtypes, shapes, offsets within the
  // file and matching each tensor's byte size). Throws grpo::Error naming file and tensor.
  explicit SafetensorsFile(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return entries_.count(name) > 0; }
  // Throws grpo::Error naming the file when `name` is absent.
  const SafetensorsEntry& entry(const std::string& name) const;
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  // A CPU tensor viewing the mapped bytes (read-only by contract: do not write into it);
  // copied only when the bytes are misaligned for the dtype. The mapping stays alive as
  // long as any returned tensor does. Throws grpo::Error when `name` is absent.
  at::Tensor get(const std::string& name) const;

 private:
  struct Mapping;
  std::string path_;
  std::shared_ptr<Mapping> map_;
  uint64_t data_start_ = 0;
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// Writes tensors (any device, contiguous or not; dtypes f32/bf16/f16/f64/i64/i32/i16/i8/u8/
// bool) to `path` in the given order, with metadata {"format": "pt"} plus `metadata`.
// Written to a temporary file, fsynced, then renamed over `path`. Throws grpo::Error.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// The tensors of a checkpoint directory, by name, across shards.
class CheckpointFiles {
 public:
  // Opens model.safetensors.index.json when present (every shard it names must exist),
  // else every *.safetensors in `dir`. Throws grpo::Error when there is none, when a
  // shard is malformed, or when one tensor name appears in two files.
  explicit CheckpointFiles(const std::string& dir);
  bool contains(const std::string& name) const { return where_.count(name) > 0; }
  std::vector<std::string> names() const;
  // The file holding `name`; throws grpo::Error naming the directory when absent.
  const SafetensorsFile& file_of(const std::string& name) const;
  at::Tensor get(const std::string& name) const { return file_of(name).get(name); }
  const std::string& dir() const { return dir_; }

 private:
  std::string dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, size_t> where_;
};

}  // namespace grpo::models
