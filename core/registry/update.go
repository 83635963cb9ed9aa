package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/google/uuid"

	"github.com/glance-go/glance/core/image"
)

// Update implements Repository. It is a read-modify-write in one write
// transaction: the row is read under the writer lock (SQLite's single
// immediate-mode writer, or SELECT … FOR UPDATE on PostgreSQL), so two
// updates of one image never interleave and none is lost; a status change
// made by fn is thereby a compare-and-set on the status fn saw.
func (db *DB) Update(ctx context.Context, id string, fn func(img *image.Image) error) (*image.Image, error) {
	var out *image.Image
	err := db.tx(ctx, func(tx *sql.Tx) error {
		query := "SELECT " + imageColumns + " FROM images WHERE id = ? AND deleted = FALSE"
		if db.d.dollar {
			query += " FOR UPDATE"
		}
		old, err := scanImage(tx.QueryRowContext(ctx, db.q(query), id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if err != nil {
			return fmt.Errorf("registry: update %s: read: %w", id, err)
		}
		if err := db.loadChildren(ctx, tx, []*image.Image{old}); err != nil {
			return err
		}
		img := cloneImage(old)
		if err := fn(img); err != nil {
			return err
		}
		img.ID = old.ID
		if imagesEqual(old, img) {
			out = old
			return nil
		}
		now := db.stamp()
		img.UpdatedAt = now
		if err := db.writeUpdate(ctx, tx, old, img, now); err != nil {
			return fmt.Errorf("registry: update %s: %w", id, err)
		}
		out = img
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// writeUpdate stores the differences between old and img.
func (db *DB) writeUpdate(ctx context.Context, tx *sql.Tx, old, img *image.Image, now any) error {
	if _, err := tx.ExecContext(ctx, db.q("UPDATE images SET name = ?, status = ?, visibility = ?, protected = ?, os_hidden = ?, "+
		"checksum = ?, os_hash_algo = ?, os_hash_value = ?, size = ?, virtual_size = ?, disk_format = ?, container_format = ?, "+
		"min_disk = ?, min_ram = ?, owner = ?, updated_at = ? WHERE id = ? AND deleted = FALSE"),
		img.Name, string(img.Status), string(img.Visibility), img.Protected, img.OSHidden,
		img.Checksum, img.OSHashAlgo, img.OSHashValue, img.Size, img.VirtualSize, img.DiskFormat, img.ContainerFormat,
		img.MinDisk, img.MinRAM, img.Owner, now, img.ID); err != nil {
		return err
	}
	for k := range old.Properties {
		if _, ok := img.Properties[k]; !ok {
			if _, err := tx.ExecContext(ctx, db.q("DELETE FROM image_properties WHERE image_id = ? AND name = ?"), img.ID, k); err != nil {
				return err
			}
		}
	}
	for k, v := range img.Properties {
		ov, ok := old.Properties[k]
		switch {
		case !ok:
			_, err := tx.ExecContext(ctx, db.q("INSERT INTO image_properties (image_id, name, value) VALUES (?, ?, ?)"), img.ID, k, v)
			if err != nil {
				return err
			}
		case ov != v:
			_, err := tx.ExecContext(ctx, db.q("UPDATE image_properties SET value = ? WHERE image_id = ? AND name = ?"), v, img.ID, k)
			if err != nil {
				return err
			}
		}
	}
	for _, t := range old.Tags {
		if !slices.Contains(img.Tags, t) {
			if _, err := tx.ExecContext(ctx, db.q("DELETE FROM image_tags WHERE image_id = ? AND value = ?"), img.ID, t); err != nil {
				return err
			}
		}
	}
	var added []string
	for _, t := range img.Tags {
		if !slices.Contains(old.Tags, t) && !slices.Contains(added, t) {
			added = append(added, t)
			if err := db.insertTag(ctx, tx, img.ID, t); err != nil {
				return err
			}
		}
	}
	// Locations: those fn dropped are marked deleted (their data is the
	// caller's business); those without an id are new.
	t := img.UpdatedAt
	for _, l := range old.Locations {
		if !slices.ContainsFunc(img.Locations, func(n image.Location) bool { return n.ID == l.ID }) {
			if _, err := tx.ExecContext(ctx, db.q("UPDATE image_locations SET status = ?, updated_at = ? WHERE id = ?"), "deleted", t, l.ID); err != nil {
				return err
			}
		}
	}
	for i := range img.Locations {
		if j := slices.IndexFunc(old.Locations, func(o image.Location) bool { return o.ID == img.Locations[i].ID }); j >= 0 {
			// A kept location: only its metadata may change.
			if maps.Equal(old.Locations[j].Metadata, img.Locations[i].Metadata) {
				continue
			}
			meta, err := json.Marshal(nonNilMap(img.Locations[i].Metadata))
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, db.q("UPDATE image_locations SET metadata = ?, updated_at = ? WHERE id = ?"), string(meta), t, img.Locations[i].ID); err != nil {
				return err
			}
			continue
		}
		if img.Locations[i].ID == "" {
			// A time-ordered id: locations are listed by (created_at, id)
			// and created_at has second precision, so this keeps the
			// order in which they were added.
			id, err := uuid.NewV7()
			if err != nil {
				return err
			}
			img.Locations[i].ID = id.String()
			if err := db.insertLocation(ctx, tx, img.ID, &img.Locations[i], t); err != nil {
				return err
			}
		}
	}
	return nil
}

// ProjectUsage implements Repository: the bytes held by the live images
// of owner (the per-project storage quota; Glance's user_storage_quota
// counts the same: the sizes of the owner's non-deleted images).
func (db *DB) ProjectUsage(ctx context.Context, owner string) (int64, error) {
	var n sql.NullInt64
	err := db.r.QueryRowContext(ctx, db.q("SELECT SUM(size) FROM images WHERE owner = ? AND deleted = FALSE AND size IS NOT NULL"), owner).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("registry: usage of %s: %w", owner, err)
	}
	return n.Int64, nil
}

func cloneImage(img *image.Image) *image.Image {
	c := *img
	c.Name, c.Checksum, c.OSHashAlgo, c.OSHashValue = clonePtr(img.Name), clonePtr(img.Checksum), clonePtr(img.OSHashAlgo), clonePtr(img.OSHashValue)
	c.Size, c.VirtualSize = clonePtr(img.Size), clonePtr(img.VirtualSize)
	c.DiskFormat, c.ContainerFormat, c.Owner = clonePtr(img.DiskFormat), clonePtr(img.ContainerFormat), clonePtr(img.Owner)
	c.Tags = slices.Clone(img.Tags)
	if c.Tags == nil {
		c.Tags = []string{}
	}
	c.Properties = maps.Clone(img.Properties)
	if c.Properties == nil {
		c.Properties = map[string]string{}
	}
	c.Locations = slices.Clone(img.Locations)
	for i := range c.Locations {
		c.Locations[i].Metadata = maps.Clone(img.Locations[i].Metadata)
	}
	return &c
}

func clonePtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	v := *p
	return &v
}

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}

// imagesEqual reports whether an update changed nothing (then updated_at
// is left alone, as Glance saves nothing for an empty patch).
func imagesEqual(a, b *image.Image) bool {
	if !eqPtr(a.Name, b.Name) || a.Status != b.Status || a.Visibility != b.Visibility || a.Protected != b.Protected ||
		a.OSHidden != b.OSHidden || !eqPtr(a.Checksum, b.Checksum) || !eqPtr(a.OSHashAlgo, b.OSHashAlgo) ||
		!eqPtr(a.OSHashValue, b.OSHashValue) || !eqPtr(a.Size, b.Size) || !eqPtr(a.VirtualSize, b.VirtualSize) ||
		!eqPtr(a.DiskFormat, b.DiskFormat) || !eqPtr(a.ContainerFormat, b.ContainerFormat) || a.MinDisk != b.MinDisk ||
		a.MinRAM != b.MinRAM || !eqPtr(a.Owner, b.Owner) {
		return false
	}
	if !maps.Equal(a.Properties, b.Properties) || len(a.Tags) != len(b.Tags) || len(a.Locations) != len(b.Locations) {
		return false
	}
	for _, t := range a.Tags {
		if !slices.Contains(b.Tags, t) {
			return false
		}
	}
	for i := range a.Locations {
		if a.Locations[i].ID != b.Locations[i].ID || !maps.Equal(a.Locations[i].Metadata, b.Locations[i].Metadata) {
			return false
		}
	}
	return true
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
