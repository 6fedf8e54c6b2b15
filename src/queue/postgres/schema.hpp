// The PostgreSQL queue's tables, created and migrated when a queue opens: a schema_version table says which
// version the database is at, migrations run in order inside one transaction each, under an advisory lock so
// that instances starting together migrate once. A database newer than this build is refused, never misread.
#pragma once

#include "connection.hpp"
#include "omt/error.hpp"

namespace omt::queue::postgres {

inline constexpr int kSchemaVersion = 7;

Expected<void> prepare_schema(Connection& db);
// The version the database is at (0: no queue tables yet).
Expected<int> schema_version(Connection& db);

}  // namespace omt::queue::postgres
