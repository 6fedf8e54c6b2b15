#include "mapping/contract.hpp"

#include <string>

namespace omt::mapping {

std::optional<Error> check_contract(const TableSet& tables, std::span<const TableContract> contracts) {
  for (const TableContract& contract : contracts) {
    const std::string where = std::string(contract.file) + " " + std::string(contract.list);
    const MappingFile* file = tables.file(contract.file);
    const RuleList* list = nullptr;
    if (file)
      if (auto it = file->lists.find(contract.list); it != file->lists.end()) list = &it->second;
    // The contract names a table the loader does not know: a mistake in the code, still reported at start-up.
    if (!list)
      return Error{errc::invalid_config, "mapping error in " + where + ": no such rule list (the code's contract)", where};
    for (const RequiredKey& required : contract.keys)
      if (!list->find(required.key))
        return Error{errc::invalid_config,
                     "mapping error in " + where + ": no rule has \"to\": \"" + std::string(required.key) +
                         "\", which the code reads (" + std::string(required.why) + ")",
                     where};
  }
  return std::nullopt;
}

}  // namespace omt::mapping
