package registry

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/glance-go/glance/core/image"
)

const timeSecond = time.Second

// stamp is the current time as stored: UTC, whole seconds.
func (db *DB) stamp() time.Time { return db.now().UTC().Truncate(timeSecond) }

// querier is what *sql.DB and *sql.Tx share.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const imageColumns = "id, name, status, visibility, protected, os_hidden, checksum, os_hash_algo, os_hash_value, " +
	"size, virtual_size, disk_format, container_format, min_disk, min_ram, owner, created_at, updated_at"

// dbTime scans a timestamp whatever the driver returns for it.
type dbTime struct {
	t     time.Time
	valid bool
}

var timeLayouts = []string{
	"2006-01-02 15:04:05",
	"2006-01-02 15:04:05.999999999-07:00",
	"2006-01-02T15:04:05.999999999-07:00",
	"2006-01-02 15:04:05.999999999",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999 -0700 MST",
	time.RFC3339Nano,
}

func (d *dbTime) Scan(v any) error {
	switch x := v.(type) {
	case nil:
		*d = dbTime{}
		return nil
	case time.Time:
		*d = dbTime{t: x.UTC(), valid: true}
		return nil
	case []byte:
		return d.Scan(string(x))
	case string:
		for _, l := range timeLayouts {
			if t, err := time.Parse(l, x); err == nil {
				*d = dbTime{t: t.UTC(), valid: true}
				return nil
			}
		}
		return fmt.Errorf("registry: unreadable timestamp %q", x)
	case int64:
		*d = dbTime{t: time.Unix(x, 0).UTC(), valid: true}
		return nil
	}
	return fmt.Errorf("registry: unreadable timestamp of type %T", v)
}

type scanner interface{ Scan(dest ...any) error }

func scanImage(s scanner) (*image.Image, error) {
	var (
		img                                     image.Image
		name, checksum, algo, hashv, df, cf, ow sql.NullString
		size, vsize                             sql.NullInt64
		status, vis                             string
		created, updated                        dbTime
	)
	if err := s.Scan(&img.ID, &name, &status, &vis, &img.Protected, &img.OSHidden, &checksum, &algo, &hashv,
		&size, &vsize, &df, &cf, &img.MinDisk, &img.MinRAM, &ow, &created, &updated); err != nil {
		return nil, err
	}
	img.Status, img.Visibility = image.Status(status), image.Visibility(vis)
	img.Name, img.Checksum, img.OSHashAlgo, img.OSHashValue = nullStr(name), nullStr(checksum), nullStr(algo), nullStr(hashv)
	img.DiskFormat, img.ContainerFormat, img.Owner = nullStr(df), nullStr(cf), nullStr(ow)
	img.Size, img.VirtualSize = nullInt(size), nullInt(vsize)
	img.CreatedAt, img.UpdatedAt = created.t, updated.t
	img.Tags = []string{}
	img.Properties = map[string]string{}
	return &img, nil
}

func nullStr(s sql.NullString) *string {
	if !s.Valid {
		return nil
	}
	return &s.String
}

func nullInt(n sql.NullInt64) *int64 {
	if !n.Valid {
		return nil
	}
	return &n.Int64
}

// Get implements Repository.
func (db *DB) Get(ctx context.Context, id string) (*image.Image, error) {
	var img *image.Image
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		var err error
		img, err = scanImage(tx.QueryRowContext(ctx, db.q("SELECT "+imageColumns+" FROM images WHERE id = ? AND deleted = FALSE"), id))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		if err != nil {
			return fmt.Errorf("registry: get image %s: %w", id, err)
		}
		return db.loadChildren(ctx, tx, []*image.Image{img})
	})
	if err != nil {
		return nil, err
	}
	return img, nil
}

// placeholders returns "?, ?, …" for n values.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// loadChildren fills the properties, tags and active locations of imgs.
func (db *DB) loadChildren(ctx context.Context, q querier, imgs []*image.Image) error {
	if len(imgs) == 0 {
		return nil
	}
	byID := make(map[string]*image.Image, len(imgs))
	ids := make([]any, 0, len(imgs))
	for _, img := range imgs {
		byID[img.ID] = img
		ids = append(ids, img.ID)
	}
	in := "(" + placeholders(len(ids)) + ")"

	rows, err := q.QueryContext(ctx, db.q("SELECT image_id, name, value FROM image_properties WHERE image_id IN "+in), ids...)
	if err != nil {
		return fmt.Errorf("registry: load properties: %w", err)
	}
	for rows.Next() {
		var id, k, v string
		if err := rows.Scan(&id, &k, &v); err != nil {
			rows.Close()
			return fmt.Errorf("registry: load properties: %w", err)
		}
		byID[id].Properties[k] = v
	}
	if err := closeRows(rows); err != nil {
		return fmt.Errorf("registry: load properties: %w", err)
	}

	rows, err = q.QueryContext(ctx, db.q("SELECT image_id, value FROM image_tags WHERE image_id IN "+in+" ORDER BY image_id, value"), ids...)
	if err != nil {
		return fmt.Errorf("registry: load tags: %w", err)
	}
	for rows.Next() {
		var id, v string
		if err := rows.Scan(&id, &v); err != nil {
			rows.Close()
			return fmt.Errorf("registry: load tags: %w", err)
		}
		byID[id].Tags = append(byID[id].Tags, v)
	}
	if err := closeRows(rows); err != nil {
		return fmt.Errorf("registry: load tags: %w", err)
	}

	locs, err := db.queryLocations(ctx, q, "image_id IN "+in, ids...)
	if err != nil {
		return err
	}
	for _, l := range locs {
		img := byID[l.imageID]
		img.Locations = append(img.Locations, l.Location)
	}
	return nil
}

func closeRows(rows *sql.Rows) error {
	err := rows.Err()
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	return err
}

type locationRow struct {
	image.Location
	imageID string
}

// queryLocations returns the active locations matching where, oldest first.
func (db *DB) queryLocations(ctx context.Context, q querier, where string, args ...any) ([]locationRow, error) {
	args = append([]any{"active"}, args...)
	rows, err := q.QueryContext(ctx, db.q("SELECT id, image_id, url, metadata, status, store_id, created_at FROM image_locations WHERE status = ? AND "+
		where+" ORDER BY created_at, id"), args...)
	if err != nil {
		return nil, fmt.Errorf("registry: load locations: %w", err)
	}
	var out []locationRow
	for rows.Next() {
		var (
			l       locationRow
			meta    string
			storeID sql.NullString
			created dbTime
		)
		if err := rows.Scan(&l.ID, &l.imageID, &l.URL, &meta, &l.Status, &storeID, &created); err != nil {
			rows.Close()
			return nil, fmt.Errorf("registry: load locations: %w", err)
		}
		l.StoreID, l.CreatedAt = storeID.String, created.t
		if meta != "" && meta != "{}" {
			if err := json.Unmarshal([]byte(meta), &l.Metadata); err != nil {
				rows.Close()
				return nil, fmt.Errorf("registry: location %s metadata: %w", l.ID, err)
			}
		}
		out = append(out, l)
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("registry: load locations: %w", err)
	}
	return out, nil
}

// Create implements Repository.
func (db *DB) Create(ctx context.Context, img *image.Image) error {
	if img.ID == "" {
		return fmt.Errorf("registry: create: image without id")
	}
	if img.CreatedAt.IsZero() {
		img.CreatedAt = db.stamp()
	}
	img.CreatedAt = img.CreatedAt.UTC().Truncate(timeSecond)
	if img.UpdatedAt.IsZero() {
		img.UpdatedAt = img.CreatedAt
	}
	img.UpdatedAt = img.UpdatedAt.UTC().Truncate(timeSecond)
	err := db.tx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, db.q("SELECT COUNT(*) FROM images WHERE id = ?"), img.ID).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: %s", ErrDuplicate, img.ID)
		}
		if _, err := tx.ExecContext(ctx, db.q("INSERT INTO images ("+imageColumns+", deleted) VALUES ("+placeholders(18)+", FALSE)"),
			img.ID, img.Name, string(img.Status), string(img.Visibility), img.Protected, img.OSHidden, img.Checksum, img.OSHashAlgo, img.OSHashValue,
			img.Size, img.VirtualSize, img.DiskFormat, img.ContainerFormat, img.MinDisk, img.MinRAM, img.Owner, img.CreatedAt, img.UpdatedAt); err != nil {
			return err
		}
		for k, v := range img.Properties {
			if _, err := tx.ExecContext(ctx, db.q("INSERT INTO image_properties (image_id, name, value) VALUES (?, ?, ?)"), img.ID, k, v); err != nil {
				return err
			}
		}
		seen := map[string]bool{}
		for _, t := range img.Tags {
			if seen[t] {
				continue
			}
			seen[t] = true
			if err := db.insertTag(ctx, tx, img.ID, t); err != nil {
				return err
			}
		}
		for i := range img.Locations {
			if err := db.insertLocation(ctx, tx, img.ID, &img.Locations[i], img.CreatedAt); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case errors.Is(err, ErrDuplicate):
		return err
	case err != nil && db.d.isUnique(err):
		return fmt.Errorf("%w: %s", ErrDuplicate, img.ID)
	case err != nil:
		return fmt.Errorf("registry: create image %s: %w", img.ID, err)
	}
	return nil
}

// insertTag adds tag t to image id, with the image's created_at copied
// from its row (image_tags.image_created_at, which the tag list pages by:
// see tagDriven), so that the copy is the stored value itself.
func (db *DB) insertTag(ctx context.Context, tx *sql.Tx, id, t string) error {
	_, err := tx.ExecContext(ctx, db.q("INSERT INTO image_tags (image_id, value, image_created_at) SELECT id, CAST(? AS TEXT), created_at FROM images WHERE id = ?"), t, id)
	return err
}

func (db *DB) insertLocation(ctx context.Context, tx *sql.Tx, imageID string, l *image.Location, now time.Time) error {
	if l.ID == "" {
		l.ID = uuid.NewString()
	}
	if l.Status == "" {
		l.Status = "active"
	}
	if l.CreatedAt.IsZero() {
		l.CreatedAt = now
	}
	meta := []byte("{}")
	if len(l.Metadata) > 0 {
		var err error
		if meta, err = json.Marshal(l.Metadata); err != nil {
			return err
		}
	}
	var storeID any
	if l.StoreID != "" {
		storeID = l.StoreID
	}
	_, err := tx.ExecContext(ctx, db.q("INSERT INTO image_locations (id, image_id, url, metadata, status, store_id, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
		l.ID, imageID, l.URL, string(meta), l.Status, storeID, l.CreatedAt, now)
	return err
}

// conflict explains a compare-and-set that changed no row.
func (db *DB) conflict(ctx context.Context, q querier, id string, expected image.Status) error {
	var st string
	err := q.QueryRowContext(ctx, db.q("SELECT status FROM images WHERE id = ? AND deleted = FALSE"), id).Scan(&st)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return fmt.Errorf("registry: read status of %s: %w", id, err)
	}
	return &ConflictError{ID: id, Expected: expected, Actual: image.Status(st)}
}

// SetStatus implements Repository.
func (db *DB) SetStatus(ctx context.Context, id string, from, to image.Status) error {
	query := "UPDATE images SET status = ?, updated_at = ? WHERE id = ? AND status = ? AND deleted = FALSE"
	if to == image.StatusQueued {
		query = "UPDATE images SET status = ?, updated_at = ?, size = NULL, virtual_size = NULL WHERE id = ? AND status = ? AND deleted = FALSE"
	}
	res, err := db.w.ExecContext(ctx, db.q(query), string(to), db.stamp(), id, string(from))
	if err != nil {
		return fmt.Errorf("registry: set status of %s: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("registry: set status of %s: %w", id, err)
	}
	if n == 0 {
		return db.conflict(ctx, db.w, id, from)
	}
	return nil
}

// CommitUpload implements Repository.
func (db *DB) CommitUpload(ctx context.Context, id string, res UploadResult) error {
	now := db.stamp()
	return db.tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, db.q("UPDATE images SET status = ?, size = ?, virtual_size = ?, checksum = ?, os_hash_algo = ?, os_hash_value = ?, updated_at = ? "+
			"WHERE id = ? AND status = ? AND deleted = FALSE"),
			string(image.StatusActive), res.Size, res.VirtualSize, res.Checksum, res.HashAlgo, res.HashValue, now, id, string(image.StatusSaving))
		if err != nil {
			return fmt.Errorf("registry: commit upload of %s: %w", id, err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fmt.Errorf("registry: commit upload of %s: %w", id, err)
		} else if n == 0 {
			return db.conflict(ctx, tx, id, image.StatusSaving)
		}
		loc := res.Location
		if err := db.insertLocation(ctx, tx, id, &loc, now); err != nil {
			return fmt.Errorf("registry: record location of %s: %w", id, err)
		}
		return nil
	})
}

// Delete implements Repository.
func (db *DB) Delete(ctx context.Context, id string) ([]image.Location, error) {
	now := db.stamp()
	var locs []image.Location
	err := db.tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, db.q("UPDATE images SET deleted = TRUE, status = ?, deleted_at = ?, updated_at = ? WHERE id = ? AND deleted = FALSE AND protected = FALSE"),
			string(image.StatusDeleted), now, now, id)
		if err != nil {
			return fmt.Errorf("registry: delete %s: %w", id, err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return fmt.Errorf("registry: delete %s: %w", id, err)
		}
		if n == 0 {
			var protected bool
			err := tx.QueryRowContext(ctx, db.q("SELECT protected FROM images WHERE id = ? AND deleted = FALSE"), id).Scan(&protected)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return fmt.Errorf("%w: %s", ErrNotFound, id)
			case err != nil:
				return fmt.Errorf("registry: delete %s: %w", id, err)
			}
			return fmt.Errorf("%w: %s", ErrProtected, id)
		}
		rows, err := db.queryLocations(ctx, tx, "image_id = ?", id)
		if err != nil {
			return err
		}
		for _, l := range rows {
			locs = append(locs, l.Location)
		}
		if _, err := tx.ExecContext(ctx, db.q("UPDATE image_locations SET status = ?, updated_at = ? WHERE image_id = ? AND status = ?"),
			"deleted", now, id, "active"); err != nil {
			return fmt.Errorf("registry: delete locations of %s: %w", id, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return locs, nil
}

// Locations implements Repository.
func (db *DB) Locations(ctx context.Context, id string) ([]image.Location, error) {
	var locs []image.Location
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		var n int
		if err := tx.QueryRowContext(ctx, db.q("SELECT COUNT(*) FROM images WHERE id = ? AND deleted = FALSE"), id).Scan(&n); err != nil {
			return fmt.Errorf("registry: locations of %s: %w", id, err)
		}
		if n == 0 {
			return fmt.Errorf("%w: %s", ErrNotFound, id)
		}
		rows, err := db.queryLocations(ctx, tx, "image_id = ?", id)
		for _, l := range rows {
			locs = append(locs, l.Location)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return locs, nil
}
