package httpstore

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/sdk/store"
)

const (
	// Version is the plugin's own version.
	Version = "1.0.0"
	// MaxRedirects is the most redirects a read follows.
	MaxRedirects = 5
)

var (
	_ store.Backend         = (*Store)(nil)
	_ store.ConfigValidator = (*Store)(nil)
	// caps: the store reads what others wrote; it never writes or deletes.
	caps = store.Capabilities{Read: true, ReadRange: true, ConcurrentSafe: true}
)

var schema = store.Schema{Attributes: []store.Attribute{
	{
		Name: "insecure_skip_verify", Type: store.TypeBool, Default: json.RawMessage(`false`),
		Description: "Do not verify the TLS certificates of https locations (testing only).",
	},
	{
		Name: "ca_file", Type: store.TypeString, Default: json.RawMessage(`""`),
		Description: "PEM file of the CAs to trust for https locations, instead of the system's.",
	},
	{
		Name: "connect_timeout", Type: store.TypeDuration, Default: json.RawMessage(`"10s"`),
		Description: "Timeout of connecting (TCP and TLS).",
	},
	{
		Name: "read_timeout", Type: store.TypeDuration, Default: json.RawMessage(`"60s"`),
		Description: "Timeout of waiting for response headers, and for any progress of a body.",
	},
	{
		Name: "max_redirects", Type: store.TypeNumber, Default: json.RawMessage(`5`),
		Description: "Redirects a read follows, 0 to 5; an https location is never redirected to http.",
	},
}}

type rawConfig struct {
	InsecureSkipVerify bool        `json:"insecure_skip_verify"`
	CAFile             string      `json:"ca_file"`
	ConnectTimeout     string      `json:"connect_timeout"`
	ReadTimeout        string      `json:"read_timeout"`
	MaxRedirects       json.Number `json:"max_redirects"`
}

type config struct {
	insecure       bool
	caFile         string
	connectTimeout time.Duration
	readTimeout    time.Duration
	maxRedirects   int
}

func parseConfig(cfg store.Config) (config, store.Diagnostics) {
	var (
		raw   rawConfig
		diags store.Diagnostics
		c     = config{connectTimeout: 10 * time.Second, readTimeout: 60 * time.Second, maxRedirects: MaxRedirects}
	)
	if diags = cfg.DecodeDiagnostics(&raw); diags.HasErrors() {
		return c, diags
	}
	c.insecure, c.caFile = raw.InsecureSkipVerify, raw.CAFile
	if c.caFile != "" {
		if _, err := loadCAs(c.caFile); err != nil {
			diags.Errorf("ca_file", "Invalid ca_file", err.Error())
		}
	}
	for _, d := range []struct {
		name, v string
		dst     *time.Duration
	}{{"connect_timeout", raw.ConnectTimeout, &c.connectTimeout}, {"read_timeout", raw.ReadTimeout, &c.readTimeout}} {
		if d.v == "" {
			continue
		}
		v, err := time.ParseDuration(d.v)
		if err != nil || v <= 0 {
			diags.Errorf(d.name, "Invalid "+d.name, fmt.Sprintf("%q is not a positive duration such as \"30s\".", d.v))
			continue
		}
		*d.dst = v
	}
	if raw.MaxRedirects != "" {
		n, err := raw.MaxRedirects.Int64()
		if err != nil || n < 0 || n > MaxRedirects {
			diags.Errorf("max_redirects", "Invalid max_redirects", fmt.Sprintf("%s: want 0 to %d.", raw.MaxRedirects, MaxRedirects))
		} else {
			c.maxRedirects = int(n)
		}
	}
	return c, diags
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

// Store is the read-only HTTP store.
type Store struct {
	log hclog.Logger
	st  atomic.Pointer[state]
}

type state struct {
	cfg    config
	client *http.Client
}

// New returns an unconfigured Store that logs to l (nil for none).
func New(l hclog.Logger) *Store {
	if l == nil {
		l = hclog.NewNullLogger()
	}
	return &Store{log: l}
}

// Info describes the plugin.
func (s *Store) Info() store.Info {
	return store.Info{
		Name:         "http",
		Version:      Version,
		Schemes:      []string{"http", "https"},
		Description:  "Read-only: image data at http(s) URLs an operator added as locations",
		ConfigSchema: schema,
	}
}

// ValidateConfig checks cfg.
func (s *Store) ValidateConfig(_ context.Context, cfg store.Config) store.Diagnostics {
	_, d := parseConfig(cfg)
	return d
}

// Configure applies cfg and returns the read-only capabilities.
func (s *Store) Configure(_ context.Context, cfg store.Config) (store.Capabilities, error) {
	c, diags := parseConfig(cfg)
	if err := diags.Err(); err != nil {
		return store.Capabilities{}, err
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.insecure} //nolint:gosec // operator's explicit choice
	if c.caFile != "" {
		pool, err := loadCAs(c.caFile)
		if err != nil {
			return store.Capabilities{}, fmt.Errorf("%w: ca_file: %w", store.ErrInvalidConfig, err)
		}
		tc.RootCAs = pool
	}
	tr := &http.Transport{
		// No proxy: the store connects to the host the location names
		// and to nothing else.
		Proxy:                 nil,
		DialContext:           (&net.Dialer{Timeout: c.connectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   c.connectTimeout,
		ResponseHeaderTimeout: c.readTimeout,
		MaxIdleConnsPerHost:   16,
		IdleConnTimeout:       90 * time.Second,
		// Image data is served as is: no transparent gzip, so lengths and
		// ranges are those of the bytes.
		DisableCompression: true,
	}
	client := &http.Client{
		Transport: tr,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if len(via) > c.maxRedirects {
				return fmt.Errorf("%w: more than %d redirects", store.ErrInvalidLocation, c.maxRedirects)
			}
			if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
				return fmt.Errorf("%w: redirect from https to %s refused", store.ErrInvalidLocation, req.URL.Scheme)
			}
			return nil
		},
	}
	s.st.Store(&state{cfg: c, client: client})
	s.log.Info("configured", "insecure_skip_verify", c.insecure, "ca_file", c.caFile,
		"connect_timeout", c.connectTimeout, "read_timeout", c.readTimeout, "max_redirects", c.maxRedirects)
	return caps, nil
}

func (s *Store) state() (*state, error) {
	st := s.st.Load()
	if st == nil {
		return nil, store.ErrNotConfigured
	}
	return st, nil
}

// Probe is ready once configured: each location names its own server.
func (s *Store) Probe(context.Context) error {
	_, err := s.state()
	return err
}

// Put is refused: the store is read-only.
func (s *Store) Put(context.Context, store.PutRequest, io.Reader) (store.PutResult, error) {
	return store.PutResult{}, fmt.Errorf("http: the store is read-only: %w", store.ErrUnsupported)
}

// Delete is refused: the store does not own what its locations name.
func (s *Store) Delete(context.Context, string) error {
	return fmt.Errorf("http: the store is read-only: %w", store.ErrUnsupported)
}

// checkURL validates a location: an absolute http(s) URL with a host and
// no credentials.
func checkURL(location string) (*url.URL, error) {
	bad := func(why string) (*url.URL, error) {
		return nil, fmt.Errorf("%w: %q: %s", store.ErrInvalidLocation, redact(location), why)
	}
	if strings.ContainsAny(location, "\x00\r\n") {
		return bad("control characters")
	}
	u, err := url.Parse(location)
	if err != nil {
		return bad("not a URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return bad("not an http or https URL")
	}
	if u.Opaque != "" || u.Host == "" || u.Hostname() == "" {
		return bad("no host")
	}
	if u.User != nil {
		return bad("credentials in locations are not supported")
	}
	u.Fragment, u.RawFragment = "", ""
	return u, nil
}

// redact hides the userinfo of a URL for messages.
func redact(location string) string {
	if u, err := url.Parse(location); err == nil && u.User != nil {
		return u.Redacted()
	}
	return location
}

// mapStatus turns an unexpected status into an error with a sentinel.
func mapStatus(what string, resp *http.Response) error {
	var sentinel error
	switch c := resp.StatusCode; {
	case c == 404, c == 410:
		sentinel = store.ErrNotFound
	case c == 401:
		sentinel = store.ErrUnauthenticated
	case c == 403:
		sentinel = store.ErrForbidden
	case c == 416:
		sentinel = store.ErrOutOfRange
	case c == 408, c == 429, c >= 500:
		sentinel = store.ErrUnavailable
	case c >= 300 && c < 400:
		sentinel = store.ErrInvalidLocation // a redirect not followed
	default:
		sentinel = store.ErrUnavailable
	}
	return fmt.Errorf("http: %s: %w: %s", what, sentinel, resp.Status)
}

// mapErr wraps a transport error with the sentinel it amounts to: the
// caller's cancellation stays one, any other failure (timeouts included)
// makes the server unavailable.
func mapErr(ctx context.Context, what string, err error) error {
	if errors.Is(err, store.ErrInvalidLocation) || ctx.Err() != nil {
		return fmt.Errorf("http: %s: %w", what, err)
	}
	return fmt.Errorf("http: %s: %w: %w", what, store.ErrUnavailable, err)
}

// Stat reports the size by HEAD, or by a one-byte range read when the
// server answers HEAD without a length.
func (s *Store) Stat(ctx context.Context, location string) (store.ObjectInfo, error) {
	st, err := s.state()
	if err != nil {
		return store.ObjectInfo{}, err
	}
	u, err := checkURL(location)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	what := "stat " + u.Redacted()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, u.String(), nil)
	if err != nil {
		return store.ObjectInfo{}, fmt.Errorf("%w: %v", store.ErrInvalidLocation, err)
	}
	resp, err := st.client.Do(req)
	if err != nil {
		return store.ObjectInfo{}, mapErr(ctx, what, err)
	}
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK && resp.ContentLength >= 0:
		return store.ObjectInfo{Size: resp.ContentLength}, nil
	case resp.StatusCode == http.StatusOK, resp.StatusCode == http.StatusMethodNotAllowed, resp.StatusCode == http.StatusNotImplemented:
		rc, oi, err := s.get(ctx, st, u, store.Range{Offset: 0, Length: -1})
		if err != nil {
			return store.ObjectInfo{}, err
		}
		rc.Close()
		return oi, nil
	default:
		return store.ObjectInfo{}, mapStatus(what, resp)
	}
}

// Get reads the range r of the resource with an HTTP Range request.
func (s *Store) Get(ctx context.Context, location string, r store.Range) (io.ReadCloser, store.ObjectInfo, error) {
	st, err := s.state()
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	u, err := checkURL(location)
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	if r.Offset < 0 {
		return nil, store.ObjectInfo{}, fmt.Errorf("%w: negative offset %d", store.ErrInvalidArgument, r.Offset)
	}
	if r.Length == 0 {
		return s.emptyAt(ctx, location, r)
	}
	rc, oi, err := s.get(ctx, st, u, r)
	if errors.Is(err, store.ErrOutOfRange) {
		// 416: the offset may still be the size (an empty read).
		return s.emptyAt(ctx, location, r)
	}
	return rc, oi, err
}

// emptyAt answers a range HTTP cannot ask for: nothing at offset.
func (s *Store) emptyAt(ctx context.Context, location string, r store.Range) (io.ReadCloser, store.ObjectInfo, error) {
	oi, err := s.Stat(ctx, location)
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	if r.Offset > oi.Size {
		return nil, store.ObjectInfo{}, fmt.Errorf("%w: offset %d beyond the %d-byte resource", store.ErrOutOfRange, r.Offset, oi.Size)
	}
	if r.Offset < oi.Size && r.Length != 0 {
		return nil, store.ObjectInfo{}, fmt.Errorf("%w: the server refused the range %d+%d of %d bytes", store.ErrOutOfRange, r.Offset, r.Length, oi.Size)
	}
	return io.NopCloser(strings.NewReader("")), oi, nil
}

// get sends the GET; the body stays under the read timeout.
func (s *Store) get(ctx context.Context, st *state, u *url.URL, r store.Range) (io.ReadCloser, store.ObjectInfo, error) {
	what := "get " + u.Redacted()
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		cancel()
		return nil, store.ObjectInfo{}, fmt.Errorf("%w: %v", store.ErrInvalidLocation, err)
	}
	switch {
	case r.Offset == 0 && r.Length < 0:
	case r.Length < 0:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", r.Offset))
	default:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", r.Offset, r.Offset+r.Length-1))
	}
	resp, err := st.client.Do(req)
	if err != nil {
		err = mapErr(ctx, what, err)
		cancel()
		return nil, store.ObjectInfo{}, err
	}
	fail := func(err error) (io.ReadCloser, store.ObjectInfo, error) {
		resp.Body.Close()
		cancel()
		return nil, store.ObjectInfo{}, err
	}
	body := &idleReader{r: resp.Body, c: resp.Body, timeout: st.cfg.readTimeout, cancel: cancel}
	switch resp.StatusCode {
	case http.StatusPartialContent:
		start, end, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != r.Offset || size < 0 {
			return fail(fmt.Errorf("http: %s: %w: unusable Content-Range %q", what, store.ErrUnavailable, resp.Header.Get("Content-Range")))
		}
		n := end - start + 1
		if r.Length >= 0 && n > r.Length {
			n = r.Length
		}
		body.r = &exactBody{r: resp.Body, remain: n}
		return body, store.ObjectInfo{Size: size}, nil
	case http.StatusOK:
		size := resp.ContentLength
		if size < 0 {
			return fail(fmt.Errorf("http: %s: %w: the server sends no Content-Length", what, store.ErrUnsupported))
		}
		if r.Offset > size {
			return fail(fmt.Errorf("http: %s: %w: offset %d beyond the %d-byte resource", what, store.ErrOutOfRange, r.Offset, size))
		}
		// The server ignored the range: skip to it.
		if r.Offset > 0 {
			if _, err := io.CopyN(io.Discard, body, r.Offset); err != nil {
				return fail(fmt.Errorf("http: %s: skipping to the offset: %w", what, err))
			}
		}
		n := size - r.Offset
		if r.Length >= 0 && r.Length < n {
			n = r.Length
		}
		body.r = &exactBody{r: body.r, remain: n}
		return body, store.ObjectInfo{Size: size}, nil
	default:
		return fail(mapStatus(what, resp))
	}
}

// parseContentRange parses "bytes start-end/size" (size may be "*": -1).
func parseContentRange(v string) (start, end, size int64, ok bool) {
	v, found := strings.CutPrefix(strings.TrimSpace(v), "bytes ")
	if !found {
		return 0, 0, 0, false
	}
	rng, total, found := strings.Cut(v, "/")
	if !found {
		return 0, 0, 0, false
	}
	a, b, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, 0, false
	}
	var err1, err2, err3 error
	start, err1 = strconv.ParseInt(a, 10, 64)
	end, err2 = strconv.ParseInt(b, 10, 64)
	size = -1
	if total != "*" {
		size, err3 = strconv.ParseInt(total, 10, 64)
	}
	if err1 != nil || err2 != nil || err3 != nil || start < 0 || end < start || (size >= 0 && end >= size) {
		return 0, 0, 0, false
	}
	return start, end, size, true
}

// exactBody yields remain bytes, and fails if the server sends fewer.
type exactBody struct {
	r      io.Reader
	remain int64
}

func (e *exactBody) Read(p []byte) (int, error) {
	if e.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > e.remain {
		p = p[:e.remain]
	}
	n, err := e.r.Read(p)
	e.remain -= int64(n)
	if err == io.EOF && e.remain > 0 {
		return n, fmt.Errorf("http: %w: the server closed the body %d bytes early", store.ErrUnavailable, e.remain)
	}
	if err == io.EOF {
		err = nil
	}
	return n, err
}

// idleReader cancels the request when one Read waits for the server longer
// than timeout.
type idleReader struct {
	r       io.Reader
	c       io.Closer
	timeout time.Duration
	cancel  context.CancelFunc
}

func (i *idleReader) Read(p []byte) (int, error) {
	t := time.AfterFunc(i.timeout, i.cancel)
	n, err := i.r.Read(p)
	if !t.Stop() && err != nil && err != io.EOF {
		err = fmt.Errorf("http: %w: no data for %v: %w", store.ErrUnavailable, i.timeout, err)
	}
	return n, err
}

func (i *idleReader) Close() error {
	err := i.c.Close()
	i.cancel()
	return err
}
