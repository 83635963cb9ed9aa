package storage

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// BinaryPrefix is the name prefix of store plugin binaries: plugin
// "filesystem" is the binary glance-store-filesystem.
const BinaryPrefix = "glance-store-"

var pluginName = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

// ErrBadPlugin is returned when a plugin binary cannot be used.
var ErrBadPlugin = errors.New("storage: unusable plugin binary")

// ResolveBinary finds the binary of plugin name in dir. It refuses names that
// could reach outside dir, links that lead outside it, and anything that is
// not an executable regular file.
func ResolveBinary(dir, name string) (string, error) {
	if !pluginName.MatchString(name) {
		return "", fmt.Errorf("%w: plugin name %q is not of the form [a-z0-9-]+", ErrBadPlugin, name)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("%w: plugin dir %q: %v", ErrBadPlugin, dir, err)
	}
	realDir, err := filepath.EvalSymlinks(absDir)
	if err != nil {
		return "", fmt.Errorf("%w: plugin dir %q: %v", ErrBadPlugin, dir, err)
	}
	path := filepath.Join(absDir, BinaryPrefix+name)
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v (is the plugin built? `make build` puts it in bin/)", ErrBadPlugin, path, err)
	}
	if rel, err := filepath.Rel(realDir, real); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", fmt.Errorf("%w: %s leads outside the plugin dir %s", ErrBadPlugin, path, realDir)
	}
	fi, err := os.Stat(real)
	if err != nil {
		return "", fmt.Errorf("%w: %s: %v", ErrBadPlugin, path, err)
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%w: %s is not an executable file", ErrBadPlugin, path)
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return "", fmt.Errorf("%w: %s is writable by anyone", ErrBadPlugin, path)
	}
	return real, nil
}
