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

Expected<ImportRun> Queue::start_import_run(NewImportRun) { return keeps_no_imports(); }
Expected<std::vector<ImportRun>> Queue::import_runs(const std::string&) { return keeps_no_imports(); }
Expected<void> Queue::set_import_run_state(ImportRunId, ImportState) { return keeps_no_imports(); }
void Queue::enqueue_import(std::vector<NewRecord>, ImportCheckpoint, EnqueueDone done) { done(keeps_no_imports()); }

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
