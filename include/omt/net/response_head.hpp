// The status line and header block of a Response on the wire: the bytes Beast's serializer writes for the same
// http::response after set(Content-Type), set() of each extra header, keep_alive() and prepare_payload() (a test
// holds the two side by side). Written into a reused string, so that the server sends the head and then the
// body from the string the handler serialised it into, in one gather write, with no copy of the body.
#pragma once

#include <string>

#include "omt/net/router.hpp"

namespace omt::net {

// False for 1xx, 204 and 304: such an answer carries no body (RFC 9110, 6.4.1), whatever Response::body holds;
// its head says "Content-Length: 0", as Beast 1.74's did, and a 204 names no Content-Type.
bool response_has_body(int status);

// Appends "HTTP/1.1 200 OK\r\n", the fields and the blank line to out. version: 10 or 11. An extra header
// replaces an earlier one of the same name (case-insensitive), as Beast's set() does; "Connection" is the
// server's to set from keep_alive ("close" on HTTP/1.1, "keep-alive" on HTTP/1.0), "Content-Length" from the
// body's size.
void append_response_head(std::string& out, const Response& response, unsigned version, bool keep_alive);

}  // namespace omt::net
