package store

import (
	"encoding/json"
	"fmt"
	"strings"
)

// AttrType is the type of a config attribute.
type AttrType int

// Attribute types. The zero value is invalid so that a forgotten type is
// caught.
const (
	TypeInvalid AttrType = iota
	TypeString
	TypeNumber
	TypeBool
	TypeListOfString
	TypeMapOfString
	TypeDuration // a string such as "30s", parsed with time.ParseDuration
)

var attrTypeNames = map[AttrType]string{
	TypeString: "string", TypeNumber: "number", TypeBool: "bool",
	TypeListOfString: "list(string)", TypeMapOfString: "map(string)", TypeDuration: "duration",
}

func (t AttrType) String() string {
	if n, ok := attrTypeNames[t]; ok {
		return n
	}
	return fmt.Sprintf("AttrType(%d)", int(t))
}

// MarshalText writes the type's name, so describe output reads well.
func (t AttrType) MarshalText() ([]byte, error) {
	if _, ok := attrTypeNames[t]; !ok {
		return nil, fmt.Errorf("store: invalid attribute type %d", int(t))
	}
	return []byte(t.String()), nil
}

// UnmarshalText parses a type name written by MarshalText.
func (t *AttrType) UnmarshalText(b []byte) error {
	for k, v := range attrTypeNames {
		if v == string(b) {
			*t = k
			return nil
		}
	}
	return fmt.Errorf("store: unknown attribute type %q", b)
}

// Attribute is one attribute of a store's config {} block.
type Attribute struct {
	Name        string   `json:"name"`
	Type        AttrType `json:"type"`
	Required    bool     `json:"required,omitempty"`
	Sensitive   bool     `json:"sensitive,omitempty"` // never logged nor returned
	Description string   `json:"description,omitempty"`
	// Default is the JSON value used when the attribute is absent.
	Default json.RawMessage `json:"default,omitempty"`
}

// Schema is the shape of a store's config {} block.
type Schema struct {
	Attributes []Attribute `json:"attributes"`
}

// Attribute returns the attribute called name.
func (s Schema) Attribute(name string) (Attribute, bool) {
	for _, a := range s.Attributes {
		if a.Name == name {
			return a, true
		}
	}
	return Attribute{}, false
}

// Validate checks the schema itself: names lower_snake_case, unique, typed,
// and defaults that parse.
func (s Schema) Validate() error {
	seen := map[string]bool{}
	for _, a := range s.Attributes {
		if !validAttrName(a.Name) {
			return fmt.Errorf("%w: attribute name %q is not lower_snake_case", ErrInvalidArgument, a.Name)
		}
		if seen[a.Name] {
			return fmt.Errorf("%w: attribute %q declared twice", ErrInvalidArgument, a.Name)
		}
		seen[a.Name] = true
		if _, ok := attrTypeNames[a.Type]; !ok {
			return fmt.Errorf("%w: attribute %q has no type", ErrInvalidArgument, a.Name)
		}
		if len(a.Default) > 0 && !json.Valid(a.Default) {
			return fmt.Errorf("%w: attribute %q default is not JSON", ErrInvalidArgument, a.Name)
		}
	}
	return nil
}

// SensitiveValues returns the string values of the sensitive attributes in a
// config JSON object, so callers can make sure none leaks into a location or
// a log line.
func (s Schema) SensitiveValues(configJSON []byte) []string {
	var m map[string]json.RawMessage
	if json.Unmarshal(configJSON, &m) != nil {
		return nil
	}
	var out []string
	for _, a := range s.Attributes {
		var v string
		if a.Sensitive && json.Unmarshal(m[a.Name], &v) == nil && v != "" {
			out = append(out, v)
		}
	}
	return out
}

func validAttrName(n string) bool {
	if n == "" || n[0] < 'a' || n[0] > 'z' || strings.HasSuffix(n, "_") {
		return false
	}
	for _, r := range n {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
