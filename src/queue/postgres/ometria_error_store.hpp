// The ometria_errors table in PostgreSQL: OmetriaErrorLog's operations as statements on the caller's connection,
// inside the caller's transaction (the same rows and bound as the SQLite queue's store).
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "connection.hpp"
#include "omt/queue/ometria_errors.hpp"

namespace omt::queue::postgres {

Expected<std::vector<delivery::SeenError>> record_ometria_errors(Connection& db, const std::string& api_key,
                                                                 const std::vector<delivery::SeenError>& seen,
                                                                 std::int64_t now, std::size_t keep);
Expected<std::vector<StoredOmetriaError>> list_ometria_errors(Connection& db, std::size_t limit);
Expected<std::vector<OmetriaErrorsOfKey>> ometria_errors_by_key(Connection& db);

}  // namespace omt::queue::postgres
