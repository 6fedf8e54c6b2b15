// Records for the queue tests: contacts of one key numbered n, as compact JSON ({"@type":"contact","id":"c<n>"}).
#pragma once

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

}  // namespace omt::test
