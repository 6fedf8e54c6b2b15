// The outbound seam of delivery: one push (a JSON array of records) to Ometria, or one GET of its lists (the
// errors of GET /v2/push/_errors), answered asynchronously.
// Delivery and the proxy depend on this interface only; omt/net/https_sender.hpp gives the real client (Beast +
// OpenSSL, kept out of this header) and omt/delivery/fake_sender.hpp a scripted one for tests. A completion is
// called exactly once per send, never from inside send() for the real client, with a failure or the answer.
#pragma once

#include <functional>

#include "omt/delivery/push.hpp"

namespace omt::delivery {

using PushCompletion = std::function<void(PushOutcome)>;

class Sender {
 public:
  virtual ~Sender() = default;
  // Starts one push; completion is called once, on a thread running the sender's io_context.
  virtual void send(PushRequest request, PushCompletion completion) = 0;
};

}  // namespace omt::delivery
