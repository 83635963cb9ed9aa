package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"mime"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/glance-go/glance/core/image"
	"github.com/glance-go/glance/core/registry"
)

// acceptPatch is the Accept-Patch header of a 415 on PATCH: Glance's
// media types, sorted.
var acceptPatch = image.PatchMediaType20 + ", " + image.PatchMediaType21

// readJSONBody reads a small JSON request body, or answers 400/413.
func readJSONBody(c *gin.Context) ([]byte, bool) {
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, maxJSONBody+1))
	if err != nil {
		fail(c, newError(http.StatusBadRequest, "Could not read the request body"))
		return nil, false
	}
	if len(body) > maxJSONBody {
		fail(c, newError(http.StatusRequestEntityTooLarge, "Request is too large."))
		return nil, false
	}
	return body, true
}

// updateError answers an error of an update: an *httpError as it is,
// else as imageError does.
func (s *server) updateError(c *gin.Context, id string, err error) {
	var he *httpError
	if errors.As(err, &he) {
		fail(c, he)
		return
	}
	s.imageError(c, id, err)
}

// updateImage is PATCH /v2/images/{id}: the whole patch is checked, then
// applied to the image in one registry transaction, so that it is applied
// entirely or not at all and no concurrent change is lost.
func (s *server) updateImage(c *gin.Context) {
	id := c.Param("id")
	ct := c.GetHeader("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	draft := image.PatchDraft(mt)
	if draft == 0 {
		c.Header("Accept-Patch", acceptPatch)
		fail(c, &httpError{status: http.StatusUnsupportedMediaType,
			body: "The request media type " + ct + " is not supported by this server.\n<br /><br />\n"})
		return
	}
	body, ok := readJSONBody(c)
	if !ok {
		return
	}
	changes, err := s.rules.ParsePatch(body, draft)
	if err != nil {
		s.imageError(c, id, err)
		return
	}
	a, ok := s.load(c, id, noImageFound)
	if !ok {
		return
	}
	ctx := c.Request.Context()
	var dropped []image.Location
	img, err := s.reg.Update(ctx, id, func(img *image.Image) error {
		a.img = img
		if he := s.check(a, "modify_image", ""); he != nil {
			return he
		}
		before := &image.Image{Properties: cloneMap(img.Properties), Tags: slices.Clone(img.Tags)}
		locsBefore := slices.Clone(img.Locations)
		for _, ch := range changes {
			var err error
			if ch.Path[0] == "locations" {
				err = s.applyLocationChange(ctx, a, ch)
			} else {
				err = s.rules.Apply(img, ch, image.ApplyOptions{IsAdmin: a.admin, Authorize: s.authorizer(a)})
			}
			if err != nil {
				return err
			}
		}
		if err := s.rules.CheckQuotas(before, img); err != nil {
			return err
		}
		dropped = droppedLocations(locsBefore, img.Locations)
		return nil
	})
	if err != nil {
		s.updateError(c, id, err)
		return
	}
	// Glance deletes the data of a location removed by a patch.
	s.deleteData(ctx, id, dropped)
	writeJSON(c, http.StatusOK, pythonize(s.imageJSON(img)))
}

func cloneMap(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// droppedLocations are the locations of before that after lacks.
func droppedLocations(before, after []image.Location) []image.Location {
	var out []image.Location
	for _, l := range before {
		if !slices.ContainsFunc(after, func(a image.Location) bool { return a.ID == l.ID }) {
			out = append(out, l)
		}
	}
	return out
}

// imageJSON is imageView with the deployment's view options.
func (s *server) imageJSON(img *image.Image) []byte {
	return imageView(img, s.viewOptions())
}

func (s *server) viewOptions() viewOptions {
	return viewOptions{locations: s.showLocs, directURL: s.showURL}
}

// imageAction is POST /v2/images/{id}/actions/{deactivate,reactivate}:
// from → to as a compare-and-set inside the registry transaction; an image
// already in the target status is left alone (Glance's actions are
// idempotent); any other status is 403.
func (s *server) imageAction(from, to image.Status, action string) gin.HandlerFunc {
	return func(c *gin.Context) {
		id := c.Param("id")
		a, ok := s.load(c, id, noImageFound)
		if !ok {
			return
		}
		_, err := s.reg.Update(c.Request.Context(), id, func(img *image.Image) error {
			a.img = img
			if he := s.check(a, action, ""); he != nil {
				return he
			}
			switch img.Status {
			case to:
				return nil
			case from:
				img.Status = to
				return nil
			}
			return newError(http.StatusForbidden, "Not allowed to %s image in status '%s'", action, img.Status)
		})
		if err != nil {
			s.updateError(c, id, err)
			return
		}
		noContent(c)
	}
}

// addTag is PUT /v2/images/{id}/tags/{tag}.
func (s *server) addTag(c *gin.Context) {
	id, tag := c.Param("id"), c.Param("tag")
	if err := image.ValidTag(tag); err != nil {
		s.imageError(c, id, err)
		return
	}
	a, ok := s.load(c, id, imageNotFound)
	if !ok {
		return
	}
	_, err := s.reg.Update(c.Request.Context(), id, func(img *image.Image) error {
		a.img = img
		if he := s.check(a, "modify_image", "Not allowed to update tags for image %s."); he != nil {
			return he
		}
		if slices.Contains(img.Tags, tag) {
			return nil
		}
		before := &image.Image{Properties: img.Properties, Tags: slices.Clone(img.Tags)}
		img.Tags = append(img.Tags, tag)
		if err := s.rules.CheckQuotas(before, img); err != nil {
			return newError(http.StatusRequestEntityTooLarge, "Image tag limit exceeded for image %s: %v:", id, err)
		}
		return nil
	})
	if err != nil {
		s.tagError(c, id, err)
		return
	}
	noContent(c)
}

// deleteTag is DELETE /v2/images/{id}/tags/{tag}.
func (s *server) deleteTag(c *gin.Context) {
	id, tag := c.Param("id"), c.Param("tag")
	a, ok := s.load(c, id, imageNotFound)
	if !ok {
		return
	}
	_, err := s.reg.Update(c.Request.Context(), id, func(img *image.Image) error {
		a.img = img
		if he := s.check(a, "modify_image", "Not allowed to delete tags for image %s."); he != nil {
			return he
		}
		i := slices.Index(img.Tags, tag)
		if i < 0 {
			return &httpError{status: http.StatusNotFound}
		}
		img.Tags = slices.Delete(img.Tags, i, i+1)
		return nil
	})
	if err != nil {
		s.tagError(c, id, err)
		return
	}
	noContent(c)
}

func (s *server) tagError(c *gin.Context, id string, err error) {
	if errors.Is(err, registry.ErrNotFound) {
		fail(c, newError(http.StatusNotFound, "Image %s not found.", id))
		return
	}
	s.updateError(c, id, err)
}

// locationStore finds the store that holds url and the size of the data
// there: the store whose Stat accepts the URL (a store refuses the URLs of
// other schemes or roots).
func (s *server) locationStore(ctx context.Context, url string) (string, int64, error) {
	l, ok := s.stores.(StoreLister)
	if !ok {
		return "", 0, errors.New("no store lister")
	}
	var lastErr error
	for _, id := range l.IDs() {
		b, err := s.stores.Store(id)
		if err != nil {
			lastErr = err
			continue
		}
		info, err := b.Stat(ctx, url)
		if err == nil {
			return id, info.Size, nil
		}
		lastErr = err
	}
	return "", 0, fmt.Errorf("no store holds %s: %w", url, lastErr)
}

// locationValue decodes one {"url", "metadata", "validation_data"} item.
type locationValue struct {
	url        string
	metadata   map[string]string
	validation map[string]string
}

func parseLocationValue(v any) (locationValue, error) {
	bad := newError(http.StatusBadRequest, "Invalid location: %s", pyReprShort(v))
	obj, ok := v.(map[string]any)
	if !ok {
		return locationValue{}, bad
	}
	var lv locationValue
	if lv.url, ok = obj["url"].(string); !ok || lv.url == "" || len(lv.url) > 255 {
		return lv, bad
	}
	meta, ok := obj["metadata"].(map[string]any)
	if !ok {
		return lv, bad
	}
	lv.metadata = map[string]string{}
	for k, x := range meta {
		lv.metadata[k] = fmt.Sprint(x)
	}
	if vd, ok := obj["validation_data"].(map[string]any); ok {
		lv.validation = map[string]string{}
		for k, x := range vd {
			sv, ok := x.(string)
			if !ok || !slices.Contains([]string{"checksum", "os_hash_algo", "os_hash_value"}, k) {
				return lv, bad
			}
			lv.validation[k] = sv
		}
	}
	return lv, nil
}

func pyReprShort(v any) string {
	s := fmt.Sprint(v)
	if len(s) > 80 {
		s = s[:77] + "..."
	}
	return s
}

// newLocation resolves lv to a location of img: its store, and, for a
// queued image, the size and hashes that make it active.
func (s *server) newLocation(ctx context.Context, img *image.Image, lv locationValue) (image.Location, error) {
	if slices.ContainsFunc(img.Locations, func(l image.Location) bool { return l.URL == lv.url }) {
		return image.Location{}, newError(http.StatusBadRequest, "The location %s already exists", lv.url)
	}
	if s.locQuota >= 0 && len(img.Locations)+1 > s.locQuota {
		return image.Location{}, newError(http.StatusRequestEntityTooLarge,
			"The limit has been exceeded on the number of allowed image locations. Attempted: %d, Maximum: %d", len(img.Locations)+1, s.locQuota)
	}
	storeID, size, err := s.locationStore(ctx, lv.url)
	if err == nil && size <= 0 {
		// Glance's _check_location_uri: a location must hold data.
		err = fmt.Errorf("%s holds no data", lv.url)
	}
	if err != nil {
		s.log.Debug("location refused", "url", lv.url, "error", err)
		return image.Location{}, newError(http.StatusBadRequest, "The Store URI was malformed: %s", lv.url)
	}
	if img.Size != nil && *img.Size != size {
		return image.Location{}, newError(http.StatusBadRequest, "The data at %s (%d bytes) is not the image's (%d bytes)", lv.url, size, *img.Size)
	}
	if err := applyValidationData(img, lv.validation); err != nil {
		return image.Location{}, err
	}
	if img.Status == image.StatusQueued {
		img.Size = image.Ptr(size)
	}
	return image.Location{URL: lv.url, StoreID: storeID, Metadata: withStore(lv.metadata, storeID)}, nil
}

// applyValidationData is Glance's _validate_validation_data: the hashes a
// client vouches for are recorded on a queued image, and must match on an
// active one.
func applyValidationData(img *image.Image, vd map[string]string) error {
	if len(vd) == 0 {
		return nil
	}
	cur := map[string]*string{"checksum": img.Checksum, "os_hash_algo": img.OSHashAlgo, "os_hash_value": img.OSHashValue}
	if img.Status != image.StatusQueued {
		for k, v := range vd {
			if cur[k] == nil || *cur[k] != v {
				return newError(http.StatusConflict, "%s is already set with a different value", k)
			}
		}
		return nil
	}
	if vd["os_hash_algo"] == "" || vd["os_hash_value"] == "" {
		return newError(http.StatusBadRequest, "Invalid validation_data: os_hash_algo and os_hash_value are required")
	}
	if c, ok := vd["checksum"]; ok {
		img.Checksum = image.Ptr(c)
	}
	img.OSHashAlgo, img.OSHashValue = image.Ptr(vd["os_hash_algo"]), image.Ptr(vd["os_hash_value"])
	return nil
}

// applyLocationChange applies a /locations patch operation (Glance's
// _do_{add,replace,remove}_locations).
func (s *server) applyLocationChange(ctx context.Context, a *access, ch image.Change) error {
	img := a.img
	verb := map[string]string{"add": "add", "remove": "remove", "replace": "update"}[ch.Op]
	if ch.Op == "replace" {
		if l, ok := ch.Value.([]any); !ok || len(l) == 0 {
			return &httpError{status: http.StatusForbidden, detail: "Cannot set locations to empty list."}
		}
	}
	if !s.showLocs {
		return newError(http.StatusForbidden, "It's not allowed to %s locations if locations are invisible.", verb)
	}
	rule := "set_image_location"
	if ch.Op == "remove" {
		rule = "delete_image_location"
	}
	if he := s.check(a, rule, ""); he != nil {
		return he
	}
	okStatus := img.Status == image.StatusActive || (ch.Op != "remove" && img.Status == image.StatusQueued)
	if !okStatus {
		if ch.Op == "replace" {
			verb = "replace"
		}
		return newError(http.StatusConflict, "It's not allowed to %s locations if image status is %s.", verb, img.Status)
	}
	switch ch.Op {
	case "remove":
		if len(img.Locations) == 1 {
			return &httpError{status: http.StatusForbidden, detail: "Cannot remove last location in the image."}
		}
		pos, ok := locationPos(ch.Path[1], len(img.Locations), false)
		if !ok {
			return newError(http.StatusBadRequest, "Invalid position for removing a location.")
		}
		img.Locations = slices.Delete(img.Locations, pos, pos+1)
		return nil
	case "add":
		lv, err := parseLocationValue(ch.Value)
		if err != nil {
			return err
		}
		pos, ok := locationPos(ch.Path[1], len(img.Locations), true)
		if !ok {
			return newError(http.StatusBadRequest, "Invalid position for adding a location.")
		}
		loc, err := s.newLocation(ctx, img, lv)
		if err != nil {
			return err
		}
		img.Locations = slices.Insert(img.Locations, pos, loc)
	default: // replace: the new list; kept locations keep their ids
		items := ch.Value.([]any)
		lvs := make([]locationValue, 0, len(items))
		for _, it := range items {
			lv, err := parseLocationValue(it)
			if err != nil {
				return err
			}
			lvs = append(lvs, lv)
		}
		old := img.Locations
		// Glance (since OSSN-0090) lets a replace on an image that has
		// locations change their metadata only: dropping or swapping a URL
		// through replace would bypass delete_image_location.
		if len(old) > 0 && !sameURLs(old, lvs) {
			return newError(http.StatusBadRequest, "Original locations is not empty: %s", locationsRepr(old))
		}
		img.Locations = nil
		for _, lv := range lvs {
			if slices.ContainsFunc(img.Locations, func(l image.Location) bool { return l.URL == lv.url }) {
				return newError(http.StatusBadRequest, "The location %s already exists", lv.url)
			}
			if i := slices.IndexFunc(old, func(l image.Location) bool { return l.URL == lv.url }); i >= 0 {
				kept := old[i]
				kept.Metadata = withStore(lv.metadata, kept.StoreID)
				img.Locations = append(img.Locations, kept)
				continue
			}
			loc, err := s.newLocation(ctx, img, lv)
			if err != nil {
				return err
			}
			img.Locations = append(img.Locations, loc)
		}
	}
	if img.Status == image.StatusQueued {
		if err := image.CheckTransition(img, image.StatusActive); err != nil {
			return err
		}
		img.Status = image.StatusActive
	}
	return nil
}

// sameURLs reports whether locs and lvs name the same URLs, in any order.
func sameURLs(locs []image.Location, lvs []locationValue) bool {
	a := make([]string, 0, len(locs))
	for _, l := range locs {
		a = append(a, l.URL)
	}
	b := make([]string, 0, len(lvs))
	for _, lv := range lvs {
		b = append(b, lv.url)
	}
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// locationsRepr is Python's repr of the locations, as Glance's message
// shows them.
func locationsRepr(locs []image.Location) string {
	var b strings.Builder
	b.WriteByte('[')
	for i, l := range locs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("{'url': " + pyQuote(l.URL) + ", 'metadata': {")
		keys := slices.Sorted(maps.Keys(l.Metadata))
		for j, k := range keys {
			if j > 0 {
				b.WriteString(", ")
			}
			b.WriteString(pyQuote(k) + ": " + pyQuote(l.Metadata[k]))
		}
		b.WriteString("}, 'status': " + pyQuote(l.Status) + "}")
	}
	b.WriteByte(']')
	return b.String()
}

// pyQuote is Python's repr of a str (printable ASCII and beyond as is).
func pyQuote(v string) string {
	q := "'"
	if strings.Contains(v, "'") && !strings.Contains(v, `"`) {
		q = `"`
	}
	r := strings.NewReplacer(`\`, `\\`, q, `\`+q, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return q + r.Replace(v) + q
}

// locationPos is Glance's _get_locations_op_pos: a decimal index or "-"
// (the end).
func locationPos(p string, n int, allowEnd bool) (int, bool) {
	pos := n - 1
	if allowEnd {
		pos = n
	}
	if p != "-" {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return 0, false
		}
		if _, err := fmt.Sscan(p, &pos); err != nil {
			return 0, false
		}
	}
	if !allowEnd && (pos < 0 || pos >= n) {
		return 0, false
	}
	if allowEnd && pos > n {
		pos = n // list.insert past the end appends
	}
	return pos, true
}

// addLocation is POST /v2/images/{id}/locations (2.17): a location for a
// queued image, which becomes active. Glance runs it as a task and answers
// 202; here it is done before answering, still 202.
func (s *server) addLocation(c *gin.Context) {
	id := c.Param("id")
	body, ok := readJSONBody(c)
	if !ok {
		return
	}
	var v any
	if err := jsonUnmarshalNumber(body, &v); err != nil {
		fail(c, newError(http.StatusBadRequest, "Malformed JSON in request body."))
		return
	}
	lv, err := parseLocationValue(withEmptyMetadata(v))
	if err != nil {
		s.updateError(c, id, err)
		return
	}
	ctx := c.Request.Context()
	a, ok := s.load(c, id, noImageFound)
	if !ok {
		return
	}
	_, err = s.reg.Update(ctx, id, func(img *image.Image) error {
		a.img = img
		if !a.visible() {
			return newError(http.StatusNotFound, noImageFound, id)
		}
		if img.Status != image.StatusQueued {
			return newError(http.StatusConflict, "It's not allowed to add locations if image status is %s.", img.Status)
		}
		// add_image_location (Glance: service, or the owner with the http
		// store enabled, which glance-go does not do).
		if he := s.check(a, "add_image_location", "http store must be enabled to use location API by normal user."); he != nil {
			return he
		}
		loc, err := s.newLocation(ctx, img, lv)
		if err != nil {
			return err
		}
		img.Locations = append(img.Locations, loc)
		if err := image.CheckTransition(img, image.StatusActive); err != nil {
			return err
		}
		img.Status = image.StatusActive
		return nil
	})
	if err != nil {
		s.updateError(c, id, err)
		return
	}
	c.Status(http.StatusAccepted)
	c.Header("Content-Length", "0")
	c.Writer.WriteHeaderNow()
}

// jsonUnmarshalNumber decodes one JSON value, numbers as json.Number.
func jsonUnmarshalNumber(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

// withEmptyMetadata gives a POST /locations body (url, validation_data)
// the metadata a location item needs.
func withEmptyMetadata(v any) any {
	if m, ok := v.(map[string]any); ok {
		if _, ok := m["metadata"]; !ok {
			m["metadata"] = map[string]any{}
		}
	}
	return v
}

// getLocations is GET /v2/images/{id}/locations (2.17): service role (or
// admin) only.
func (s *server) getLocations(c *gin.Context) {
	id := c.Param("id")
	a, ok := s.load(c, id, noImageFound)
	if !ok {
		return
	}
	if he := s.check(a, "fetch_image_location", "You are not authorized to complete get_locations action."); he != nil {
		fail(c, he)
		return
	}
	writeJSON(c, http.StatusOK, pythonize(locationsJSON(a.img.Locations)))
}
