package store

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
)

// DefaultChunkSize is the size of the chunks streamed between host and plugin
// unless configuration negotiates another.
const DefaultChunkSize = 1 << 20

// UnknownSize marks a PutRequest whose length is not known in advance.
const UnknownSize int64 = -1

// Info describes a store plugin.
type Info struct {
	// Name is the store type, e.g. "filesystem"; the host finds the plugin
	// binary as glance-store-<Name>.
	Name string `json:"name"`
	// Version is the plugin's own semantic version.
	Version string `json:"version"`
	// Schemes are the location URI schemes this store owns, e.g. "file".
	Schemes []string `json:"schemes"`
	// Description is one line for operators.
	Description string `json:"description,omitempty"`
	// ConfigSchema lists the attributes of the store's config {} block.
	ConfigSchema Schema `json:"config_schema"`
}

// Capabilities are what a configured store can do.
type Capabilities struct {
	Read             bool `json:"read"`
	ReadRange        bool `json:"read_range"`
	Write            bool `json:"write"`
	WriteUnknownSize bool `json:"write_unknown_size"`
	Delete           bool `json:"delete"`
	ConcurrentSafe   bool `json:"concurrent_safe"`
	// LocalFile means the store implements LocalFiler.
	LocalFile bool `json:"local_file"`
	// LocalPut means the store implements LocalWriter: the host may write
	// new objects itself into files the store prepares on its disk.
	LocalPut bool `json:"local_put"`
}

// Config is a store's decoded config {} block.
type Config struct {
	// StoreID is the label of the store block in config.hcl.
	StoreID string
	// JSON is the block as a JSON object, decoded by the host against the
	// store's schema.
	JSON []byte
	// ChunkSize is the chunk size the host proposes; a store may ignore it.
	ChunkSize int
}

// Decode unmarshals the config into v, rejecting attributes v does not know.
func (c Config) Decode(v any) error {
	raw := c.JSON
	if len(bytes.TrimSpace(raw)) == 0 {
		raw = []byte("{}")
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	return nil
}

// unknownField finds the attribute encoding/json names when it meets one
// the destination does not know; the json package has no typed error for it.
var unknownField = regexp.MustCompile(`unknown field "([^"]+)"`)

// DecodeDiagnostics decodes like Decode and reports a failure as one error
// diagnostic, whose Path names the attribute when it was an unknown one, so
// the host can point at its line in config.hcl.
func (c Config) DecodeDiagnostics(v any) Diagnostics {
	err := c.Decode(v)
	if err == nil {
		return nil
	}
	var d Diagnostics
	path := ""
	if m := unknownField.FindStringSubmatch(err.Error()); m != nil {
		path = m[1]
	}
	d.Errorf(path, "Invalid configuration", err.Error())
	return d
}

// PutRequest describes an object to store.
type PutRequest struct {
	// ImageID names the object; it is validated by the store.
	ImageID string
	// Size is the length in bytes, or UnknownSize.
	Size int64
	// Context carries request metadata (request id, project) for logs and
	// tagging; never credentials.
	Context map[string]string
}

// PutResult is what a successful Put returns.
type PutResult struct {
	// Location is the URI the host records; it never carries credentials.
	Location string
	// Size is the number of bytes stored.
	Size int64
	// Metadata is recorded beside the location.
	Metadata map[string]string
}

// Range selects part of an object: Length < 0 means to the end.
type Range struct {
	Offset int64
	Length int64
}

// Whole is the Range of a whole object.
var Whole = Range{Offset: 0, Length: -1}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Size     int64
	Metadata map[string]string
}
