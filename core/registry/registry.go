package registry

import (
	"context"
	"errors"
	"fmt"

	"github.com/glance-go/glance/core/image"
)

// Repository is the image store of the domain.
type Repository interface {
	// Get returns a live image with its properties, tags and active
	// locations, or ErrNotFound (deleted images are not found).
	Get(ctx context.Context, id string) (*image.Image, error)
	// Create inserts img (id, status, visibility set by the caller); it
	// fills CreatedAt and UpdatedAt when zero. An id that exists, even
	// deleted, gives ErrDuplicate.
	Create(ctx context.Context, img *image.Image) error
	// SetStatus moves a live image from status from to status to, as a
	// compare-and-set: ErrNotFound when there is no such live image, a
	// *ConflictError (ErrConflict) when its status is not from. Moving to
	// queued clears size and virtual_size, as Glance does.
	SetStatus(ctx context.Context, id string, from, to image.Status) error
	// CommitUpload records uploaded data in one transaction: saving →
	// active (compare-and-set), size, checksums and the location. Nothing
	// changes when it fails: ErrNotFound if the image was deleted
	// meanwhile, a *ConflictError if it left saving.
	CommitUpload(ctx context.Context, id string, res UploadResult) error
	// Delete soft-deletes a live image (status deleted, deleted_at) and
	// returns the locations whose data the caller must now delete.
	// ErrNotFound if absent, ErrProtected if protected.
	Delete(ctx context.Context, id string) ([]image.Location, error)
	// List returns a page of the live images q.Caller may see that match
	// q, in q's order (Glance's rules: see ListQuery), from after q.Marker.
	// An unknown or invisible marker gives ErrInvalidMarker; a bad sort
	// key, direction or filter an error wrapping ErrInvalidQuery.
	List(ctx context.Context, q ListQuery) ([]*image.Image, error)
	// Locations returns the active locations of a live image, oldest first.
	Locations(ctx context.Context, id string) ([]image.Location, error)
	// AddMember shares a live image with a project: a pending member.
	// ErrNotFound for no such image, ErrMemberExists if already a member.
	AddMember(ctx context.Context, imageID, memberID string) (*image.Member, error)
	// GetMember returns a live member: ErrNotFound (image), ErrMemberNotFound.
	GetMember(ctx context.Context, imageID, memberID string) (*image.Member, error)
	// ListMembers returns the live members of a live image, oldest first.
	ListMembers(ctx context.Context, imageID string) ([]*image.Member, error)
	// SetMemberStatus sets a live member's status and returns it.
	SetMemberStatus(ctx context.Context, imageID, memberID string, status image.MemberStatus) (*image.Member, error)
	// DeleteMember soft-deletes a live member; the project may be added again.
	DeleteMember(ctx context.Context, imageID, memberID string) error
	// CreateTask records a task and its info; an existing id gives ErrDuplicate.
	CreateTask(ctx context.Context, t *image.Task) error
	// GetTask returns a live task or ErrTaskNotFound.
	GetTask(ctx context.Context, id string) (*image.Task, error)
	// SetTaskStatus moves a task from → to (compare-and-set: a
	// *TaskConflictError, ErrConflict, when it is not from) with its
	// result (nil keeps it) and message.
	SetTaskStatus(ctx context.Context, id string, from, to image.TaskStatus, result []byte, message string) error
	// ListTasks returns a page of live tasks (TaskQuery).
	ListTasks(ctx context.Context, q TaskQuery) ([]*image.Task, error)
	// ImageTasks returns the tasks of a live image, newest first.
	ImageTasks(ctx context.Context, imageID string) ([]*image.Task, error)
	// DeleteTask soft-deletes a live task.
	DeleteTask(ctx context.Context, id string) error
	// Update reads a live image, lets fn change it and writes the result,
	// all in one transaction that no other write of the image interleaves
	// with: a status fn changes is a compare-and-set on the status fn saw.
	// fn's error is returned as is and nothing changes; ErrNotFound if
	// there is no such live image. Tags, properties and locations are
	// replaced by fn's (a location without id is added, a missing one
	// marked deleted). updated_at moves only if something changed. It
	// returns the image as stored.
	Update(ctx context.Context, id string, fn func(img *image.Image) error) (*image.Image, error)
	// ProjectUsage returns the bytes of data held by the live images owned
	// by owner.
	ProjectUsage(ctx context.Context, owner string) (int64, error)
}

// UploadResult is what an upload produced.
type UploadResult struct {
	Size int64
	// VirtualSize is nil when the format was not inspected.
	VirtualSize *int64
	Checksum    string // hex MD5
	HashAlgo    string // e.g. sha512
	HashValue   string // hex
	Location    image.Location
}

// Errors. Compare with errors.Is.
var (
	ErrNotFound      = errors.New("registry: image not found")
	ErrDuplicate     = errors.New("registry: image id already exists")
	ErrConflict      = errors.New("registry: image status changed concurrently")
	ErrProtected     = errors.New("registry: image is protected")
	ErrInvalidMarker = errors.New("registry: marker image not found")
	// ErrSchemaOutdated: the database is older than this binary; run
	// `glance-manage db migrate`.
	ErrSchemaOutdated = errors.New("registry: database schema is older than this binary")
	// ErrSchemaTooNew: the database was migrated by a newer glance-go.
	ErrSchemaTooNew = errors.New("registry: database schema is newer than this binary")
	// ErrUnsupportedDriver names a driver other than sqlite and postgres.
	ErrUnsupportedDriver = errors.New("registry: unsupported driver")
)

// ConflictError is a lost compare-and-set: the image exists with another
// status than expected.
type ConflictError struct {
	ID       string
	Expected image.Status
	Actual   image.Status
}

func (e *ConflictError) Error() string {
	return fmt.Sprintf("registry: image %s is %s, not %s", e.ID, e.Actual, e.Expected)
}

// Is makes errors.Is(err, ErrConflict) true.
func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
