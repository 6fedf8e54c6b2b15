// Internal: small adapters between the backends' tasks and the callbacks of queue::Queue (Done<T>).
#pragma once

#include <utility>

#include "omt/queue/queue.hpp"

namespace omt::queue {

// For an operation that answers nothing but success: its task yields a value (a bool), the caller hears only
// whether it worked.
inline Done<bool> discard_value(Done<void> done) {
  return [done = std::move(done)](Expected<bool> result) {
    if (!result) return done(tl::unexpected(result.error()));
    done({});
  };
}

}  // namespace omt::queue
