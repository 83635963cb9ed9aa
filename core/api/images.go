package api

import (
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"

	"github.com/glance-go/glance/core/image"
	"github.com/glance-go/glance/core/registry"
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

// imageView encodes img as Glance's image JSON: extra properties first,
// then every base attribute (null when unset), tags, links, and stores
// once data exists.
func imageView(img *image.Image) []byte {
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
	o.field("visibility", img.Visibility)
	o.field("size", img.Size)
	o.field("virtual_size", img.VirtualSize)
	o.field("status", img.Status)
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
		case errors.Is(err, image.ErrInvalidTransition):
			status = http.StatusConflict
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
	switch {
	case img.Owner == nil && who.ProjectID != "":
		img.Owner = image.Ptr(who.ProjectID)
	case img.Owner != nil && *img.Owner != who.ProjectID && !who.IsAdmin:
		fail(c, newError(http.StatusForbidden, "You are not permitted to create images owned by '%s'.", *img.Owner))
		return
	}
	if img.Visibility == image.VisibilityPublic && !who.IsAdmin {
		fail(c, newError(http.StatusForbidden, "You are not authorized to complete publicize_image action."))
		return
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
	writeJSON(c, http.StatusCreated, pythonize(imageView(img)))
}

// showImage is GET /v2/images/{id}.
func (s *server) showImage(c *gin.Context) {
	id := c.Param("id")
	img, err := s.reg.Get(c.Request.Context(), id)
	if err != nil {
		s.imageError(c, id, err)
		return
	}
	writeJSON(c, http.StatusOK, pythonize(imageView(img)))
}

// queryParams are query parameters in their order of first appearance,
// each with its last value: Python's dict(request.params), which Glance
// re-encodes into the first and next links.
type queryParams struct {
	keys []string
	vals map[string]string
}

func parseQuery(raw string) (queryParams, error) {
	q := queryParams{vals: map[string]string{}}
	for _, part := range strings.Split(raw, "&") {
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		k, err := url.QueryUnescape(k)
		if err != nil {
			return q, err
		}
		if v, err = url.QueryUnescape(v); err != nil {
			return q, err
		}
		if _, ok := q.vals[k]; !ok {
			q.keys = append(q.keys, k)
		}
		q.vals[k] = v
	}
	return q, nil
}

func (q queryParams) encode(skip string) string {
	var parts []string
	for _, k := range q.keys {
		if k != skip {
			parts = append(parts, url.QueryEscape(k)+"="+url.QueryEscape(q.vals[k]))
		}
	}
	return strings.Join(parts, "&")
}

func (q *queryParams) set(k, v string) {
	if _, ok := q.vals[k]; !ok {
		q.keys = append(q.keys, k)
	}
	q.vals[k] = v
}

// listImages is GET /v2/images: limit, marker and os_hidden for now.
func (s *server) listImages(c *gin.Context) {
	params, err := parseQuery(c.Request.URL.RawQuery)
	if err != nil {
		fail(c, newError(http.StatusBadRequest, "Invalid query string"))
		return
	}
	lq := registry.ListQuery{Limit: defaultListLimit, OSHidden: image.Ptr(false)}
	if v, ok := params.vals["limit"]; ok {
		n, err := strconv.Atoi(strings.TrimSpace(v))
		if err != nil {
			fail(c, newError(http.StatusBadRequest, "limit param must be an integer"))
			return
		}
		if n < 0 {
			fail(c, newError(http.StatusBadRequest, "limit param must be positive"))
			return
		}
		lq.Limit = min(n, maxListLimit)
	}
	if v, ok := params.vals["os_hidden"]; ok {
		switch strings.ToLower(v) {
		case "true":
			lq.OSHidden = image.Ptr(true)
		case "false":
		default:
			fail(c, newError(http.StatusBadRequest, "Invalid value '%s' for 'os_hidden' filter. Valid values are 'true' or 'false'.", v))
			return
		}
	}
	lq.Marker = params.vals["marker"]
	var imgs []*image.Image
	if lq.Limit > 0 {
		imgs, err = s.reg.List(c.Request.Context(), lq)
	}
	if errors.Is(err, registry.ErrInvalidMarker) {
		fail(c, newError(http.StatusBadRequest, "No image found with ID %s", lq.Marker))
		return
	}
	if err != nil {
		s.imageError(c, "", err)
		return
	}
	items := make([]byte, 0, 1024*len(imgs))
	items = append(items, '[')
	for i, img := range imgs {
		if i > 0 {
			items = append(items, ',')
		}
		items = append(items, imageView(img)...)
	}
	items = append(items, ']')
	var o object
	o.raw("images", items)
	first := "/v2/images"
	if q := params.encode("marker"); q != "" {
		first += "?" + q
	}
	o.field("first", first)
	o.field("schema", "/v2/schemas/images")
	if len(imgs) > 0 && len(imgs) == lq.Limit {
		params.set("marker", imgs[len(imgs)-1].ID)
		o.field("next", "/v2/images?"+params.encode(""))
	}
	writeJSON(c, http.StatusOK, pythonize(o.bytes()))
}

// deleteImage is DELETE /v2/images/{id}: the registry soft delete first,
// then the data in every store; a store failure is logged, as Glance does.
func (s *server) deleteImage(c *gin.Context) {
	id := c.Param("id")
	ctx := c.Request.Context()
	img, err := s.reg.Get(ctx, id)
	if err != nil {
		s.imageError(c, id, err)
		return
	}
	if img.Protected {
		fail(c, newError(http.StatusForbidden, "Image %s is protected and cannot be deleted.", id))
		return
	}
	locs, err := s.reg.Delete(ctx, id)
	if err != nil {
		s.imageError(c, id, err)
		return
	}
	s.deleteData(ctx, id, locs)
	noContent(c)
}
