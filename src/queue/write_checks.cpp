#include "write_checks.hpp"

#include <string>
#include <utility>

#include "omt/ometria/push_api.hpp"

namespace omt::queue {

std::optional<Expected<IngestStored>> answer_before_queueing(const IngestWrite& write, std::size_t max_records_per_enqueue) {
  if (write.records.empty() && write.rejected.empty()) return Expected<IngestStored>(IngestStored{});
  if (write.records.size() > max_records_per_enqueue) {
    return Expected<IngestStored>(fail(errc::too_large, "queue: " + std::to_string(write.records.size()) +
                                                            " records in one enqueue, at most " +
                                                            std::to_string(max_records_per_enqueue)));
  }
  for (const auto& record : write.records) {
    if (auto fits = ometria::check_record_size(record.json.size(), errc::too_large); !fits)
      return Expected<IngestStored>(tl::unexpected(std::move(fits.error())));
  }
  return std::nullopt;
}

Queue::StoreDone records_only(Queue::EnqueueDone done) {
  return [done = std::move(done)](Expected<IngestStored> stored) {
    if (!stored) done(tl::unexpected(std::move(stored.error())));
    else done(std::move(stored->records));
  };
}

}  // namespace omt::queue
