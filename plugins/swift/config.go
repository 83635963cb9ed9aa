package swift

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"regexp"
	"strings"
	"time"

	"github.com/glance-go/glance/sdk/store"
)

const (
	defaultContainer      = "glance"
	defaultThreshold      = 1 << 30   // 1 GiB
	defaultSegmentSize    = 200 << 20 // 200 MiB, as glance_store
	defaultConnectTimeout = 10 * time.Second
	defaultTimeout        = 60 * time.Second
	// maxSingleObject is Swift's default max_file_size: a single PUT can be
	// no larger.
	maxSingleObject = 5 << 30
)

var schema = store.Schema{Attributes: []store.Attribute{
	{
		Name: "auth_url", Type: store.TypeString, Required: true,
		Description: "Identity endpoint: a tempauth/swauth v1 URL (http://host:8080/auth/v1.0) or a Keystone v3 URL (https://keystone:5000/v3).",
	},
	{
		Name: "auth_version", Type: store.TypeNumber, Default: json.RawMessage(`0`),
		Description: "1 (tempauth, radosgw), 3 (Keystone v3), or 0 to infer it from auth_url (v3 → 3, v1 or /auth → 1).",
	},
	{
		Name: "user", Type: store.TypeString, Required: true,
		Description: "User name: account:user for v1, the Keystone user name for v3.",
	},
	{
		Name: "key", Type: store.TypeString, Required: true, Sensitive: true,
		Description: "Password or key of the user; read it with env() or file().",
	},
	{
		Name: "user_domain", Type: store.TypeString, Default: json.RawMessage(`""`),
		Description: "v3: the user's domain name (Keystone's default domain is \"Default\").",
	},
	{
		Name: "project", Type: store.TypeString, Default: json.RawMessage(`""`),
		Description: "v3: the project (tenant) to scope the token to.",
	},
	{
		Name: "project_domain", Type: store.TypeString, Default: json.RawMessage(`""`),
		Description: "v3: the project's domain name, when it differs from user_domain.",
	},
	{
		Name: "region", Type: store.TypeString, Default: json.RawMessage(`""`),
		Description: "v3: the region of the object-store endpoint in the catalog (default: the first).",
	},
	{
		Name: "endpoint_type", Type: store.TypeString, Default: json.RawMessage(`"public"`),
		Description: "v3: which catalog endpoint to use: public, internal or admin.",
	},
	{
		Name: "container", Type: store.TypeString, Default: json.RawMessage(`"` + defaultContainer + `"`),
		Description: "Container that holds the images and their large-object segments.",
	},
	{
		Name: "create_container", Type: store.TypeBool, Default: json.RawMessage(`false`),
		Description: "Create the container when it is missing; otherwise a missing container makes the store unhealthy.",
	},
	{
		Name: "large_object_threshold", Type: store.TypeNumber, Default: json.RawMessage(fmt.Sprint(defaultThreshold)),
		Description: "Images of a known size above this many bytes are stored as static large objects (SLO); smaller ones as one object. Uploads of unknown size are always segmented. At most 5 GiB.",
	},
	{
		Name: "segment_size", Type: store.TypeNumber, Default: json.RawMessage(fmt.Sprint(defaultSegmentSize)),
		Description: "Size in bytes of the SLO segments; raised for a known-size image that would need more segments than the cluster allows.",
	},
	{
		Name: "connect_timeout", Type: store.TypeDuration, Default: json.RawMessage(`"10s"`),
		Description: "Timeout of connecting and of waiting for response headers.",
	},
	{
		Name: "timeout", Type: store.TypeDuration, Default: json.RawMessage(`"60s"`),
		Description: "A transfer with no progress for this long is abandoned.",
	},
	{
		Name: "ca_file", Type: store.TypeString, Default: json.RawMessage(`""`),
		Description: "PEM file of the CAs to trust for https endpoints, instead of the system's.",
	},
	{
		Name: "insecure_skip_verify", Type: store.TypeBool, Default: json.RawMessage(`false`),
		Description: "Do not verify TLS certificates (testing only).",
	},
}}

// rawConfig is the config {} block as the host sends it.
type rawConfig struct {
	AuthURL              string      `json:"auth_url"`
	AuthVersion          json.Number `json:"auth_version"`
	User                 string      `json:"user"`
	Key                  string      `json:"key"`
	UserDomain           string      `json:"user_domain"`
	Project              string      `json:"project"`
	ProjectDomain        string      `json:"project_domain"`
	Region               string      `json:"region"`
	EndpointType         string      `json:"endpoint_type"`
	Container            *string     `json:"container"`
	CreateContainer      bool        `json:"create_container"`
	LargeObjectThreshold json.Number `json:"large_object_threshold"`
	SegmentSize          json.Number `json:"segment_size"`
	ConnectTimeout       string      `json:"connect_timeout"`
	Timeout              string      `json:"timeout"`
	CAFile               string      `json:"ca_file"`
	InsecureSkipVerify   bool        `json:"insecure_skip_verify"`
}

// config is the checked configuration.
type config struct {
	authURL        string
	authVersion    int
	user           string
	key            string
	userDomain     string
	project        string
	projectDomain  string
	region         string
	endpointType   string
	container      string
	create         bool
	threshold      int64
	segmentSize    int64
	connectTimeout time.Duration
	timeout        time.Duration
	caFile         string
	insecure       bool
}

var (
	// containerRE: Swift allows more, but a container name that is also a
	// valid URI host keeps locations simple and unambiguous.
	containerRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,255}$`)
)

// parseConfig decodes and checks cfg without touching the network.
func parseConfig(cfg store.Config) (config, store.Diagnostics) {
	var (
		raw   rawConfig
		diags store.Diagnostics
		c     = config{
			container: defaultContainer, threshold: defaultThreshold, segmentSize: defaultSegmentSize,
			connectTimeout: defaultConnectTimeout, timeout: defaultTimeout, endpointType: "public",
		}
	)
	if diags = cfg.DecodeDiagnostics(&raw); diags.HasErrors() {
		return c, diags
	}

	c.authURL = strings.TrimSpace(raw.AuthURL)
	if u, err := url.Parse(c.authURL); c.authURL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		diags.Errorf("auth_url", "Invalid auth_url", "auth_url must be an http or https URL, such as http://127.0.0.1:8080/auth/v1.0.")
	} else if u.User != nil {
		diags.Errorf("auth_url", "Invalid auth_url", "auth_url must not carry credentials; use user and key.")
	}
	if raw.AuthVersion != "" {
		v, err := raw.AuthVersion.Int64()
		switch {
		case err != nil || (v != 0 && v != 1 && v != 2 && v != 3):
			diags.Errorf("auth_version", "Invalid auth_version", fmt.Sprintf("%s: want 1, 2, 3, or 0 to infer it from auth_url.", raw.AuthVersion))
		default:
			c.authVersion = int(v)
		}
	}
	if c.authVersion == 0 && c.authURL != "" {
		switch {
		case strings.Contains(c.authURL, "v3"):
			c.authVersion = 3
		case strings.Contains(c.authURL, "v2"):
			c.authVersion = 2
		case strings.Contains(c.authURL, "v1"), strings.Contains(c.authURL, "/auth"):
			// tempauth, swauth and radosgw (…/auth/1.0) are all v1.
			c.authVersion = 1
		default:
			diags.Errorf("auth_version", "Cannot infer auth_version", "auth_url names no version (v1, v3): set auth_version.")
		}
	}
	c.user = raw.User
	if strings.TrimSpace(c.user) == "" {
		diags.Errorf("user", "Missing user", "The Swift store needs a user name.")
	} else if c.authVersion == 1 && !strings.Contains(c.user, ":") {
		diags.Errorf("user", "Invalid user", "tempauth (v1) user names have the form account:user, e.g. test:tester.")
	}
	c.key = raw.Key
	if c.key == "" {
		diags.Errorf("key", "Missing key", "The Swift store needs the user's key or password.")
	}
	c.userDomain, c.project, c.projectDomain, c.region = raw.UserDomain, raw.Project, raw.ProjectDomain, raw.Region
	if raw.EndpointType != "" {
		switch raw.EndpointType {
		case "public", "internal", "admin":
			c.endpointType = raw.EndpointType
		default:
			diags.Errorf("endpoint_type", "Invalid endpoint_type", fmt.Sprintf("%q: want public, internal or admin.", raw.EndpointType))
		}
	}
	if raw.Container != nil {
		c.container = *raw.Container
	}
	if !containerRE.MatchString(c.container) {
		diags.Errorf("container", "Invalid container", fmt.Sprintf("%q: want 1 to 256 of [A-Za-z0-9_.-], starting with a letter or digit.", c.container))
	}
	c.create = raw.CreateContainer
	if raw.LargeObjectThreshold != "" {
		n, err := parseBytes(raw.LargeObjectThreshold)
		switch {
		case err != nil:
			diags.Errorf("large_object_threshold", "Invalid large_object_threshold", err.Error())
		case n > maxSingleObject:
			diags.Errorf("large_object_threshold", "Invalid large_object_threshold", "Swift stores at most 5 GiB as one object.")
		default:
			c.threshold = n
		}
	}
	if raw.SegmentSize != "" {
		n, err := parseBytes(raw.SegmentSize)
		switch {
		case err != nil:
			diags.Errorf("segment_size", "Invalid segment_size", err.Error())
		case n < 1 || n > maxSingleObject:
			diags.Errorf("segment_size", "Invalid segment_size", "want 1 byte to 5 GiB.")
		default:
			c.segmentSize = n
		}
	}
	parseDur := func(name, v string, dst *time.Duration) {
		if v == "" {
			return
		}
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			diags.Errorf(name, "Invalid "+name, fmt.Sprintf("%q is not a positive duration such as \"30s\".", v))
			return
		}
		*dst = d
	}
	parseDur("connect_timeout", raw.ConnectTimeout, &c.connectTimeout)
	parseDur("timeout", raw.Timeout, &c.timeout)
	c.caFile, c.insecure = raw.CAFile, raw.InsecureSkipVerify
	if c.caFile != "" {
		if _, err := loadCAs(c.caFile); err != nil {
			diags.Errorf("ca_file", "Invalid ca_file", err.Error())
		}
	}
	return c, diags
}

// parseBytes reads a non-negative whole number of bytes; HCL numbers may
// arrive as 1e+09.
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

func loadCAs(path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pool, nil
}

// tlsConfig returns the TLS settings of c.
func (c *config) tlsConfig() (*tls.Config, error) {
	t := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.insecure} //nolint:gosec // operator's explicit choice
	if c.caFile != "" {
		pool, err := loadCAs(c.caFile)
		if err != nil {
			return nil, err
		}
		t.RootCAs = pool
	}
	return t, nil
}
