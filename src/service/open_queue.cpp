#include "omt/service/open_queue.hpp"

#include <regex>

#include "omt/queue/postgres_queue.hpp"
#include "omt/queue/sqlite_queue.hpp"
#include "omt/service/module_options.hpp"

namespace omt::service {

Expected<std::unique_ptr<queue::Queue>> open_queue(const config::Config& config, QueueUse use) {
  if (config.queue.backend == "postgres") {
    auto options = postgres_queue_options(config);
    options.take_over_leases = use == QueueUse::service;
    auto opened = queue::PostgresQueue::open(std::move(options));
    if (!opened) return tl::unexpected(opened.error());
    return std::unique_ptr<queue::Queue>(std::move(*opened));
  }
  auto options = queue_options(config);
  options.create_if_missing = use == QueueUse::service;
  auto opened = queue::SqliteQueue::open(std::move(options));
  if (!opened) return tl::unexpected(opened.error());
  return std::unique_ptr<queue::Queue>(std::move(*opened));
}

std::string describe_queue(const config::QueueConfig& queue) {
  if (queue.backend != "postgres") return queue.path.string();
  return url_without_password(queue.url);
}

std::string url_without_password(const std::string& url) {
  // The password of a URI's user part, and of password= in a query or a key=value string.
  static const std::regex uri_password(R"(^(postgres(?:ql)?://[^:/@?]*):[^@/?]*@)");
  static const std::regex key_password(R"((^|[\s?&])password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]*))");
  std::string shown = std::regex_replace(url, uri_password, "$1:***@");
  return std::regex_replace(shown, key_password, "$1password=***");
}

}  // namespace omt::service
