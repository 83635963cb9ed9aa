-- glance-go registry schema, version 3: tag pages as index range scans.
--
-- image_tags carries its image's created_at (image_created_at; an image's
-- created_at never changes, and every tag write copies it from the images
-- row), indexed as (value, image_created_at, image_id): a list filtered by
-- tag in the default order (created_at, id; either direction) reads that
-- index from the marker and joins each hit to its image, instead of
-- walking every image in created_at order to probe it for the tag.
--
-- The table is rebuilt rather than altered, so that the new column is NOT
-- NULL on both engines (SQLite cannot add a NOT NULL column without a
-- default): the rows, with their image's created_at (the backfill), wait
-- in a copy while image_tags is created again under its own name (and,
-- on PostgreSQL, its primary key under image_tags_pkey).

CREATE TABLE image_tags_v3_copy AS
SELECT t.image_id AS image_id, t.value AS value, i.created_at AS image_created_at
FROM image_tags t JOIN images i ON i.id = t.image_id;

DROP TABLE image_tags;

CREATE TABLE image_tags (
    image_id         TEXT NOT NULL REFERENCES images (id),
    value            TEXT NOT NULL,
    image_created_at TIMESTAMP NOT NULL,
    PRIMARY KEY (image_id, value)
);

INSERT INTO image_tags (image_id, value, image_created_at)
SELECT image_id, value, image_created_at FROM image_tags_v3_copy;

DROP TABLE image_tags_v3_copy;

-- Replaces ix_image_tags_value (value, image_id), dropped with the table.
CREATE INDEX ix_image_tags_value_created ON image_tags (value, image_created_at, image_id);
