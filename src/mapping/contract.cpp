#include "mapping/contract.hpp"

#include <string>

#include "mapping/loader.hpp"

namespace omt::mapping {

std::optional<Error> check_contract(const TableSet& tables, std::span<const TableContract> contracts) {
  for (const TableContract& contract : contracts) {
    const std::string where = std::string(contract.file) + " " + std::string(contract.list);
    const MappingFile* file = tables.file(contract.file);
    const RuleList* list = nullptr;
    if (file)
      if (auto it = file->lists.find(contract.list); it != file->lists.end()) list = &it->second;
    // The contract names a table the loader does not know: a mistake in the code, still reported at start-up.
    if (!list) return load_error(where, "no such rule list (the code's contract)");
    for (const RequiredKey& required : contract.keys)
      if (!list->find(required.key))
        return load_error(where, "no rule has \"to\": \"" + std::string(required.key) + "\", which the code reads (" +
                                     std::string(required.why) + ")");
  }
  return std::nullopt;
}

}  // namespace omt::mapping
