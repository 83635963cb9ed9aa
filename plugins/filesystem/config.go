package filesystem

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/glance-go/glance/sdk/store"
)

const defaultFilePerm fs.FileMode = 0o640

var schema = store.Schema{Attributes: []store.Attribute{
	{
		Name: "data_dir", Type: store.TypeString, Required: true,
		Description: "Directory holding the image files; created (0750) when missing. A relative path is taken from the plugin's working directory.",
	},
	{
		Name: "thin_provisioning", Type: store.TypeBool, Default: json.RawMessage(`false`),
		Description: "Leave all-zero runs of an image as holes, so sparse disk images take only the space of their data.",
	},
	{
		Name: "min_free_bytes", Type: store.TypeNumber, Default: json.RawMessage(`0`),
		Description: "Refuse an upload (storage full) that would leave less free space than this on the data_dir filesystem.",
	},
	{
		Name: "local_file", Type: store.TypeBool, Default: json.RawMessage(`true`),
		Description: "Let glance-api read image files directly from data_dir (sendfile) instead of streaming them over gRPC; it runs on the same host.",
	},
	{
		Name: "local_put", Type: store.TypeBool, Default: json.RawMessage(`true`),
		Description: "Let glance-api write uploads directly into a temporary file in data_dir that this store then checks and commits, instead of streaming them over gRPC; it runs on the same host. Not with thin_provisioning.",
	},
	{
		Name: "file_perm", Type: store.TypeString, Default: json.RawMessage(`"0640"`),
		Description: "Octal permission bits of image files, e.g. \"0640\"; the owner must be able to read and write.",
	},
}}

// rawConfig is the config {} block as the host sends it.
type rawConfig struct {
	DataDir          string      `json:"data_dir"`
	ThinProvisioning bool        `json:"thin_provisioning"`
	MinFreeBytes     json.Number `json:"min_free_bytes"`
	FilePerm         string      `json:"file_perm"`
	LocalFile        *bool       `json:"local_file"`
	LocalPut         *bool       `json:"local_put"`
}

// config is the checked configuration.
type config struct {
	dir     string // absolute and clean; locations are built from it
	thin    bool
	local   bool // offer the LocalFile fast path
	put     bool // local_put: offer the LocalPut fast path (see localPut)
	minFree int64
	perm    fs.FileMode
}

// localPut reports whether the LocalPut fast path is offered: thin
// provisioning needs this store's own writer, which leaves the holes.
func (c *config) localPut() bool { return c.put && !c.thin }

// parseConfig decodes and checks cfg without touching the filesystem.
func parseConfig(cfg store.Config) (config, store.Diagnostics) {
	var (
		raw   rawConfig
		diags store.Diagnostics
		c     = config{perm: defaultFilePerm}
	)
	if diags = cfg.DecodeDiagnostics(&raw); diags.HasErrors() {
		return c, diags
	}

	switch {
	case strings.TrimSpace(raw.DataDir) == "":
		diags.Errorf("data_dir", "Missing data_dir", "The filesystem store needs the directory that holds its images.")
	case strings.ContainsRune(raw.DataDir, 0):
		diags.Errorf("data_dir", "Invalid data_dir", "The path contains a NUL byte.")
	default:
		abs, err := filepath.Abs(raw.DataDir)
		if err != nil {
			diags.Errorf("data_dir", "Invalid data_dir", err.Error())
		}
		c.dir = abs // Abs cleans
	}

	c.thin = raw.ThinProvisioning
	c.local = raw.LocalFile == nil || *raw.LocalFile
	c.put = raw.LocalPut == nil || *raw.LocalPut

	if raw.MinFreeBytes != "" {
		n, err := parseBytes(raw.MinFreeBytes)
		if err != nil {
			diags.Errorf("min_free_bytes", "Invalid min_free_bytes", err.Error())
		}
		c.minFree = n
	}

	if raw.FilePerm != "" {
		p, err := strconv.ParseUint(raw.FilePerm, 8, 32)
		switch {
		case err != nil || p > 0o777:
			diags.Errorf("file_perm", "Invalid file_perm",
				fmt.Sprintf("%q is not an octal permission such as \"0640\".", raw.FilePerm))
		case p&0o600 != 0o600:
			// The store reads its files back, and a later upgrade may
			// rewrite them: an owner without rw would lock itself out.
			diags.Errorf("file_perm", "Invalid file_perm",
				fmt.Sprintf("%q does not let the owner read and write the image files.", raw.FilePerm))
		default:
			c.perm = fs.FileMode(p)
		}
	}
	return c, diags
}

// parseBytes reads a non-negative whole number of bytes. HCL numbers may
// arrive as 1e+09, so an integral float is accepted too.
func parseBytes(n json.Number) (int64, error) {
	if i, err := n.Int64(); err == nil {
		if i < 0 {
			return 0, fmt.Errorf("%d is negative", i)
		}
		return i, nil
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || f < 0 || f > math.MaxInt64 {
		return 0, fmt.Errorf("%s is not a whole number of bytes", n)
	}
	return int64(f), nil
}

// checkDataDir reports whether dir can serve as data_dir, without creating
// it: it must be a writable directory, or not exist below a writable one.
func checkDataDir(dir string, diags *store.Diagnostics) {
	p := dir
	for {
		fi, err := os.Stat(p)
		if err == nil {
			switch {
			case !fi.IsDir() && p == dir:
				diags.Errorf("data_dir", "data_dir is not a directory", dir+" exists and is not a directory.")
			case !fi.IsDir():
				diags.Errorf("data_dir", "data_dir cannot be created", p+" is not a directory.")
			case !writable(p) && p == dir:
				diags.Errorf("data_dir", "data_dir is not writable", dir+" is not writable by the plugin's user.")
			case !writable(p):
				diags.Errorf("data_dir", "data_dir cannot be created", p+" is not writable by the plugin's user.")
			}
			return
		}
		if !errors.Is(err, fs.ErrNotExist) {
			diags.Errorf("data_dir", "data_dir is not usable", err.Error())
			return
		}
		parent := filepath.Dir(p)
		if parent == p {
			return
		}
		p = parent
	}
}
