#include "omt/queue/queue.hpp"

#include <memory>

namespace omt::queue {

std::future<Expected<std::vector<RecordId>>> Queue::enqueue(std::vector<NewRecord> records) {
  auto promise = std::make_shared<std::promise<Expected<std::vector<RecordId>>>>();
  auto future = promise->get_future();
  enqueue(std::move(records), [promise](Expected<std::vector<RecordId>> result) { promise->set_value(std::move(result)); });
  return future;
}

std::future<Expected<IngestStored>> Queue::store(IngestWrite write) {
  auto promise = std::make_shared<std::promise<Expected<IngestStored>>>();
  auto future = promise->get_future();
  store(std::move(write), [promise](Expected<IngestStored> result) { promise->set_value(std::move(result)); });
  return future;
}

std::future<Expected<std::vector<RecordId>>> Queue::enqueue_import(std::vector<NewRecord> records, ImportCheckpoint checkpoint) {
  auto promise = std::make_shared<std::promise<Expected<std::vector<RecordId>>>>();
  auto future = promise->get_future();
  enqueue_import(std::move(records), std::move(checkpoint),
                 [promise](Expected<std::vector<RecordId>> result) { promise->set_value(std::move(result)); });
  return future;
}

namespace {
tl::unexpected<Error> keeps_no_imports() { return fail(errc::io, "queue: this queue keeps no import checkpoints"); }
}  // namespace

void Queue::start_import_run(NewImportRun, Done<ImportRun> done) { done(keeps_no_imports()); }
void Queue::import_runs(const std::string&, Done<std::vector<ImportRun>> done) { done(keeps_no_imports()); }
void Queue::set_import_run_state(ImportRunId, ImportState, Done<void> done) { done(keeps_no_imports()); }
void Queue::enqueue_import(std::vector<NewRecord>, ImportCheckpoint, EnqueueDone done) { done(keeps_no_imports()); }

// ---- the queue's own threads ----

namespace {
thread_local bool this_is_a_queue_thread = false;
}  // namespace

QueueThreadMark::QueueThreadMark() { this_is_a_queue_thread = true; }
QueueThreadMark::~QueueThreadMark() { this_is_a_queue_thread = false; }
bool on_queue_thread() { return this_is_a_queue_thread; }

// ---- the waiting forms ----

Expected<Leased> Queue::lease(const std::string& api_key, RecordType type, Lane lane, std::size_t max,
                              std::chrono::milliseconds lease_for) {
  return wait_for<Leased>("lease", [&](Done<Leased> done) { lease(api_key, type, lane, max, lease_for, std::move(done)); });
}
Expected<std::size_t> Queue::ack(const std::vector<RecordId>& ids) {
  return wait_for<std::size_t>("ack", [&](Done<std::size_t> done) { ack(ids, std::move(done)); });
}
Expected<std::size_t> Queue::reschedule(const std::vector<RecordId>& ids, std::chrono::milliseconds delay) {
  return wait_for<std::size_t>("reschedule", [&](Done<std::size_t> done) { reschedule(ids, delay, std::move(done)); });
}
Expected<std::size_t> Queue::give_back(const std::vector<RecordId>& ids) {
  return wait_for<std::size_t>("give_back", [&](Done<std::size_t> done) { give_back(ids, std::move(done)); });
}
Expected<std::size_t> Queue::dead_letter(const std::vector<RecordId>& ids, const std::string& reason) {
  return wait_for<std::size_t>("dead_letter", [&](Done<std::size_t> done) { dead_letter(ids, reason, std::move(done)); });
}
Expected<void> Queue::hold_key(const std::string& api_key, const std::string& reason) {
  return wait_for<void>("hold_key", [&](Done<void> done) { hold_key(api_key, reason, std::move(done)); });
}
Expected<void> Queue::unhold_key(const std::string& api_key) {
  return wait_for<void>("unhold_key", [&](Done<void> done) { unhold_key(api_key, std::move(done)); });
}
Expected<std::vector<HeldKey>> Queue::held_keys() {
  return wait_for<std::vector<HeldKey>>("held_keys", [&](Done<std::vector<HeldKey>> done) { held_keys(std::move(done)); });
}
Expected<std::size_t> Queue::rekey(const std::string& from_key, const std::string& to_key) {
  return wait_for<std::size_t>("rekey", [&](Done<std::size_t> done) { rekey(from_key, to_key, std::move(done)); });
}
Expected<std::size_t> Queue::release_key(const std::string& api_key, const std::string& reason) {
  return wait_for<std::size_t>("release_key", [&](Done<std::size_t> done) { release_key(api_key, reason, std::move(done)); });
}
Expected<std::vector<ReadyPartition>> Queue::ready_partitions(std::uint64_t count_up_to) {
  return wait_for<std::vector<ReadyPartition>>(
      "ready_partitions", [&](Done<std::vector<ReadyPartition>> done) { ready_partitions(count_up_to, std::move(done)); });
}
Expected<QueueStats> Queue::stats() {
  return wait_for<QueueStats>("stats", [&](Done<QueueStats> done) { stats(std::move(done)); });
}
Expected<std::vector<DeadRecord>> Queue::dead_letters(const DeadLetterSelection& which) {
  return wait_for<std::vector<DeadRecord>>("dead_letters",
                                           [&](Done<std::vector<DeadRecord>> done) { dead_letters(which, std::move(done)); });
}
Expected<std::size_t> Queue::replay(const DeadLetterSelection& which) {
  return wait_for<std::size_t>("replay", [&](Done<std::size_t> done) { replay(which, std::move(done)); });
}
Expected<std::size_t> Queue::purge(const DeadLetterSelection& which) {
  return wait_for<std::size_t>("purge", [&](Done<std::size_t> done) { purge(which, std::move(done)); });
}
Expected<std::vector<RejectedEvent>> Queue::rejected_events(const RejectedEventSelection& which) {
  return wait_for<std::vector<RejectedEvent>>(
      "rejected_events", [&](Done<std::vector<RejectedEvent>> done) { rejected_events(which, std::move(done)); });
}
Expected<RejectedEventsSettled> Queue::settle_rejected_events(std::vector<RejectedEventOutcome> outcomes) {
  return wait_for<RejectedEventsSettled>("settle_rejected_events", [&](Done<RejectedEventsSettled> done) {
    settle_rejected_events(std::move(outcomes), std::move(done));
  });
}
Expected<ImportRun> Queue::start_import_run(NewImportRun run) {
  return wait_for<ImportRun>("start_import_run", [&](Done<ImportRun> done) { start_import_run(std::move(run), std::move(done)); });
}
Expected<std::vector<ImportRun>> Queue::import_runs(const std::string& run_key) {
  return wait_for<std::vector<ImportRun>>("import_runs",
                                          [&](Done<std::vector<ImportRun>> done) { import_runs(run_key, std::move(done)); });
}
Expected<void> Queue::set_import_run_state(ImportRunId id, ImportState state) {
  return wait_for<void>("set_import_run_state", [&](Done<void> done) { set_import_run_state(id, state, std::move(done)); });
}

namespace {
constexpr std::pair<ImportState, std::string_view> kImportStates[] = {
    {ImportState::running, "running"},
    {ImportState::interrupted, "interrupted"},
    {ImportState::finished, "finished"},
    {ImportState::superseded, "superseded"},
};
}  // namespace

std::string_view to_string(ImportState state) {
  for (const auto& [s, name] : kImportStates)
    if (s == state) return name;
  return "running";
}

std::optional<ImportState> import_state_from(std::string_view name) {
  for (const auto& [s, text] : kImportStates)
    if (text == name) return s;
  return std::nullopt;
}

}  // namespace omt::queue
