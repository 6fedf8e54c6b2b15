// Placeholder until the mappers land.
#include "omt/ometria/transformer.hpp"

namespace omt::mapping {
class TableSet {};
}

namespace omt::ometria {
DestinationConfig destination_config_from(const simdjson::dom::element&) { return {}; }
std::string_view to_string(RecordType) { return "contact"; }
Expected<Transformer> Transformer::load(const std::filesystem::path&) {
  return Transformer(std::make_shared<const mapping::TableSet>());
}
std::filesystem::path Transformer::default_mappings_dir() { return OMT_DEFAULT_MAPPINGS_DIR; }
Expected<Record> Transformer::transform(const simdjson::dom::element&, const DestinationConfig&) const {
  return fail(errc::transformation, "not implemented");
}
Transformer::Transformer(std::shared_ptr<const mapping::TableSet> tables) : tables_(std::move(tables)) {}
Transformer::Transformer(Transformer&&) noexcept = default;
Transformer& Transformer::operator=(Transformer&&) noexcept = default;
Transformer::~Transformer() = default;
}  // namespace omt::ometria
