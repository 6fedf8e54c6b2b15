// The HTTP Response for a protocol Reply (the pure answer builders in omt/protocol), shared by every route file.
#pragma once

#include <utility>

#include "omt/net/router.hpp"
#include "omt/protocol/rudder.hpp"

namespace omt::net {

inline Response to_response(protocol::Reply reply) {
  Response r;
  r.status = reply.status;
  r.body = std::move(reply.body);
  if (reply.api_version_header) r.headers.emplace_back("apiVersion", "2");
  return r;
}

}  // namespace omt::net
