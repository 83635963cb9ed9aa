package image

import (
	"slices"
	"time"
)

// Status is an image status (glance/domain Image.valid_state_targets).
type Status string

// Statuses.
const (
	StatusQueued        Status = "queued"
	StatusSaving        Status = "saving"
	StatusUploading     Status = "uploading"
	StatusImporting     Status = "importing"
	StatusActive        Status = "active"
	StatusDeactivated   Status = "deactivated"
	StatusKilled        Status = "killed"
	StatusPendingDelete Status = "pending_delete"
	StatusDeleted       Status = "deleted"
)

// Visibility of an image.
type Visibility string

// Visibilities. New images are VisibilityShared, as in Glance.
const (
	VisibilityPublic    Visibility = "public"
	VisibilityCommunity Visibility = "community"
	VisibilityShared    Visibility = "shared"
	VisibilityPrivate   Visibility = "private"
)

// DefaultHashAlgo is Glance's default hashing_algorithm for os_hash_value.
const DefaultHashAlgo = "sha512"

// Location is where a store keeps an image's data.
type Location struct {
	ID string
	// URL is the store's location URI; it never embeds credentials.
	URL string
	// Metadata is what the store returned beside the location.
	Metadata map[string]string
	// Status is "active" or "deleted" (Glance's location status).
	Status string
	// StoreID is the id of the store block in config.hcl.
	StoreID   string
	CreatedAt time.Time
}

// Image is an image record. Pointers are the attributes Glance shows as
// null when unset.
type Image struct {
	ID              string
	Name            *string
	Status          Status
	Visibility      Visibility
	Protected       bool
	OSHidden        bool
	Checksum        *string // hex MD5 of the data
	OSHashAlgo      *string
	OSHashValue     *string
	Size            *int64
	VirtualSize     *int64
	DiskFormat      *string
	ContainerFormat *string
	MinDisk         int64 // GB
	MinRAM          int64 // MB
	Owner           *string
	CreatedAt       time.Time // UTC, second precision
	UpdatedAt       time.Time
	// Tags are unique, in no particular order.
	Tags []string
	// Properties are the extra (custom) string properties.
	Properties map[string]string
	// Locations are the active locations, oldest first.
	Locations []Location
}

// StoreIDs returns the distinct store ids of the image's locations, in
// location order.
func (img *Image) StoreIDs() []string {
	var ids []string
	for _, l := range img.Locations {
		if l.StoreID != "" && !slices.Contains(ids, l.StoreID) {
			ids = append(ids, l.StoreID)
		}
	}
	return ids
}

// Ptr returns a pointer to v, for the nullable attributes.
func Ptr[T any](v T) *T { return &v }
