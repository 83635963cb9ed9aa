package rbd

import (
	"encoding/json"
	"fmt"
	"math"
	"math/bits"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/glance-go/glance/sdk/store"
)

const (
	defaultCephConf       = "/etc/ceph/ceph.conf"
	defaultPool           = "images"
	defaultChunkSize      = 8 << 20
	defaultConnectTimeout = 30 * time.Second
	minOrder, maxOrder    = 12, 25 // what librbd accepts: 4 KiB … 32 MiB objects
)

var schema = store.Schema{Attributes: []store.Attribute{
	{
		Name: "ceph_conf", Type: store.TypeString, Default: json.RawMessage(`"` + defaultCephConf + `"`),
		Description: "Path of ceph.conf: monitors, and the keyring of the user (keyring = …).",
	},
	{
		Name: "user", Type: store.TypeString, Default: json.RawMessage(`""`),
		Description: "Cephx user id without the \"client.\" prefix, e.g. \"glance\"; empty means librados' default (admin).",
	},
	{
		Name: "pool", Type: store.TypeString, Default: json.RawMessage(`"` + defaultPool + `"`),
		Description: "The RADOS pool of the images; it must exist and be initialised for RBD.",
	},
	{
		Name: "chunk_size", Type: store.TypeNumber, Default: json.RawMessage(fmt.Sprint(defaultChunkSize)),
		Description: "RBD object size in bytes: a power of two from 4096 to 33554432 (Glance's rbd_store_chunk_size, 8 MiB).",
	},
	{
		Name: "connect_timeout", Type: store.TypeDuration, Default: json.RawMessage(`"30s"`),
		Description: "How long connecting to the monitors, and each monitor operation, may take.",
	},
}}

// rawConfig is the config {} block as the host sends it.
type rawConfig struct {
	CephConf       string      `json:"ceph_conf"`
	User           string      `json:"user"`
	Pool           string      `json:"pool"`
	ChunkSize      json.Number `json:"chunk_size"`
	ConnectTimeout string      `json:"connect_timeout"`
}

// config is the checked configuration.
type config struct {
	cephConf       string
	user           string
	pool           string
	order          int // log2 of the object size
	connectTimeout time.Duration
}

func (c *config) chunk() int { return 1 << c.order }

var (
	userRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)
	poolRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)
)

// parseConfig decodes and checks cfg without touching the cluster.
func parseConfig(cfg store.Config) (config, store.Diagnostics) {
	var (
		raw   rawConfig
		diags store.Diagnostics
		c     = config{cephConf: defaultCephConf, pool: defaultPool, order: 23, connectTimeout: defaultConnectTimeout}
	)
	if diags = cfg.DecodeDiagnostics(&raw); diags.HasErrors() {
		return c, diags
	}
	if raw.CephConf != "" {
		c.cephConf = raw.CephConf
	}
	if strings.ContainsRune(c.cephConf, 0) {
		diags.Errorf("ceph_conf", "Invalid ceph_conf", "The path contains a NUL byte.")
	}
	if raw.User != "" {
		u := strings.TrimPrefix(raw.User, "client.")
		if !userRE.MatchString(u) {
			diags.Errorf("user", "Invalid user", fmt.Sprintf("%q is not a cephx user id such as \"glance\".", raw.User))
		}
		c.user = u
	}
	if raw.Pool != "" {
		if !poolRE.MatchString(raw.Pool) {
			diags.Errorf("pool", "Invalid pool", fmt.Sprintf("%q is not a pool name.", raw.Pool))
		}
		c.pool = raw.Pool
	}
	if raw.ChunkSize != "" {
		order, err := chunkOrder(raw.ChunkSize)
		if err != nil {
			diags.Errorf("chunk_size", "Invalid chunk_size", err.Error())
		}
		c.order = order
	}
	if raw.ConnectTimeout != "" {
		d, err := time.ParseDuration(raw.ConnectTimeout)
		switch {
		case err != nil:
			diags.Errorf("connect_timeout", "Invalid connect_timeout", err.Error())
		case d < time.Second:
			diags.Errorf("connect_timeout", "Invalid connect_timeout", fmt.Sprintf("%s is shorter than 1s.", d))
		default:
			c.connectTimeout = d
		}
	}
	return c, diags
}

// chunkOrder returns log2 of a chunk size that must be a power of two
// between 4 KiB and 32 MiB. HCL numbers may arrive as 8.388608e+06.
func chunkOrder(n json.Number) (int, error) {
	var v uint64
	if i, err := n.Int64(); err == nil && i > 0 {
		v = uint64(i)
	} else if f, err := n.Float64(); err == nil && f > 0 && f == math.Trunc(f) && f < 1<<62 {
		v = uint64(f)
	} else {
		return 0, fmt.Errorf("%s is not a positive whole number of bytes", n)
	}
	if bits.OnesCount64(v) != 1 {
		return 0, fmt.Errorf("%d is not a power of two", v)
	}
	order := bits.TrailingZeros64(v)
	if order < minOrder || order > maxOrder {
		return 0, fmt.Errorf("%d is outside 4096 … 33554432 bytes", v)
	}
	return order, nil
}

// checkFiles reports whether ceph.conf can be read by the plugin.
func checkFiles(c config, diags *store.Diagnostics) {
	f, err := os.Open(c.cephConf)
	if err != nil {
		diags.Errorf("ceph_conf", "ceph_conf is not readable", err.Error())
		return
	}
	f.Close()
}
