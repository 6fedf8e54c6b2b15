#include "omt/import/byte_source.hpp"

#include <algorithm>
#include <cstring>

namespace omt::import {
namespace {

class StringSource final : public ByteSource {
 public:
  StringSource(std::string text, std::size_t chunk) : text_(std::move(text)), chunk_(std::max<std::size_t>(chunk, 1)) {}
  Expected<std::size_t> read(char* out, std::size_t size) override {
    const std::size_t n = std::min({size, chunk_, text_.size() - at_});
    std::memcpy(out, text_.data() + at_, n);
    at_ += n;
    return n;
  }
  std::uint64_t bytes_read() const override { return at_; }

 private:
  std::string text_;
  std::size_t chunk_;
  std::size_t at_ = 0;
};

}  // namespace

std::unique_ptr<ByteSource> string_source(std::string text, std::size_t chunk) {
  return std::make_unique<StringSource>(std::move(text), chunk);
}

}  // namespace omt::import
