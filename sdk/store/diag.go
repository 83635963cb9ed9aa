package store

import (
	"errors"
	"strings"
)

// Severity of a Diagnostic.
type Severity int

// Severities.
const (
	SeverityError Severity = iota + 1
	SeverityWarning
)

// Diagnostic is a problem found in a configuration. Path names the attribute
// it concerns, so the host can point at its line in config.hcl.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	Summary  string   `json:"summary"`
	Detail   string   `json:"detail,omitempty"`
	Path     []string `json:"path,omitempty"`
}

// Diagnostics is a list of problems.
type Diagnostics []Diagnostic

// Errorf appends an error diagnostic about the attribute at path.
func (d *Diagnostics) Errorf(path string, summary, detail string) {
	var p []string
	if path != "" {
		p = strings.Split(path, ".")
	}
	*d = append(*d, Diagnostic{Severity: SeverityError, Summary: summary, Detail: detail, Path: p})
}

// HasErrors reports whether any diagnostic is an error.
func (d Diagnostics) HasErrors() bool {
	for _, x := range d {
		if x.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Err returns the errors as one error wrapping ErrInvalidConfig, or nil.
func (d Diagnostics) Err() error {
	var msgs []string
	for _, x := range d {
		if x.Severity != SeverityError {
			continue
		}
		m := x.Summary
		if len(x.Path) > 0 {
			m = strings.Join(x.Path, ".") + ": " + m
		}
		if x.Detail != "" {
			m += ": " + x.Detail
		}
		msgs = append(msgs, m)
	}
	if len(msgs) == 0 {
		return nil
	}
	return errors.Join(ErrInvalidConfig, errors.New(strings.Join(msgs, "; ")))
}
