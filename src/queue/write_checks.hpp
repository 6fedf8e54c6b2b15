// What every queue backend answers before it queues a write, at once and on the caller's thread: an empty write is
// stored as nothing, and a write with too many records or a record over the push API's size is refused whole.
#pragma once

#include <cstddef>
#include <optional>

#include "omt/queue/queue.hpp"

namespace omt::queue {

// The answer to give now, or nullopt: queue the write.
std::optional<Expected<IngestStored>> answer_before_queueing(const IngestWrite& write, std::size_t max_records_per_enqueue);

// Queue::enqueue's callback as a store's: an enqueue is a store of records alone.
Queue::StoreDone records_only(Queue::EnqueueDone done);

}  // namespace omt::queue
