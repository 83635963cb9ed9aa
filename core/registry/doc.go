// Package registry keeps image metadata in SQL: PostgreSQL through lib/pq
// ("postgres") or an embedded SQLite file through modernc.org/sqlite
// ("sqlite"), with one schema and one history of versioned migrations
// (migrations/NNNN_name.sql, embedded) for both.
//
// Repository is what the rest of glance-go uses; *DB implements it. Status
// changes are compare-and-set in SQL, so two requests racing for the same
// transition cannot both win: the loser gets ErrConflict (a *ConflictError
// naming the status it found). Deletes are soft, as in Glance: a deleted
// image keeps its row (its id can never be reused) but is not found.
//
// Timestamps are stored and returned in UTC at second precision, which is
// what Glance shows ("2026-11-26T11:44:45Z").
//
// On SQLite, writes go through a single connection (BEGIN IMMEDIATE, WAL,
// busy_timeout) and reads through a separate read-only pool, so concurrent
// requests neither see SQLITE_BUSY nor wait for each other's reads.
package registry
