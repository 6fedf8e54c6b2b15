#include "omt/core/text.hpp"
#include "omt/net/router.hpp"

#include <atomic>

namespace omt::net {

std::string_view to_string(Method method) {
  switch (method) {
    case Method::get: return "GET";
    case Method::head: return "HEAD";
    case Method::post: return "POST";
    case Method::put: return "PUT";
    case Method::patch: return "PATCH";
    case Method::del: return "DELETE";
    case Method::options: return "OPTIONS";
    case Method::other: return "OTHER";
  }
  return "OTHER";
}

namespace {

std::vector<std::string_view> split_path(std::string_view path) {
  std::vector<std::string_view> parts;
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  while (true) {
    const auto slash = path.find('/');
    parts.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return parts;
}

bool is_param(std::string_view segment) {
  return segment.size() >= 3 && segment.front() == '{' && segment.back() == '}';
}

}  // namespace

std::string_view Request::header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (text::iequals(k, name)) return v;
  }
  return {};
}

std::string_view Request::param(std::string_view name) const {
  for (const auto& [k, v] : params) {
    if (k == name) return v;
  }
  return {};
}

Response Response::json_error(int status, std::string_view message) {
  Response r;
  r.status = status;
  r.body.reserve(message.size() + 16);
  r.body += "{\"error\":\"";
  for (char c : message) {
    switch (c) {
      case '"': r.body += "\\\""; break;
      case '\\': r.body += "\\\\"; break;
      case '\n': r.body += "\\n"; break;
      case '\r': r.body += "\\r"; break;
      case '\t': r.body += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          static constexpr char hex[] = "0123456789abcdef";
          r.body += "\\u00";
          r.body += hex[(c >> 4) & 0xF];
          r.body += hex[c & 0xF];
        } else {
          r.body += c;
        }
    }
  }
  r.body += "\"}";
  return r;
}

// The sink is released when the first answer goes out; if the last Responder dies first, a 500 goes out instead.
// One atomic flag decides which call answers (no mutex: a request takes this once, nearly always uncontended).
struct Responder::State {
  std::atomic<bool> taken{false};
  std::shared_ptr<ResponseSink> sink;  // read and moved only by the call that set `taken`, or by the destructor

  std::shared_ptr<ResponseSink> take() {
    if (taken.exchange(true, std::memory_order_acq_rel)) return nullptr;
    return std::move(sink);
  }
  // The last copy is gone (shared_ptr's count orders this after every take()): no answer went out if sink is set.
  ~State() {
    if (sink) sink->deliver(Response::json_error(500, "Internal Server Error: the handler did not answer"));
  }
};

Responder::Responder(std::shared_ptr<ResponseSink> sink) : state_(std::make_shared<State>()) {
  state_->sink = std::move(sink);
}

void Responder::operator()(Response response) const {
  if (auto sink = state_->take()) sink->deliver(std::move(response));
}

bool Responder::answered() const { return state_->taken.load(std::memory_order_acquire); }

void Router::add(Method method, std::string_view pattern, Handler handler) {
  std::size_t index = 0;
  while (index < patterns_.size() && patterns_[index] != pattern) ++index;
  if (index == patterns_.size()) patterns_.emplace_back(pattern);
  Route route{method, index, {}, std::move(handler)};
  for (auto part : split_path(pattern)) route.segments.emplace_back(part);
  routes_.push_back(std::move(route));
}

namespace {

// The path without its leading and trailing slash: the segments are what lies between the other slashes.
std::string_view trimmed(std::string_view path) {
  if (!path.empty() && path.front() == '/') path.remove_prefix(1);
  if (!path.empty() && path.back() == '/') path.remove_suffix(1);
  return path;
}

// Whether the path's segments match the route's, walked in place (no list of segments built per request).
bool segments_match(const std::vector<std::string>& segments, std::string_view path) {
  for (std::size_t i = 0; i < segments.size(); ++i) {
    const auto slash = path.find('/');
    const bool last = i + 1 == segments.size();
    if (last != (slash == std::string_view::npos)) return false;  // fewer or more segments than the route's
    const std::string_view part = path.substr(0, slash);
    if (is_param(segments[i]) ? part.empty() : segments[i] != part) return false;
    if (!last) path.remove_prefix(slash + 1);
  }
  return true;
}

}  // namespace

Router::Match Router::match(Request& request) const {
  Match result;
  const std::string_view path = trimmed(request.path);
  for (const Route& route : routes_) {
    if (!segments_match(route.segments, path)) continue;
    if (!result.path_matched) {
      result.path_matched = true;
      result.route_index = route.pattern_index;
    }
    if (route.method == request.method) {
      result.handler = &route.handler;
      result.route_index = route.pattern_index;
      request.params.clear();
      std::string_view rest = path;
      for (const std::string& seg : route.segments) {
        const auto slash = rest.find('/');
        const std::string_view part = rest.substr(0, slash);
        rest.remove_prefix(slash == std::string_view::npos ? rest.size() : slash + 1);
        if (is_param(seg)) {
          request.params.emplace_back(seg.substr(1, seg.size() - 2), text::percent_decode(part, /*plus_is_space=*/false));
        }
      }
      return result;
    }
    const std::string_view name = to_string(route.method);
    if (result.allow.find(name) == std::string::npos) {
      if (!result.allow.empty()) result.allow += ", ";
      result.allow += name;
    }
  }
  return result;
}

}  // namespace omt::net
