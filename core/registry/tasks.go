package registry

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/glance-go/glance/core/image"
)

// ErrTaskNotFound: there is no live task with this id.
var ErrTaskNotFound = errors.New("registry: task not found")

// TaskConflictError is a lost task status compare-and-set.
type TaskConflictError struct {
	ID               string
	Expected, Actual image.TaskStatus
}

func (e *TaskConflictError) Error() string {
	return fmt.Sprintf("registry: task %s is %s, not %s", e.ID, e.Actual, e.Expected)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *TaskConflictError) Is(target error) bool { return target == ErrConflict }

// TaskQuery selects a page of tasks.
type TaskQuery struct {
	// Limit is the page size; <= 0 means no limit.
	Limit int
	// Marker is the id of the last task of the previous page; unknown →
	// ErrInvalidMarker.
	Marker string
	// Owner, when set, keeps only this project's tasks (a non-admin's
	// view).
	Owner *string
	// Type and Status, when not empty, must match.
	Type   string
	Status image.TaskStatus
	// SortKey is one of created_at (default), updated_at, id, type or
	// status; SortDir asc or desc (default). id breaks ties.
	SortKey string
	SortDir string
}

const taskColumns = "t.id, t.type, t.status, t.owner, t.image_id, t.request_id, t.user_id, t.expires_at, t.created_at, t.updated_at, " +
	"i.input, i.result, i.message"

const taskFrom = " FROM tasks t LEFT JOIN task_info i ON i.task_id = t.id"

func scanTask(s scanner) (*image.Task, error) {
	var (
		t                             image.Task
		status                        string
		owner, imageID, reqID, userID sql.NullString
		input, result, message        sql.NullString
		expires, created, updated     dbTime
	)
	if err := s.Scan(&t.ID, &t.Type, &status, &owner, &imageID, &reqID, &userID, &expires, &created, &updated,
		&input, &result, &message); err != nil {
		return nil, err
	}
	t.Status = image.TaskStatus(status)
	t.Owner, t.ImageID, t.RequestID, t.UserID = nullStr(owner), nullStr(imageID), nullStr(reqID), nullStr(userID)
	if expires.valid {
		t.ExpiresAt = &expires.t
	}
	t.CreatedAt, t.UpdatedAt = created.t, updated.t
	if input.Valid {
		t.Input = []byte(input.String)
	}
	if result.Valid {
		t.Result = []byte(result.String)
	}
	t.Message = message.String
	return &t, nil
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// CreateTask implements Repository: the task and its info in one
// transaction; CreatedAt and UpdatedAt are filled when zero.
func (db *DB) CreateTask(ctx context.Context, t *image.Task) error {
	if t.ID == "" {
		return fmt.Errorf("registry: create task: task without id")
	}
	if t.Status == "" {
		t.Status = image.TaskPending
	}
	if t.CreatedAt.IsZero() {
		t.CreatedAt = db.stamp()
	}
	t.CreatedAt = t.CreatedAt.UTC().Truncate(timeSecond)
	if t.UpdatedAt.IsZero() {
		t.UpdatedAt = t.CreatedAt
	}
	t.UpdatedAt = t.UpdatedAt.UTC().Truncate(timeSecond)
	var expires any
	if t.ExpiresAt != nil {
		expires = t.ExpiresAt.UTC().Truncate(timeSecond)
	}
	err := db.tx(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, db.q("INSERT INTO tasks (id, type, status, owner, image_id, request_id, user_id, expires_at, created_at, updated_at, deleted) "+
			"VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, FALSE)"),
			t.ID, t.Type, string(t.Status), t.Owner, t.ImageID, t.RequestID, t.UserID, expires, t.CreatedAt, t.UpdatedAt); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, db.q("INSERT INTO task_info (task_id, input, result, message) VALUES (?, ?, ?, ?)"),
			t.ID, nullBytes(t.Input), nullBytes(t.Result), t.Message)
		return err
	})
	switch {
	case err != nil && db.d.isUnique(err):
		return fmt.Errorf("%w: task %s", ErrDuplicate, t.ID)
	case err != nil:
		return fmt.Errorf("registry: create task %s: %w", t.ID, err)
	}
	return nil
}

// GetTask implements Repository.
func (db *DB) GetTask(ctx context.Context, id string) (*image.Task, error) {
	t, err := scanTask(db.r.QueryRowContext(ctx, db.q("SELECT "+taskColumns+taskFrom+" WHERE t.id = ? AND t.deleted = FALSE"), id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s", ErrTaskNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("registry: get task %s: %w", id, err)
	}
	return t, nil
}

// SetTaskStatus implements Repository: a compare-and-set from → to that
// also records the result (JSON, nil keeps it) and message.
func (db *DB) SetTaskStatus(ctx context.Context, id string, from, to image.TaskStatus, result []byte, message string) error {
	now := db.stamp()
	return db.tx(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, db.q("UPDATE tasks SET status = ?, updated_at = ? WHERE id = ? AND status = ? AND deleted = FALSE"),
			string(to), now, id, string(from))
		if err != nil {
			return fmt.Errorf("registry: set task status of %s: %w", id, err)
		}
		n, err := r.RowsAffected()
		if err != nil {
			return fmt.Errorf("registry: set task status of %s: %w", id, err)
		}
		if n == 0 {
			var st string
			err := tx.QueryRowContext(ctx, db.q("SELECT status FROM tasks WHERE id = ? AND deleted = FALSE"), id).Scan(&st)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: %s", ErrTaskNotFound, id)
			}
			if err != nil {
				return fmt.Errorf("registry: set task status of %s: %w", id, err)
			}
			return &TaskConflictError{ID: id, Expected: from, Actual: image.TaskStatus(st)}
		}
		if _, err := tx.ExecContext(ctx, db.q("UPDATE task_info SET result = COALESCE(?, result), message = ? WHERE task_id = ?"),
			nullBytes(result), message, id); err != nil {
			return fmt.Errorf("registry: set task info of %s: %w", id, err)
		}
		return nil
	})
}

// ListTasks implements Repository.
func (db *DB) ListTasks(ctx context.Context, q TaskQuery) ([]*image.Task, error) {
	key := q.SortKey
	if key == "" {
		key = "created_at"
	}
	switch key {
	case "created_at", "updated_at", "id", "type", "status":
	default:
		return nil, invalidf("Invalid sort key: %s", key)
	}
	dir := q.SortDir
	if dir == "" {
		dir = "desc"
	}
	if dir != "asc" && dir != "desc" {
		return nil, invalidf("Invalid sort direction: %s", dir)
	}
	var out []*image.Task
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		var b listSQL
		b.add("t.deleted = FALSE")
		if q.Owner != nil {
			b.add("t.owner = ?", *q.Owner)
		}
		if q.Type != "" {
			b.add("t.type = ?", q.Type)
		}
		if q.Status != "" {
			b.add("t.status = ?", string(q.Status))
		}
		if q.Marker != "" {
			var v any
			var kv dbTime
			var ks string
			dest := any(&ks)
			if strings.HasSuffix(key, "_at") {
				dest = &kv
			}
			err := tx.QueryRowContext(ctx, db.q("SELECT t."+key+" FROM tasks t WHERE t.id = ? AND t.deleted = FALSE"), q.Marker).Scan(dest)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: %s", ErrInvalidMarker, q.Marker)
			}
			if err != nil {
				return fmt.Errorf("registry: read task marker %s: %w", q.Marker, err)
			}
			v = ks
			if strings.HasSuffix(key, "_at") {
				v = kv.t
			}
			op := "<"
			if dir == "asc" {
				op = ">"
			}
			if key == "id" {
				b.add("t.id "+op+" ?", q.Marker)
			} else {
				b.add("(t."+key+", t.id) "+op+" (?, ?)", v, q.Marker)
			}
		}
		order := "t." + key + " " + dir
		if key != "id" {
			order += ", t.id " + dir
		}
		query := "SELECT " + taskColumns + taskFrom + " WHERE " + strings.Join(b.where, " AND ") + " ORDER BY " + order
		if q.Limit > 0 {
			query += " LIMIT ?"
			b.args = append(b.args, q.Limit)
		}
		rows, err := tx.QueryContext(ctx, db.q(query), b.args...)
		if err != nil {
			return fmt.Errorf("registry: list tasks: %w", err)
		}
		for rows.Next() {
			t, err := scanTask(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("registry: list tasks: %w", err)
			}
			out = append(out, t)
		}
		return closeRows(rows)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ImageTasks implements Repository: the tasks of a live image, newest
// first (GET /v2/images/{id}/tasks).
func (db *DB) ImageTasks(ctx context.Context, imageID string) ([]*image.Task, error) {
	var out []*image.Task
	err := db.readTx(ctx, func(tx *sql.Tx) error {
		if err := db.liveImage(ctx, tx, imageID); err != nil {
			return err
		}
		rows, err := tx.QueryContext(ctx, db.q("SELECT "+taskColumns+taskFrom+" WHERE t.image_id = ? AND t.deleted = FALSE ORDER BY t.created_at DESC, t.id DESC"), imageID)
		if err != nil {
			return fmt.Errorf("registry: tasks of %s: %w", imageID, err)
		}
		for rows.Next() {
			t, err := scanTask(rows)
			if err != nil {
				rows.Close()
				return fmt.Errorf("registry: tasks of %s: %w", imageID, err)
			}
			out = append(out, t)
		}
		return closeRows(rows)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DeleteTask implements Repository (Glance's expired-task cleanup): a soft
// delete.
func (db *DB) DeleteTask(ctx context.Context, id string) error {
	now := db.stamp()
	r, err := db.w.ExecContext(ctx, db.q("UPDATE tasks SET deleted = TRUE, deleted_at = ?, updated_at = ? WHERE id = ? AND deleted = FALSE"), now, now, id)
	if err != nil {
		return fmt.Errorf("registry: delete task %s: %w", id, err)
	}
	if n, err := r.RowsAffected(); err != nil {
		return fmt.Errorf("registry: delete task %s: %w", id, err)
	} else if n == 0 {
		return fmt.Errorf("%w: %s", ErrTaskNotFound, id)
	}
	return nil
}
