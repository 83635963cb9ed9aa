package image

import "strings"

// validTargets is glance/domain Image.valid_state_targets.
func validTargets(from Status) []Status {
	switch from {
	case StatusQueued:
		return []Status{StatusSaving, StatusUploading, StatusImporting, StatusActive, StatusDeleted}
	case StatusSaving:
		return []Status{StatusActive, StatusKilled, StatusDeleted, StatusQueued}
	case StatusUploading:
		return []Status{StatusImporting, StatusQueued, StatusDeleted}
	case StatusImporting:
		return []Status{StatusActive, StatusDeleted, StatusQueued}
	case StatusActive:
		return []Status{StatusPendingDelete, StatusDeleted, StatusDeactivated}
	case StatusDeactivated:
		return []Status{StatusActive, StatusDeleted}
	case StatusKilled:
		return []Status{StatusDeleted}
	case StatusPendingDelete:
		return []Status{StatusDeleted, StatusActive}
	}
	return nil
}

// CanTransition reports whether the status machine allows from → to.
func CanTransition(from, to Status) bool {
	for _, s := range validTargets(from) {
		if s == to {
			return true
		}
	}
	return false
}

// Valid reports whether s is a known status.
func (s Status) Valid() bool {
	switch s {
	case StatusQueued, StatusSaving, StatusUploading, StatusImporting, StatusActive,
		StatusDeactivated, StatusKilled, StatusPendingDelete, StatusDeleted:
		return true
	}
	return false
}

// CheckTransition reports whether img may move to status to, as Glance's
// status setter does: a *TransitionError (409) for a move the machine
// refuses, then an ErrInvalid (400) when data is about to be saved while
// disk_format or container_format is unset.
func CheckTransition(img *Image, to Status) error {
	if !CanTransition(img.Status, to) {
		return &TransitionError{From: img.Status, To: to}
	}
	if (img.Status == StatusQueued || img.Status == StatusUploading) &&
		(to == StatusSaving || to == StatusActive || to == StatusImporting) {
		var missing []string
		if img.DiskFormat == nil || *img.DiskFormat == "" {
			missing = append(missing, "disk_format")
		}
		if img.ContainerFormat == nil || *img.ContainerFormat == "" {
			missing = append(missing, "container_format")
		}
		switch len(missing) {
		case 1:
			return Errorf(ErrInvalid, "Property %s must be set prior to saving data.", missing[0])
		case 2:
			return Errorf(ErrInvalid, "Properties %s must be set prior to saving data.", strings.Join(missing, ", "))
		}
	}
	return nil
}
