#include "queue_export.hpp"

#include "../record_chunk.hpp"
#include "schema.hpp"

namespace omt::queue::sqlite {
namespace {

// Gathers rows and hands them to the sink a batch at a time (within the limits), the rest at the end.
class Batcher {
 public:
  Batcher(BatchSink& sink, BatchLimits limits) : sink_(sink), limits_(limits) {}
  Expected<void> add(TextRow row) {
    for (const auto& v : row) bytes_ += v ? v->size() : 0;
    batch_.push_back(std::move(row));
    ++total_;
    if (batch_.size() >= limits_.rows || bytes_ >= limits_.bytes) return flush();
    return {};
  }
  Expected<std::uint64_t> finish() {
    if (auto r = flush(); !r) return tl::unexpected(r.error());
    return total_;
  }

 private:
  Expected<void> flush() {
    if (batch_.empty()) return {};
    auto r = sink_(batch_);
    batch_.clear();
    bytes_ = 0;
    return r;
  }
  BatchSink& sink_;
  BatchLimits limits_;
  RowBatch batch_;
  std::size_t bytes_ = 0;
  std::uint64_t total_ = 0;
};

// A table name as an SQL identifier (the names come from sqlite_master or from our own list).
std::string quoted(const std::string& name) {
  std::string q = "\"";
  for (char c : name) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

Expected<std::int64_t> single_integer(Connection& db, const std::string& sql, std::string_view what) {
  auto stmt = db.prepare(sql.c_str());
  if (!stmt) return tl::unexpected(stmt.error());
  Query q(db, *stmt, what);
  auto row = q.step();
  if (!row) return tl::unexpected(row.error());
  return *row ? q.integer(0) : 0;
}

}  // namespace

Expected<QueueExport> QueueExport::open(const std::filesystem::path& path) {
  auto db = Connection::open(ConnectionOptions{path, /*create_if_missing=*/false});
  if (!db) return tl::unexpected(db.error());
  auto version = single_integer(*db, "PRAGMA user_version", "read the schema version");
  if (!version) return tl::unexpected(version.error());
  if (*version != kSchemaVersion) {
    return fail(errc::io,
                "queue: " + path.string() + " has schema version " + std::to_string(*version) + ", this build moves version " +
                    std::to_string(kSchemaVersion) + " (run `queue stats --queue " + path.string() +
                    "` with this build once: it upgrades the file)",
                path.string());
  }
  QueueExport out(std::move(*db));
  // BEGIN is deferred: the snapshot is taken by the first read, which is the next statement.
  if (auto r = out.db_.exec("BEGIN", "begin the read"); !r) return tl::unexpected(r.error());
  out.open_ = true;
  if (auto first = single_integer(out.db_, "SELECT COUNT(*) FROM sqlite_master", "start the read"); !first)
    return tl::unexpected(first.error());
  return out;
}

QueueExport::~QueueExport() {
  if (open_ && db_.get() != nullptr) (void)db_.exec("ROLLBACK", "end the read");
}

Expected<std::vector<std::string>> QueueExport::tables() {
  auto stmt = db_.prepare(
      "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY name");
  if (!stmt) return tl::unexpected(stmt.error());
  Query q(db_, *stmt, "list the tables");
  std::vector<std::string> names;
  for (;;) {
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    names.push_back(q.text(0));
  }
  return names;
}

Expected<std::uint64_t> QueueExport::count(const std::string& table) {
  auto n = single_integer(db_, "SELECT COUNT(*) FROM " + quoted(table), "count " + table);
  if (!n) return tl::unexpected(n.error());
  return static_cast<std::uint64_t>(*n);
}

Expected<std::uint64_t> QueueExport::records_in_chunks() {
  auto n = single_integer(db_, "SELECT COALESCE(SUM(count), 0) FROM chunks", "count the records");
  if (!n) return tl::unexpected(n.error());
  return static_cast<std::uint64_t>(*n);
}

Expected<std::int64_t> QueueExport::id_counter(const std::string& table) {
  // sqlite_sequence exists once an AUTOINCREMENT table has been created.
  auto counters = single_integer(db_, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'sqlite_sequence'",
                                 "look for the id counters");
  if (!counters) return tl::unexpected(counters.error());
  if (*counters == 0) return std::int64_t{0};
  auto stmt = db_.prepare("SELECT seq FROM sqlite_sequence WHERE name = ?");
  if (!stmt) return tl::unexpected(stmt.error());
  Query q(db_, *stmt, "read an id counter");
  auto row = q.bind(std::string_view(table)).step();
  if (!row) return tl::unexpected(row.error());
  return *row ? q.integer(0) : 0;
}

Expected<std::uint64_t> QueueExport::each_batch(const std::string& select, BatchSink sink, BatchLimits limits) {
  auto stmt = db_.prepare(select.c_str());
  if (!stmt) return tl::unexpected(stmt.error());
  const int columns = sqlite3_column_count(stmt->get());
  const std::string what = "read " + select;  // the query keeps a view of it
  Query q(db_, *stmt, what);
  Batcher batches(sink, limits);
  for (;;) {
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    TextRow values;
    values.reserve(static_cast<std::size_t>(columns));
    for (int c = 0; c < columns; ++c) values.push_back(q.optional_text(c));
    if (auto r = batches.add(std::move(values)); !r) return tl::unexpected(r.error());
  }
  return batches.finish();
}

Expected<std::uint64_t> QueueExport::each_record_batch(BatchSink sink, BatchLimits limits) {
  auto stmt = db_.prepare("SELECT id, api_key, type, lane, records FROM chunks ORDER BY id");
  if (!stmt) return tl::unexpected(stmt.error());
  Query q(db_, *stmt, "read the chunks");
  Batcher batches(sink, limits);
  for (;;) {
    auto row = q.step();
    if (!row) return tl::unexpected(row.error());
    if (!*row) break;
    const chunk::ChunkId chunk_id = q.integer(0);
    const std::string api_key = q.text(1), type = q.text(2), lane = q.text(3), blob = q.blob(4);
    auto entries = chunk::decode(blob);
    if (!entries) {
      return fail(errc::io, "queue: chunk " + std::to_string(chunk_id) + " cannot be read: " + entries.error().message,
                  path().string());
    }
    for (const auto& e : *entries) {
      TextRow values{std::to_string(chunk::record_id(chunk_id, e.slot)), api_key, type, lane, std::string(e.json),
                     std::to_string(e.attempts), std::to_string(e.next_attempt_at), std::to_string(e.created_at)};
      if (auto r = batches.add(std::move(values)); !r) return tl::unexpected(r.error());
    }
  }
  return batches.finish();
}

}  // namespace omt::queue::sqlite
