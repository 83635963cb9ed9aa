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
	// List returns live images, newest first, id descending as tie-breaker,
	// from after q.Marker. An unknown marker gives ErrInvalidMarker.
	List(ctx context.Context, q ListQuery) ([]*image.Image, error)
	// Locations returns the active locations of a live image, oldest first.
	Locations(ctx context.Context, id string) ([]image.Location, error)
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

// ListQuery selects a page of images.
type ListQuery struct {
	// Limit is the page size; <= 0 means no limit.
	Limit int
	// Marker is the id of the last image of the previous page.
	Marker string
	// OSHidden, when set, keeps only images whose os_hidden equals it.
	OSHidden *bool
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
