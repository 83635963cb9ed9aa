package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"github.com/glance-go/glance/core/image"
	"github.com/glance-go/glance/core/registry"
)

// The image members API (Glance's image_members.py): projects an image is
// shared with. Only shared images have members; the owner adds and removes
// them, each member sets its own status, and a member sees only its own
// record.

// maxMemberID is the image_members.member column's width.
const maxMemberID = 255

// memberJSON is Glance's member view.
func memberJSON(m *image.Member) []byte {
	var o object
	o.field("member_id", m.MemberID)
	o.field("image_id", m.ImageID)
	o.field("status", string(m.Status))
	o.field("created_at", isoTime(m.CreatedAt))
	o.field("updated_at", isoTime(m.UpdatedAt))
	o.field("schema", "/v2/schemas/member")
	return o.bytes()
}

// readMemberBody reads the JSON body of POST and PUT member requests as
// Glance's JSONRequestDeserializer does; a body that is not an object is
// returned as nil with ok true (the caller words that 400).
func readMemberBody(c *gin.Context) (map[string]any, bool) {
	if c.Request.ContentLength == 0 && len(c.Request.TransferEncoding) == 0 {
		fail(c, newError(http.StatusBadRequest, "Body expected in request."))
		return nil, false
	}
	body, ok := readJSONBody(c)
	if !ok {
		return nil, false
	}
	if len(bytes.TrimSpace(body)) == 0 {
		fail(c, newError(http.StatusBadRequest, "Body expected in request."))
		return nil, false
	}
	var v any
	if err := jsonUnmarshalNumber(body, &v); err != nil {
		fail(c, newError(http.StatusBadRequest, "Malformed JSON in request body."))
		return nil, false
	}
	m, _ := v.(map[string]any)
	return m, true
}

// falsy is Python's truth test of a JSON value.
func falsy(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case bool:
		return !v
	case string:
		return v == ""
	case json.Number:
		f, err := v.Float64()
		return err == nil && f == 0
	case []any:
		return len(v) == 0
	case map[string]any:
		return len(v) == 0
	}
	return false
}

// sharedOnly is the refusal of a member call on an image that is not
// shared.
func (s *server) sharedOnly(c *gin.Context, a *access, status int, msg string) bool {
	if a.img.Visibility == image.VisibilityShared {
		return false
	}
	if status == http.StatusForbidden {
		fail(c, newError(status, msg, a.img.ID))
	} else {
		fail(c, newError(status, "%s", msg))
	}
	return true
}

// checkMember evaluates a member rule with the member record m as target
// (member_id is m's project): nil if allowed, 404 if the caller may not
// even get the image, else 403 with msg (a format with the image id).
func (s *server) checkMember(a *access, m *image.Member, rule, msg string) *httpError {
	if s.allowed(a.who, rule, imageTarget(a.img, m)) {
		return nil
	}
	if !s.allowed(a.who, "get_image", a.target()) {
		return newError(http.StatusNotFound, a.notFound, a.img.ID)
	}
	return newError(http.StatusForbidden, msg, a.img.ID)
}

// memberVisible: a caller sees the members of the images its project owns
// and its own membership (Glance's image_member_find for a non-admin).
func (a *access) memberVisible(m *image.Member) bool {
	return a.admin || a.owner() || (a.who.ProjectID != "" && m.MemberID == a.who.ProjectID)
}

// lookupMember finds memberID among the members the caller may see.
func (s *server) lookupMember(c *gin.Context, a *access, memberID string) (*image.Member, bool) {
	notInList := func() {
		fail(c, newError(http.StatusNotFound, "%s not found in the member list of the image %s.", memberID, a.img.ID))
	}
	// get_member on the image (member_id: the caller's membership), as
	// Glance's _lookup_member, before reading the record.
	if he := s.check(a, "get_member", ""); he != nil {
		fail(c, he)
		return nil, false
	}
	m, err := s.reg.GetMember(c.Request.Context(), a.img.ID, memberID)
	switch {
	case errors.Is(err, registry.ErrMemberNotFound):
		notInList()
		return nil, false
	case err != nil:
		s.memberError(c, a.img.ID, memberID, err)
		return nil, false
	case !a.memberVisible(m):
		notInList()
		return nil, false
	}
	return m, true
}

// memberError maps a registry error of a member call.
func (s *server) memberError(c *gin.Context, imageID, memberID string, err error) {
	switch {
	case errors.Is(err, registry.ErrNotFound):
		fail(c, newError(http.StatusNotFound, imageNotFound, imageID))
	case errors.Is(err, registry.ErrMemberNotFound):
		fail(c, newError(http.StatusNotFound, "%s not found in the member list of the image %s.", memberID, imageID))
	case errors.Is(err, registry.ErrMemberExists):
		fail(c, newError(http.StatusConflict, "Member %s is duplicated for image %s", memberID, imageID))
	case errors.Is(err, registry.ErrInvalidQuery):
		fail(c, newError(http.StatusBadRequest, "%s", err.Error()))
	default:
		s.updateError(c, imageID, err)
	}
}

// addMember is POST /v2/images/{id}/members {"member": "<project>"}: 200
// (not 201) with the pending member.
func (s *server) addMember(c *gin.Context) {
	id := c.Param("id")
	body, ok := readMemberBody(c)
	if !ok {
		return
	}
	if body == nil {
		fail(c, newError(http.StatusBadRequest, `Expected a member in the form: {"member": "image_id"}`))
		return
	}
	v, present := body["member"]
	memberID, isString := v.(string)
	switch {
	case !present:
		fail(c, newError(http.StatusBadRequest, "Member to be added not specified"))
		return
	case falsy(v):
		fail(c, newError(http.StatusBadRequest, "Member can't be empty"))
		return
	case !isString:
		fail(c, newError(http.StatusBadRequest, `Expected a member in the form: {"member": "image_id"}`))
		return
	case utf8.RuneCountInString(memberID) > maxMemberID:
		fail(c, newError(http.StatusBadRequest, "Member can't be longer than %d characters", maxMemberID))
		return
	}
	a, ok := s.load(c, id, imageNotFound)
	if !ok {
		return
	}
	const refused = "Not allowed to create members for image %s."
	if s.sharedOnly(c, a, http.StatusForbidden, refused) {
		return
	}
	if he := s.check(a, "add_member", refused); he != nil {
		fail(c, he)
		return
	}
	ctx := c.Request.Context()
	if s.memQuota >= 0 {
		members, err := s.reg.ListMembers(ctx, id)
		if err != nil {
			s.memberError(c, id, memberID, err)
			return
		}
		if len(members) >= s.memQuota {
			fail(c, newError(http.StatusRequestEntityTooLarge,
				"Image member limit exceeded for image %s: The limit has been exceeded on the number of allowed image members for this image. Attempted: %d, Maximum: %d:",
				id, len(members)+1, s.memQuota))
			return
		}
	}
	m, err := s.reg.AddMember(ctx, id, memberID)
	if err != nil {
		s.memberError(c, id, memberID, err)
		return
	}
	writeJSON(c, http.StatusOK, pythonize(memberJSON(m)))
}

// listMembers is GET /v2/images/{id}/members: the members the caller may
// see (all of them for the owner, its own for a member).
func (s *server) listMembers(c *gin.Context) {
	id := c.Param("id")
	a, ok := s.load(c, id, imageNotFound)
	if !ok {
		return
	}
	if s.sharedOnly(c, a, http.StatusForbidden, "Not allowed to list members for image %s: Only shared images have members.") {
		return
	}
	if he := s.check(a, "get_members", "Not allowed to list members for image %s."); he != nil {
		fail(c, he)
		return
	}
	members, err := s.reg.ListMembers(c.Request.Context(), id)
	if err != nil {
		s.memberError(c, id, "", err)
		return
	}
	items := []byte{'['}
	n := 0
	for _, m := range members {
		if !a.memberVisible(m) || !s.allowed(a.who, "get_member", imageTarget(a.img, m)) {
			continue
		}
		if n > 0 {
			items = append(items, ',')
		}
		items = append(items, memberJSON(m)...)
		n++
	}
	items = append(items, ']')
	var o object
	o.raw("members", items)
	o.field("schema", "/v2/schemas/members")
	writeJSON(c, http.StatusOK, pythonize(o.bytes()))
}

// showMember is GET /v2/images/{id}/members/{member_id}. Every refusal is a
// 404, as Glance's (no leak of who the members are).
func (s *server) showMember(c *gin.Context) {
	id, memberID := c.Param("id"), c.Param("member")
	a, ok := s.load(c, id, imageNotFound)
	if !ok {
		return
	}
	if s.sharedOnly(c, a, http.StatusNotFound, "Only shared images have members.") {
		return
	}
	if he := s.check(a, "get_member", ""); he != nil {
		he.status = http.StatusNotFound
		fail(c, he)
		return
	}
	m, ok := s.lookupMember(c, a, memberID)
	if !ok {
		return
	}
	if !s.allowed(a.who, "get_member", imageTarget(a.img, m)) {
		fail(c, newError(http.StatusNotFound, "%s not found in the member list of the image %s.", memberID, id))
		return
	}
	writeJSON(c, http.StatusOK, pythonize(memberJSON(m)))
}

// updateMember is PUT /v2/images/{id}/members/{member_id} {"status": …}:
// only the member itself (or an admin) sets its status, in any direction.
func (s *server) updateMember(c *gin.Context) {
	id, memberID := c.Param("id"), c.Param("member")
	body, ok := readMemberBody(c)
	if !ok {
		return
	}
	if body == nil {
		fail(c, newError(http.StatusBadRequest, `Expected a status in the form: {"status": "status"}`))
		return
	}
	v, present := body["status"]
	if !present {
		fail(c, newError(http.StatusBadRequest, "Status not specified"))
		return
	}
	if _, ok := s.memberFor(c, id, memberID, "modify_member", "Not allowed to update members for image %s."); !ok {
		return
	}
	status, _ := v.(string)
	if !image.MemberStatus(status).Valid() {
		fail(c, newError(http.StatusBadRequest, `Incorrect request: Status must be "pending", "accepted" or "rejected".`))
		return
	}
	m, err := s.reg.SetMemberStatus(c.Request.Context(), id, memberID, image.MemberStatus(status))
	if err != nil {
		s.memberError(c, id, memberID, err)
		return
	}
	writeJSON(c, http.StatusOK, pythonize(memberJSON(m)))
}

// deleteMember is DELETE /v2/images/{id}/members/{member_id}: the owner (or
// an admin) removes a member; a member may not remove itself.
func (s *server) deleteMember(c *gin.Context) {
	id, memberID := c.Param("id"), c.Param("member")
	if _, ok := s.memberFor(c, id, memberID, "delete_member", "Not allowed to delete members for image %s."); !ok {
		return
	}
	if err := s.reg.DeleteMember(c.Request.Context(), id, memberID); err != nil {
		s.memberError(c, id, memberID, err)
		return
	}
	noContent(c)
}

// memberFor loads image id and its member memberID for a change under
// rule: the image must be visible (404), shared (403 refused) and hold the
// member as the caller may see it (404), and rule must allow the change
// (403 refused). It has answered the request when ok is false.
func (s *server) memberFor(c *gin.Context, id, memberID, rule, refused string) (*image.Member, bool) {
	a, ok := s.load(c, id, imageNotFound)
	if !ok {
		return nil, false
	}
	if s.sharedOnly(c, a, http.StatusForbidden, refused) {
		return nil, false
	}
	m, ok := s.lookupMember(c, a, memberID)
	if !ok {
		return nil, false
	}
	if he := s.checkMember(a, m, rule, refused); he != nil {
		fail(c, he)
		return nil, false
	}
	return m, true
}
