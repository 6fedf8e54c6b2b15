// Records for the queue tests: contacts of one key numbered n, as compact JSON ({"@type":"contact","id":"c<n>"}),
// and an enqueue that waits for its acknowledgement.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

#include "omt/queue/queue.hpp"

namespace omt::test {

inline queue::NewRecord contact(const std::string& key, int n) {
  return queue::NewRecord{key, queue::RecordType::contact, R"({"@type":"contact","id":"c)" + std::to_string(n) + "\"}"};
}

inline std::vector<queue::NewRecord> contacts(const std::string& key, int from, int count) {
  std::vector<queue::NewRecord> records;
  for (int i = from; i < from + count; ++i) records.push_back(contact(key, i));
  return records;
}

// The ids of the stored records; a refusal or no answer within 30 s is a test failure (and no ids).
inline std::vector<queue::RecordId> enqueue_acknowledged(queue::Queue& q, std::vector<queue::NewRecord> records) {
  auto future = q.enqueue(std::move(records));
  if (future.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
    ADD_FAILURE() << "enqueue not acknowledged in time";
    return {};
  }
  auto ids = future.get();
  if (!ids) ADD_FAILURE() << ids.error().message;
  return ids ? *ids : std::vector<queue::RecordId>{};
}

}  // namespace omt::test
