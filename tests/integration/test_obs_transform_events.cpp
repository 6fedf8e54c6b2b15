// obs/transform_events: each transform outcome bumps the series /metrics has always shown, by name and label.
#include <gtest/gtest.h>

#include <string>

#include "omt/obs/metrics.hpp"
#include "omt/obs/transform_events.hpp"

namespace omt::obs {
namespace {

bool has_line(const std::string& text, const std::string& line) { return text.find(line + "\n") != std::string::npos; }

TEST(TransformEvents, EverySeriesIsThereFromTheStartAtZero) {
  Registry registry;
  const TransformEvents events(registry);
  const std::string m = registry.render_prometheus();
  EXPECT_NE(m.find("# HELP omt_events_total Events transformed, by type and outcome\n"), std::string::npos);
  for (const char* type : {"identify", "order", "custom_event", "other"}) {
    EXPECT_TRUE(has_line(m, std::string("omt_events_total{type=\"") + type + "\",outcome=\"ok\"} 0")) << m;
    EXPECT_TRUE(has_line(m, std::string("omt_events_total{type=\"") + type + "\",outcome=\"failed\"} 0")) << m;
  }
  EXPECT_NE(m.find("# HELP omt_event_errors_total Events that failed, by error class\n"), std::string::npos);
  for (const char* cls : {"instrumentation", "configuration", "transformation", "invalid_json", "invalid_request",
                          "too_large", "not_found", "unauthorized", "unavailable", "io", "invalid_config"}) {
    EXPECT_TRUE(has_line(m, std::string("omt_event_errors_total{class=\"") + cls + "\"} 0")) << cls;
  }
  EXPECT_EQ(m.find("unsupported_media"), std::string::npos);  // never a transform outcome: no series
}

TEST(TransformEvents, TransformedAndRejectedCountByTypeAndClass) {
  Registry registry;
  TransformEvents events(registry);
  events.emit(EventTransformed{EventKind::identify});
  events.emit(EventTransformed{EventKind::identify});
  events.emit(EventTransformed{EventKind::order});
  events.emit(EventRejected{EventKind::custom_event, errc::instrumentation});
  events.emit(EventRejected{EventKind::other, errc::instrumentation});
  events.emit(EventRejected{EventKind::identify, errc::configuration});
  events.emit(EventRejected{EventKind::order, errc::unsupported_media});  // counted as failed, no class series
  const std::string m = registry.render_prometheus();
  EXPECT_TRUE(has_line(m, "omt_events_total{type=\"identify\",outcome=\"ok\"} 2")) << m;
  EXPECT_TRUE(has_line(m, "omt_events_total{type=\"identify\",outcome=\"failed\"} 1")) << m;
  EXPECT_TRUE(has_line(m, "omt_events_total{type=\"order\",outcome=\"ok\"} 1")) << m;
  EXPECT_TRUE(has_line(m, "omt_events_total{type=\"order\",outcome=\"failed\"} 1")) << m;
  EXPECT_TRUE(has_line(m, "omt_events_total{type=\"custom_event\",outcome=\"failed\"} 1")) << m;
  EXPECT_TRUE(has_line(m, "omt_events_total{type=\"other\",outcome=\"failed\"} 1")) << m;
  EXPECT_TRUE(has_line(m, "omt_event_errors_total{class=\"instrumentation\"} 2")) << m;
  EXPECT_TRUE(has_line(m, "omt_event_errors_total{class=\"configuration\"} 1")) << m;
}

TEST(TransformEvents, TwoEventsObjectsOnOneRegistryShareTheSeries) {
  Registry registry;
  TransformEvents a(registry), b(registry);
  a.emit(EventTransformed{EventKind::order});
  b.emit(EventTransformed{EventKind::order});
  EXPECT_TRUE(has_line(registry.render_prometheus(), "omt_events_total{type=\"order\",outcome=\"ok\"} 2"));
}

}  // namespace
}  // namespace omt::obs
