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

}  // namespace omt::queue
