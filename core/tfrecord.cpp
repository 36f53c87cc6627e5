// core/tfrecord.cpp: CRC-32C (software, table-driven), TFRecord framing and a minimal
// protobuf wire-format writer/reader for tensorflow.Event scalars.
#include "core/tfrecord.h"

#include <cstring>
#include <fstream>
#include <sstream>

#include "core/error.h"

namespace grpo::tfrecord {
namespace {

struct Crc32cTable {
  uint32_t t[256];
  Crc32cTable() {
    for (uint32_t i = 0; i < 256; ++i) {
      uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : (c >> 1);
      t[i] = c;
    }
  }
};
const Crc32cTable kTable;

void put_varint(std::string& s, uint64_t v) {
  while (v >= 0x80) {
    s.push_back(static_cast<char>((v & 0x7f) | 0x80));
    v >>= 7;
  }
  s.push_back(static_cast<char>(v));
}
void put_tag(std::string& s, int field, int wire) { put_varint(s, (static_cast<uint64_t>(field) << 3) | wire); }
void put_bytes(std::string& s, int field, std::string_view b) {
  put_tag(s, field, 2);
  put_varint(s, b.size());
  s.append(b);
}
template <class T>
void put_fixed(std::string& s, const T& v) {
  char buf[sizeof(T)];
  std::memcpy(buf, &v, sizeof(T));
  s.append(buf, sizeof(T));
}

struct Cursor {
  const uint8_t* p;
  const uint8_t* end;
  bool done() const { return p >= end; }
  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (p >= end) throw Error("truncated varint");
      uint8_t b = *p++;
      v |= static_cast<uint64_t>(b & 0x7f) << shift;
      if (!(b & 0x80)) return v;
    }
    throw Error("varint too long");
  }
  std::string_view bytes() {
    uint64_t n = varint();
    if (static_cast<uint64_t>(end - p) < n) throw Error("truncated field");
    std::string_view s(reinterpret_cast<const char*>(p), n);
    p += n;
    return s;
  }
  template <class T>
  T fixed() {
    if (static_cast<size_t>(end - p) < sizeof(T)) throw Error("truncated fixed field");
    T v;
    std::memcpy(&v, p, sizeof(T));
    p += sizeof(T);
    return v;
  }
  void skip(int wire) {
    switch (wire) {
      case 0: varint(); break;
      case 1: fixed<uint64_t>(); break;
      case 2: bytes(); break;
      case 5: fixed<uint32_t>(); break;
      default: throw Error("unsupported wire type");
    }
  }
};

}  // namespace

uint32_t crc32c(const void* data, size_t n, uint32_t crc) {
  const uint8_t* p = static_cast<const uint8_t*>(data);
  crc = ~crc;
  for (size_t i = 0; i < n; ++i) crc = kTable.t[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
  return ~crc;
}

uint32_t masked_crc32c(const void* data, size_t n) {
  uint32_t c = crc32c(data, n);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::string frame(std::string_view data) {
  std::string out;
  uint64_t len = data.size();
  put_fixed(out, len);
  put_fixed(out, masked_crc32c(&len, sizeof(len)));
  out.append(data);
  put_fixed(out, masked_crc32c(data.data(), data.size()));
  return out;
}

std::string encode_scalar_event(double wall_time, int64_t step,
                                const std::vector<std::pair<std::string, float>>& scalars) {
  std::string summary;
  for (const auto& [tag, value] : scalars) {
    std::string v;
    put_bytes(v, 1, tag);
    put_tag(v, 2, 5);
    put_fixed(v, value);
    put_bytes(summary, 1, v);
  }
  std::string ev;
  put_tag(ev, 1, 1);
  put_fixed(ev, wall_time);
  put_tag(ev, 2, 0);
  put_varint(ev, static_cast<uint64_t>(step));
  put_bytes(ev, 5, summary);
  return ev;
}

std::string encode_version_event(double wall_time) {
  std::string ev;
  put_tag(ev, 1, 1);
  put_fixed(ev, wall_time);
  put_bytes(ev, 3, "brain.Event:2");
  return ev;
}

std::vector<Event> read_events(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw Error(str("cannot open event file '", path, "'"));
  std::ostringstream os;
  os << in.rdbuf();
  const std::string buf = os.str();
  std::vector<Event> out;
  size_t off = 0;
  for (size_t idx = 0; off < buf.size(); ++idx) {
    auto bad = [&](const std::string& what) {
      return Error(str(path, ": record ", idx, " at byte ", off, ": ", what));
    };
    if (buf.size() - off < 12) throw bad("truncated header");
    uint64_t len;
    uint32_t len_crc;
    std::memcpy(&len, buf.data() + off, 8);
    std::memcpy(&len_crc, buf.data() + off + 8, 4);
    if (len_crc != masked_crc32c(&len, 8)) throw bad("length CRC mismatch");
    if (buf.size() - off - 12 < len + 4) throw bad("truncated data");
    const char* data = buf.data() + off + 12;
    uint32_t data_crc;
    std::memcpy(&data_crc, data + len, 4);
    if (data_crc != masked_crc32c(data, len)) throw bad("data CRC mismatch");
    Event ev;
    try {
      Cursor c{reinterpret_cast<const uint8_t*>(data), reinterpret_cast<const uint8_t*>(data + len)};
      while (!c.done()) {
        uint64_t key = c.varint();
        int field = static_cast<int>(key >> 3), wire = static_cast<int>(key & 7);
        if (field == 1 && wire == 1) ev.wall_time = c.fixed<double>();
        else if (field == 2 && wire == 0) ev.step = static_cast<int64_t>(c.varint());
        else if (field == 3 && wire == 2) ev.file_version = std::string(c.bytes());
        else if (field == 5 && wire == 2) {
          std::string_view sum = c.bytes();
          Cursor s{reinterpret_cast<const uint8_t*>(sum.data()), reinterpret_cast<const uint8_t*>(sum.data() + sum.size())};
          while (!s.done()) {
            uint64_t k = s.varint();
            if ((k >> 3) == 1 && (k & 7) == 2) {
              std::string_view val = s.bytes();
              Cursor vc{reinterpret_cast<const uint8_t*>(val.data()), reinterpret_cast<const uint8_t*>(val.data() + val.size())};
              std::string tag;
              float f = 0;
              while (!vc.done()) {
                uint64_t vk = vc.varint();
                if ((vk >> 3) == 1 && (vk & 7) == 2) tag = std::string(vc.bytes());
                else if ((vk >> 3) == 2 && (vk & 7) == 5) f = vc.fixed<float>();
                else vc.skip(static_cast<int>(vk & 7));
              }
              ev.scalars.emplace_back(tag, f);
            } else {
              s.skip(static_cast<int>(k & 7));
            }
          }
        } else {
          c.skip(wire);
        }
      }
    } catch (const Error& e) {
      throw bad(str("bad Event protobuf: ", e.what()));
    }
    out.push_back(std::move(ev));
    off += 12 + len + 4;
  }
  return out;
}

}  // namespace grpo::tfrecord
