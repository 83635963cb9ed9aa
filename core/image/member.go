package image

import "time"

// MemberStatus is the state of an image membership (Glance's
// pending/accepted/rejected).
type MemberStatus string

// Member statuses. A new member is MemberPending.
const (
	MemberPending  MemberStatus = "pending"
	MemberAccepted MemberStatus = "accepted"
	MemberRejected MemberStatus = "rejected"
)

// Valid reports whether s is a known member status.
func (s MemberStatus) Valid() bool {
	return s == MemberPending || s == MemberAccepted || s == MemberRejected
}

// Member is a project an image is shared with.
type Member struct {
	ImageID   string
	MemberID  string // the project id
	Status    MemberStatus
	CanShare  bool
	CreatedAt time.Time // UTC, second precision
	UpdatedAt time.Time
}
