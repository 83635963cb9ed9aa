package s3

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/sdk/store"
)

// Version is the plugin's own version.
const Version = "1.0.0"

// Scheme is the URI scheme of the store's locations.
const Scheme = "s3"

var (
	idRE                          = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$`)
	_       store.Backend         = (*Store)(nil)
	_       store.ConfigValidator = (*Store)(nil)
	_       store.Shutdowner      = (*Store)(nil)
	allCaps                       = store.Capabilities{
		Read: true, ReadRange: true, Write: true, WriteUnknownSize: true,
		Delete: true, ConcurrentSafe: true,
	}
)

// Store is the S3 store. Its methods are safe for concurrent use once
// Configure returned.
type Store struct {
	log hclog.Logger
	st  atomic.Pointer[state]
}

// state is what Configure builds.
type state struct {
	cfg       config
	client    *s3.Client
	transport *http.Transport
	pool      *bufPool
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
		Name:         "s3",
		Version:      Version,
		Schemes:      []string{Scheme},
		Description:  "Images as objects in an S3 bucket (AWS, Ceph radosgw, MinIO, …), uploaded as multipart streams",
		ConfigSchema: schema,
	}
}

// ValidateConfig checks cfg without contacting the endpoint.
func (s *Store) ValidateConfig(_ context.Context, cfg store.Config) store.Diagnostics {
	_, diags := parseConfig(cfg)
	return diags
}

// Configure applies cfg. It does not contact the endpoint: an unreachable
// or misconfigured service is Probe's to report, so that glance-api starts
// with the store unhealthy rather than not at all.
func (s *Store) Configure(_ context.Context, cfg store.Config) (store.Capabilities, error) {
	c, diags := parseConfig(cfg)
	if err := diags.Err(); err != nil {
		return store.Capabilities{}, err
	}
	st, err := newState(c)
	if err != nil {
		return store.Capabilities{}, err
	}
	if old := s.st.Swap(st); old != nil {
		old.transport.CloseIdleConnections()
	}
	// Never log the keys: only where and how.
	s.log.Info("configured", "endpoint", endpointName(c), "region", c.region, "bucket", c.bucket,
		"prefix", c.prefix, "path_style", c.pathStyle, "create_bucket", c.createBucket,
		"part_size", c.partSize, "parts_in_flight", c.partsInFlight)
	return allCaps, nil
}

func endpointName(c config) string {
	if c.endpoint == "" {
		return "aws"
	}
	return c.endpoint
}

func newState(c config) (*state, error) {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: c.insecure} //nolint:gosec // operator's explicit choice, for testing
	if c.caPEM != nil {
		pool := x509.NewCertPool()
		pool.AppendCertsFromPEM(c.caPEM)
		tlsCfg.RootCAs = pool
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: c.connect, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   c.connect,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ResponseHeaderTimeout: 5 * time.Minute, // a part's PUT is answered once stored
		ExpectContinueTimeout: time.Second,
		// Ask for what the SDK reads: no transparent gzip of image bytes.
		DisableCompression: true,
		// Bigger socket buffers than the 4 KiB default: parts are MiBs.
		WriteBufferSize: 256 << 10,
		ReadBufferSize:  256 << 10,
	}
	opts := s3.Options{
		Region:       c.region,
		UsePathStyle: c.pathStyle,
		Credentials:  aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider(c.accessKey, c.secretKey, c.sessionToken)),
		HTTPClient:   &http.Client{Transport: tr},
		// Not every S3 service knows the flexible checksums (radosgw of Ceph
		// 16 does not): send and check them only where the API requires.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		RetryMaxAttempts:           3,
	}
	if c.endpoint != "" {
		opts.BaseEndpoint = aws.String(c.endpoint)
	}
	return &state{cfg: c, client: s3.New(opts), transport: tr, pool: newBufPool(c.partsInFlight + 1)}, nil
}

func (s *Store) state() (*state, error) {
	st := s.st.Load()
	if st == nil {
		return nil, store.ErrNotConfigured
	}
	return st, nil
}

// Shutdown closes idle connections.
func (s *Store) Shutdown(context.Context) error {
	if st := s.st.Load(); st != nil {
		st.transport.CloseIdleConnections()
	}
	return nil
}

// Probe checks that the endpoint answers, the credentials are accepted and
// the bucket exists (creating it when create_bucket is set). Every failure
// wraps store.ErrUnavailable and says what to fix.
func (s *Store) Probe(ctx context.Context) error {
	st, err := s.state()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 2*st.cfg.connect+10*time.Second)
	defer cancel()
	c := st.cfg
	where := fmt.Sprintf("bucket %q at %s", c.bucket, endpointName(c))
	_, err = st.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(c.bucket)})
	if err == nil {
		return nil
	}
	switch status := httpStatus(err); {
	case status == http.StatusNotFound && c.createBucket:
		if err := st.createBucket(ctx); err != nil {
			return fmt.Errorf("%w: %s does not exist and creating it failed: %w", store.ErrUnavailable, where, mapErr(err))
		}
		s.log.Info("created the bucket", "bucket", c.bucket)
		return nil
	case status == http.StatusNotFound:
		return fmt.Errorf("%w: %s does not exist (create it, or set create_bucket = true)", store.ErrUnavailable, where)
	case status == http.StatusForbidden || status == http.StatusUnauthorized || status == http.StatusBadRequest:
		// A HEAD answer has no body, so no error code: ask again with a
		// GET, whose answer says whether the key or the access is wrong.
		_, lerr := st.client.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(c.bucket), MaxKeys: aws.Int32(1)})
		if lerr == nil {
			return nil // HEAD refused, GET allowed: policies can do that
		}
		if errors.Is(mapErr(lerr), store.ErrUnauthenticated) {
			return fmt.Errorf("%w: %w: %s rejected the access key (%s); check access_key and secret_key",
				store.ErrUnavailable, store.ErrUnauthenticated, endpointName(c), apiCode(lerr))
		}
		return fmt.Errorf("%w: %w: the credentials have no access to %s (%s)", store.ErrUnavailable, store.ErrForbidden, where, apiCode(lerr))
	case status == 0:
		return fmt.Errorf("%w: cannot reach %s: %v", store.ErrUnavailable, endpointName(c), rootCause(err))
	default:
		return fmt.Errorf("%w: %s: HTTP %d: %v", store.ErrUnavailable, where, status, rootCause(err))
	}
}

func (st *state) createBucket(ctx context.Context) error {
	in := &s3.CreateBucketInput{Bucket: aws.String(st.cfg.bucket)}
	if st.cfg.region != "us-east-1" {
		in.CreateBucketConfiguration = &types.CreateBucketConfiguration{
			LocationConstraint: types.BucketLocationConstraint(st.cfg.region),
		}
	}
	_, err := st.client.CreateBucket(ctx, in)
	var owned *types.BucketAlreadyOwnedByYou
	if errors.As(err, &owned) {
		return nil // created meanwhile by another store process
	}
	return err
}

// validID checks an image id: Glance ids are UUIDs; the rule keeps every
// key a single plain name below the prefix.
func validID(id string) error {
	if !idRE.MatchString(id) {
		if len(id) > 80 {
			id = id[:80] + "…"
		}
		return fmt.Errorf("%w: image id %q: want 1 to 64 of [A-Za-z0-9_-], starting with a letter or digit", store.ErrInvalidArgument, id)
	}
	return nil
}

// location returns the URI of the object key: s3://<bucket>/<key>, which
// names no endpoint and no credentials.
func (c *config) location(key string) string {
	return (&url.URL{Scheme: Scheme, Host: c.bucket, Path: "/" + key}).String()
}

// keyOf validates location and returns the key it names: the store's
// bucket, the store's prefix, a valid image id, and nothing else.
func (c *config) keyOf(location string) (string, error) {
	bad := func(why string) (string, error) {
		return "", fmt.Errorf("%w: %q: %s", store.ErrInvalidLocation, location, why)
	}
	u, err := url.Parse(location)
	if err != nil {
		return bad("not a URI")
	}
	if u.Scheme != Scheme {
		return bad("not an s3 URI")
	}
	if u.Opaque != "" || u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Port() != "" {
		return bad("only s3://<bucket>/<key> is allowed")
	}
	if u.Host != c.bucket {
		return bad("not in this store's bucket")
	}
	key, ok := strings.CutPrefix(u.Path, "/"+c.prefix)
	if !ok || validID(key) != nil {
		return bad("not an image key of this store")
	}
	return c.prefix + key, nil
}

// Get opens the object for reading the range r, with one request.
func (s *Store) Get(ctx context.Context, location string, r store.Range) (io.ReadCloser, store.ObjectInfo, error) {
	st, err := s.state()
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	key, err := st.cfg.keyOf(location)
	if err != nil {
		return nil, store.ObjectInfo{}, err
	}
	if r.Offset < 0 {
		return nil, store.ObjectInfo{}, fmt.Errorf("%w: negative offset %d", store.ErrInvalidArgument, r.Offset)
	}
	if r.Length == 0 {
		oi, err := s.Stat(ctx, location)
		if err != nil {
			return nil, oi, err
		}
		if r.Offset > oi.Size {
			return nil, store.ObjectInfo{}, fmt.Errorf("%w: offset %d beyond the %d-byte object", store.ErrOutOfRange, r.Offset, oi.Size)
		}
		return io.NopCloser(strings.NewReader("")), oi, nil
	}
	in := &s3.GetObjectInput{Bucket: aws.String(st.cfg.bucket), Key: aws.String(key)}
	ranged := r.Offset > 0 || r.Length > 0
	if ranged {
		spec := fmt.Sprintf("bytes=%d-", r.Offset)
		if r.Length > 0 {
			spec += strconv.FormatInt(r.Offset+r.Length-1, 10)
		}
		in.Range = aws.String(spec)
	}
	out, err := st.client.GetObject(ctx, in)
	if err != nil {
		if httpStatus(err) == http.StatusRequestedRangeNotSatisfiable {
			// The offset is at or past the end: which one decides between
			// an empty read and an error.
			oi, serr := s.Stat(ctx, location)
			if serr != nil {
				return nil, oi, serr
			}
			if r.Offset == oi.Size {
				return io.NopCloser(strings.NewReader("")), oi, nil
			}
			return nil, store.ObjectInfo{}, fmt.Errorf("%w: offset %d beyond the %d-byte object", store.ErrOutOfRange, r.Offset, oi.Size)
		}
		return nil, store.ObjectInfo{}, wrap("get", key, err)
	}
	size := aws.ToInt64(out.ContentLength)
	if ranged {
		total, ok := totalFromContentRange(aws.ToString(out.ContentRange))
		if !ok {
			out.Body.Close()
			return nil, store.ObjectInfo{}, fmt.Errorf("s3: get %s: answer to a range request has Content-Range %q", key, aws.ToString(out.ContentRange))
		}
		size = total
	}
	return out.Body, store.ObjectInfo{Size: size}, nil
}

// totalFromContentRange reads the complete length from "bytes a-b/total".
func totalFromContentRange(cr string) (int64, bool) {
	_, total, ok := strings.Cut(cr, "/")
	if !ok || !strings.HasPrefix(cr, "bytes ") {
		return 0, false
	}
	n, err := strconv.ParseInt(total, 10, 64)
	return n, err == nil && n >= 0
}

// Stat reports the object's size.
func (s *Store) Stat(ctx context.Context, location string) (store.ObjectInfo, error) {
	st, err := s.state()
	if err != nil {
		return store.ObjectInfo{}, err
	}
	key, err := st.cfg.keyOf(location)
	if err != nil {
		return store.ObjectInfo{}, err
	}
	out, err := st.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(st.cfg.bucket), Key: aws.String(key)})
	if err != nil {
		return store.ObjectInfo{}, wrap("stat", key, err)
	}
	return store.ObjectInfo{Size: aws.ToInt64(out.ContentLength)}, nil
}

// Delete removes the object; an object already gone is not an error.
func (s *Store) Delete(ctx context.Context, location string) error {
	st, err := s.state()
	if err != nil {
		return err
	}
	key, err := st.cfg.keyOf(location)
	if err != nil {
		return err
	}
	_, err = st.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(st.cfg.bucket), Key: aws.String(key)})
	if err != nil && httpStatus(err) != http.StatusNotFound {
		return wrap("delete", key, err)
	}
	return nil
}

// --- errors ----------------------------------------------------------------

// wrap names the operation and key and adds the store sentinel err amounts
// to.
func wrap(op, key string, err error) error {
	return fmt.Errorf("s3: %s %s: %w", op, key, mapErr(err))
}

// mapErr adds to err the store sentinel it amounts to. Context errors stay
// as they are: the host maps them itself.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var sentinel error
	switch code, status := apiCode(err), httpStatus(err); {
	case code == "NoSuchKey" || code == "NotFound" || code == "NoSuchUpload" || code == "NoSuchBucket" || status == http.StatusNotFound:
		sentinel = store.ErrNotFound
	case code == "InvalidAccessKeyId" || code == "SignatureDoesNotMatch" || code == "ExpiredToken" ||
		code == "InvalidToken" || code == "AuthorizationHeaderMalformed" || status == http.StatusUnauthorized:
		sentinel = store.ErrUnauthenticated
	case code == "QuotaExceeded" || code == "EntityTooLarge" || status == http.StatusInsufficientStorage:
		sentinel = store.ErrStorageFull
	case code == "AccessDenied" || status == http.StatusForbidden:
		sentinel = store.ErrForbidden
	case code == "PreconditionFailed" || code == "ConditionalRequestConflict" || status == http.StatusPreconditionFailed:
		sentinel = store.ErrAlreadyExists
	case code == "InvalidRange" || status == http.StatusRequestedRangeNotSatisfiable:
		sentinel = store.ErrOutOfRange
	case status == 0 || status >= 500 || code == "SlowDown" || code == "RequestTimeout":
		sentinel = store.ErrUnavailable
	}
	if sentinel == nil {
		return err
	}
	return fmt.Errorf("%w: %w", sentinel, err)
}

// apiCode returns the S3 error code of err, or "".
func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// httpStatus returns the HTTP status of the answer that failed, or 0 when
// there was none (the endpoint was not reached).
func httpStatus(err error) int {
	var re *smithyhttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.HTTPStatusCode()
	}
	return 0
}

// rootCause strips the SDK's layers of "operation error …" from a network
// error, so a probe's reason reads "dial tcp 127.0.0.1:1: connection refused".
func rootCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
