// Internal: large request bodies' buffers, kept by a worker thread for its next large request. A body read into a
// kept buffer needs no allocation, no growth copies and no zero-filling: a kept buffer keeps the size of its last
// body, and std::string::resize zeroes only what it adds (a fresh 370 KB body was zeroed whole, then copied twice
// as it grew). Bounded in bytes, so that a worker holds at most that between requests, however many connections
// it has. Used only on its worker's thread (or by shutdown once that thread has stopped): no lock.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace omt::net {

class BodyBuffers {
 public:
  explicit BodyBuffers(std::size_t limit_bytes) : limit_bytes_(limit_bytes) {}

  // A kept buffer whose capacity holds `bytes`, else the largest kept one (it grows from there, and the kept ones
  // cannot pile up while each is too small for the bodies that come), or an empty string when none is kept. Its
  // contents are the last body's: the caller overwrites what it uses and sizes it to what it read.
  std::string take(std::size_t bytes) {
    if (kept_.empty()) return {};
    // The smallest that fits, else the largest.
    const auto better = [bytes](const std::string& a, const std::string& b) {
      const bool a_fits = a.capacity() >= bytes, b_fits = b.capacity() >= bytes;
      if (a_fits != b_fits) return a_fits;
      return a_fits ? a.capacity() < b.capacity() : a.capacity() > b.capacity();
    };
    std::size_t chosen = 0;
    for (std::size_t i = 1; i < kept_.size(); ++i)
      if (better(kept_[i], kept_[chosen])) chosen = i;
    std::string buffer = std::move(kept_[chosen]);
    if (chosen + 1 != kept_.size()) kept_[chosen] = std::move(kept_.back());
    kept_.pop_back();
    kept_bytes_ -= buffer.capacity();
    return buffer;
  }

  // Keeps `buffer` while the kept ones stay within the limit; otherwise it is freed. Leaves `buffer` empty.
  void give_back(std::string& buffer) {
    if (kept_bytes_ + buffer.capacity() <= limit_bytes_) {
      kept_bytes_ += buffer.capacity();
      kept_.push_back(std::move(buffer));
    }
    std::string().swap(buffer);
  }

 private:
  std::size_t limit_bytes_;
  std::size_t kept_bytes_ = 0;
  std::vector<std::string> kept_;
};

}  // namespace omt::net
