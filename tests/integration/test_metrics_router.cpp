// The metrics registry (Prometheus text) and the route table, without sockets (they live in omt_net).
#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "omt/net/router.hpp"
#include "omt/obs/metrics.hpp"

namespace omt {
namespace {

TEST(Metrics, CountersGaugesAndHistogramsRenderInPrometheusText) {
  obs::Registry r;
  obs::Counter& c = r.counter("omt_things_total", "Things seen", {{"kind", "a"}});
  c.inc();
  c.inc(4);
  r.counter("omt_things_total", "ignored", {{"kind", "b\"q\\"}}).inc();
  r.gauge("omt_open", "Open things").set(3);
  obs::Histogram& h = r.histogram("omt_latency_seconds", "Latency", {0.1, 1});
  h.observe(0.05);
  h.observe(0.5);
  h.observe(7);
  EXPECT_EQ(r.render_prometheus(),
            "# HELP omt_things_total Things seen\n"
            "# TYPE omt_things_total counter\n"
            "omt_things_total{kind=\"a\"} 5\n"
            "omt_things_total{kind=\"b\\\"q\\\\\"} 1\n"
            "# HELP omt_open Open things\n"
            "# TYPE omt_open gauge\n"
            "omt_open 3\n"
            "# HELP omt_latency_seconds Latency\n"
            "# TYPE omt_latency_seconds histogram\n"
            "omt_latency_seconds_bucket{le=\"0.1\"} 1\n"
            "omt_latency_seconds_bucket{le=\"1\"} 2\n"
            "omt_latency_seconds_bucket{le=\"+Inf\"} 3\n"
            "omt_latency_seconds_sum 7.55\n"
            "omt_latency_seconds_count 3\n");
}

TEST(Metrics, RegisteringTwiceReturnsTheSameSeries) {
  obs::Registry r;
  obs::Counter& a = r.counter("x_total", "x", {{"k", "v"}});
  obs::Counter& b = r.counter("x_total", "x", {{"k", "v"}});
  EXPECT_EQ(&a, &b);
  EXPECT_NE(&a, &r.counter("x_total", "x", {{"k", "w"}}));
  EXPECT_THROW(r.gauge("x_total", "x"), std::logic_error);
  EXPECT_THROW(r.counter("bad name", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("y_total", "y", {{"le", "1"}}), std::invalid_argument);
}

TEST(Metrics, ConcurrentUpdatesAreAllCounted) {
  obs::Registry r;
  obs::Counter& c = r.counter("n_total", "n");
  obs::Histogram& h = r.histogram("h", "h", obs::latency_buckets_seconds());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        c.inc();
        h.observe(0.001);
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c.value(), 40000u);
  EXPECT_EQ(h.snapshot().count, 40000u);
}

// A total kept elsewhere, reported by several threads with readings that arrive out of order: the counter ends at
// the largest and is never seen to go back (a plain store would let a late, older reading win).
TEST(Metrics, ACounterRaisedToTotalsFromSeveralThreadsNeverGoesBack) {
  obs::Registry r;
  obs::Counter& c = r.counter("total", "t");
  std::atomic<bool> done{false};
  std::atomic<bool> went_back{false};
  std::thread watcher([&] {
    std::uint64_t last = 0;
    while (!done.load()) {
      const std::uint64_t now = c.value();
      if (now < last) went_back = true;
      last = now;
    }
  });
  std::vector<std::thread> threads;
  for (std::uint64_t t = 0; t < 4; ++t) {
    threads.emplace_back([&c, t] {
      for (std::uint64_t i = 1; i <= 20000; ++i) {
        c.raise_to(i * 4 + t);
        c.raise_to(i * 4 + t - 3);  // an older reading, reported late
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  watcher.join();
  EXPECT_EQ(c.value(), 20000u * 4 + 3);
  EXPECT_FALSE(went_back.load());
  c.raise_to(5);
  EXPECT_EQ(c.value(), 20000u * 4 + 3);
}

net::Handler answer(int status) {
  return [status](net::Request&, net::Responder r) {
    net::Response res;
    res.status = status;
    r(std::move(res));
  };
}

TEST(Router, MatchesLiteralAndParameterSegments) {
  net::Router router;
  router.add(net::Method::post, "/v0/destinations/{name}", answer(1));
  router.add(net::Method::get, "/health", answer(2));
  router.add(net::Method::post, "/health", answer(3));

  net::Request req;
  req.method = net::Method::post;
  req.path = "/v0/destinations/Ome%20tria";
  auto m = router.match(req);
  ASSERT_NE(m.handler, nullptr);
  EXPECT_EQ(router.patterns()[m.route_index], "/v0/destinations/{name}");
  EXPECT_EQ(req.param("name"), "Ome tria");

  req.path = "/v0/destinations/ometria/proxy";
  EXPECT_FALSE(router.match(req).path_matched);
  req.path = "/v0/destinations/";
  EXPECT_FALSE(router.match(req).path_matched);

  req.method = net::Method::get;
  req.path = "/v0/destinations/x";
  m = router.match(req);
  EXPECT_TRUE(m.path_matched);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.allow, "POST");

  req.method = net::Method::del;
  req.path = "/health";
  m = router.match(req);
  EXPECT_EQ(m.handler, nullptr);
  EXPECT_EQ(m.allow, "GET, POST");
  EXPECT_EQ(router.patterns().size(), 2u);
}

TEST(Router, RequestHeaderLookupIgnoresCase) {
  net::Request req;
  req.headers = {{"Content-Type", "application/json"}, {"apiVersion", "2"}};
  EXPECT_EQ(req.header("content-type"), "application/json");
  EXPECT_EQ(req.header("APIVERSION"), "2");
  EXPECT_EQ(req.header("missing"), "");
}

TEST(Router, JsonErrorEscapes) {
  EXPECT_EQ(net::Response::json_error(404, "Not found: /a\"b\\\n\x01").body,
            "{\"error\":\"Not found: /a\\\"b\\\\\\n\\u0001\"}");
}

struct RecordingSink : net::ResponseSink {
  std::vector<net::Response> got;
  void deliver(net::Response r) override { got.push_back(std::move(r)); }
};

TEST(Responder, AnswersOnceAndSends500WhenDroppedUnanswered) {
  auto sink = std::make_shared<RecordingSink>();
  {
    net::Responder r(sink);
    net::Responder copy = r;
    EXPECT_FALSE(r.answered());
    net::Response ok;
    ok.status = 201;
    copy(std::move(ok));
    EXPECT_TRUE(r.answered());
    r(net::Response{});
  }
  ASSERT_EQ(sink->got.size(), 1u);
  EXPECT_EQ(sink->got[0].status, 201);
  { net::Responder forgotten(sink); }
  ASSERT_EQ(sink->got.size(), 2u);
  EXPECT_EQ(sink->got[1].status, 500);
}

}  // namespace
}  // namespace omt
