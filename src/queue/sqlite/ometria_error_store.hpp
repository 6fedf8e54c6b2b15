// The ometria_errors table (schema version 3): what Ometria listed as rejected after accepting pushes, one row
// per (key, entry digest), bounded. Runs on the connection's one thread, inside the caller's transaction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "connection.hpp"
#include "omt/error.hpp"
#include "omt/queue/ometria_errors.hpp"

namespace omt::queue::sqlite {

class OmetriaErrorStore {
 public:
  // Prepares its statements; the table must exist (prepare_schema). At most `keep` rows stay after a record().
  static Expected<OmetriaErrorStore> prepare(Connection& db, std::size_t keep);
  OmetriaErrorStore() = default;  // no statements: only for assigning a prepared one to

  // OmetriaErrorLog::record_ometria_errors, inside the caller's transaction.
  Expected<std::vector<delivery::SeenError>> record(const std::string& api_key,
                                                    const std::vector<delivery::SeenError>& seen, std::int64_t now);
  Expected<std::vector<StoredOmetriaError>> list(std::size_t limit);
  Expected<std::vector<OmetriaErrorsOfKey>> by_key();

 private:
  OmetriaErrorStore(Connection& db, std::size_t keep) : db_(&db), keep_(keep) {}
  Connection* db_ = nullptr;
  std::size_t keep_ = 0;
  Statement find_;
  Statement insert_;
  Statement update_;
  Statement trim_;
  Statement list_;
  Statement by_key_;
};

}  // namespace omt::queue::sqlite
