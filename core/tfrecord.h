// core/tfrecord.h: TensorBoard event files without TensorFlow. A record is
//   uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)
// (TFRecord framing; CRC-32C (Castagnoli) masked as ((crc >> 15) | (crc << 17)) + 0xa282ead8),
// and the data is a serialised tensorflow.Event protobuf, hand-encoded here so core does
// not depend on protobuf: Event{wall_time=1 double, step=2 int64, file_version=3 string,
// summary=5 Summary{value=1 Value{tag=1 string, simple_value=2 float}}}.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace grpo::tfrecord {

uint32_t crc32c(const void* data, size_t n, uint32_t crc = 0);
uint32_t masked_crc32c(const void* data, size_t n);

// Frames one record.
std::string frame(std::string_view data);

// Encodes an Event holding scalar summaries.
std::string encode_scalar_event(double wall_time, int64_t step,
                                const std::vector<std::pair<std::string, float>>& scalars);
// Encodes the first Event of a file (file_version "brain.Event:2").
std::string encode_version_event(double wall_time);

// A decoded event (for tests and tools).
struct Event {
  double wall_time = 0;
  int64_t step = 0;
  std::string file_version;
  std::vector<std::pair<std::string, float>> scalars;
};

// Reads every record of an event file, checking both CRCs. Throws grpo::Error naming
// the file and the record index on a bad length, CRC or truncated record.
std::vector<Event> read_events(const std::string& path);

}  // namespace grpo::tfrecord
