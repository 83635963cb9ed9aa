package api

import (
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/glance-go/glance/core/image"
	"github.com/glance-go/glance/core/policy"
	"github.com/glance-go/glance/core/registry"
)

// Access control follows Glance with its secure-RBAC defaults: visibility
// first (an image the caller cannot see is not found, whatever the
// operation), the named policy rule second (403). The rules are
// core/policy's, by Glance's names.

// Messages of the 404 of an image the caller cannot see (or that does not
// exist): the images controller's, and the tags and members controllers'.
const (
	noImageFound   = "No image found with ID %s"
	imageNotFound  = "Image %s not found."
	notAuthorizedF = "You are not authorized to complete %s action."
)

// credentials are the caller's, with Keystone's default implied roles
// added (admin implies member, member implies reader), as a Keystone token
// carries them: a static token listing only "member" reads too. An
// IsAdmin caller has the admin role.
func credentials(who Identity) policy.Credentials {
	roles := who.Roles
	has := func(r string) bool {
		return slices.ContainsFunc(roles, func(x string) bool { return strings.EqualFold(x, r) })
	}
	// An Identity the auth layer marks admin holds the admin role.
	if who.IsAdmin && !has("admin") {
		roles = append(slices.Clip(roles), "admin")
	}
	for _, imp := range [][2]string{{"admin", "member"}, {"member", "reader"}} {
		if has(imp[0]) && !has(imp[1]) {
			roles = append(slices.Clip(roles), imp[1])
		}
	}
	return policy.Credentials{UserID: who.UserID, ProjectID: who.ProjectID, Roles: roles, IsAdmin: who.IsAdmin}
}

// allowed evaluates a rule for the caller.
func (s *server) allowed(who Identity, rule string, t policy.Target) bool {
	return s.pol.Allowed(rule, credentials(who), t)
}

// isAdmin is Glance's context.is_admin: the auth layer's flag or the
// context_is_admin rule.
func (s *server) isAdmin(who Identity) bool {
	return who.IsAdmin || s.allowed(who, "context_is_admin", policy.Target{})
}

// imageTarget is the policy target of an image: project_id and owner are
// its owner; member_id and member_status the caller's membership, if any.
func imageTarget(img *image.Image, member *image.Member) policy.Target {
	t := policy.Target{"visibility": string(img.Visibility), "status": string(img.Status), "image_id": img.ID}
	if img.Owner != nil {
		t["project_id"], t["owner"] = *img.Owner, *img.Owner
	}
	if member != nil {
		t["member_id"], t["member_status"] = member.MemberID, string(member.Status)
	}
	return t
}

// access is a caller and an image it can see.
type access struct {
	who   Identity
	admin bool
	img   *image.Image
	// member is the caller's project's membership of the image, when the
	// image is shared with it (any status).
	member   *image.Member
	notFound string // the 404 message format, with the image id
}

func (a *access) target() policy.Target { return imageTarget(a.img, a.member) }

func (a *access) owner() bool {
	return a.img.Owner != nil && a.who.ProjectID != "" && *a.img.Owner == a.who.ProjectID
}

// visible is Glance's is_image_visible: admins see everything, everyone
// sees public and community images and ownerless ones, the owner its own,
// and a member project the shared images it is a member of, whatever the
// membership's status.
func (a *access) visible() bool {
	switch {
	case a.admin, a.img.Owner == nil, a.owner():
		return true
	case a.img.Visibility == image.VisibilityPublic, a.img.Visibility == image.VisibilityCommunity:
		return true
	case a.img.Visibility == image.VisibilityShared:
		return a.member != nil
	}
	return false
}

// load reads image id for the caller, or answers 404 when there is no such
// image or the caller cannot see it (notFound is the message format).
func (s *server) load(c *gin.Context, id, notFound string) (*access, bool) {
	ctx := c.Request.Context()
	img, err := s.reg.Get(ctx, id)
	if errors.Is(err, registry.ErrNotFound) {
		fail(c, newError(http.StatusNotFound, notFound, id))
		return nil, false
	}
	if err != nil {
		s.imageError(c, id, err)
		return nil, false
	}
	who := identity(c)
	a := &access{who: who, admin: s.isAdmin(who), img: img, notFound: notFound}
	if err := s.loadMembership(c, a); err != nil {
		s.imageError(c, id, err)
		return nil, false
	}
	if !a.visible() {
		fail(c, newError(http.StatusNotFound, notFound, id))
		return nil, false
	}
	return a, true
}

// loadMembership finds the caller's membership of a shared image it does
// not own.
func (s *server) loadMembership(c *gin.Context, a *access) error {
	a.member = nil
	if a.img.Visibility != image.VisibilityShared || a.who.ProjectID == "" || a.owner() {
		return nil
	}
	m, err := s.reg.GetMember(c.Request.Context(), a.img.ID, a.who.ProjectID)
	switch {
	case errors.Is(err, registry.ErrMemberNotFound):
		return nil
	case err != nil:
		return err
	}
	a.member = m
	return nil
}

// check refuses an operation the rule does not allow: 404 if the caller
// may not even get the image (Glance's ImageAPIPolicy), else 403 with msg
// (a format with the image id, or "" for "You are not authorized to
// complete RULE action."). It also refuses an image that is no longer
// visible (a.img may have been re-read). nil means allowed.
func (s *server) check(a *access, rule, msg string) *httpError {
	if !a.visible() {
		return newError(http.StatusNotFound, a.notFound, a.img.ID)
	}
	t := a.target()
	if s.allowed(a.who, rule, t) {
		return nil
	}
	if rule != "get_image" && !s.allowed(a.who, "get_image", t) {
		return newError(http.StatusNotFound, a.notFound, a.img.ID)
	}
	if msg == "" {
		return newError(http.StatusForbidden, notAuthorizedF, rule)
	}
	if strings.Contains(msg, "%s") {
		return newError(http.StatusForbidden, msg, a.img.ID)
	}
	return newError(http.StatusForbidden, "%s", msg)
}

// authorizer returns the image.ApplyOptions callback for visibility
// changes: publicize_image, communitize_image.
func (s *server) authorizer(a *access) func(rule string) error {
	return func(rule string) error {
		if !s.allowed(a.who, rule, a.target()) {
			return newError(http.StatusForbidden, notAuthorizedF, rule)
		}
		return nil
	}
}
