// An import's work between the command line and the queue: its input files (identified so that a changed one is
// refused on resume), the plan pass that reads everything once, whether a run starts, resumes or is already done,
// and the passes that enqueue the records, by type (products, contacts, orders, custom events), into the backfill
// lane, each batch committed with the checkpoint that covers it.
//
// Resuming exactly: a checkpoint is (file, pass, offset) = every item of the file up to `offset` (decompressed
// bytes) was read in this pass and its records of the pass's type are stored, committed in the same transaction
// as those records. A resumed pass skips to the first item past the offset; the passes before it are done, the
// passes after it not begun. Items are transformed the same way every time (the same mappings, the source's
// settings), so each pass finds the same records again: nothing is enqueued twice, nothing skipped. Events are
// transformed on worker threads and handed back in reading order (classify_pipeline.hpp), so all of this holds
// as for one thread. Memory stays bounded: one batch, the readers' buffers, the items in flight to the workers,
// and the plan's hints (what each item became, run-length encoded and capped). Records are kept on disk, not in
// memory: the plan pass spills each file's records by pass (record_spill.hpp) and a pass reads its spill back
// instead of transforming the file again; without a spill (none asked for, or given up) it reads the file again
// and transforms the items of its type, which yields the same records in the same places.
// Reads the clock, the queue and files through what it is given; never throws.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "omt/error.hpp"
#include "omt/import/event_mapping.hpp"
#include "omt/import/input_format.hpp"
#include "omt/import/csv_reader.hpp"
#include "omt/import/item.hpp"
#include "omt/import/plan.hpp"
#include "omt/import/record_spill.hpp"  // spill_min_free_bytes
#include "omt/queue/queue.hpp"

namespace omt::import {

// Bytes hashed at the start of a file to tell whether it changed.
inline constexpr std::size_t identity_head_bytes = 1u << 20;

struct InputFile {
  std::filesystem::path path;
  InputFormat format = InputFormat::events;
  queue::ImportFile identity;  // path (as shown), size, hash of the first MiB
  // CSV only: the record type (--type) and the table that reads it (--csv-table, or detected from the header).
  std::shared_ptr<const CsvTableChoice> csv;
};

// Size and SHA-256 of the first MiB.
Expected<queue::ImportFile> identify_file(const std::filesystem::path& file);
// The reader of a file in its format (CSV: import::CsvReader with the file's table choice).
Expected<std::unique_ptr<ItemReader>> open_reader(const InputFile& file);
// The files of the command line's arguments (folders walked in sorted order), each with its format: `format`
// when given, else detected per file (detect_format). An argument naming nothing, or a file whose format cannot
// be told, is an error.
Expected<std::vector<InputFile>> resolve_inputs(const std::vector<std::string>& arguments, std::optional<InputFormat> format);
// The key of a run: the same source, inputs and options are the same import.
std::string run_key_of(std::string_view source, const std::vector<std::string>& arguments,
                       std::optional<InputFormat> format, bool send_default_optin, std::string_view csv_options = {});

// An item made into what it will be: a record (events transformed as ingest would), skipped, or a bad row.
struct Classified {
  std::optional<RecordItem> record;
  bool skipped = false;
  std::optional<BadRow> bad;
};
// An event's text is left in `item` (its place is taken): the caller may hand it back to the reader.
Classified classify(Item&& item, EventMapper& mapper);

// ---- the plan pass ----

// What the plan pass found each item of a file to be, in reading order, run-length encoded: the passes then
// transform only the items of their own type. Kept only while small (max_hint_runs over all files, a few MB):
// past it a file has none, and its passes transform every item to find their own. A hint, never a source of
// truth for what a record is: the pass transforms its items itself.
inline constexpr std::uint8_t hint_skipped = pass_count;      // an item that is no record: skipped
inline constexpr std::uint8_t hint_bad = pass_count + 1;      // an item that is no record: a bad row
inline constexpr std::size_t max_hint_runs = 2u << 20;
struct ItemRun {
  std::uint8_t what = 0;  // a pass index, hint_skipped or hint_bad
  std::uint32_t items = 0;
};
using ItemHints = std::optional<std::vector<ItemRun>>;

struct PlannedInputs {
  Plan plan;
  std::vector<std::array<std::uint64_t, pass_count>> records_per_file;  // by file, then pass: passes skip empty files
  std::vector<std::uint64_t> items_per_file;  // by file: the items read (what a pass through its spill reports read)
  std::vector<ItemHints> hints_per_file;  // by file
  // By file, then pass: the plan pass's records of that pass, kept on disk (record_spill.hpp) when a spill folder
  // was given and they could all be written; the pass then reads them instead of transforming the input again.
  // Empty when there is no spill.
  std::vector<std::array<std::optional<std::filesystem::path>, pass_count>> spilled_per_file;
  std::string spill_given_up_because;  // a spill was asked for but given up (no room, a write failed): why
  bool interrupted = false;
};
// Reads every input once, transforming on `threads` workers (0: default_transform_threads()) in reading order.
// stop_requested is asked between items (Ctrl-C); on_item after each (progress). spill_dir (an existing folder
// only this process writes in; empty: none) keeps the records found for the passes (spilled_per_file); whatever
// it held before is written over, never read; the caller removes the folder. spill_min_free: the room the spill
// leaves free beside it (record_spill.hpp; a test lowers it to meet a full disk).
Expected<PlannedInputs> plan_inputs(const std::vector<InputFile>& inputs, EventMapper& mapper, std::int64_t now_unix_ms,
                                    double requests_per_second, const std::function<bool()>& stop_requested,
                                    const std::function<void(std::uint64_t items)>& on_item, std::size_t threads = 0,
                                    const std::filesystem::path& spill_dir = {},
                                    std::uint64_t spill_min_free = spill_min_free_bytes);

// ---- start, resume or nothing ----
struct RunChoice {
  enum class Kind { start, resume, already_imported, refused } kind = Kind::start;
  std::optional<queue::ImportRun> run;  // resume: the run; already_imported: the finished run
  std::vector<queue::ImportRunId> superseded;  // start: earlier unfinished or finished runs this one replaces
  std::string message;  // refused: why, naming the file; already_imported: what to pass to import again
};
// runs: those with this run's key, oldest first. again: import again even when a run finished.
RunChoice choose_run(const std::vector<queue::ImportRun>& runs, const std::vector<queue::ImportFile>& files, bool again);

// ---- the passes ----
struct Progress {
  std::uint64_t read = 0;     // input items read in the passes (from the plan's spill too: the items its records stand for)
  std::uint64_t queued = 0;   // records committed by this run (earlier processes of it included)
  std::optional<std::uint64_t> delivered;  // of this process's records, from the queue's counts
  std::uint64_t errors = 0;   // the inputs' bad rows (the plan met them all; the passes leave them out)
  std::size_t pass = 0;       // pass_types index
  std::string file;
  bool waiting_for_lane = false;  // the backfill lane is at import.max_queued: waiting for delivery
};

struct ImportContext {
  queue::Queue* queue = nullptr;
  EventMapper* mapper = nullptr;
  std::string api_key;
  std::uint64_t max_queued = 200'000;  // import.max_queued
  std::size_t batch_records = 1000;    // records a transaction (with their checkpoint)
  std::size_t transform_threads = 0;   // workers that transform (0: default_transform_threads())
  std::function<bool()> stop_requested;
  std::function<void(const Progress&)> on_progress;  // after each batch and while waiting (the caller throttles)
  std::function<void(std::chrono::milliseconds)> sleep;  // while the lane is full
  std::function<std::int64_t()> now_unix_ms;             // when to read the queue's counts again
};

struct RunTotals {
  bool interrupted = false;
  std::uint64_t queued = 0;          // by this run, over all its processes
  std::uint64_t queued_now = 0;      // by this process
  std::uint64_t read = 0, errors = 0, skipped = 0;
  std::optional<std::uint64_t> delivered;
};

// The backfill records of a key waiting in the queue, from stats(): the count import.max_queued caps (a queue
// read, not the cheap in-memory depth, because a running serve in another process delivers them).
std::uint64_t backfill_waiting(const queue::QueueStats& stats, const std::string& api_key);

// Runs (or resumes) the passes of `run` over `inputs` (the run's files, in order).
Expected<RunTotals> run_passes(ImportContext& context, const queue::ImportRun& run, const std::vector<InputFile>& inputs,
                               const PlannedInputs& planned);

}  // namespace omt::import
