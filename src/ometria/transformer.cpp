// The Ometria mappers (contract sections 7-8, with COMPATIBILITY.md's deliberate improvements).
// Field mappings come from the tables (mapping/); this file holds only the steps between them. The output keys
// it reads back from a table's result are that table's contract (ometria/output_contract.hpp).
#include "omt/ometria/transformer.hpp"

#include <array>
#include <cstdlib>

#include "json/member.hpp"
#include "json/out_value.hpp"
#include "mapping/applier.hpp"
#include "mapping/loader.hpp"
#include "ometria/js_string.hpp"
#include "ometria/output_contract.hpp"
#include "omt/validate/validators.hpp"
#include "omt/ometria/push_api.hpp"

namespace omt::ometria {
namespace dom = simdjson::dom;
using json::OutArray;
using json::OutObject;
using json::OutValue;
using mapping::SourcePath;

namespace {

// The output keys read back from the tables' results; each must be declared in its table's contract.
namespace key {
using mapping::required_key;
constexpr std::string_view contact_id = required_key(contract::contact, "id");
constexpr std::string_view contact_collection = required_key(contract::contact, "@collection");
constexpr std::string_view contact_properties = required_key(contract::contact, "properties");
constexpr std::string_view event_properties = required_key(contract::custom_event, "properties");
constexpr std::string_view order_properties = required_key(contract::order, "properties");
constexpr std::string_view order_billing_address = required_key(contract::order, "billing_address");
constexpr std::string_view order_shipping_address = required_key(contract::order, "shipping_address");
constexpr std::string_view customer_id = required_key(contract::order_customer, "id");
constexpr std::string_view customer_email = required_key(contract::order_customer, "email");
constexpr std::string_view item_product_id = required_key(contract::lineitems, "product_id");
constexpr std::string_view item_quantity = required_key(contract::lineitems, "quantity");
constexpr std::string_view item_unit_price = required_key(contract::lineitems, "unit_price");
constexpr std::string_view item_subtotal = required_key(contract::lineitems, "subtotal");
constexpr std::string_view item_properties = required_key(contract::lineitems, "properties");
constexpr std::string_view variant_id = required_key(contract::variant, "id");
constexpr std::string_view variant_type = required_key(contract::variant, "type");
constexpr std::string_view variant_label = required_key(contract::variant, "label");
}  // namespace key

SourcePath path_of(std::string_view dotted) {
  SourcePath p{std::string(dotted), {}};
  std::size_t start = 0;
  while (true) {
    const auto dot = dotted.find('.', start);
    p.segments.emplace_back(dotted.substr(start, dot == std::string_view::npos ? dotted.npos : dot - start));
    if (dot == std::string_view::npos) break;
    start = dot + 1;
  }
  return p;
}

// Paths the steps between the tables read, compiled once.
struct FixedPaths {
  SourcePath type = path_of("type"), event = path_of("event");
  SourcePath products = path_of("properties.products"), variant_options = path_of("variant_options");
  std::vector<SourcePath> integrations = {path_of("integrations.Ometria"), path_of("integrations.ometria"),
                                          path_of("integrations.OMETRIA")};
  std::vector<SourcePath> name = {path_of("traits.name"), path_of("context.traits.name")};
};
const FixedPaths& paths() {
  static const FixedPaths p;
  return p;
}

std::optional<dom::element> get(dom::element root, const SourcePath& path) { return mapping::lookup(root, path); }

bool is_truthy(const OutObject& obj, std::string_view key) {
  const OutValue* v = obj.find(key);
  return v && json::truthy(*v);
}

// Booleans, or the strings "true" / "false" (the seed's own example sends strings).
std::optional<bool> read_bool(std::optional<dom::element> e) {
  if (!e) return std::nullopt;
  if (e->is_bool()) return bool(e->get_bool().value_unsafe());
  if (e->is_string()) {
    const std::string lowered = js_to_lower(js_trim(e->get_string().value_unsafe()));
    if (lowered == "true") return true;
    if (lowered == "false") return false;
  }
  return std::nullopt;
}

bool is_marketing_optin(std::string_view v) {
  return v == "EXPLICITLY_OPTEDIN" || v == "EXPLICITLY_OPTEDOUT" || v == "NOT_SPECIFIED";
}

class Mapper {
 public:
  Mapper(const mapping::TableSet& tables, dom::element message, const DestinationConfig& config, const RecordEdit* edit,
         RecordText text)
      : t_(tables), message_(message), source_(message, &tables.parent_leaves), config_(config), edit_(edit),
        text_(text) {}

  Expected<Record> run() {
    if (!message_.is_object()) return tl::unexpected(json::wrong_type("message", "an object", message_));
    const auto type = get(message_, paths().type);
    if (!type || !json::truthy(*type)) return fail(errc::instrumentation, "Event type is required", "type");
    if (!type->is_string()) return tl::unexpected(json::wrong_type("type", "a string", *type));
    if (config_.api_key.empty()) return fail(errc::configuration, "Invalid Api Key", "destination.Config.apiKey");

    const std::string lowered = js_to_lower(type->get_string().value_unsafe());
    Expected<OutObject> payload;
    RecordType record_type = RecordType::contact;
    if (lowered == "identify") {
      payload = identify();
    } else if (lowered == "track") {
      payload = track(record_type);
    } else {
      return fail(errc::instrumentation, "message type " + lowered + " is not supported", "type");
    }
    if (!payload) return tl::unexpected(payload.error());
    if (edit_ && *edit_)
      if (auto edited = (*edit_)(record_type, *payload); !edited) return tl::unexpected(std::move(edited.error()));

    Record record{record_type, {}};
    record.json.reserve(1024);
    const OutValue written(std::move(*payload));
    std::size_t size = 0;  // of the JSON text, whichever form it is written in
    if (text_ == RecordText::json) {
      json::write(record.json, written);
      size = record.json.size();
    } else {
      size = json::write_as_string_content(record.json, written);
    }
    if (auto fits = check_record_size(size); !fits) return tl::unexpected(std::move(fits.error()));
    return record;
  }

 private:
  // ---- identify -> contact ------------------------------------------------------------------------------------
  Expected<OutObject> identify() {
    auto mapped = mapping::apply(t_.contact.list("fields"), source_, arena_);
    if (!mapped) return mapped;
    OutObject p = std::move(*mapped);
    // A source's configured collection, for contacts that do not name their own.
    if (config_.collection && !p.find(key::contact_collection))
      p.set(key::contact_collection, std::string_view(*config_.collection));
    p.set("@type", std::string_view("contact"));
    if (!is_truthy(p, key::contact_properties)) {
      OutObject custom = mapping::extract_custom_fields(*t_.contact.custom_fields, source_);
      if (!custom.empty()) p.set(key::contact_properties, std::move(custom));
    }

    std::optional<std::string_view> optin;
    if (config_.marketing_optin) optin = *config_.marketing_optin;
    std::optional<bool> allow_marketing = config_.allow_marketing, allow_transactional = config_.allow_transactional;
    std::optional<dom::element> dt_marketing, dt_transactional;

    if (const auto integ = mapping::first_qualifying(message_, paths().integrations);
        integ && json::truthy(*integ) && integ->is_object()) {
      if (auto v = json::member(*integ, "marketingOptin"); v && v->is_string() && is_marketing_optin(v->get_string().value_unsafe()))
        optin = v->get_string().value_unsafe();
      if (auto v = json::member(*integ, "listingId"); v && json::truthy(*v)) p.set(key::contact_id, *v);
      // An explicit value here wins over the destination setting, false included (COMPATIBILITY 5).
      auto pick = [&](const char* camel, const char* snake) {
        auto v = read_bool(json::member(*integ, camel));
        return v ? v : read_bool(json::member(*integ, snake));
      };
      if (auto v = pick("allowMarketing", "allow_marketing")) allow_marketing = v;
      if (auto v = pick("allowTransactional", "allow_transactional")) allow_transactional = v;
      auto timestamp = [&](const char* key) -> std::optional<dom::element> {
        auto v = json::member(*integ, key);
        if (v && v->is_string() && validate::is_iso8601_datetime(v->get_string().value_unsafe())) return v;
        return std::nullopt;
      };
      dt_marketing = timestamp("dt_updated_marketing");
      dt_transactional = timestamp("dt_updated_transactional");
    }

    if (!is_truthy(p, key::contact_id)) return fail(errc::instrumentation, "Parameter listingId is required for identify", "traits.listingId");
    if (optin) p.set("marketing_optin", *optin);
    OutObject sms;
    if (dt_marketing) sms.set("dt_updated_marketing", *dt_marketing);
    if (dt_transactional) sms.set("dt_updated_transactional", *dt_transactional);
    if (allow_marketing) sms.set("allow_marketing", *allow_marketing);
    if (allow_transactional) sms.set("allow_transactional", *allow_transactional);
    OutObject channels;
    channels.set("sms", std::move(sms));
    p.set("channels", std::move(channels));

    if (auto err = split_name(p)) return tl::unexpected(*err);
    return p;
  }

  // One word: first name only; two: first and last; more: first, middle (the words between), last (COMPATIBILITY 6).
  std::optional<Error> split_name(OutObject& p) {
    const auto& name_paths = paths().name;
    const SourcePath* origin = nullptr;
    std::optional<dom::element> name;
    for (const auto& path : name_paths)
      if (auto v = get(message_, path); v && json::qualifies(*v)) {
        name = v;
        origin = &path;
        break;
      }
    if (!name || !json::truthy(*name)) return std::nullopt;
    if (!name->is_string()) return json::wrong_type(origin->text, "a string", *name);
    const std::string_view text = name->get_string().value_unsafe();
    std::vector<std::string_view> words;
    std::size_t i = 0;
    while (i < text.size()) {
      while (i < text.size() && (text[i] == ' ' || text[i] == '\t')) ++i;
      const std::size_t start = i;
      while (i < text.size() && text[i] != ' ' && text[i] != '\t') ++i;
      if (i > start) words.push_back(text.substr(start, i - start));
    }
    if (words.empty()) return std::nullopt;
    p.set("firstname", words.front());
    if (words.size() == 2) p.set("lastname", words.back());
    if (words.size() >= 3) {
      const std::string_view middle =
          words.size() == 3 ? words[1]
                            : text.substr(static_cast<std::size_t>(words[1].data() - text.data()),
                                          static_cast<std::size_t>(words[words.size() - 2].data() +
                                                                   words[words.size() - 2].size() - words[1].data()));
      p.set("middlename", words.size() == 3 ? middle : arena_.keep(collapse_spaces(middle)));
      p.set("lastname", words.back());
    }
    return std::nullopt;
  }

  static std::string collapse_spaces(std::string_view s) {
    std::string out;
    bool space = false;
    for (char c : s) {
      if (c == ' ' || c == '\t') {
        space = true;
        continue;
      }
      if (space && !out.empty()) out.push_back(' ');
      space = false;
      out.push_back(c);
    }
    return out;
  }

  // ---- track -> order | custom_event --------------------------------------------------------------------------
  Expected<OutObject> track(RecordType& record_type) {
    const auto event = get(message_, paths().event);
    if (!event || !json::truthy(*event)) return fail(errc::instrumentation, "Event name is required for track call", "event");
    if (!event->is_string()) return tl::unexpected(json::wrong_type("event", "a string", *event));
    const std::string_view name = arena_.keep(js_to_lower(js_trim(event->get_string().value_unsafe())));
    for (const auto& [order_event, status] : t_.order.statuses)
      if (order_event == name) {
        record_type = RecordType::order;
        return order(status);
      }
    record_type = RecordType::custom_event;
    return custom_event(name);
  }

  Expected<OutObject> order(std::string_view status) {
    auto mapped = mapping::apply(t_.order.list("fields"), source_, arena_);
    if (!mapped) return mapped;
    OutObject p = std::move(*mapped);
    auto customer = mapping::apply(t_.order.list("customer"), source_, arena_);
    if (!customer) return customer;
    if (!is_truthy(*customer, key::customer_id) || !is_truthy(*customer, key::customer_email))
      return fail(errc::instrumentation, "customer_id and email is required for order related event", "userId");
    p.set("customer", std::move(*customer));
    p.set("@type", std::string_view("order"));
    p.set("status", status);
    p.set("is_valid", true);
    if (!is_truthy(p, key::order_properties)) {
      OutObject custom = mapping::extract_custom_fields(*t_.order.custom_fields, source_);
      if (!custom.empty()) p.set(key::order_properties, std::move(custom));
    }
    if (const auto products = get(message_, paths().products); products && json::truthy(*products)) {
      if (products->is_string()) return tl::unexpected(json::wrong_type("properties.products", "an array", *products));
      if (products->is_array()) {
        OutArray items = line_items(products->get_array().value_unsafe());
        if (!items.items.empty()) p.set("lineitems", std::move(items));
      }
    }
    for (std::string_view address_key : {key::order_billing_address, key::order_shipping_address}) {
      OutValue* slot = p.find(address_key);
      if (!slot || !json::truthy(*slot)) continue;
      const auto* el = std::get_if<dom::element>(&slot->v);
      if (!el || !el->is_object()) {
        p.erase(address_key);  // an address must be an object
        continue;
      }
      mapping::Source address_source(*el, &t_.parent_leaves);
      auto address = mapping::apply(t_.order.list("address"), address_source, arena_);
      if (!address) return tl::unexpected(address.error());
      *slot = OutValue(std::move(*address));
    }
    return p;
  }

  OutArray line_items(dom::array products) {
    OutArray items;
    for (dom::element product : products) {
      if (!product.is_object()) continue;
      mapping::Source item_source(product, &t_.parent_leaves);
      auto mapped = mapping::apply(t_.lineitems.list("fields"), item_source, arena_);
      if (!mapped) continue;  // the line item table has no required fields; nothing to report
      OutObject item = std::move(*mapped);
      // Kept only with product_id, a quantity other than 0, and unit_price or subtotal (0 allowed).
      if (!is_truthy(item, key::item_product_id) || !is_truthy(item, key::item_quantity) ||
          (!item.find(key::item_unit_price) && !item.find(key::item_subtotal)))
        continue;
      if (auto variants = get(product, paths().variant_options); variants && variants->is_array()) {
        OutArray options;
        for (dom::element variant : json::as_array(*variants)) {
          if (!variant.is_object()) continue;
          mapping::Source variant_source(variant, &t_.parent_leaves);
          auto v = mapping::apply(t_.variant.list("fields"), variant_source, arena_);
          if (v && is_truthy(*v, key::variant_id) && is_truthy(*v, key::variant_type) && is_truthy(*v, key::variant_label))
            options.items.emplace_back(std::move(*v));
        }
        if (!options.items.empty()) item.set("variant_options", std::move(options));
      }
      if (!is_truthy(item, key::item_properties)) {
        OutObject custom = mapping::extract_custom_fields(*t_.lineitems.custom_fields, item_source);
        if (!custom.empty()) item.set(key::item_properties, std::move(custom));
      }
      items.items.emplace_back(std::move(item));
    }
    return items;
  }

  Expected<OutObject> custom_event(std::string_view event_type) {
    auto mapped = mapping::apply(t_.custom_event.list("fields"), source_, arena_);
    if (!mapped) return mapped;
    OutObject p = std::move(*mapped);
    p.set("@type", std::string_view("custom_event"));
    p.set("event_type", event_type);
    if (!is_truthy(p, key::event_properties))
      p.set(key::event_properties, mapping::extract_custom_fields(*t_.custom_event.custom_fields, source_));
    return p;
  }

  const mapping::TableSet& t_;
  dom::element message_;
  mapping::Source source_;  // the message, with the objects its paths pass through cached
  const DestinationConfig& config_;
  const RecordEdit* edit_;  // may be null
  RecordText text_;
  json::Arena arena_;
};

}  // namespace

DestinationConfig destination_config_from(const dom::element& config) {
  DestinationConfig out;
  if (!config.is_object()) return out;
  if (auto v = json::member(config, "apiKey"); v && v->is_string()) out.api_key = std::string(v->get_string().value_unsafe());
  if (auto v = json::member(config, "marketingOptin"); v && v->is_string() && !std::string_view(v->get_string().value_unsafe()).empty())
    out.marketing_optin = std::string(v->get_string().value_unsafe());
  out.allow_marketing = read_bool(json::member(config, "allowMarketing"));
  out.allow_transactional = read_bool(json::member(config, "allowTransactional"));
  return out;
}

std::string_view to_string(RecordType type) {
  switch (type) {
    case RecordType::contact: return "contact";
    case RecordType::order: return "order";
    case RecordType::custom_event: return "custom_event";
    case RecordType::product: return "product";
  }
  return "contact";
}

std::optional<RecordType> record_type_from(std::string_view name) {
  for (auto type : {RecordType::contact, RecordType::order, RecordType::custom_event, RecordType::product})
    if (to_string(type) == name) return type;
  return std::nullopt;
}

Expected<Transformer> Transformer::load(const std::filesystem::path& mappings_dir) {
  auto tables = mapping::load_tables(mappings_dir, contract::all);
  if (!tables) return tl::unexpected(tables.error());
  return Transformer(std::make_shared<const mapping::TableSet>(std::move(*tables)));
}

namespace {
// Every transform() runs here. edit: may be null.
Expected<Record> run_mapper(const mapping::TableSet& tables, const dom::element& message, const DestinationConfig& config,
                            const RecordEdit* edit, RecordText text) {
  try {
    return Mapper(tables, message, config, edit, text).run();
  } catch (const std::exception& e) {
    // Nothing above is expected to throw; a bad_alloc on a hostile event must still fail only that event.
    return fail(errc::transformation, std::string("internal error: ") + e.what());
  }
}
}  // namespace

Expected<Record> Transformer::transform(const dom::element& message, const DestinationConfig& config,
                                        RecordText text) const {
  return run_mapper(*tables_, message, config, nullptr, text);
}

Expected<Record> Transformer::transform(const dom::element& message, const DestinationConfig& config,
                                        const mapping::TableSet& tables) const {
  return run_mapper(tables, message, config, nullptr, RecordText::json);
}

Expected<Record> Transformer::transform(const dom::element& message, const DestinationConfig& config,
                                        const mapping::TableSet& tables, const RecordEdit& edit) const {
  return run_mapper(tables, message, config, &edit, RecordText::json);
}

std::optional<RecordType> Transformer::record_type_of(const dom::element& message) const {
  return record_type_of(message, *tables_);
}

std::optional<RecordType> Transformer::record_type_of(const dom::element& message, const mapping::TableSet& tables) const {
  const auto type = get(message, paths().type);
  if (!type || !type->is_string()) return std::nullopt;
  const std::string lowered = js_to_lower(type->get_string().value_unsafe());
  if (lowered == "identify") return RecordType::contact;
  if (lowered != "track") return std::nullopt;
  const auto event = get(message, paths().event);
  if (!event || !event->is_string()) return RecordType::custom_event;
  const std::string name = js_to_lower(js_trim(event->get_string().value_unsafe()));
  for (const auto& entry : tables.order.statuses)
    if (entry.first == name) return RecordType::order;
  return RecordType::custom_event;
}

Transformer::Transformer(std::shared_ptr<const mapping::TableSet> tables) : tables_(std::move(tables)) {}
Transformer::Transformer(Transformer&&) noexcept = default;
Transformer& Transformer::operator=(Transformer&&) noexcept = default;
Transformer::~Transformer() = default;

}  // namespace omt::ometria
