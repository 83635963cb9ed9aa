package api

import (
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/core/image"
	"github.com/glance-go/glance/core/image/checksum"
	"github.com/glance-go/glance/core/policy"
	"github.com/glance-go/glance/core/registry"
	"github.com/glance-go/glance/sdk/store"
)

// Stores is what the API needs of the plugin host.
type Stores interface {
	// DefaultStore returns the id of the default store.
	DefaultStore() string
	// Store returns the store with this id; an unknown id gives an error
	// wrapping ErrUnknownStore.
	Store(id string) (store.Backend, error)
}

// StoreLister is optionally implemented by a Stores: IDs lists the
// configured store ids, for the OpenStack-image-store-ids header.
type StoreLister interface {
	IDs() []string
}

// DefaultSizeCap is Glance's image_size_cap (1 TiB).
const DefaultSizeCap = int64(1) << 40

// Options configure New.
type Options struct {
	Registry registry.Repository
	Stores   Stores
	Logger   hclog.Logger
	// SizeCap is the largest image accepted, in bytes (image_size_cap);
	// 0 means DefaultSizeCap.
	SizeCap int64
	// CacheControl, when set, is sent as Cache-Control on image data.
	CacheControl string
	// PublicEndpoint is the base URL shown in the versions document and
	// Location headers (Glance's public_endpoint); "" means the request's
	// own scheme and Host.
	PublicEndpoint string
	// Authenticate identifies callers; nil means noauth (NoAuthIdentity).
	Authenticate AuthFunc
	// AuthChallenge, when set, is sent as WWW-Authenticate with every 401
	// (Keystone's `Keystone uri="…"`).
	AuthChallenge string
	// HashAlgo is Glance's hashing_algorithm for os_hash_value; default
	// sha512.
	HashAlgo string
	// Rules are the image schema settings (formats, quotas).
	Rules image.Rules
	// ShowMultipleLocations shows an image's locations and allows the
	// /locations JSON-patch operations (Glance's show_multiple_locations;
	// off by default: location URLs reveal the store layout).
	ShowMultipleLocations bool
	// ShowImageDirectURL shows direct_url, the first location (Glance's
	// show_image_direct_url; off by default).
	ShowImageDirectURL bool
	// LocationQuota is the most locations an image may have (Glance's
	// image_location_quota); 0 means DefaultLocationQuota, < 0 unlimited.
	LocationQuota int
	// StorageQuota is the most bytes of image data a project may hold
	// (Glance's user_storage_quota, counted per owner); 0 means no quota.
	StorageQuota int64
	// Policy decides who may do what (Glance's policy rules); nil means
	// policy.Default(), Glance's secure-RBAC defaults.
	Policy *policy.Enforcer
	// MemberQuota is the most members an image may have (Glance's
	// image_member_quota); 0 means DefaultMemberQuota, < 0 unlimited.
	MemberQuota int
}

// DefaultMemberQuota is Glance's image_member_quota.
const DefaultMemberQuota = 128

// DefaultLocationQuota is Glance's image_location_quota.
const DefaultLocationQuota = 10

// server is the API. Its state is read-only after New, but for the
// buffer pool.
type server struct {
	reg      registry.Repository
	stores   Stores
	log      hclog.Logger
	sizeCap  int64
	cache    string
	endpoint string
	auth     AuthFunc
	authHdr  string
	algo     string
	rules    image.Rules
	schemas  map[string][]byte
	showLocs bool
	showURL  bool
	locQuota int
	quota    int64
	pol      *policy.Enforcer
	memQuota int
	engine   *gin.Engine
	bufs     sync.Pool // *[]byte of copyBufSize, for streaming downloads
}

const (
	copyBufSize     = 1 << 20
	maxJSONBody     = 1 << 20
	maxRequestIDLen = 64
)

// New returns the Images API handler.
func New(o Options) http.Handler {
	s := &server{
		reg: o.Registry, stores: o.Stores, log: o.Logger, sizeCap: o.SizeCap, cache: o.CacheControl,
		endpoint: strings.TrimRight(o.PublicEndpoint, "/"), auth: o.Authenticate, authHdr: o.AuthChallenge, algo: o.HashAlgo, rules: o.Rules,
	}
	if s.log == nil {
		s.log = hclog.NewNullLogger()
	}
	if s.sizeCap <= 0 {
		s.sizeCap = DefaultSizeCap
	}
	if _, err := checksum.NewHash(s.algo); err != nil {
		if s.algo != "" {
			s.log.Error("unknown hashing algorithm, using the default", "hash_algo", s.algo, "default", checksum.DefaultAlgo)
		}
		s.algo = checksum.DefaultAlgo
	}
	if s.auth == nil {
		s.auth = func(*http.Request) (Identity, error) { return NoAuthIdentity(), nil }
	}
	s.bufs.New = func() any { b := make([]byte, copyBufSize); return &b }
	s.showLocs, s.showURL, s.quota = o.ShowMultipleLocations, o.ShowImageDirectURL, o.StorageQuota
	switch s.locQuota = o.LocationQuota; {
	case s.locQuota == 0:
		s.locQuota = DefaultLocationQuota
	case s.locQuota < 0:
		s.locQuota = -1
	}
	if s.pol = o.Policy; s.pol == nil {
		s.pol = policy.Default()
	}
	switch s.memQuota = o.MemberQuota; {
	case s.memQuota == 0:
		s.memQuota = DefaultMemberQuota
	case s.memQuota < 0:
		s.memQuota = -1
	}
	schemas, err := buildSchemas(s.rules)
	if err != nil {
		// The schemas are embedded: this is a build defect.
		panic(fmt.Sprintf("api: embedded schemas: %v", err))
	}
	s.schemas = schemas

	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.HandleMethodNotAllowed = true
	// Route on the escaped path so that a tag may hold an encoded "/".
	e.UseRawPath = true
	e.UnescapePathValues = true
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.Use(s.logRequests, s.requestID, s.recoverPanics)
	e.NoRoute(func(c *gin.Context) { fail(c, &httpError{status: http.StatusNotFound}) })
	e.NoMethod(s.methodNotAllowed)

	e.GET("/", s.versions(http.StatusMultipleChoices))
	e.GET("/versions", s.versions(http.StatusOK))
	e.GET("/healthcheck", s.healthcheck)
	e.HEAD("/healthcheck", s.healthcheck)
	e.GET("/v2", s.v2Redirect)

	v2 := e.Group("/v2", s.authenticate)
	for _, name := range schemaNames {
		v2.GET("/schemas/"+name, rejectBody, s.schema(name))
	}
	v2.POST("/images", s.createImage)
	v2.GET("/images", s.listImages)
	v2.GET("/images/:id", rejectBody, s.showImage)
	v2.PATCH("/images/:id", s.updateImage)
	v2.DELETE("/images/:id", rejectBody, s.deleteImage)
	v2.PUT("/images/:id/file", s.uploadData)
	v2.GET("/images/:id/file", rejectBody, s.downloadData)
	v2.POST("/images/:id/actions/deactivate", rejectBody, s.imageAction(image.StatusActive, image.StatusDeactivated, "deactivate"))
	v2.POST("/images/:id/actions/reactivate", rejectBody, s.imageAction(image.StatusDeactivated, image.StatusActive, "reactivate"))
	v2.PUT("/images/:id/tags/:tag", s.addTag)
	v2.DELETE("/images/:id/tags/:tag", s.deleteTag)
	v2.POST("/images/:id/locations", s.addLocation)
	v2.GET("/images/:id/locations", rejectBody, s.getLocations)
	v2.POST("/images/:id/members", s.addMember)
	v2.GET("/images/:id/members", rejectBody, s.listMembers)
	v2.GET("/images/:id/members/:member", rejectBody, s.showMember)
	v2.PUT("/images/:id/members/:member", s.updateMember)
	v2.DELETE("/images/:id/members/:member", rejectBody, s.deleteMember)
	s.engine = e
	return s
}

// ServeHTTP negotiates the API version as Glance's version negotiation
// middleware does, then routes.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.negotiateVersion(r) {
		s.engine.ServeHTTP(w, r)
		return
	}
	s.versionsUnknown(w, r)
}

// vndMediaType prefixes the Accept header that picks a version without a
// URL prefix: application/vnd.openstack.images-v2.N.
const vndMediaType = "application/vnd.openstack.images-"

// negotiateVersion rewrites r's path to the /v2 routes, or reports false
// for an unknown version (answered with the versions document, 300).
// /versions, /healthcheck and / are served as they are. Otherwise, an
// Accept header that starts with the vendor media type names the version
// and the path is taken as unversioned (/images → /v2/images); failing
// that, the first path segment must be v2 or a known v2.N.
func (s *server) negotiateVersion(r *http.Request) bool {
	p := r.URL.Path
	if p == "/" || p == "/healthcheck" || p == "/versions" || strings.HasPrefix(p, "/versions/") {
		return true
	}
	raw := r.URL.EscapedPath()
	var version, rest, rawRest string
	if accept := r.Header.Get("Accept"); strings.HasPrefix(accept, vndMediaType) {
		version, rest, rawRest = accept[len(vndMediaType):], p, raw
	} else {
		trimmed := strings.TrimLeft(p, "/")
		version, _, _ = strings.Cut(trimmed, "/")
		rest = trimmed[len(version):]
		rawTrimmed := strings.TrimLeft(raw, "/")
		rawVersion, _, _ := strings.Cut(rawTrimmed, "/")
		rawRest = rawTrimmed[len(rawVersion):]
	}
	if !knownVersion(version) {
		return false
	}
	r.URL.Path = "/v2" + rest
	r.URL.RawPath = ""
	if rawRest != rest {
		r.URL.RawPath = "/v2" + rawRest
	}
	return true
}

// rejectBody refuses a request body where Glance's router sets
// body_reject (most GETs, DELETE, the actions).
func rejectBody(c *gin.Context) {
	if c.Request.ContentLength > 0 || len(c.Request.TransferEncoding) > 0 {
		fail(c, newError(http.StatusBadRequest, "A body is not expected with this request."))
	}
}

// logRequests logs each request once it is answered.
func (s *server) logRequests(c *gin.Context) {
	start := time.Now()
	c.Next()
	args := []any{
		"method", c.Request.Method, "path", c.Request.URL.Path, "status", c.Writer.Status(),
		"duration", time.Since(start).Round(time.Microsecond), "request_id", c.Writer.Header().Get("X-Openstack-Request-Id"),
	}
	if g := c.GetHeader("X-Openstack-Request-Id"); g != "" && len(g) <= maxRequestIDLen {
		args = append(args, "global_request_id", g)
	}
	if c.Request.URL.Path == "/healthcheck" {
		s.log.Debug("request", args...)
		return
	}
	s.log.Info("request", args...)
}

// requestID gives every response an x-openstack-request-id; an inbound one
// longer than 64 characters is refused with 431, as Glance does.
func (s *server) requestID(c *gin.Context) {
	c.Header("X-Openstack-Request-Id", "req-"+uuid.NewString())
	if in := c.GetHeader("X-Openstack-Request-Id"); len(in) > maxRequestIDLen {
		fail(c, newError(http.StatusRequestHeaderFieldsTooLarge, "x-openstack-request-id is too long (%d characters, at most %d)", len(in), maxRequestIDLen))
	}
}

// recoverPanics turns a panic into a 500, logged with its stack.
func (s *server) recoverPanics(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			if p == http.ErrAbortHandler {
				panic(p)
			}
			s.log.Error("panic serving request", "path", c.Request.URL.Path, "panic", p, "stack", string(debug.Stack()))
			if !c.Writer.Written() {
				fail(c, &httpError{status: http.StatusInternalServerError})
			}
			c.Abort()
		}
	}()
	c.Next()
}

// authenticate puts the caller's Identity in the request context.
func (s *server) authenticate(c *gin.Context) {
	id, err := s.auth(c.Request)
	if err != nil {
		if errors.Is(err, ErrUnauthenticated) {
			if s.authHdr != "" {
				c.Header("WWW-Authenticate", s.authHdr)
			}
			fail(c, &httpError{status: http.StatusUnauthorized})
			return
		}
		s.log.Error("authentication failed", "error", err)
		fail(c, newError(http.StatusServiceUnavailable, "Authentication is unavailable"))
		return
	}
	if g := c.GetHeader("X-Openstack-Request-Id"); isRequestID(g) {
		id.GlobalRequestID = g
	}
	c.Request = c.Request.WithContext(WithIdentity(c.Request.Context(), id))
	c.Next()
}

func isRequestID(s string) bool {
	if !strings.HasPrefix(s, "req-") {
		return false
	}
	return uuid.Validate(s[len("req-"):]) == nil
}

func identity(c *gin.Context) Identity {
	id, _ := IdentityFrom(c.Request.Context())
	return id
}

// methodNotAllowed answers a known path with the wrong method (gin has set
// the Allow header).
func (s *server) methodNotAllowed(c *gin.Context) {
	fail(c, &httpError{status: http.StatusMethodNotAllowed,
		body: "The method " + truncate(c.Request.Method, 32) + " is not allowed for this resource. <br /><br />\n"})
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

func (s *server) healthcheck(c *gin.Context) {
	c.Header("Content-Type", "text/plain; charset=UTF-8")
	c.Header("Content-Length", "2")
	c.Status(http.StatusOK)
	if c.Request.Method != http.MethodHead {
		c.Writer.WriteString("OK")
	}
}

// baseURL is the public endpoint, or the request's scheme and host.
func (s *server) baseURL(r *http.Request) string {
	if s.endpoint != "" {
		return s.endpoint
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// noContent answers 204 the way Glance does for a successful action.
func noContent(c *gin.Context) {
	c.Header("Content-Type", "text/html; charset=UTF-8")
	c.Header("Content-Length", "0")
	c.Status(http.StatusNoContent)
	c.Writer.WriteHeaderNow()
}

// writeJSON sends an already encoded JSON body.
func writeJSON(c *gin.Context, status int, body []byte) {
	c.Header("Content-Length", strconv.Itoa(len(body)))
	c.Data(status, "application/json", body)
}
