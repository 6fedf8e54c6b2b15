// The import's passes over its inputs. One batch is in flight at a time: the next is read while it commits, and
// handed over only after it committed, so a failed commit can never leave a later checkpoint stored past records
// that are not.
#include "omt/import/import_run.hpp"

#include <openssl/sha.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <future>

#include "omt/import/classify_pipeline.hpp"
#include "omt/import/file_source.hpp"
#include "omt/import/json_lines_reader.hpp"
#include "omt/import/record_spill.hpp"

namespace omt::import {
namespace {

std::string hex(const unsigned char* bytes, std::size_t n) {
  static constexpr char digits[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < n; ++i) {
    out += digits[bytes[i] >> 4];
    out += digits[bytes[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest);
  return hex(digest, sizeof digest);
}

const SourcePlace& place_of(const Item& item) {
  return std::visit([](const auto& i) -> const SourcePlace& { return i.at; }, item);
}

const queue::ImportCheckpoint* checkpoint_of(const queue::ImportRun& run, std::uint32_t file, std::uint32_t pass) {
  for (const auto& c : run.checkpoints)
    if (c.file_index == file && c.pass == pass) return &c;
  return nullptr;
}

}  // namespace

Expected<queue::ImportFile> identify_file(const std::filesystem::path& file) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(file, ec);
  if (ec) return fail(errc::io, file.string() + ": cannot read its size: " + ec.message(), file.string());
  std::ifstream in(file, std::ios::binary);
  if (!in) return fail(errc::io, file.string() + ": cannot open", file.string());
  std::string head(std::min<std::uintmax_t>(size, identity_head_bytes), '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  if (static_cast<std::size_t>(in.gcount()) != head.size()) return fail(errc::io, file.string() + ": cannot read", file.string());
  return queue::ImportFile{file.string(), static_cast<std::uint64_t>(size), sha256_hex(head)};
}

Expected<std::unique_ptr<ItemReader>> open_reader(const InputFile& file) {
  auto source = open_file_source(file.path);
  if (!source) return tl::unexpected(source.error());
  if (file.format == InputFormat::csv) {
    if (!file.csv)
      return fail(errc::invalid_request, file.path.string() + ": a CSV file needs --type contact|order|product (the records its rows are)");
    auto reader = CsvReader::open(file.path.string(), std::move(*source), *file.csv);
    if (!reader) return tl::unexpected(reader.error());
    return std::unique_ptr<ItemReader>(std::move(*reader));
  }
  return std::unique_ptr<ItemReader>(std::make_unique<JsonLinesReader>(std::move(*source), file.path.string(), file.format));
}

Expected<std::vector<InputFile>> resolve_inputs(const std::vector<std::string>& arguments, std::optional<InputFormat> format) {
  std::vector<InputFile> inputs;
  for (const auto& argument : arguments) {
    auto files = input_files(argument);
    if (!files) return tl::unexpected(files.error());
    for (auto& path : *files) {
      InputFile input;
      input.path = path;
      if (format) {
        input.format = *format;
      } else {
        std::string name = path.filename().string();
        std::string first;
        const bool csv_name = detect_format(name, "").has_value();  // a .csv name needs no look inside
        if (!csv_name) {
          auto line = first_non_empty_line(path);
          if (!line) return tl::unexpected(line.error());
          first = std::move(*line);
        }
        auto detected = detect_format(path.string(), first);
        if (!detected) return tl::unexpected(detected.error());
        input.format = *detected;
      }
      auto identity = identify_file(path);
      if (!identity) return tl::unexpected(identity.error());
      input.identity = std::move(*identity);
      inputs.push_back(std::move(input));
    }
  }
  return inputs;
}

std::string run_key_of(std::string_view source, const std::vector<std::string>& arguments, std::optional<InputFormat> format,
                       bool send_default_optin, std::string_view csv_options) {
  std::string text = "source=" + std::string(source) + "\nformat=" + std::string(format ? to_string(*format) : "auto") +
                     "\nsend_default_optin=" + (send_default_optin ? "1" : "0") + "\n";
  // Only when given, so that the runs of imports without CSV options keep their keys.
  if (!csv_options.empty()) text += "csv=" + std::string(csv_options) + "\n";
  for (const auto& argument : arguments) {
    std::error_code ec;
    const auto absolute = std::filesystem::weakly_canonical(std::filesystem::absolute(argument, ec), ec);
    text += "input=" + (ec ? argument : absolute.string()) + "\n";
  }
  return sha256_hex(text);
}

Classified classify(Item&& item, EventMapper& mapper) {
  Classified out;
  if (auto* bad = std::get_if<BadRow>(&item)) {
    out.bad = std::move(*bad);
  } else if (auto* record = std::get_if<RecordItem>(&item)) {
    out.record = std::move(*record);
  } else {
    auto& event = std::get<EventItem>(item);
    auto mapped = mapper.map_string(event.json);
    if (mapped.record) out.record = RecordItem{std::move(event.at), mapped.record->type, std::move(mapped.record->json)};
    else if (mapped.skipped) out.skipped = true;
    else out.bad = BadRow{std::move(event.at), mapped.bad->path, mapped.bad->message};
  }
  return out;
}

Expected<PlannedInputs> plan_inputs(const std::vector<InputFile>& inputs, EventMapper& mapper, std::int64_t now_unix_ms,
                                    double requests_per_second, const std::function<bool()>& stop_requested,
                                    const std::function<void(std::uint64_t)>& on_item, std::size_t threads,
                                    const std::filesystem::path& spill_dir, std::uint64_t spill_min_free) {
  PlannedInputs planned;
  PlanBuilder builder(now_unix_ms);
  std::uint64_t items = 0;
  std::size_t hint_runs = 0;
  RecordSpill spill(spill_dir, spill_min_free);
  for (const auto& input : inputs) {
    auto& counts = planned.records_per_file.emplace_back();
    auto& hints = planned.hints_per_file.emplace_back(std::vector<ItemRun>{});
    const auto hint = [&](std::uint8_t what) {
      if (!hints) return;
      if (!hints->empty() && hints->back().what == what && hints->back().items < UINT32_MAX) {
        ++hints->back().items;
      } else if (hint_runs < max_hint_runs) {
        hints->push_back(ItemRun{what, 1});
        ++hint_runs;
      } else {
        hint_runs -= hints->size();
        hints.reset();  // too many: this file's passes go without
      }
    };
    const std::size_t file_index = planned.records_per_file.size() - 1;
    std::uint64_t last_line = 0, last_end_offset = 0;  // the file's last item's
    std::uint64_t& file_items = planned.items_per_file.emplace_back(0);
    auto reader = open_reader(input);
    if (!reader) return tl::unexpected(reader.error());
    ClassifyPipeline pipeline(**reader, mapper, threads == 0 ? default_transform_threads() : threads);
    for (;;) {
      if (stop_requested && stop_requested()) {
        planned.interrupted = true;
        return planned;
      }
      auto item = pipeline.next();
      if (!item) return tl::unexpected(item.error());
      if (!*item) break;
      auto& classified = *(*item)->classified;
      ++file_items;
      last_line = (*item)->at.line;
      last_end_offset = (*item)->at.end_offset;
      if (classified.record) {
        builder.add_record(classified.record->type, classified.record->json, classified.record->at);
        spill.add(file_index, pass_of(classified.record->type), classified.record->at.line, classified.record->at.end_offset,
                  file_items, classified.record->json);
        ++counts[pass_of(classified.record->type)];
        hint(static_cast<std::uint8_t>(pass_of(classified.record->type)));
      } else if (classified.skipped) {
        builder.add_skipped();
        hint(hint_skipped);
      } else {
        builder.add_bad_row(std::move(*classified.bad));
        hint(hint_bad);
      }
      if (on_item) on_item(++items);
    }
    spill.finish_file(file_index, last_line, last_end_offset);
  }
  planned.spilled_per_file = spill.files();
  planned.spill_given_up_because = spill.given_up_because();
  planned.plan = builder.finish(requests_per_second, ometria::records_per_push);
  return planned;
}

RunChoice choose_run(const std::vector<queue::ImportRun>& runs, const std::vector<queue::ImportFile>& files, bool again) {
  RunChoice choice;
  const queue::ImportRun* latest = nullptr;
  for (const auto& run : runs)
    if (run.state != queue::ImportState::superseded) latest = &run;
  if (again || latest == nullptr) {
    choice.kind = RunChoice::Kind::start;
    for (const auto& run : runs)
      if (run.state != queue::ImportState::superseded) choice.superseded.push_back(run.id);
    return choice;
  }
  if (latest->state == queue::ImportState::finished) {
    choice.kind = RunChoice::Kind::already_imported;
    choice.run = *latest;
    choice.message = "already imported (run " + std::to_string(latest->id) + ", " + std::to_string(latest->records) +
                     " records): nothing to do; pass --again to import it again";
    return choice;
  }
  // Resuming: every file must be the one the run began with.
  const auto refuse = [&](std::string why) {
    choice.kind = RunChoice::Kind::refused;
    choice.run = *latest;
    choice.message = std::move(why) + " since import run " + std::to_string(latest->id) +
                     " began: it cannot be resumed exactly; pass --again to import the inputs as they are now from the start";
    return choice;
  };
  for (std::size_t i = 0; i < std::max(files.size(), latest->files.size()); ++i) {
    if (i >= latest->files.size()) return refuse(files[i].path + " is new");
    if (i >= files.size()) return refuse(latest->files[i].path + " is gone");
    const auto& then = latest->files[i];
    const auto& now = files[i];
    if (then.path != now.path) return refuse("the inputs changed (" + then.path + " is now " + now.path + ")");
    if (then.size != now.size)
      return refuse(now.path + " changed (" + std::to_string(then.size) + " bytes then, " + std::to_string(now.size) + " now)");
    if (then.head_hash != now.head_hash) return refuse(now.path + " changed (its first MiB differs)");
  }
  choice.kind = RunChoice::Kind::resume;
  choice.run = *latest;
  return choice;
}

std::uint64_t backfill_waiting(const queue::QueueStats& stats, const std::string& api_key) {
  std::uint64_t waiting = 0;
  for (const auto& p : stats.partitions)
    if (p.api_key == api_key && p.lane == queue::Lane::backfill) waiting += p.depth;
  return waiting;
}

namespace {
// The key's backfill records delivered so far, ever (the queue's lane totals, kept across restarts).
std::uint64_t backfill_delivered(const queue::QueueStats& stats, const std::string& api_key) {
  std::uint64_t delivered = 0;
  for (const auto* list : {&stats.partitions, &stats.drained})
    for (const auto& p : *list)
      if (p.api_key == api_key && p.lane == queue::Lane::backfill) delivered += p.delivered;
  return delivered;
}
}  // namespace

namespace {

// One run of the passes: what is known of the queue, and committing batches with their checkpoints.
class PassRunner {
 public:
  PassRunner(ImportContext& context, const queue::ImportRun& run) : c_(context) {
    totals_.queued = run.records;
    progress_.queued = run.records;
    batch_limit_ = static_cast<std::size_t>(std::max<std::uint64_t>(1, std::min<std::uint64_t>(c_.batch_records, c_.max_queued)));
  }

  Expected<void> start() {
    auto refreshed = refresh();
    if (!refreshed) return refreshed;
    baseline_delivered_ = delivered_;
    return {};
  }

  bool stopping() const { return c_.stop_requested && c_.stop_requested(); }
  std::size_t batch_limit() const { return batch_limit_; }

  // Hands the records with their checkpoint to the queue once the lane has room for them (at a stop: at once),
  // after the batch before has committed: the next batch is read while this one commits, and a checkpoint is
  // never submitted while an earlier one may still fail.
  Expected<void> commit(std::vector<queue::NewRecord> records, const queue::ImportCheckpoint& checkpoint) {
    if (auto settled = settle(); !settled) return settled;
    if (auto room = wait_for_room(records.size()); !room) return room;
    pending_records_ = records.size();
    pending_ = c_.queue->enqueue_import(std::move(records), checkpoint);
    return {};
  }

  // Waits for the batch in flight, if any, to commit.
  Expected<void> settle() {
    if (!pending_.valid()) return {};
    auto stored = pending_.get();
    if (!stored) return tl::unexpected(stored.error());
    totals_.queued += pending_records_;
    totals_.queued_now += pending_records_;
    progress_.queued = totals_.queued;
    if (c_.now_unix_ms && c_.now_unix_ms() - refreshed_at_ >= 1000) {
      if (auto r = refresh(); !r) return r;
    }
    report();
    return {};
  }

  // Once everything handed over has committed.
  Expected<RunTotals> finish() {
    if (auto settled = settle(); !settled) return tl::unexpected(settled.error());
    return totals();
  }

  void count_read(const SourcePlace& at, std::size_t pass, std::uint64_t items = 1) {
    totals_.read += items;
    progress_.read = totals_.read;
    progress_.pass = pass;
    if (progress_.file != at.file) progress_.file = at.file;
  }
  // The bad rows and skipped items of the input: the plan pass met every one of them, so they are known from
  // the start (the passes skip them, and need not read every file to find them).
  void count_known(std::uint64_t bad_rows, std::uint64_t skipped) {
    progress_.errors = totals_.errors = bad_rows;
    totals_.skipped = skipped;
  }
  RunTotals totals() const {
    RunTotals t = totals_;
    t.delivered = progress_.delivered;
    return t;
  }
  void mark_interrupted() { totals_.interrupted = true; }

 private:
  Expected<void> refresh() {
    auto stats = c_.queue->stats();
    if (!stats) return tl::unexpected(stats.error());
    waiting_ = backfill_waiting(*stats, c_.api_key);
    delivered_ = backfill_delivered(*stats, c_.api_key);
    if (c_.now_unix_ms) refreshed_at_ = c_.now_unix_ms();
    // Delivered: the key's backfill records delivered since this process started, at most what it queued (another
    // import of the same key, or an earlier run's records, may be delivered meanwhile: the figure is the lane's).
    progress_.delivered = std::min(delivered_ - std::min(delivered_, baseline_delivered_), totals_.queued_now);
    return {};
  }

  Expected<void> wait_for_room(std::size_t n) {
    if (n == 0) return {};
    bool refreshed = false;
    for (;;) {
      if (waiting_ + n <= c_.max_queued || stopping()) break;
      if (!refreshed || !c_.sleep) {
        if (auto r = refresh(); !r) return r;
        refreshed = true;
        if (waiting_ + n <= c_.max_queued || waiting_ == 0) break;
      }
      progress_.waiting_for_lane = true;
      report();
      if (!c_.sleep) break;
      c_.sleep(std::chrono::milliseconds(500));
      if (auto r = refresh(); !r) return r;
    }
    progress_.waiting_for_lane = false;
    waiting_ += n;  // counted as waiting until the next look says how many went
    return {};
  }

  void report() {
    if (c_.on_progress) c_.on_progress(progress_);
  }

  ImportContext& c_;
  RunTotals totals_;
  Progress progress_;
  std::size_t batch_limit_ = 1000;
  std::uint64_t waiting_ = 0;
  std::uint64_t delivered_ = 0, baseline_delivered_ = 0;  // the key's backfill lane totals: now, and at the start
  std::int64_t refreshed_at_ = 0;
  std::future<Expected<std::vector<queue::RecordId>>> pending_;  // the batch in flight
  std::size_t pending_records_ = 0;
};

}  // namespace

Expected<RunTotals> run_passes(ImportContext& context, const queue::ImportRun& run, const std::vector<InputFile>& inputs,
                               const PlannedInputs& planned) {
  const auto& records_per_file = planned.records_per_file;
  const std::size_t threads = context.transform_threads == 0 ? default_transform_threads() : context.transform_threads;
  PassRunner runner(context, run);
  runner.count_known(planned.plan.bad_rows, planned.plan.skipped);
  if (auto started = runner.start(); !started) return tl::unexpected(started.error());
  for (std::uint32_t pass = 0; pass < pass_count; ++pass) {
    const ometria::RecordType type = pass_types[pass];
    for (std::uint32_t f = 0; f < inputs.size(); ++f) {
      const queue::ImportCheckpoint* at = checkpoint_of(run, f, pass);
      if (at && at->done) continue;
      queue::ImportCheckpoint checkpoint;
      checkpoint.run_id = run.id;
      checkpoint.file_index = f;
      checkpoint.pass = pass;
      if (at) checkpoint = *at;
      const std::uint64_t resume_after = checkpoint.offset;
      if (f < records_per_file.size() && records_per_file[f][pass] == 0) {
        // Nothing of this type in the file (the plan pass read it all): the pass is through it without reading.
        checkpoint.done = true;
        if (auto r = runner.commit({}, checkpoint); !r) return tl::unexpected(r.error());
        continue;
      }
      // The plan pass's records of this pass, when it kept them (record_spill.hpp): read back, not transformed
      // again. Otherwise transformed on the workers: the items of this pass past the checkpoint (by the plan's
      // hints when the file has them); the rest are only counted here.
      const std::filesystem::path* spill_file =
          f < planned.spilled_per_file.size() && planned.spilled_per_file[f][pass] ? &*planned.spilled_per_file[f][pass] : nullptr;
      std::optional<SpillReader> spilled;
      std::unique_ptr<ItemReader> reader;
      std::optional<ClassifyPipeline> pipeline;
      if (spill_file != nullptr) {
        auto opened = SpillReader::open(*spill_file);
        if (!opened) return tl::unexpected(opened.error());
        spilled.emplace(std::move(*opened));
      } else {
        auto opened = open_reader(inputs[f]);
        if (!opened) return tl::unexpected(opened.error());
        reader = std::move(*opened);
        pipeline.emplace(*reader, *context.mapper, threads,
                         f < planned.hints_per_file.size() ? &planned.hints_per_file[f] : nullptr,
                         [&](const Item& item, std::optional<std::uint8_t> hint) {
                           if (place_of(item).end_offset <= resume_after) return false;
                           if (hint && *hint != pass) return false;
                           const auto* known = std::get_if<RecordItem>(&item);
                           return known == nullptr || known->type == type;
                         });
      }
      // A spilled record as the pipeline would hand it over. At the end mark, the place of the file's last item,
      // where the pass through it checkpoints; a spill holding other than the plan's count is damage.
      std::optional<SourcePlace> spill_end;
      // Progress counts input items in every pass: through a spill, the items up to each record's (its `item`),
      // and at the end the file's items after the last record.
      std::uint64_t spilled_item = 0, items_counted = 0;
      const auto next_item = [&]() -> Expected<std::optional<PipelineItem>> {
        if (!spilled) return pipeline->next();
        auto record = spilled->next();
        if (!record) return tl::unexpected(record.error());
        if (!*record) {
          const SpillEnd& end = spilled->end();
          if (f < records_per_file.size() && end.records != records_per_file[f][pass])
            return fail(errc::io, "import: the plan's spill " + spill_file->string() + " holds " + std::to_string(end.records) +
                                      " records where the plan counted " + std::to_string(records_per_file[f][pass]));
          spill_end = SourcePlace{inputs[f].identity.path, end.last_line, end.last_end_offset};
          return std::optional<PipelineItem>{};
        }
        PipelineItem item;
        item.at = SourcePlace{inputs[f].identity.path, (*record)->line, (*record)->end_offset};
        item.hint = static_cast<std::uint8_t>(pass);
        item.classified.emplace();
        item.classified->record = RecordItem{SourcePlace{}, type, std::move((*record)->json)};  // placed by item.at
        spilled_item = (*record)->item;
        return std::optional<PipelineItem>(std::move(item));
      };
      // Items that share an end offset (the records of one CSV group) are committed together or not at all: a
      // checkpoint says "everything ending at or before this offset is queued", so it is only ever taken where
      // the offset moves on. `safe` is the checkpoint after the last such item, `safe_records` the records of
      // batch it covers; the rest of batch belongs to the item(s) at the current offset.
      std::vector<queue::NewRecord> batch;
      batch.reserve(runner.batch_limit());
      queue::ImportCheckpoint safe = checkpoint;
      std::size_t safe_records = 0;
      const auto commit_safe = [&]() -> Expected<void> {
        std::vector<queue::NewRecord> rest(std::make_move_iterator(batch.begin() + static_cast<std::ptrdiff_t>(safe_records)),
                                           std::make_move_iterator(batch.end()));
        batch.resize(safe_records);
        if (auto r = runner.commit(std::move(batch), safe); !r) return r;
        batch = std::move(rest);
        safe_records = 0;
        return {};
      };
      for (;;) {
        if (runner.stopping()) {
          runner.mark_interrupted();
          if (auto r = commit_safe(); !r) return tl::unexpected(r.error());
          return runner.finish();
        }
        auto item = next_item();
        if (!item) {
          // Commit what was read before the error: it is sound, and the rerun starts after it.
          if (auto r = commit_safe(); !r) return tl::unexpected(r.error());
          if (auto r = runner.finish(); !r) return tl::unexpected(r.error());
          return tl::unexpected(item.error());
        }
        if (!*item) {
          if (spill_end && f < planned.items_per_file.size() && planned.items_per_file[f] > items_counted &&
              spill_end->end_offset > resume_after)
            runner.count_read(*spill_end, pass, planned.items_per_file[f] - items_counted);
          if (spill_end && spill_end->end_offset > checkpoint.offset) {
            checkpoint.offset = spill_end->end_offset;
            checkpoint.line = spill_end->line;
          }
          checkpoint.done = true;
          if (auto r = runner.commit(std::move(batch), checkpoint); !r) return tl::unexpected(r.error());
          // Read through: its room goes back to the disk the queue grows on (a rerun writes the spill anew).
          std::error_code ec;
          if (spill_file != nullptr) std::filesystem::remove(*spill_file, ec);
          break;
        }
        const SourcePlace& at_place = (*item)->at;
        if (at_place.end_offset <= resume_after) {  // committed before
          items_counted = spilled_item;
          continue;
        }
        if (at_place.end_offset != checkpoint.offset) {
          // The items before this one are complete: a checkpoint may be taken after them.
          safe = checkpoint;
          safe_records = batch.size();
          if (safe_records >= runner.batch_limit()) {
            if (auto r = commit_safe(); !r) return tl::unexpected(r.error());
            batch.reserve(runner.batch_limit());
          }
        }
        runner.count_read(at_place, pass, spilled ? spilled_item - items_counted : 1);
        items_counted = spilled_item;
        // Another pass's record, or no record (counted from the plan): nothing to queue here.
        if ((*item)->classified) {
          auto& classified = *(*item)->classified;
          if (!classified.bad && !classified.skipped && classified.record->type == type) {
            batch.push_back(queue::NewRecord{context.api_key, type, std::move(classified.record->json), queue::Lane::backfill});
            ++checkpoint.records;
          }
        }
        checkpoint.offset = at_place.end_offset;
        checkpoint.line = at_place.line;
      }
    }
  }
  return runner.finish();
}

}  // namespace omt::import
