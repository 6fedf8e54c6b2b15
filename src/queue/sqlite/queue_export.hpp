// Reading a whole SQLite queue out, for `queue migrate`: one read transaction (a snapshot: what is read is one
// consistent state of the file), every table's rows in batches, as text (NULL kept), and the chunks unpacked into
// one row per record (record_chunk.hpp: ids, attempts and due times as the queue hands them out). Writes nothing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "connection.hpp"
#include "omt/error.hpp"

namespace omt::queue::sqlite {

// One row, its columns as SQLite's text of them; std::nullopt is NULL.
using TextRow = std::vector<std::optional<std::string>>;
using RowBatch = std::vector<TextRow>;
using BatchSink = std::function<Expected<void>(const RowBatch& rows)>;

// The records columns a chunk unpacks into, in this order.
inline constexpr const char* kRecordColumns[] = {"id", "api_key", "type", "lane", "json",
                                                 "attempts", "next_attempt_at", "created_at"};

struct BatchLimits {
  std::size_t rows = 1000;
  std::size_t bytes = 8 << 20;  // a batch ends once its texts pass this
};

class QueueExport {
 public:
  // An existing queue file at this build's schema version (an older one is refused, not upgraded: the source is
  // left as it is); the snapshot starts here.
  static Expected<QueueExport> open(const std::filesystem::path& path);
  QueueExport(QueueExport&&) noexcept = default;
  ~QueueExport();  // ends the read transaction

  // The tables the file holds (sqlite_sequence and SQLite's own left out).
  Expected<std::vector<std::string>> tables();
  Expected<std::uint64_t> count(const std::string& table);
  // Records waiting, as the chunks' summaries count them (checked against the records unpacked).
  Expected<std::uint64_t> records_in_chunks();
  // The AUTOINCREMENT counter of a table (0: none): ids at or below it were handed out once.
  Expected<std::int64_t> id_counter(const std::string& table);

  // The rows of `select` (one statement, its columns in the order the sink expects), in batches.
  Expected<std::uint64_t> each_batch(const std::string& select, BatchSink sink, BatchLimits limits = {});
  // Every record of every chunk (kRecordColumns), in id order.
  Expected<std::uint64_t> each_record_batch(BatchSink sink, BatchLimits limits = {});

  const std::filesystem::path& path() const { return db_.path(); }

 private:
  explicit QueueExport(Connection db) : db_(std::move(db)) {}
  Connection db_;
  bool open_ = false;  // the read transaction is open
};

}  // namespace omt::queue::sqlite
