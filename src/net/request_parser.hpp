// Internal: Beast's HTTP/1 request parser (basic_parser: the limits, the framing, keep-alive) writing the
// request line and header fields straight into a Request, whose strings keep their capacity from the
// connection's previous request. Beast's request_parser would first build a basic_fields (one allocation a
// field, freed with the parser) that the session then copied into the Request. A chunked body is appended to
// the string it is given; a Content-Length body is the session's to read (the parser stops after the header).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/beast/http/verb.hpp>
#include <boost/optional/optional.hpp>

#include "omt/core/text.hpp"
#include "omt/net/router.hpp"

namespace omt::net {

class RequestParser final : public boost::beast::http::basic_parser<true> {
 public:
  using error_code = boost::beast::error_code;
  using string_view = boost::beast::string_view;
  using verb = boost::beast::http::verb;
  using field = boost::beast::http::field;

  // `method_name` receives the method as sent (for a 405's message and the access line).
  RequestParser(Request& request, std::string& method_name, std::string& chunked_body)
      : request_(request), method_name_(method_name), chunked_body_(chunked_body) {}

  unsigned version() const { return version_; }
  bool expects_continue() const { return expects_continue_; }

 private:
  static Method method_from(verb v) {
    switch (v) {
      case verb::get: return Method::get;
      case verb::head: return Method::head;
      case verb::post: return Method::post;
      case verb::put: return Method::put;
      case verb::patch: return Method::patch;
      case verb::delete_: return Method::del;
      case verb::options: return Method::options;
      default: return Method::other;
    }
  }
  // HTTP's optional white space around a field value (what basic_fields trims).
  static std::string_view trim_ows(std::string_view s) {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
  }

  void on_request_impl(verb method, string_view method_str, string_view target, int version,
                       error_code&) override {
    request_.method = method_from(method);
    method_name_.assign(method_str.data(), method_str.size());
    request_.target.assign(target.data(), target.size());
    request_.path.assign(request_.target, 0, request_.target.find('?'));
    version_ = static_cast<unsigned>(version);
  }
  void on_response_impl(int, string_view, int, error_code& ec) override { ec = boost::beast::http::error::bad_version; }
  void on_field_impl(field name, string_view name_string, string_view value, error_code&) override {
    const std::string_view trimmed = trim_ows(std::string_view(value.data(), value.size()));
    if (fields_ == request_.headers.size()) request_.headers.emplace_back();
    auto& [k, v] = request_.headers[fields_++];
    k.assign(name_string.data(), name_string.size());
    v.assign(trimmed);
    if (name == field::expect && !seen_expect_) {  // the first Expect field decides, as fields[expect] would
      seen_expect_ = true;
      expects_continue_ = text::iequals(trimmed, "100-continue");
    }
  }
  void on_header_impl(error_code&) override { request_.headers.resize(fields_); }
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  std::size_t on_body_impl(string_view body, error_code&) override {
    chunked_body_.append(body.data(), body.size());
    return body.size();
  }
  void on_chunk_header_impl(std::uint64_t, string_view, error_code&) override {}
  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, error_code&) override {
    chunked_body_.append(body.data(), body.size());
    return body.size();
  }
  void on_finish_impl(error_code&) override {}

  Request& request_;
  std::string& method_name_;
  std::string& chunked_body_;
  std::size_t fields_ = 0;
  unsigned version_ = 11;
  bool seen_expect_ = false;
  bool expects_continue_ = false;
};

}  // namespace omt::net
