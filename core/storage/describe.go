package storage

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"time"

	"github.com/glance-go/glance/sdk/store"
)

// errChecksum marks a binary whose sha256 differs from the configured one.
var errChecksum = errors.New("storage: plugin binary checksum mismatch")

// ParseSHA256 decodes a hex sha256 as written in config.hcl.
func ParseSHA256(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != sha256.Size {
		return nil, fmt.Errorf("%w: sha256 %q is not 64 hex digits", ErrBadPlugin, s)
	}
	return b, nil
}

// VerifySHA256 checks the binary at path against want (no-op when want is
// empty). go-plugin checks again right before it runs the binary.
func VerifySHA256(path string, want []byte) error {
	if len(want) == 0 {
		return nil
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrBadPlugin, err)
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return fmt.Errorf("%w: %v", ErrBadPlugin, err)
	}
	if got := h.Sum(nil); subtle.ConstantTimeCompare(got, want) != 1 {
		return fmt.Errorf("%w: %s has sha256 %x, config.hcl says %x", errChecksum, path, got, want)
	}
	return nil
}

// Describe runs `<binary> describe` and returns the plugin's Info, which
// carries the schema its config {} block is decoded against. The binary is
// verified first when want is set.
func Describe(ctx context.Context, path string, want []byte) (store.Info, error) {
	if err := VerifySHA256(path, want); err != nil {
		return store.Info{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, path, "describe")
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	if err := cmd.Run(); err != nil {
		return store.Info{}, fmt.Errorf("%w: %s describe: %v: %s", ErrBadPlugin, path, err, bytes.TrimSpace(errb.Bytes()))
	}
	var info store.Info
	if err := json.Unmarshal(out.Bytes(), &info); err != nil {
		return store.Info{}, fmt.Errorf("%w: %s describe printed no plugin info: %v", ErrBadPlugin, path, err)
	}
	if err := info.ConfigSchema.Validate(); err != nil {
		return store.Info{}, fmt.Errorf("%w: %s publishes a bad config schema: %v", ErrBadPlugin, path, err)
	}
	return info, nil
}
