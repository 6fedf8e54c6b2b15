// Abuse against the real binary (a child process on 127.0.0.1 port 0): slowloris clients, 10,000 idle
// connections, a 1 GB body announced by Content-Length, bodies announced large but never sent, chunked bodies
// that never end, 100,000-level nested JSON, and a flood of small requests. Throughout, /health keeps answering
// on a fresh connection and the server's peak resident memory (VmHWM) stays under a generous bound: that is a
// correctness bound (nothing buffers what the client merely announces), not a speed assertion. Timeouts are
// configured short (300 ms); every loop is bounded in count and time.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <iostream>
#include <map>
#include <optional>
#include <thread>

#include <nlohmann/json.hpp>

#include "compress.hpp"
#include "fake_ometria.hpp"
#include "http_client.hpp"
#include "omt/net/server.hpp"
#include "running_binary.hpp"

namespace omt::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using nlohmann::json;

#if defined(__SANITIZE_ADDRESS__)
// Under AddressSanitizer the server binary keeps freed memory in quarantine (256 MiB by default) and shadow
// pages on top: the same bound is checked against that build's own overhead.
constexpr std::uint64_t memory_bound_kib = (256 + 512) * 1024;
#else
constexpr std::uint64_t memory_bound_kib = 256 * 1024;
#endif

// A bare blocking TCP socket. RawConnection owns an io_context per connection (three more descriptors each),
// too heavy for ten thousand connections; this is one descriptor, and every send and receive is bounded by
// SO_SNDTIMEO / SO_RCVTIMEO (which on Linux also bound connect()).
class PlainSocket {
 public:
  explicit PlainSocket(std::uint16_t port, std::chrono::milliseconds timeout = 5s) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    const int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);  // a trickled byte leaves at once
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      error_ = errno;
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~PlainSocket() {
    if (fd_ >= 0) ::close(fd_);
  }
  PlainSocket(PlainSocket&& other) noexcept
      : fd_(std::exchange(other.fd_, -1)), error_(other.error_), received_(std::move(other.received_)) {}
  PlainSocket& operator=(PlainSocket&&) = delete;
  PlainSocket(const PlainSocket&) = delete;

  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  std::string error() const { return std::strerror(error_); }
  const std::string& received() const { return received_; }

  // Sends every byte within the send timeout; false if the peer closed or reset, or the timeout passed.
  bool send_all(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }

  // Reads whatever has arrived without blocking; true once the peer has closed or reset the connection.
  bool drain_and_check_closed() {
    char chunk[16 * 1024];
    while (true) {
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
      if (n > 0) {
        received_.append(chunk, static_cast<std::size_t>(n));
        continue;
      }
      if (n == 0) return true;
      return errno != EAGAIN && errno != EWOULDBLOCK;
    }
  }

  // Waits (bounded) until the peer closes, keeping what it sent; false if it is still open after `timeout`.
  bool wait_closed(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (!drain_and_check_closed()) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) return false;
      pollfd p{fd_, POLLIN | POLLRDHUP, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
    }
    return true;
  }

  // Waits (bounded) until one whole response head and its Content-Length body are in, or the peer closes.
  HttpResponse read_response(std::chrono::milliseconds timeout) {
    const auto deadline = Clock::now() + timeout;
    while (true) {
      const bool closed = drain_and_check_closed();
      const auto head_end = received_.find("\r\n\r\n");
      if (head_end != std::string::npos) {
        const HttpResponse head = parse_response(std::string_view(received_).substr(0, head_end + 4));
        const std::string length = head.header("content-length");
        if (length.empty() || received_.size() >= head_end + 4 + std::stoul(length)) return parse_response(received_);
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (closed || left.count() <= 0) return parse_response(received_);
      pollfd p{fd_, POLLIN | POLLRDHUP, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
    }
  }

 private:
  int fd_ = -1;
  int error_ = 0;
  std::string received_;
};

// The binary with short timeouts; `server_overrides` is merged into the "server" section.
struct AbuseServer {
  TempConfig config;
  RunningBinary binary;

  // other_sections: more top-level sections (queue, sources, ...).
  explicit AbuseServer(const json& server_overrides = json::object(), const json& other_sections = json::object())
      : config(config_with(server_overrides, other_sections)), binary({"--config", config.path.string()}) {}

  static json config_with(const json& overrides, const json& other_sections) {
    json server = {{"timeouts", {{"read", "300ms"}, {"idle", "300ms"}, {"write", "1s"}}}};
    server.merge_patch(overrides);
    json config = other_sections;
    config["server"] = server;
    return config;
  }

  std::uint16_t port() const { return binary.port; }

  // GET /health on a fresh connection, bounded.
  int health_status() const {
    try {
      HttpClient probe("127.0.0.1", port(), 3s);
      return probe.get("/health").status;
    } catch (const HttpClientError&) {
      return 0;
    }
  }

  // A gauge or counter value from /metrics (a series without labels); -1 if absent.
  double metric(const std::string& name) const {
    HttpClient client("127.0.0.1", port(), 3s);
    const std::string text = client.get("/metrics").body;
    const auto at = text.find("\n" + name + " ");
    if (at == std::string::npos) return -1;
    return std::stod(text.substr(at + name.size() + 2));
  }

  ProcessMemory memory() const { return read_process_memory(binary.child.pid()); }

  void expect_memory_bounded() const {
    const ProcessMemory m = memory();
    ASSERT_GT(m.peak_kib, 0u) << "cannot read /proc/" << binary.child.pid() << "/status";
    EXPECT_LT(m.peak_kib, memory_bound_kib) << "peak RSS " << m.peak_kib / 1024 << " MiB";
    ::testing::Test::RecordProperty("server_peak_rss_kib", std::to_string(m.peak_kib));
    ::testing::Test::RecordProperty("server_rss_kib", std::to_string(m.rss_kib));
  }
};

// ---- slowloris ----

TEST(Abuse, SlowlorisClientsAreCutOffByTheWholeRequestDeadline) {
  // Each client sends one byte every 25 ms: far inside any per-read timeout, but the whole request (about a
  // kilobyte) would take half a minute. The 300 ms read deadline covers the whole request, so each is cut off.
  AbuseServer server(json{{"timeouts", {{"idle", "5s"}}}});
  constexpr std::size_t clients = 200;
  const std::string body(1000, ' ');
  const std::string header_trickle = "POST /routerTransform HTTP/1.1\r\nHost: x\r\nX-Slow: " + std::string(2000, 'a');
  const std::string body_head = "POST /routerTransform HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n";

  struct Slow {
    PlainSocket socket;
    std::string_view pending;  // still to trickle
    std::size_t trickled = 0;
    Clock::time_point first_byte{};
    std::optional<Clock::duration> cut_off_after;
  };
  std::vector<Slow> slow;
  slow.reserve(clients);
  for (std::size_t i = 0; i < clients; ++i) {
    Slow s{PlainSocket(server.port()), {}, 0, {}, {}};
    ASSERT_TRUE(s.socket.ok()) << s.socket.error();
    // Half trickle the header block; half send the header at once and trickle the body.
    if (i % 2 == 0) {
      s.pending = header_trickle;
    } else {
      s.first_byte = Clock::now();
      ASSERT_TRUE(s.socket.send_all(body_head));
      s.pending = body;
    }
    slow.push_back(std::move(s));
  }

  const auto start = Clock::now();
  constexpr auto tick = 25ms;
  int health_failures = 0, health_probes = 0;
  std::size_t open = clients;
  for (int round = 0; open > 0 && Clock::now() - start < 10s; ++round) {
    for (auto& s : slow) {
      if (s.cut_off_after || s.pending.empty()) continue;
      if (s.first_byte == Clock::time_point{}) s.first_byte = Clock::now();
      if (!s.socket.send_all(s.pending.substr(0, 1))) continue;  // closed: seen below
      s.pending.remove_prefix(1);
      ++s.trickled;
    }
    if (round % 8 == 0) {
      ++health_probes;
      if (server.health_status() != 200) ++health_failures;
    }
    // Pace the trickle: wait out the tick, noting every connection the server closes meanwhile.
    const auto next_tick = start + tick * (round + 1);
    do {
      std::vector<pollfd> fds;
      for (auto& s : slow) {
        if (!s.cut_off_after) fds.push_back({s.socket.fd(), POLLIN | POLLRDHUP, 0});
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(next_tick - Clock::now());
      if (::poll(fds.data(), fds.size(), static_cast<int>(std::max<long>(0, left.count()))) <= 0) break;
      for (auto& s : slow) {
        if (!s.cut_off_after && s.socket.drain_and_check_closed()) {
          s.cut_off_after = Clock::now() - s.first_byte;
          --open;
        }
      }
    } while (Clock::now() < next_tick && open > 0);
  }

  EXPECT_EQ(open, 0u) << "connections still open after 10 s of trickling";
  for (const auto& s : slow) {
    if (!s.cut_off_after) continue;
    EXPECT_TRUE(s.socket.received().empty()) << s.socket.received().substr(0, 200);
    EXPECT_FALSE(s.pending.empty()) << "a trickled request got through";
    EXPECT_GE(*s.cut_off_after, 290ms);  // not before the deadline...
    EXPECT_LT(*s.cut_off_after, 3s);     // ...and not long after it (generous: two shared cores)
    EXPECT_GE(s.trickled, 3u);           // it was sending steadily, below any per-byte timeout
  }
  EXPECT_GT(health_probes, 0);
  EXPECT_EQ(health_failures, 0);
  EXPECT_EQ(server.health_status(), 200);
  server.expect_memory_bounded();
}

// ---- ten thousand idle connections ----

TEST(Abuse, TenThousandIdleConnectionsAndHealthStillAnswers) {
  constexpr std::size_t idle_count = 10'000;
  // Both ends live on this machine: this process holds the clients, the child the server's side.
  const std::uint64_t fd_limit = net::raise_open_file_limit();
  ASSERT_GE(fd_limit, idle_count + 256) << "this machine caps open files at " << fd_limit
                                        << " per process; the test needs " << idle_count + 256;
  // max_connections above the idle crowd, so that a health probe still finds room (the default is 10,000).
  AbuseServer server(json{{"timeouts", {{"idle", "60s"}}}, {"limits", {{"max_connections", idle_count + 100}}}});
  // The server raises its own limit at start-up and logs it (before "listening on").
  const std::string& startup = server.binary.child.output();
  const auto limit_at = startup.find("open file limit ");
  ASSERT_NE(limit_at, std::string::npos) << startup;
  EXPECT_GE(std::stoull(startup.substr(limit_at + 16)), idle_count + 100) << startup;

  std::vector<PlainSocket> idle;
  idle.reserve(idle_count);
  const auto start = Clock::now();
  while (idle.size() < idle_count && Clock::now() - start < 60s) {
    PlainSocket s(server.port());
    ASSERT_TRUE(s.ok()) << "connection " << idle.size() << ": " << s.error();
    idle.push_back(std::move(s));
    if (idle.size() % 1000 == 0) {
      EXPECT_EQ(server.health_status(), 200) << "with " << idle.size() << " idle";
    }
  }
  ASSERT_EQ(idle.size(), idle_count);

  // The kernel completes a connect before the server accepts it: wait until the server holds them all.
  double open = 0;
  const auto accept_deadline = Clock::now() + 30s;
  while ((open = server.metric("omt_http_connections_open")) < static_cast<double>(idle_count) &&
         Clock::now() < accept_deadline) {
    std::this_thread::sleep_for(20ms);  // polling a condition, bounded by the deadline
  }
  EXPECT_GE(open, static_cast<double>(idle_count));
  EXPECT_EQ(server.health_status(), 200);
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(server.health_status(), 200);
  std::size_t closed_by_server = 0;
  for (auto& s : idle) closed_by_server += s.drain_and_check_closed() ? 1 : 0;
  EXPECT_EQ(closed_by_server, 0u);
  server.expect_memory_bounded();
  const ProcessMemory m = server.memory();
  std::cout << "[ info     ] " << idle_count << " idle connections: server RSS " << m.rss_kib / 1024 << " MiB, peak "
            << m.peak_kib / 1024 << " MiB; open file limit " << fd_limit << "\n";

  idle.clear();
  const auto close_deadline = Clock::now() + 30s;
  while ((open = server.metric("omt_http_connections_open")) > 1 && Clock::now() < close_deadline) {
    std::this_thread::sleep_for(20ms);  // polling a condition, bounded by the deadline
  }
  EXPECT_LE(open, 1);  // the /metrics request's own connection
  EXPECT_EQ(server.health_status(), 200);
}

// ---- bodies announced but not sent ----

TEST(Abuse, OneGigabyteContentLengthGets413AtOnceWithoutReadingTheBody) {
  AbuseServer server;  // the default body limit (32 MiB)
  PlainSocket s(server.port());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s.send_all("POST /routerTransform HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: 1073741824\r\n\r\n"));
  // Not one body byte sent: the answer can only come from the announced length.
  const HttpResponse r = s.read_response(5s);
  EXPECT_EQ(r.status, 413);
  EXPECT_FALSE(r.keep_alive);
  EXPECT_EQ(json::parse(r.body), json({{"error", "Request body exceeds 33554432 bytes"}}));

  // A client that sends the body anyway is dropped long before a gigabyte.
  const std::string chunk(1 << 20, 'x');
  std::size_t sent = 0;
  while (sent < (std::size_t{1} << 30) && s.send_all(chunk)) sent += chunk.size();
  EXPECT_LT(sent, std::size_t{64} << 20);
  EXPECT_TRUE(s.wait_closed(5s));
  EXPECT_EQ(server.health_status(), 200);
  server.expect_memory_bounded();
}

TEST(Abuse, GzipBombsAreRefusedWithoutBeingInflated) {
  // A gigabyte of spaces gzipped into about a megabyte, posted to /v1/batch as the RudderStack Node SDK posts its
  // flushes: inflating stops as soon as the output passes server.limits.max_body_bytes (32 MiB), with a 413.
  omt::testing::TempDir dir;
  AbuseServer server(json::object(),
                     {{"queue", {{"path", dir.file("queue.db")}}},
                      {"ometria", {{"endpoint", "http://127.0.0.1:9/v2/push"}, {"allow_plain_http", true}}},
                      {"sources", json::array({{{"name", "web"}, {"write_key", "wk-abuse"}, {"api_key", "key-abuse"}}})}});
  const std::string bomb = gzip_bomb(std::size_t{1} << 30);
  ASSERT_LT(bomb.size(), std::size_t{2} << 20);
  HttpClient client("127.0.0.1", server.port(), 30s);
  const Headers headers = {{"Authorization", basic_auth("wk-abuse")}, {"Content-Encoding", "gzip"},
                           {"Content-Type", "application/x-www-form-urlencoded"}};
  for (int i = 0; i < 3; ++i) {
    const HttpResponse r = client.post("/v1/batch", bomb, headers);
    EXPECT_EQ(r.status, 413);
    EXPECT_EQ(json::parse(r.body),
              json({{"error", "Request body exceeds 33554432 bytes once decompressed (Content-Encoding: gzip)"}}));
  }
  EXPECT_EQ(server.health_status(), 200);
  server.expect_memory_bounded();
}

TEST(Abuse, BodiesAnnouncedJustUnderTheLimitButNotSentCostNoMemory) {
  // Forty clients announce 32 MiB - 1 and send one byte. Memory must follow the bytes received, not the bytes
  // announced: sizing the body from Content-Length up front would commit 1.25 GiB here.
  AbuseServer server(json{{"timeouts", {{"read", "2s"}}}});
  constexpr std::size_t clients = 40;
  std::vector<PlainSocket> announced;
  for (std::size_t i = 0; i < clients; ++i) {
    PlainSocket s(server.port());
    ASSERT_TRUE(s.ok());
    ASSERT_TRUE(s.send_all("POST /routerTransform HTTP/1.1\r\nHost: x\r\nContent-Length: 33554431\r\n\r\n["));
    announced.push_back(std::move(s));
  }
  // All of them are being read now (each holds a request open until its read deadline).
  for (std::size_t i = 0; i < 5; ++i) EXPECT_EQ(server.health_status(), 200);
  server.expect_memory_bounded();
  for (auto& s : announced) {
    EXPECT_TRUE(s.wait_closed(10s));
    EXPECT_TRUE(s.received().empty());  // cut off by the read deadline: nothing to answer
  }
  server.expect_memory_bounded();
}

// ---- chunked bodies that never end ----

TEST(Abuse, EndlessFastChunkedBodyIsCutOffByTheBodyLimit) {
  AbuseServer server(json{{"limits", {{"max_body_bytes", 1 << 20}}}, {"timeouts", {{"read", "30s"}}}});
  PlainSocket s(server.port());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s.send_all("POST /routerTransform HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  const std::string chunk = "2000\r\n" + std::string(0x2000, 'a') + "\r\n";
  std::size_t sent = 0;
  const auto start = Clock::now();
  // Keep sending until the server answers or hangs up (bounded by count and time).
  while (sent < (std::size_t{256} << 20) && Clock::now() - start < 20s) {
    if (!s.send_all(chunk)) break;
    sent += chunk.size();
    if (s.drain_and_check_closed() || !s.received().empty()) break;
  }
  const HttpResponse r = s.read_response(5s);
  EXPECT_EQ(r.status, 413) << s.received().substr(0, 200);
  EXPECT_LT(sent, std::size_t{64} << 20);
  EXPECT_TRUE(s.wait_closed(5s));
  EXPECT_EQ(server.health_status(), 200);
  server.expect_memory_bounded();
}

TEST(Abuse, EndlessSlowChunkedBodyIsCutOffByTheReadDeadline) {
  AbuseServer server;  // default body limit; 300 ms read deadline
  PlainSocket s(server.port());
  ASSERT_TRUE(s.ok());
  const auto start = Clock::now();
  ASSERT_TRUE(s.send_all("POST /routerTransform HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"));
  bool closed = false;
  int chunks = 0;
  while (!closed && Clock::now() - start < 5s) {
    if (!s.send_all("1\r\n[\r\n")) break;
    ++chunks;
    closed = s.wait_closed(20ms);  // paces the chunks; ends the loop once the server hangs up
  }
  closed = closed || s.wait_closed(3s);
  const auto elapsed = Clock::now() - start;
  EXPECT_TRUE(closed);
  EXPECT_GE(chunks, 3);
  EXPECT_GE(elapsed, 290ms);
  EXPECT_LT(elapsed, 3s);
  EXPECT_EQ(server.health_status(), 200);
  server.expect_memory_bounded();
}

TEST(Abuse, ChunkAnnouncingAGigabyteGets413AtOnce) {
  AbuseServer server;
  PlainSocket s(server.port());
  ASSERT_TRUE(s.ok());
  ASSERT_TRUE(s.send_all("POST /routerTransform HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                         "40000000\r\n[[["));
  const HttpResponse r = s.read_response(5s);
  EXPECT_EQ(r.status, 413);
  EXPECT_TRUE(s.wait_closed(5s));
  EXPECT_EQ(server.health_status(), 200);
  server.expect_memory_bounded();
}

// ---- deeply nested JSON ----

std::string nested_arrays(std::size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

std::string nested_objects(std::size_t depth) {
  std::string s;
  s.reserve(depth * 6);
  for (std::size_t i = 0; i < depth; ++i) s += "{\"a\":";
  s += "1";
  s.append(depth, '}');
  return s;
}

std::string router_body_with_properties(const std::string& properties) {
  return R"({"destType":"ometria","input":[{"message":{"type":"track","event":"x","userId":"u1","properties":)" +
         properties + R"(},"metadata":{"jobId":1},"destination":{"Config":{"apiKey":"k"}}}]})";
}

TEST(Abuse, HundredThousandLevelsOfNestingAre400AndNothingCrashes) {
  AbuseServer server;
  constexpr std::size_t depth = 100'000;
  const std::vector<std::pair<std::string, std::string>> bodies = {
      {"arrays", nested_arrays(depth)},
      {"objects", nested_objects(depth)},
      {"unclosed", std::string(depth, '[')},
      {"inside a valid envelope", router_body_with_properties(nested_arrays(depth))},
  };
  for (const auto& [name, body] : bodies) {
    for (const char* route : {"/routerTransform", "/v0/destinations/ometria"}) {
      HttpClient client("127.0.0.1", server.port(), 10s);
      const HttpResponse r = client.post(route, body, {{"Content-Type", "application/json"}});
      EXPECT_EQ(r.status, 400) << name << " to " << route << ": " << r.body.substr(0, 300);
      EXPECT_TRUE(json::accept(r.body)) << name << " to " << route;
      EXPECT_LT(r.body.size(), 4096u) << "the error must not echo the body back";
      EXPECT_EQ(server.health_status(), 200) << "after " << name << " to " << route;
    }
  }
  server.expect_memory_bounded();
}

TEST(Abuse, NestingJustUnderTheParserLimitIsServedWithoutCrashing) {
  // Deep but legal property values travel through the transform (copied verbatim into the record).
  AbuseServer server;
  HttpClient client("127.0.0.1", server.port(), 10s);
  const HttpResponse r = client.post("/routerTransform", router_body_with_properties("{\"deep\":" + nested_arrays(1000) + "}"));
  EXPECT_EQ(r.status, 200) << r.body.substr(0, 300);
  EXPECT_TRUE(json::accept(r.body));
  EXPECT_EQ(server.health_status(), 200);
  server.expect_memory_bounded();
}

// ---- a flood of small requests ----

TEST(Abuse, FloodOfSmallRequestsFromManyConnections) {
  AbuseServer server(json{{"timeouts", {{"idle", "5s"}}}});
  const std::string router_body = router_body_with_properties(R"({"n":1})");
  const auto deadline = Clock::now() + 90s;

  // Keep-alive clients, each its own connection, a mix of routes; plus connection churn (a new connection per
  // request) and pipelined bursts.
  constexpr int keep_alive_clients = 24, requests_each = 200;
  constexpr int churn_clients = 4, churn_each = 150;
  constexpr int pipelined_connections = 100, pipelined_each = 50;
  std::mutex statuses_mutex;
  std::map<std::string, std::map<int, int>> statuses;  // "METHOD path" -> status -> count
  std::atomic<int> errors{0};

  auto count = [&](const std::string& what, int status) {
    std::lock_guard lock(statuses_mutex);
    ++statuses[what][status];
  };
  auto one_request = [&](HttpClient& client, int i) {
    switch (i % 4) {
      case 0: count("GET /health", client.get("/health").status); break;
      case 1: count("POST /routerTransform", client.post("/routerTransform", router_body).status); break;
      case 2: count("GET /features", client.get("/features").status); break;
      default: count("GET /missing", client.get("/missing").status); break;
    }
  };

  std::vector<std::thread> threads;
  for (int c = 0; c < keep_alive_clients; ++c) {
    threads.emplace_back([&, c] {
      HttpClient client("127.0.0.1", server.port(), 10s);
      for (int i = 0; i < requests_each && Clock::now() < deadline; ++i) {
        try {
          one_request(client, i + c);
        } catch (const HttpClientError&) {
          ++errors;
          client.close();
        }
      }
    });
  }
  for (int c = 0; c < churn_clients; ++c) {
    threads.emplace_back([&, c] {
      for (int i = 0; i < churn_each && Clock::now() < deadline; ++i) {
        try {
          HttpClient client("127.0.0.1", server.port(), 10s);
          one_request(client, i + c);
        } catch (const HttpClientError&) {
          ++errors;
        }
      }
    });
  }
  std::atomic<int> pipelined_answered{0};
  threads.emplace_back([&] {
    std::string burst;
    for (int i = 0; i < pipelined_each; ++i) burst += "GET /health HTTP/1.1\r\nHost: x\r\n\r\n";
    std::vector<PlainSocket> sockets;
    for (int c = 0; c < pipelined_connections; ++c) {
      PlainSocket s(server.port());
      if (!s.ok() || !s.send_all(burst)) {
        ++errors;
        continue;
      }
      sockets.push_back(std::move(s));
    }
    for (auto& s : sockets) {
      // Every answer is the same size; count complete ones until all are in (bounded).
      const auto until = Clock::now() + 10s;
      auto answered = [&s] {
        std::size_t n = 0;
        for (auto at = s.received().find("HTTP/1.1 200 OK"); at != std::string::npos;
             at = s.received().find("HTTP/1.1 200 OK", at + 1)) {
          ++n;
        }
        return n;
      };
      while (answered() < pipelined_each && Clock::now() < until) {
        if (s.drain_and_check_closed()) break;
        pollfd p{s.fd(), POLLIN | POLLRDHUP, 0};
        ::poll(&p, 1, 100);
      }
      pipelined_answered += static_cast<int>(answered());
    }
  });

  // Health on a fresh connection answers while the flood runs.
  int health_failures = 0;
  for (int i = 0; i < 20; ++i) {
    if (server.health_status() != 200) ++health_failures;
  }
  for (auto& t : threads) t.join();

  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(health_failures, 0);
  EXPECT_EQ(pipelined_answered.load(), pipelined_connections * pipelined_each);
  const int total = keep_alive_clients * requests_each + churn_clients * churn_each;
  int answered = 0;
  for (const auto& [what, by_status] : statuses) {
    for (const auto& [status, n] : by_status) {
      answered += n;
      const int expected = what == "GET /missing" ? 404 : 200;
      EXPECT_EQ(status, expected) << n << " x " << what;
    }
  }
  EXPECT_EQ(answered, total);
  EXPECT_EQ(server.health_status(), 200);
  server.expect_memory_bounded();
}

}  // namespace
}  // namespace omt::test
