package api

import (
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/glance-go/glance/core/image"
	"github.com/glance-go/glance/core/registry"
	"github.com/glance-go/glance/sdk/store"
)

// Limits of GET /v2/images (Glance's limit_param_default, api_limit_max).
const (
	defaultListLimit = 25
	maxListLimit     = 1000
)

// hiddenProperties are never shown (Glance's _hidden_properties).
func hiddenProperty(k string) bool {
	return k == "os_glance_stage_host" || k == "os_glance_hash_op_host"
}

// viewOptions are the configuration-dependent parts of the image JSON.
type viewOptions struct {
	locations bool // show_multiple_locations
	directURL bool // show_image_direct_url
}

// imageView encodes img as Glance's image JSON: extra properties first,
// then every base attribute (null when unset), locations and direct_url
// when the options say so, tags, links, and stores once data exists.
func imageView(img *image.Image, opts ...viewOptions) []byte {
	var vo viewOptions
	if len(opts) > 0 {
		vo = opts[0]
	}
	var o object
	keys := make([]string, 0, len(img.Properties))
	for k := range img.Properties {
		if !hiddenProperty(k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		o.field(k, img.Properties[k])
	}
	o.field("name", img.Name)
	o.field("disk_format", img.DiskFormat)
	o.field("container_format", img.ContainerFormat)
	o.field("visibility", string(img.Visibility))
	o.field("size", img.Size)
	o.field("virtual_size", img.VirtualSize)
	o.field("status", string(img.Status))
	o.field("checksum", img.Checksum)
	o.field("protected", img.Protected)
	o.field("min_ram", img.MinRAM)
	o.field("min_disk", img.MinDisk)
	o.field("owner", img.Owner)
	o.field("os_hidden", img.OSHidden)
	o.field("os_hash_algo", img.OSHashAlgo)
	o.field("os_hash_value", img.OSHashValue)
	o.field("id", img.ID)
	o.field("created_at", isoTime(img.CreatedAt))
	o.field("updated_at", isoTime(img.UpdatedAt))
	if vo.locations {
		o.raw("locations", locationsJSON(img.Locations))
	}
	if vo.directURL && len(img.Locations) > 0 {
		o.field("direct_url", img.Locations[0].URL)
	}
	tags := img.Tags
	if tags == nil {
		tags = []string{}
	}
	o.field("tags", tags)
	o.field("self", "/v2/images/"+img.ID)
	o.field("file", "/v2/images/"+img.ID+"/file")
	o.field("schema", "/v2/schemas/image")
	if ids := img.StoreIDs(); len(ids) > 0 {
		o.field("stores", strings.Join(ids, ","))
	}
	return o.bytes()
}

// locationsJSON is a location list as Glance shows it: url and metadata.
func locationsJSON(locs []image.Location) []byte {
	b := []byte{'['}
	for i, l := range locs {
		if i > 0 {
			b = append(b, ',')
		}
		var o object
		o.field("url", l.URL)
		meta := l.Metadata
		if meta == nil {
			meta = map[string]string{}
		}
		o.field("metadata", meta)
		b = append(b, o.bytes()...)
	}
	return append(b, ']')
}

func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

// imageError maps a registry or domain error to Glance's answer.
func (s *server) imageError(c *gin.Context, id string, err error) {
	var ie *image.Error
	var te *image.TransitionError
	switch {
	case errors.Is(err, registry.ErrNotFound):
		fail(c, newError(http.StatusNotFound, "No image found with ID %s", id))
	case errors.Is(err, registry.ErrDuplicate):
		fail(c, newError(http.StatusConflict, "Image ID %s already exists!", id))
	case errors.Is(err, registry.ErrProtected):
		fail(c, newError(http.StatusForbidden, "Image %s is protected and cannot be deleted.", id))
	case errors.As(err, &te):
		fail(c, newError(http.StatusConflict, "%s", te.Error()))
	case errors.As(err, &ie):
		status := http.StatusBadRequest
		switch {
		case errors.Is(err, image.ErrForbidden):
			status = http.StatusForbidden
		case errors.Is(err, image.ErrLimitExceeded):
			status = http.StatusRequestEntityTooLarge
		case errors.Is(err, image.ErrConflict):
			status = http.StatusConflict
		case errors.Is(err, image.ErrInvalidTransition):
			status = http.StatusConflict
		}
		if ie.Detail {
			fail(c, &httpError{status: status, detail: ie.Msg})
			return
		}
		fail(c, newError(status, "%s", ie.Msg))
	default:
		s.log.Error("registry error", "image_id", id, "error", err)
		fail(c, &httpError{status: http.StatusInternalServerError})
	}
}

// createImage is POST /v2/images. Like Glance, it ignores the request's
// Content-Type.
func (s *server) createImage(c *gin.Context) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxJSONBody+1))
	if err != nil {
		fail(c, newError(http.StatusBadRequest, "Could not read the request body"))
		return
	}
	if len(body) > maxJSONBody {
		fail(c, newError(http.StatusRequestEntityTooLarge, "Request is too large."))
		return
	}
	img, err := s.rules.ParseCreate(body)
	if err != nil {
		s.imageError(c, "", err)
		return
	}
	who := identity(c)
	if img.ID == "" {
		img.ID = uuid.NewString()
	}
	admin := s.isAdmin(who)
	switch {
	case img.Owner == nil && who.ProjectID != "":
		img.Owner = image.Ptr(who.ProjectID)
	case img.Owner != nil && *img.Owner != who.ProjectID && !admin:
		fail(c, newError(http.StatusForbidden, "You are not permitted to create images owned by '%s'.", *img.Owner))
		return
	}
	// add_image's target is the new image (owner: its owner); then the
	// visibility rules, as Glance's ImageAPIPolicy.add_image.
	t := imageTarget(img, nil)
	if !s.allowed(who, "add_image", t) {
		fail(c, newError(http.StatusForbidden, notAuthorizedF, "add_image"))
		return
	}
	for vis, rule := range map[image.Visibility]string{image.VisibilityPublic: "publicize_image", image.VisibilityCommunity: "communitize_image"} {
		if img.Visibility == vis && !s.allowed(who, rule, t) {
			fail(c, newError(http.StatusForbidden, notAuthorizedF, rule))
			return
		}
	}
	if err := s.reg.Create(c.Request.Context(), img); err != nil {
		s.imageError(c, img.ID, err)
		return
	}
	c.Header("Location", s.baseURL(c.Request)+"/v2/images/"+img.ID)
	if l, ok := s.stores.(StoreLister); ok {
		if ids := l.IDs(); len(ids) > 0 {
			c.Header("OpenStack-image-store-ids", strings.Join(ids, ","))
		}
	}
	writeJSON(c, http.StatusCreated, pythonize(s.imageJSON(img)))
}

// showImage is GET /v2/images/{id}.
func (s *server) showImage(c *gin.Context) {
	a, ok := s.load(c, c.Param("id"), noImageFound)
	if !ok {
		return
	}
	// Glance answers a visible image that get_image refuses with 403.
	if !s.allowed(a.who, "get_image", a.target()) {
		fail(c, newError(http.StatusForbidden, notAuthorizedF, "get_image"))
		return
	}
	writeJSON(c, http.StatusOK, pythonize(s.imageJSON(a.img)))
}

// deleteImage is DELETE /v2/images/{id}. As Glance, the data goes first:
// a store that says the data is in use (an RBD snapshot with clones) gets
// 409 and the image stays as it was; any other store failure is logged and
// the image is deleted all the same.
func (s *server) deleteImage(c *gin.Context) {
	id := c.Param("id")
	ctx := c.Request.Context()
	a, ok := s.load(c, id, noImageFound)
	if !ok {
		return
	}
	if he := s.check(a, "delete_image", ""); he != nil {
		fail(c, he)
		return
	}
	img := a.img
	if img.Protected {
		fail(c, newError(http.StatusForbidden, "Image %s is protected and cannot be deleted.", id))
		return
	}
	locs, err := s.reg.Locations(ctx, id)
	if err != nil {
		s.imageError(c, id, err)
		return
	}
	if err := s.deleteData(ctx, id, locs); errors.Is(err, store.ErrInUse) {
		fail(c, newError(http.StatusConflict, "Image %s could not be deleted because it is in use: %v", id, err))
		return
	}
	// An upload that committed meanwhile added a location: delete its data
	// too, now that the record is gone.
	left, err := s.reg.Delete(ctx, id)
	if err != nil {
		s.imageError(c, id, err)
		return
	}
	s.deleteData(ctx, id, newLocations(left, locs))
	noContent(c)
}

// newLocations returns the locations of after that before lacks.
func newLocations(after, before []image.Location) []image.Location {
	seen := map[string]bool{}
	for _, l := range before {
		seen[l.URL] = true
	}
	var out []image.Location
	for _, l := range after {
		if !seen[l.URL] {
			out = append(out, l)
		}
	}
	return out
}
