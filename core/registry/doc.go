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
// List applies Glance's filters, sorts and visibility rules in SQL and
// pages by keyset (the marker's sort values, read in the same statement),
// so that a page of any sort key is an index range scan from the marker:
// the ix_images_live_* indexes end with created_at, id, the tie-breakers
// Glance appends. A page filtered by tag is driven by the first tag's
// image_tags rows, which carry their image's created_at (copied from the
// images row at every tag write; migration 0003 backfilled it), so that in
// created_at order it is a range scan of (value, image_created_at,
// image_id) from the marker. A page and its images' properties, tags and
// locations are one statement. Members and tasks (with their info) are
// kept here too; members and tasks are soft-deleted, as in Glance.
//
// glance-manage db migrate applies the migrations; glance-api migrates the
// embedded SQLite default itself but refuses a PostgreSQL schema older or
// newer than it knows, naming the command to run.
//
// Timestamps are stored and returned in UTC at second precision, which is
// what Glance shows ("2026-11-26T11:44:45Z").
//
// On SQLite, writes go through a single connection (BEGIN IMMEDIATE, WAL,
// busy_timeout) and reads through a separate read-only pool, so concurrent
// requests neither see SQLITE_BUSY nor wait for each other's reads.
package registry
