#include "omt/delivery/push.hpp"

#include <utility>

namespace omt::delivery {

PushOutcome PushOutcome::failure(NetworkError kind, std::string detail) {
  PushOutcome outcome;
  outcome.network_error = kind;
  outcome.error_detail = std::move(detail);
  return outcome;
}

PushOutcome PushOutcome::answered(HttpAnswer answer) {
  PushOutcome outcome;
  if (!answer.receipt && !answer.body.empty()) answer.receipt = ometria::parse_push_answer(answer.body);
  outcome.answer = std::move(answer);
  return outcome;
}

PushOutcome PushOutcome::http_status(int status, std::optional<std::string> retry_after) {
  HttpAnswer answer;
  answer.status = status;
  answer.retry_after = std::move(retry_after);
  return answered(std::move(answer));
}

}  // namespace omt::delivery
