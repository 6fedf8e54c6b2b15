// A scripted Sender for unit tests of delivery logic: no sockets, no io_context, header-only (omt_core tests
// can use it). It records every request; answers come from a script (in order), from per-call overrides
// ("fail the n-th call") or the default 202. Completions run inside send() unless hold_completions() is on,
// in which case the test releases them one by one with complete_next(), to observe pushes in flight.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <utility>
#include <vector>

#include "omt/delivery/sender.hpp"

namespace omt::delivery {

class FakeSender final : public Sender {
 public:
  // The answer a real Ometria gives to an accepted push of `records` records.
  static PushOutcome accepted(int records = 1) {
    HttpAnswer answer;
    answer.status = 202;
    answer.body = R"({"status":"OK","request_id":"fake","accepted":)" + std::to_string(records) + R"(,"rejected":0})";
    return PushOutcome::answered(std::move(answer));
  }
  static PushOutcome status(int code, std::optional<std::string> retry_after = std::nullopt) {
    return PushOutcome::http_status(code, std::move(retry_after));
  }

  // Answers for the next calls, in order, before falling back to the default.
  void script(PushOutcome result) {
    std::lock_guard lock(mutex_);
    script_.push_back(std::move(result));
  }
  // The call numbered `call` (1-based, counting every send) gets this answer, whatever the script says.
  void on_call(std::size_t call, PushOutcome result) {
    std::lock_guard lock(mutex_);
    per_call_[call] = std::move(result);
  }
  void fail_call(std::size_t call, NetworkError kind = NetworkError::reset) {
    on_call(call, PushOutcome::failure(kind, "scripted failure"));
  }
  // Without a script or override: accepted(records in the body) unless a default was set.
  void set_default(PushOutcome result) {
    std::lock_guard lock(mutex_);
    default_ = std::move(result);
  }

  void hold_completions(bool hold) {
    std::lock_guard lock(mutex_);
    hold_ = hold;
  }
  // Runs the oldest held completion; false when none is held.
  bool complete_next() {
    std::pair<PushCompletion, PushOutcome> next;
    {
      std::lock_guard lock(mutex_);
      if (held_.empty()) return false;
      next = std::move(held_.front());
      held_.pop_front();
    }
    next.first(std::move(next.second));
    return true;
  }
  std::size_t held() const {
    std::lock_guard lock(mutex_);
    return held_.size();
  }

  std::vector<PushRequest> requests() const {
    std::lock_guard lock(mutex_);
    return requests_;
  }
  std::size_t calls() const {
    std::lock_guard lock(mutex_);
    return requests_.size();
  }

  void send(PushRequest request, PushCompletion completion) override {
    PushOutcome result;
    {
      std::lock_guard lock(mutex_);
      const std::size_t call = requests_.size() + 1;
      if (auto it = per_call_.find(call); it != per_call_.end()) {
        result = std::move(it->second);
        per_call_.erase(it);  // the script is left for the calls that are not overridden
      } else if (!script_.empty()) {
        result = std::move(script_.front());
        script_.pop_front();
      } else if (default_) {
        result = *default_;
      } else {
        result = accepted(count_records(request.body));
      }
      requests_.push_back(std::move(request));
      if (hold_) {
        held_.emplace_back(std::move(completion), std::move(result));
        return;
      }
    }
    completion(std::move(result));
  }

 private:
  // Top-level elements of a JSON array, counted without a JSON parser (strings and nesting respected).
  static int count_records(const std::string& body) {
    int depth = 0, count = 0;
    bool in_string = false, escaped = false, element_open = false;
    for (const char c : body) {
      if (in_string) {
        if (escaped) escaped = false;
        else if (c == '\\') escaped = true;
        else if (c == '"') in_string = false;
        continue;
      }
      if (c == ' ' || c == '\n' || c == '\t' || c == '\r') continue;
      if (depth == 1 && !element_open && c != ']' && c != ',') {
        element_open = true;
        ++count;
      }
      if (c == '"') in_string = true;
      else if (c == '[' || c == '{') ++depth;
      else if (c == ']' || c == '}') --depth;
      if (depth == 1 && c == ',') element_open = false;
    }
    return count;
  }

  mutable std::mutex mutex_;
  std::deque<PushOutcome> script_;
  std::map<std::size_t, PushOutcome> per_call_;
  std::optional<PushOutcome> default_;
  bool hold_ = false;
  std::deque<std::pair<PushCompletion, PushOutcome>> held_;
  std::vector<PushRequest> requests_;
};

}  // namespace omt::delivery
