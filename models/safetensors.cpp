// models/safetensors.cpp: mmap reader, validating header parser and atomic writer for the
// safetensors format (format facts from huggingface/safetensors' README: u64 LE header
// size N, N bytes of JSON, data section; offsets relative to the data section; header
// padded with spaces to 8 bytes by convention).
#include "models/safetensors.h"

#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/error.h"
#include "models/file_util.h"

namespace grpo::models {
namespace {

struct DtypeInfo {
  const char* code;
  at::ScalarType type;
  int64_t size;
};
constexpr DtypeInfo kDtypes[] = {
    {"F32", at::kFloat, 4},  {"BF16", at::kBFloat16, 2}, {"F16", at::kHalf, 2},
    {"F64", at::kDouble, 8}, {"I64", at::kLong, 8},      {"I32", at::kInt, 4},
    {"I16", at::kShort, 2},  {"I8", at::kChar, 1},       {"U8", at::kByte, 1},
    {"BOOL", at::kBool, 1},
};

const DtypeInfo* find_dtype(const std::string& code) {
  for (const auto& d : kDtypes)
    if (code == d.code) return &d;
  return nullptr;
}
const DtypeInfo* find_dtype(at::ScalarType t) {
  for (const auto& d : kDtypes)
    if (t == d.type) return &d;
  return nullptr;
}

constexpr uint64_t kMaxHeader = 100ull << 20;  // the format's own limit is 100 MB

}  // namespace

struct SafetensorsFile::Mapping {
  void* addr = nullptr;
  size_t size = 0;
  ~Mapping() {
    if (addr && size) munmap(addr, size);
  }
};

SafetensorsFile::SafetensorsFile(const std::string& path) : path_(path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  GRPO_ENSURE(fd >= 0, "safetensors: cannot open ", path, ": ", std::strerror(errno));
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(str("safetensors: cannot stat ", path, ": ", std::strerror(errno)));
  }
  uint64_t file_size = static_cast<uint64_t>(st.st_size);
  map_ = std::make_shared<Mapping>();
  if (file_size > 0) {
    void* a = mmap(nullptr, file_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (a == MAP_FAILED) {
      ::close(fd);
      throw Error(str("safetensors: cannot mmap ", path, ": ", std::strerror(errno)));
    }
    map_->addr = a;
    map_->size = file_size;
  }
  ::close(fd);

  GRPO_ENSURE(file_size >= 8, "safetensors: ", path, ": file is ", file_size,
              " bytes, too short for the 8-byte header length");
  const auto* bytes = static_cast<const unsigned char*>(map_->addr);
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | bytes[i];
  GRPO_ENSURE(n <= kMaxHeader && n <= file_size - 8, "safetensors: ", path, ": bad header length ",
              n, " (file has ", file_size - 8, " bytes after the length field)");
  data_start_ = 8 + n;
  uint64_t data_size = file_size - data_start_;

  nlohmann::json header;
  try {
    header = nlohmann::json::parse(reinterpret_cast<const char*>(bytes + 8),
                                   reinterpret_cast<const char*>(bytes + 8 + n));
  } catch (const std::exception& e) {
    throw Error(str("safetensors: ", path, ": header is not valid JSON: ", e.what()));
  }
  GRPO_ENSURE(header.is_object(), "safetensors: ", path, ": header must be a JSON object");
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    const auto& v = it.value();
    if (name == "__metadata__") {
      GRPO_ENSURE(v.is_object(), "safetensors: ", path, ": __metadata__ must be an object");
      for (auto m = v.begin(); m != v.end(); ++m)
        if (m.value().is_string()) metadata_[m.key()] = m.value().get<std::string>();
      continue;
    }
    auto bad = [&](const std::string& what) {
      return Error(str("safetensors: ", path, ": tensor '", name, "': ", what));
    };
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
        !v.contains("data_offsets"))
      throw bad("entry needs dtype, shape and data_offsets");
    SafetensorsEntry e;
    if (!v["dtype"].is_string()) throw bad("dtype must be a string");
    e.dtype = v["dtype"].get<std::string>();
    const DtypeInfo* d = find_dtype(e.dtype);
    if (!d) throw bad(str("unknown dtype '", e.dtype, "'"));
    if (!v["shape"].is_array()) throw bad("shape must be an array");
    uint64_t numel = 1;
    for (const auto& s : v["shape"]) {
      if (!s.is_number_unsigned()) throw bad(str("bad shape ", v["shape"].dump()));
      e.shape.push_back(s.get<int64_t>());
      numel *= s.get<uint64_t>();
    }
    const auto& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() ||
        !off[1].is_number_unsigned())
      throw bad("data_offsets must be [begin, end]");
    e.begin = off[0].get<uint64_t>();
    e.end = off[1].get<uint64_t>();
    if (e.begin > e.end || e.end > data_size)
      throw bad(str("data_offsets [", e.begin, ", ", e.end, "] lie outside the data section of ",
                    data_size, " bytes"));
    if (e.end - e.begin != numel * static_cast<uint64_t>(d->size))
      throw bad(str("data_offsets span ", e.end - e.begin, " bytes but shape ", v["shape"].dump(),
                    " of ", e.dtype, " needs ", numel * d->size));
    entries_.emplace(name, std::move(e));
  }
}

SafetensorsFile::~SafetensorsFile() = default;

std::vector<std::string> SafetensorsFile::names() const {
  std::vector<std::string> out;
  out.reserve(entries_.size());
  for (const auto& [k, v] : entries_) out.push_back(k);
  return out;
}

const SafetensorsEntry& SafetensorsFile::entry(const std::string& name) const {
  auto it = entries_.find(name);
  GRPO_ENSURE(it != entries_.end(), "safetensors: ", path_, ": no tensor '", name, "'");
  return it->second;
}

at::Tensor SafetensorsFile::get(const std::string& name) const {
  const SafetensorsEntry& e = entry(name);
  const DtypeInfo* d = find_dtype(e.dtype);
  auto opts = at::TensorOptions().dtype(d->type).device(at::kCPU);
  if (e.end == e.begin) return at::empty(e.shape, opts);
  char* p = static_cast<char*>(map_->addr) + data_start_ + e.begin;
  std::shared_ptr<Mapping> keep = map_;
  at::Tensor t = at::from_blob(
      p, e.shape, [keep](void*) mutable { keep.reset(); }, opts);
  if (reinterpret_cast<uintptr_t>(p) % static_cast<uintptr_t>(d->size) != 0) t = t.clone();
  return t;
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  nlohmann::ordered_json header;
  nlohmann::ordered_json meta = {{"format", "pt"}};
  for (const auto& [k, v] : metadata) meta[k] = v;
  header["__metadata__"] = meta;
  std::vector<at::Tensor> cpu;
  cpu.reserve(tensors.size());
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    GRPO_ENSURE(t.defined(), "safetensors: ", path, ": tensor '", name, "' is undefined");
    GRPO_ENSURE(!header.contains(name), "safetensors: ", path, ": duplicate tensor '", name, "'");
    const DtypeInfo* d = find_dtype(t.scalar_type());
    GRPO_ENSURE(d, "safetensors: ", path, ": tensor '", name, "' has unsupported dtype ",
                t.scalar_type());
    at::Tensor c = t.detach().to(at::kCPU).contiguous();
    uint64_t nbytes = static_cast<uint64_t>(c.numel()) * d->size;
    header[name] = {{"dtype", d->code},
                    {"shape", c.sizes().vec()},
                    {"data_offsets", {offset, offset + nbytes}}};
    offset += nbytes;
    cpu.push_back(std::move(c));
  }
  std::string h = header.dump();
  while (h.size() % 8) h.push_back(' ');

  std::string tmp = str(path, ".tmp.", ::getpid());
  FILE* f = std::fopen(tmp.c_str(), "wb");
  GRPO_ENSURE(f, "safetensors: cannot write ", tmp, ": ", std::strerror(errno));
  auto fail = [&](const std::string& what) {
    std::fclose(f);
    std::remove(tmp.c_str());
    throw Error(str("safetensors: writing ", path, ": ", what, ": ", std::strerror(errno)));
  };
  unsigned char len[8];
  uint64_t n = h.size();
  for (int i = 0; i < 8; ++i) len[i] = static_cast<unsigned char>((n >> (8 * i)) & 0xff);
  if (std::fwrite(len, 1, 8, f) != 8 || std::fwrite(h.data(), 1, h.size(), f) != h.size())
    fail("header");
  for (size_t i = 0; i < cpu.size(); ++i) {
    size_t nb = static_cast<size_t>(cpu[i].numel() * cpu[i].element_size());
    if (nb && std::fwrite(cpu[i].data_ptr(), 1, nb, f) != nb)
      fail(str("tensor ", tensors[i].first));
  }
  if (std::fflush(f) != 0 || ::fsync(fileno(f)) != 0) fail("flush");
  std::fclose(f);
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    std::remove(tmp.c_str());
    throw Error(str("safetensors: cannot rename ", tmp, " to ", path, ": ", std::strerror(errno)));
  }
}

CheckpointFiles::CheckpointFiles(const std::string& dir) : dir_(dir) {
  GRPO_ENSURE(file::is_dir(dir), "checkpoint: ", dir, " is not a directory");
  std::vector<std::string> paths;
  std::string index = file::join(dir, "model.safetensors.index.json");
  if (file::exists(index)) {
    nlohmann::json j;
    try {
      FILE* f = std::fopen(index.c_str(), "rb");
      GRPO_ENSURE(f, "checkpoint: cannot open ", index);
      std::string s;
      char buf[65536];
      size_t k;
      while ((k = std::fread(buf, 1, sizeof buf, f)) > 0) s.append(buf, k);
      std::fclose(f);
      j = nlohmann::json::parse(s);
    } catch (const nlohmann::json::exception& e) {
      throw Error(str("checkpoint: ", index, ": invalid JSON: ", e.what()));
    }
    GRPO_ENSURE(j.contains("weight_map") && j["weight_map"].is_object(), "checkpoint: ", index,
                ": missing object 'weight_map'");
    std::map<std::string, bool> seen;
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      GRPO_ENSURE(it.value().is_string(), "checkpoint: ", index, ": tensor '", it.key(),
                  "' maps to a non-string");
      std::string shard = it.value().get<std::string>();
      if (!seen[shard]) {
        seen[shard] = true;
        std::string p = file::join(dir, shard);
        GRPO_ENSURE(file::exists(p), "checkpoint: ", index, " names shard ", shard,
                    " (for tensor '", it.key(), "') which does not exist");
        paths.push_back(p);
      }
    }
  } else {
    for (const auto& e : file::list(dir))
      if (file::ends_with(e, ".safetensors")) paths.push_back(file::join(dir, e));
  }
  GRPO_ENSURE(!paths.empty(), "checkpoint: no *.safetensors files in ", dir);
  for (const auto& p : paths) {
    files_.push_back(std::make_unique<SafetensorsFile>(p));
    for (const auto& name : files_.back()->names()) {
      auto [it, inserted] = where_.emplace(name, files_.size() - 1);
      GRPO_ENSURE(inserted, "checkpoint: tensor '", name, "' appears in both ",
                  files_[it->second]->path(), " and ", p);
    }
  }
}

std::vector<std::string> CheckpointFiles::names() const {
  std::vector<std::string> out;
  for (const auto& [k, v] : where_) out.push_back(k);
  return out;
}

const SafetensorsFile& CheckpointFiles::file_of(const std::string& name) const {
  auto it = where_.find(name);
  GRPO_ENSURE(it != where_.end(), "checkpoint ", dir_, ": missing tensor '", name, "'");
  return *files_[it->second];
}

}  // namespace grpo::models
