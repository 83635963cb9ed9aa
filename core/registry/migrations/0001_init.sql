-- glance-go registry schema, version 1.
-- One history for SQLite and PostgreSQL: portable types only (TEXT ids,
-- BIGINT sizes, BOOLEAN, TIMESTAMP holding UTC at second precision).
-- Statements end with a semicolon at the end of a line.

CREATE TABLE images (
    id               TEXT PRIMARY KEY,
    name             TEXT,
    status           TEXT NOT NULL,
    visibility       TEXT NOT NULL,
    protected        BOOLEAN NOT NULL DEFAULT FALSE,
    os_hidden        BOOLEAN NOT NULL DEFAULT FALSE,
    checksum         TEXT,
    os_hash_algo     TEXT,
    os_hash_value    TEXT,
    size             BIGINT,
    virtual_size     BIGINT,
    disk_format      TEXT,
    container_format TEXT,
    min_disk         BIGINT NOT NULL DEFAULT 0,
    min_ram          BIGINT NOT NULL DEFAULT 0,
    owner            TEXT,
    created_at       TIMESTAMP NOT NULL,
    updated_at       TIMESTAMP NOT NULL,
    deleted          BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at       TIMESTAMP
);

-- The default list: live images, newest first, id as tie-breaker (keyset).
CREATE INDEX ix_images_list ON images (deleted, created_at, id);
CREATE INDEX ix_images_owner ON images (owner);
CREATE INDEX ix_images_visibility ON images (visibility);
CREATE INDEX ix_images_status ON images (status);
CREATE INDEX ix_images_checksum ON images (checksum);

CREATE TABLE image_properties (
    image_id TEXT NOT NULL REFERENCES images (id),
    name     TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (image_id, name)
);

CREATE INDEX ix_image_properties_name_value ON image_properties (name, value);

CREATE TABLE image_tags (
    image_id TEXT NOT NULL REFERENCES images (id),
    value    TEXT NOT NULL,
    PRIMARY KEY (image_id, value)
);

CREATE INDEX ix_image_tags_value ON image_tags (value);

CREATE TABLE image_locations (
    id         TEXT PRIMARY KEY,
    image_id   TEXT NOT NULL REFERENCES images (id),
    url        TEXT NOT NULL,
    metadata   TEXT NOT NULL DEFAULT '{}',
    status     TEXT NOT NULL,
    store_id   TEXT,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);

CREATE INDEX ix_image_locations_image ON image_locations (image_id, status);

CREATE TABLE image_members (
    id         TEXT PRIMARY KEY,
    image_id   TEXT NOT NULL REFERENCES images (id),
    member     TEXT NOT NULL,
    status     TEXT NOT NULL DEFAULT 'pending',
    can_share  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted    BOOLEAN NOT NULL DEFAULT FALSE
);

CREATE INDEX ix_image_members_image_member ON image_members (image_id, member);
CREATE INDEX ix_image_members_member ON image_members (member, status);
