-- glance-go registry schema, version 2: members as Glance keeps them, tasks
-- with their info, and the indexes the list paths need.
--
-- List indexes are partial (live rows only: every list says deleted = FALSE)
-- and end with created_at, id, the tie-breakers Glance appends to every
-- sort, so that a page of any sort key is an index range scan from the
-- marker (keyset pagination), forward for asc, backward for desc. Nullable
-- sort keys are indexed as COALESCE(col, ''/0): NULL sorts as the empty
-- value, as Glance's marker comparison treats it, identically on both
-- engines (their NULLS FIRST/LAST defaults differ).

DROP INDEX ix_images_list;
DROP INDEX ix_images_owner;
DROP INDEX ix_images_visibility;
DROP INDEX ix_images_status;
DROP INDEX ix_images_checksum;

CREATE INDEX ix_images_live_created ON images (created_at, id) WHERE deleted = FALSE;
CREATE INDEX ix_images_live_updated ON images (updated_at, created_at, id) WHERE deleted = FALSE;
CREATE INDEX ix_images_live_name ON images (COALESCE(name, ''), created_at, id) WHERE deleted = FALSE;
CREATE INDEX ix_images_live_status ON images (status, created_at, id) WHERE deleted = FALSE;
CREATE INDEX ix_images_live_disk_format ON images (COALESCE(disk_format, ''), created_at, id) WHERE deleted = FALSE;
CREATE INDEX ix_images_live_container_format ON images (COALESCE(container_format, ''), created_at, id) WHERE deleted = FALSE;
CREATE INDEX ix_images_live_size ON images (COALESCE(size, 0), created_at, id) WHERE deleted = FALSE;
-- owner (+ visibility) filters and a project's own images in its scope.
CREATE INDEX ix_images_live_owner ON images (owner, visibility, created_at, id) WHERE deleted = FALSE;
-- visibility filters and the public/community part of a project's scope.
CREATE INDEX ix_images_live_visibility ON images (visibility, created_at, id) WHERE deleted = FALSE;
CREATE INDEX ix_images_checksum ON images (checksum);
CREATE INDEX ix_images_os_hash_value ON images (os_hash_value);

-- Property filters probe (name, value) and come back with the image id.
DROP INDEX ix_image_properties_name_value;
CREATE INDEX ix_image_properties_name_value ON image_properties (name, value, image_id);

-- Tag filters likewise.
DROP INDEX ix_image_tags_value;
CREATE INDEX ix_image_tags_value ON image_tags (value, image_id);

-- Members: soft-deleted like Glance's, so a live (image, member) pair is
-- unique but a removed member may be added again.
ALTER TABLE image_members ADD COLUMN deleted_at TIMESTAMP;
DROP INDEX ix_image_members_image_member;
DROP INDEX ix_image_members_member;
CREATE UNIQUE INDEX ux_image_members_live ON image_members (image_id, member) WHERE deleted = FALSE;
-- A project's shared images in its list scope.
CREATE INDEX ix_image_members_member ON image_members (member, status, image_id) WHERE deleted = FALSE;

CREATE TABLE tasks (
    id         TEXT PRIMARY KEY,
    type       TEXT NOT NULL,
    status     TEXT NOT NULL,
    owner      TEXT,
    image_id   TEXT,
    request_id TEXT,
    user_id    TEXT,
    expires_at TIMESTAMP,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    deleted    BOOLEAN NOT NULL DEFAULT FALSE,
    deleted_at TIMESTAMP
);

CREATE INDEX ix_tasks_live_created ON tasks (created_at, id) WHERE deleted = FALSE;
CREATE INDEX ix_tasks_live_owner ON tasks (owner, created_at, id) WHERE deleted = FALSE;
CREATE INDEX ix_tasks_image ON tasks (image_id, created_at);

-- Glance's task_info: the task's input, result and message, kept apart
-- from the row the list reads.
CREATE TABLE task_info (
    task_id TEXT PRIMARY KEY REFERENCES tasks (id),
    input   TEXT,
    result  TEXT,
    message TEXT NOT NULL DEFAULT ''
);
