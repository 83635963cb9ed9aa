package s3

import (
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
	mib = 1 << 20
	gib = 1 << 30
	// minPartSize and maxPartSize are S3's limits on a part (the last part
	// may be smaller); maxParts is its limit on parts per upload.
	minPartSize = 5 * mib
	maxPartSize = 5 * gib
	maxParts    = 10000

	defaultPartSize      = 8 * mib
	defaultPartsInFlight = 4
)

var schema = store.Schema{Attributes: []store.Attribute{
	{
		Name: "endpoint", Type: store.TypeString,
		Description: "S3 endpoint URL, e.g. \"https://s3.example.com\" or radosgw's \"http://127.0.0.1:7480\"; empty means AWS's endpoint for the region.",
	},
	{
		Name: "region", Type: store.TypeString, Default: json.RawMessage(`"us-east-1"`),
		Description: "Region used to sign requests (SigV4) and to create the bucket.",
	},
	{
		Name: "bucket", Type: store.TypeString, Required: true,
		Description: "Bucket holding the images.",
	},
	{
		Name: "create_bucket", Type: store.TypeBool, Default: json.RawMessage(`false`),
		Description: "Create the bucket when it does not exist; otherwise a missing bucket leaves the store unhealthy.",
	},
	{
		Name: "prefix", Type: store.TypeString, Default: json.RawMessage(`""`),
		Description: "Key prefix (a \"folder\") under which images are stored, e.g. \"glance\"; an image is <prefix>/<image id>.",
	},
	{
		Name: "path_style", Type: store.TypeBool, Default: json.RawMessage(`false`),
		Description: "Address buckets as <endpoint>/<bucket> instead of <bucket>.<endpoint> host names (radosgw, MinIO, IP endpoints).",
	},
	{
		Name: "access_key", Type: store.TypeString, Required: true, Sensitive: true,
		Description: "Access key id; read it with env() or file().",
	},
	{
		Name: "secret_key", Type: store.TypeString, Required: true, Sensitive: true,
		Description: "Secret access key; read it with env() or file().",
	},
	{
		Name: "session_token", Type: store.TypeString, Sensitive: true,
		Description: "Session token of temporary credentials, if any.",
	},
	{
		Name: "part_size", Type: store.TypeNumber, Default: json.RawMessage(fmt.Sprint(defaultPartSize)),
		Description: "Bytes per multipart part (5 MiB to 5 GiB). Grows for a known-size image that would need more than 10000 parts; an image of unknown size may be at most 10000 parts.",
	},
	{
		Name: "parts_in_flight", Type: store.TypeNumber, Default: json.RawMessage(fmt.Sprint(defaultPartsInFlight)),
		Description: "Parts of one upload sent at the same time. An upload buffers at most (parts_in_flight + 1) × part_size bytes.",
	},
	{
		Name: "ca_file", Type: store.TypeString,
		Description: "PEM file of CA certificates to trust for an https endpoint, instead of the system's.",
	},
	{
		Name: "insecure_skip_verify", Type: store.TypeBool, Default: json.RawMessage(`false`),
		Description: "Do not verify the endpoint's TLS certificate (testing only).",
	},
	{
		Name: "connect_timeout", Type: store.TypeDuration, Default: json.RawMessage(`"10s"`),
		Description: "Timeout to connect to the endpoint.",
	},
	{
		Name: "conditional_writes", Type: store.TypeBool, Default: json.RawMessage(`true`),
		Description: "Send If-None-Match: * when an upload completes, so two uploads of the same image id can never overwrite each other; turn off for S3 services that reject it.",
	},
}}

// rawConfig is the config {} block as the host sends it.
type rawConfig struct {
	Endpoint           string      `json:"endpoint"`
	Region             string      `json:"region"`
	Bucket             string      `json:"bucket"`
	CreateBucket       bool        `json:"create_bucket"`
	Prefix             string      `json:"prefix"`
	PathStyle          bool        `json:"path_style"`
	AccessKey          string      `json:"access_key"`
	SecretKey          string      `json:"secret_key"`
	SessionToken       string      `json:"session_token"`
	PartSize           json.Number `json:"part_size"`
	PartsInFlight      json.Number `json:"parts_in_flight"`
	CAFile             string      `json:"ca_file"`
	InsecureSkipVerify bool        `json:"insecure_skip_verify"`
	ConnectTimeout     string      `json:"connect_timeout"`
	ConditionalWrites  *bool       `json:"conditional_writes"`
}

// config is the checked configuration.
type config struct {
	endpoint      string // "" for AWS
	region        string
	bucket        string
	createBucket  bool
	prefix        string // "" or "a/b/" (ends with a slash)
	pathStyle     bool
	accessKey     string
	secretKey     string
	sessionToken  string
	partSize      int64
	partsInFlight int
	caFile        string
	caPEM         []byte
	insecure      bool
	connect       time.Duration
	conditional   bool
}

var (
	// bucketRE is S3's rule for bucket names (lower case, DNS-compatible).
	bucketRE = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
)

// parseConfig decodes and checks cfg without contacting the endpoint.
func parseConfig(cfg store.Config) (config, store.Diagnostics) {
	var (
		raw   rawConfig
		diags store.Diagnostics
		c     = config{
			region: "us-east-1", partSize: defaultPartSize, partsInFlight: defaultPartsInFlight,
			connect: 10 * time.Second, conditional: true,
		}
	)
	if diags = cfg.DecodeDiagnostics(&raw); diags.HasErrors() {
		return c, diags
	}

	if raw.Endpoint != "" {
		u, err := url.Parse(raw.Endpoint)
		switch {
		case err != nil:
			diags.Errorf("endpoint", "Invalid endpoint", "The endpoint is not a URL.")
		case u.Scheme != "http" && u.Scheme != "https":
			diags.Errorf("endpoint", "Invalid endpoint", fmt.Sprintf("The endpoint must be an http or https URL, not %q.", u.Scheme))
		case u.Host == "":
			diags.Errorf("endpoint", "Invalid endpoint", "The endpoint URL has no host.")
		case u.User != nil:
			// Credentials belong in access_key/secret_key, which are
			// marked sensitive; a URL is logged.
			diags.Errorf("endpoint", "Invalid endpoint", "The endpoint URL must not carry credentials; use access_key and secret_key.")
		case u.RawQuery != "" || u.Fragment != "":
			diags.Errorf("endpoint", "Invalid endpoint", "The endpoint URL must not have a query or fragment.")
		default:
			c.endpoint = strings.TrimSuffix(u.String(), "/")
		}
	}
	if raw.Region != "" {
		if !regionRE.MatchString(raw.Region) {
			diags.Errorf("region", "Invalid region", fmt.Sprintf("%q is not a region name such as \"us-east-1\".", raw.Region))
		}
		c.region = raw.Region
	}
	switch {
	case raw.Bucket == "":
		diags.Errorf("bucket", "Missing bucket", "The S3 store needs the bucket that holds its images.")
	case !bucketRE.MatchString(raw.Bucket) || strings.Contains(raw.Bucket, ".."):
		diags.Errorf("bucket", "Invalid bucket", fmt.Sprintf("%q is not a valid bucket name: 3 to 63 of a-z, 0-9, '.' and '-'.", raw.Bucket))
	default:
		c.bucket = raw.Bucket
	}
	c.createBucket = raw.CreateBucket
	if p, err := cleanPrefix(raw.Prefix); err != nil {
		diags.Errorf("prefix", "Invalid prefix", err.Error())
	} else {
		c.prefix = p
	}
	c.pathStyle = raw.PathStyle
	// The values are never repeated in a diagnostic: they are secrets.
	if strings.TrimSpace(raw.AccessKey) == "" {
		diags.Errorf("access_key", "Missing access_key", "The S3 store needs an access key id.")
	}
	if strings.TrimSpace(raw.SecretKey) == "" {
		diags.Errorf("secret_key", "Missing secret_key", "The S3 store needs a secret access key.")
	}
	c.accessKey, c.secretKey, c.sessionToken = raw.AccessKey, raw.SecretKey, raw.SessionToken

	if raw.PartSize != "" {
		n, err := parseWhole(raw.PartSize)
		switch {
		case err != nil:
			diags.Errorf("part_size", "Invalid part_size", err.Error())
		case n < minPartSize || n > maxPartSize:
			diags.Errorf("part_size", "Invalid part_size", fmt.Sprintf("%d is outside S3's part size limits, 5 MiB (%d) to 5 GiB (%d).", n, minPartSize, maxPartSize))
		default:
			c.partSize = n
		}
	}
	if raw.PartsInFlight != "" {
		n, err := parseWhole(raw.PartsInFlight)
		switch {
		case err != nil:
			diags.Errorf("parts_in_flight", "Invalid parts_in_flight", err.Error())
		case n < 1 || n > 64:
			diags.Errorf("parts_in_flight", "Invalid parts_in_flight", fmt.Sprintf("%d is not between 1 and 64.", n))
		default:
			c.partsInFlight = int(n)
		}
	}
	if raw.CAFile != "" {
		c.caFile = raw.CAFile
		pem, err := os.ReadFile(raw.CAFile)
		if err != nil {
			diags.Errorf("ca_file", "Unreadable ca_file", err.Error())
		} else if !x509.NewCertPool().AppendCertsFromPEM(pem) {
			diags.Errorf("ca_file", "Invalid ca_file", raw.CAFile+" holds no PEM certificate.")
		} else {
			c.caPEM = pem
		}
	}
	c.insecure = raw.InsecureSkipVerify
	if raw.ConnectTimeout != "" {
		d, err := time.ParseDuration(raw.ConnectTimeout)
		if err != nil || d <= 0 {
			diags.Errorf("connect_timeout", "Invalid connect_timeout", fmt.Sprintf("%q is not a positive duration such as \"10s\".", raw.ConnectTimeout))
		} else {
			c.connect = d
		}
	}
	if raw.ConditionalWrites != nil {
		c.conditional = *raw.ConditionalWrites
	}
	return c, diags
}

// cleanPrefix turns a prefix such as "/glance/images/" into "glance/images/"
// and refuses segments that could confuse a reader of the bucket.
func cleanPrefix(p string) (string, error) {
	p = strings.Trim(p, "/")
	if p == "" {
		return "", nil
	}
	if len(p) > 512 {
		return "", fmt.Errorf("the prefix is longer than 512 bytes")
	}
	for _, seg := range strings.Split(p, "/") {
		switch {
		case seg == "", seg == ".", seg == "..":
			return "", fmt.Errorf("%q has an empty, \".\" or \"..\" segment", p)
		case strings.ContainsFunc(seg, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			return "", fmt.Errorf("%q has a control character", p)
		}
	}
	return p + "/", nil
}

// parseWhole reads a non-negative whole number. HCL numbers may arrive as
// 1.6e+07, so an integral float is accepted too.
func parseWhole(n json.Number) (int64, error) {
	if i, err := n.Int64(); err == nil {
		if i < 0 {
			return 0, fmt.Errorf("%d is negative", i)
		}
		return i, nil
	}
	f, err := n.Float64()
	if err != nil || f != math.Trunc(f) || f < 0 || f > math.MaxInt64 {
		return 0, fmt.Errorf("%s is not a whole number", n)
	}
	return int64(f), nil
}
