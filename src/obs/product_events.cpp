#include "omt/obs/product_events.hpp"

#include <fmt/format.h>

#include "omt/obs/event.hpp"
#include "omt/obs/log.hpp"
#include "omt/obs/metrics.hpp"

namespace omt::obs {

using spdlog::level::level_enum;

ProductEvents::ProductEvents(Registry* registry) {
  if (registry == nullptr) return;
  incomplete_ = &registry->counter("omt_products_incomplete_total",
                                   "Product records sent without what Ometria's recommendations need (price over 0, "
                                   "title, url, is_active)");
}

void ProductEvents::emit(const ProductIncomplete& e) const {
  if (incomplete_ != nullptr) incomplete_->inc();
  // Info, not warn: a catalogue import of rows without urls would otherwise fill the log with warnings; the
  // counter tells how many, these lines which.
  if (!spdlog::should_log(level_enum::info)) return;
  EventFields fields;
  fields.text("source", e.source).user_text("product_id", e.id.substr(0, 256)).text("missing", e.missing);
  emit_line(level_enum::info, "product_incomplete", fields,
            fmt::format("source {}: product {} is sent without {}: Ometria's recommendations leave it out",
                        e.source, fields["product_id"], e.missing));
}

}  // namespace omt::obs
