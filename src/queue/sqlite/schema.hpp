// The queue database's layout: WAL mode, its tables, and the migrations that bring a database written by an
// older version up to this build's. The version is kept in PRAGMA user_version; each migration runs in one
// transaction together with its version bump, so a database is at one version or the next, never between.
// A database written by a newer version than this build knows is refused, never misread.
#pragma once

#include "connection.hpp"
#include "omt/error.hpp"

namespace omt::queue::sqlite {

// 1: chunks (record_chunk.hpp), dead_letters, held_keys. 0: no tables, or the ones before versions were kept
// (the one-row-per-record "records" table, or version 1's tables without the version set).
// 2: rejected_events (rejected_event_store.hpp). 3: ometria_errors (what Ometria rejected after a 2xx).
// 4: chunks name their lane (queue::Lane; older chunks are live), lane_totals (delivered and dead-lettered).
inline constexpr int kSchemaVersion = 4;

// Puts the database in WAL mode and migrates it to kSchemaVersion. Call before preparing statements on its
// tables. Nothing is written when the database is already at kSchemaVersion (the CLI opens it beside the server).
Expected<void> prepare_schema(Connection& db);

}  // namespace omt::queue::sqlite
