#include "omt/delivery/ometria_errors.hpp"

#include <algorithm>
#include <utility>

namespace omt::delivery {

// ---- ErrorPollSchedule ----

void ErrorPollSchedule::add_key(const std::string& api_key, Time now) {
  if (!enabled()) return;
  keys_.try_emplace(api_key, KeyState{now + interval_, false});
}

std::vector<std::string> ErrorPollSchedule::due(Time now) const {
  std::vector<std::pair<Time, std::string>> found;
  for (const auto& [key, state] : keys_) {
    if (!state.under_way && state.due <= now) found.emplace_back(state.due, key);
  }
  std::sort(found.begin(), found.end());
  std::vector<std::string> keys;
  keys.reserve(found.size());
  for (auto& [due, key] : found) keys.push_back(std::move(key));
  return keys;
}

void ErrorPollSchedule::started(const std::string& api_key) {
  if (const auto it = keys_.find(api_key); it != keys_.end()) it->second.under_way = true;
}

void ErrorPollSchedule::polled(const std::string& api_key, Time now) {
  if (const auto it = keys_.find(api_key); it != keys_.end()) it->second = KeyState{now + interval_, false};
}

std::optional<ErrorPollSchedule::Time> ErrorPollSchedule::next_due() const {
  std::optional<Time> next;
  for (const auto& [key, state] : keys_) {
    if (!state.under_way && (!next || state.due < *next)) next = state.due;
  }
  return next;
}

std::vector<SeenError> distinct_errors(const std::vector<ometria::OmetriaError>& errors) {
  std::vector<SeenError> distinct;
  std::unordered_map<std::string, std::size_t> index;  // digest -> position in distinct
  for (const auto& error : errors) {
    std::string digest = ometria::error_digest(error);
    const auto [it, added] = index.try_emplace(digest, distinct.size());
    if (!added) {
      ++distinct[it->second].occurrences;
      continue;
    }
    distinct.push_back(SeenError{error, std::move(digest), 1, std::nullopt});
  }
  return distinct;
}

// ---- RecentPushes ----

void RecentPushes::add(const std::string& api_key, PushedRecords push) {
  if (max_records_ == 0) return;
  const std::uint64_t seq = first_seq_ + pushes_.size();
  for (const auto& id : push.record_ids) by_record_[index_key(api_key, id)] = seq;
  if (!push.request_id.empty()) by_request_[index_key(api_key, push.request_id)] = seq;
  records_ += push.record_ids.size();
  pushes_.push_back(Kept{api_key, std::move(push)});
  // The newest push is always kept, even one larger than the bound.
  while (records_ > max_records_ && pushes_.size() > 1) forget_oldest();
}

void RecentPushes::forget_oldest() {
  const Kept& oldest = pushes_.front();
  // An index entry moved on to a later push of the same record stays.
  for (const auto& id : oldest.push.record_ids) {
    const auto it = by_record_.find(index_key(oldest.api_key, id));
    if (it != by_record_.end() && it->second == first_seq_) by_record_.erase(it);
  }
  if (!oldest.push.request_id.empty()) {
    const auto it = by_request_.find(index_key(oldest.api_key, oldest.push.request_id));
    if (it != by_request_.end() && it->second == first_seq_) by_request_.erase(it);
  }
  records_ -= oldest.push.record_ids.size();
  pushes_.pop_front();
  ++first_seq_;
}

const RecentPushes::Kept* RecentPushes::find(const std::unordered_map<std::string, std::uint64_t>& index,
                                             const std::string& key) const {
  const auto it = index.find(key);
  if (it == index.end() || it->second < first_seq_) return nullptr;
  return &pushes_[static_cast<std::size_t>(it->second - first_seq_)];
}

std::optional<ErrorMatch> RecentPushes::match(const std::string& api_key, const ometria::OmetriaError& error) const {
  const auto matched = [](const Kept& kept, std::vector<std::string> ids) {
    return ErrorMatch{std::move(ids), kept.push.request_id, kept.push.type, kept.push.pushed_at_unix_ms};
  };
  if (error.record_id) {
    if (const Kept* kept = find(by_record_, index_key(api_key, *error.record_id))) return matched(*kept, {*error.record_id});
  }
  if (error.request_id) {
    if (const Kept* kept = find(by_request_, index_key(api_key, *error.request_id))) {
      return matched(*kept, kept->push.record_ids);
    }
  }
  return std::nullopt;
}

}  // namespace omt::delivery
