package image

import "time"

// TaskStatus is the state of an asynchronous task (Glance's tasks API).
type TaskStatus string

// Task statuses: pending → processing → success | failure.
const (
	TaskPending    TaskStatus = "pending"
	TaskProcessing TaskStatus = "processing"
	TaskSuccess    TaskStatus = "success"
	TaskFailure    TaskStatus = "failure"
)

// Task is an import or other asynchronous job, with its task info.
type Task struct {
	ID        string
	Type      string // e.g. "import", "api_image_import"
	Status    TaskStatus
	Owner     *string
	ImageID   *string
	RequestID *string
	UserID    *string
	ExpiresAt *time.Time
	CreatedAt time.Time // UTC, second precision
	UpdatedAt time.Time
	// Input and Result are JSON documents (nil when absent).
	Input   []byte
	Result  []byte
	Message string
}
