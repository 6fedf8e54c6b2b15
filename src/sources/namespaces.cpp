// Id namespaces: the record (compact JSON, as the transformer or the products stage wrote it) is parsed again and
// written with the same writer, each member in its place, the ids prefixed.
#include "sources/namespace_stage.hpp"

#include <simdjson.h>

#include "json/out_value.hpp"
#include "omt/ometria/push_api.hpp"

namespace omt::sources {
namespace dom = simdjson::dom;
using json::OutArray;
using json::OutObject;
using json::OutValue;

namespace {

bool allowed_in_namespace(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// One rewrite of an object: which of its keys are ids (and their prefix), and which hold objects or arrays of
// objects rewritten in turn.
struct IdKey {
  std::string_view key;
  const std::string* prefix;
};
struct Nested;
struct Shape {
  std::vector<IdKey> ids;
  std::vector<Nested> nested;
};
struct Nested {
  std::string_view key;
  Shape shape;
};

class Rewriter {
 public:
  OutValue prefixed(dom::element id, const std::string& prefix) {
    std::string text;
    if (id.is_string()) text = std::string(id.get_string().value_unsafe());
    else if (id.is_number()) json::write(text, id);
    else return OutValue(id);  // not an id Ometria takes: left for Ometria to refuse
    return OutValue(arena_.keep(prefix + text));
  }

  OutValue rewrite(dom::element value, const Shape& shape) {
    if (value.is_array()) {
      OutArray items;
      for (dom::element item : json::as_array(value)) items.items.push_back(rewrite(item, shape));
      return OutValue(std::move(items));
    }
    if (!value.is_object()) return OutValue(value);
    OutObject out;
    for (auto field : json::as_object(value)) {
      OutValue v(field.value);
      for (const auto& id : shape.ids)
        if (field.key == id.key && !id.prefix->empty()) v = prefixed(field.value, *id.prefix);
      for (const auto& nested : shape.nested)
        if (field.key == nested.key) v = rewrite(field.value, nested.shape);
      // set() would merge a duplicated key into its first place; the record has none (it was written by us).
      out.members.push_back({field.key, std::move(v)});
    }
    return OutValue(std::move(out));
  }

 private:
  json::Arena arena_;
};

Shape shape_of(ometria::RecordType type, const Namespaces& ns) {
  switch (type) {
    case ometria::RecordType::contact: return Shape{{{"id", &ns.customer}, {"customer_id", &ns.customer}}, {}};
    case ometria::RecordType::order:
      return Shape{{{"id", &ns.order}},
                   {{"customer", Shape{{{"id", &ns.customer}}, {}}},
                    {"lineitems", Shape{{{"product_id", &ns.product}, {"variant_id", &ns.product}}, {}}}}};
    case ometria::RecordType::product: return Shape{{{"id", &ns.product}}, {}};
    case ometria::RecordType::custom_event: return Shape{{{"identity_account_id", &ns.customer}}, {}};
  }
  return {};
}

bool applies(ometria::RecordType type, const Namespaces& ns) {
  switch (type) {
    case ometria::RecordType::contact:
    case ometria::RecordType::custom_event: return !ns.customer.empty();
    case ometria::RecordType::order: return ns.any();
    case ometria::RecordType::product: return !ns.product.empty();
  }
  return false;
}

}  // namespace

Expected<void> apply_namespaces(ometria::Record& record, const Namespaces& namespaces) {
  if (!applies(record.type, namespaces)) return {};
  simdjson::dom::parser parser;
  dom::element root;
  if (parser.parse(record.json).get(root) != simdjson::SUCCESS || !root.is_object())
    return fail(errc::transformation, "internal error: a record to namespace is not a JSON object");
  Rewriter rewriter;
  std::string out;
  out.reserve(record.json.size() + 64);
  json::write(out, rewriter.rewrite(root, shape_of(record.type, namespaces)));
  if (auto fits = ometria::check_record_size(out.size()); !fits) return tl::unexpected(std::move(fits.error()));
  record.json = std::move(out);
  return {};
}

void read_namespaces(config::detail::ObjectReader& source, Namespaces& out) {
  config::detail::ObjectReader section = source.object("namespaces");
  const std::pair<const char*, std::string*> keys[] = {
      {"customer", &out.customer}, {"product", &out.product}, {"order", &out.order}};
  for (const auto& [k, target] : keys) {
    section.string(k, *target);
    for (char c : *target)
      if (!allowed_in_namespace(c)) {
        section.error(k, "\"" + *target + "\" may hold only letters, digits, '-' and '_'");
        break;
      }
  }
  section.done();
}

}  // namespace omt::sources
