package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/google/uuid"

	"github.com/glance-go/glance/core/image"
)

// Member errors. Compare with errors.Is.
var (
	// ErrMemberNotFound: the image has no live member with this id.
	ErrMemberNotFound = errors.New("registry: image member not found")
	// ErrMemberExists: the project is already a member of the image
	// (Glance's 409 "Member … is duplicated for image …").
	ErrMemberExists = errors.New("registry: image member already exists")
)

const memberColumns = "image_id, member, status, can_share, created_at, updated_at"

func scanMember(s scanner) (*image.Member, error) {
	var (
		m                image.Member
		status           string
		created, updated dbTime
	)
	if err := s.Scan(&m.ImageID, &m.MemberID, &status, &m.CanShare, &created, &updated); err != nil {
		return nil, err
	}
	m.Status, m.CreatedAt, m.UpdatedAt = image.MemberStatus(status), created.t, updated.t
	return &m, nil
}

// liveImage checks that id is a live image, within q.
func (db *DB) liveImage(ctx context.Context, q querier, id string) error {
	var n int
	if err := q.QueryRowContext(ctx, db.q("SELECT COUNT(*) FROM images WHERE id = ? AND deleted = FALSE"), id).Scan(&n); err != nil {
		return fmt.Errorf("registry: read image %s: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	return nil
}

// AddMember implements Repository: the new member is pending.
func (db *DB) AddMember(ctx context.Context, imageID, memberID string) (*image.Member, error) {
	now := db.stamp()
	m := &image.Member{ImageID: imageID, MemberID: memberID, Status: image.MemberPending, CreatedAt: now, UpdatedAt: now}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.liveImage(ctx, tx, imageID); err != nil {
			return err
		}
		var n int
		if err := tx.QueryRowContext(ctx, db.q("SELECT COUNT(*) FROM image_members WHERE image_id = ? AND member = ? AND deleted = FALSE"),
			imageID, memberID).Scan(&n); err != nil {
			return fmt.Errorf("registry: add member: %w", err)
		}
		if n > 0 {
			return fmt.Errorf("%w: %s of %s", ErrMemberExists, memberID, imageID)
		}
		_, err := tx.ExecContext(ctx, db.q("INSERT INTO image_members (id, "+memberColumns+", deleted) VALUES (?, ?, ?, ?, ?, ?, ?, FALSE)"),
			uuid.NewString(), imageID, memberID, string(m.Status), m.CanShare, now, now)
		return err
	})
	switch {
	case err == nil:
		return m, nil
	case errors.Is(err, ErrNotFound), errors.Is(err, ErrMemberExists):
		return nil, err
	case db.d.isUnique(err):
		// A concurrent add won the unique live (image, member) index.
		return nil, fmt.Errorf("%w: %s of %s", ErrMemberExists, memberID, imageID)
	}
	return nil, fmt.Errorf("registry: add member %s to %s: %w", memberID, imageID, err)
}

// GetMember implements Repository.
func (db *DB) GetMember(ctx context.Context, imageID, memberID string) (*image.Member, error) {
	var m *image.Member
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		if err := db.liveImage(ctx, tx, imageID); err != nil {
			return err
		}
		var err error
		m, err = scanMember(tx.QueryRowContext(ctx, db.q("SELECT "+memberColumns+" FROM image_members WHERE image_id = ? AND member = ? AND deleted = FALSE"),
			imageID, memberID))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: %s of %s", ErrMemberNotFound, memberID, imageID)
		}
		if err != nil {
			return fmt.Errorf("registry: get member %s of %s: %w", memberID, imageID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// ListMembers implements Repository: the live members, oldest first.
func (db *DB) ListMembers(ctx context.Context, imageID string) ([]*image.Member, error) {
	var out []*image.Member
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		if err := db.liveImage(ctx, tx, imageID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, db.q("SELECT "+memberColumns+" FROM image_members WHERE image_id = ? AND deleted = FALSE ORDER BY created_at, member"), imageID)
		if err != nil {
			return fmt.Errorf("registry: list members of %s: %w", imageID, err)
		}
		for rows.Next() {
			m, err := scanMember(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("registry: list members of %s: %w", imageID, err)
			}
			out = append(out, m)
		}
		if err := closeRows(rows); err != nil {
			return fmt.Errorf("registry: list members of %s: %w", imageID, err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// SetMemberStatus implements Repository.
func (db *DB) SetMemberStatus(ctx context.Context, imageID, memberID string, status image.MemberStatus) (*image.Member, error) {
	if !status.Valid() {
		return nil, invalidf("Invalid status: %s", status)
	}
	now := db.stamp()
	var m *image.Member
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.liveImage(ctx, tx, imageID); err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, db.q("UPDATE image_members SET status = ?, updated_at = ? WHERE image_id = ? AND member = ? AND deleted = FALSE"),
			string(status), now, imageID, memberID)
		if err != nil {
			return fmt.Errorf("registry: set member status: %w", err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fmt.Errorf("registry: set member status: %w", err)
		} else if n == 0 {
			return fmt.Errorf("%w: %s of %s", ErrMemberNotFound, memberID, imageID)
		}
		m, err = scanMember(tx.QueryRowContext(ctx, db.q("SELECT "+memberColumns+" FROM image_members WHERE image_id = ? AND member = ? AND deleted = FALSE"),
			imageID, memberID))
		if err != nil {
			return fmt.Errorf("registry: set member status: %w", err)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// DeleteMember implements Repository: a soft delete, as Glance's, so the
// project may be added again later.
func (db *DB) DeleteMember(ctx context.Context, imageID, memberID string) error {
	now := db.stamp()
	return db.tx(ctx, func(tx *sql.Tx) error {
		if err := db.liveImage(ctx, tx, imageID); err != nil {
			return err
		}
		r, err := tx.ExecContext(ctx, db.q("UPDATE image_members SET deleted = TRUE, deleted_at = ?, updated_at = ? WHERE image_id = ? AND member = ? AND deleted = FALSE"),
			now, now, imageID, memberID)
		if err != nil {
			return fmt.Errorf("registry: delete member %s of %s: %w", memberID, imageID, err)
		}
		if n, err := r.RowsAffected(); err != nil {
			return fmt.Errorf("registry: delete member %s of %s: %w", memberID, imageID, err)
		} else if n == 0 {
			return fmt.Errorf("%w: %s of %s", ErrMemberNotFound, memberID, imageID)
		}
		return nil
	})
}
