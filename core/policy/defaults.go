package policy

// Check strings shared by several default rules, as Glance's
// glance/policies/base.py spells them with enforce_new_defaults and
// enforce_scope (secure RBAC). In a target, project_id is the image's
// owner and member_id a member project: the caller's own membership of
// the image for the image rules, the member record's project for the
// member rules.
const (
	adminOrProjectMember = `role:admin or (role:member and project_id:%(project_id)s)`
	adminOrProjectReader = `role:admin or (role:reader and project_id:%(project_id)s)`
	// get_image is deliberately loose: visibility is enforced before any
	// rule (an image the caller cannot see is not found), as Glance's DB
	// layer does.
	adminOrReaderGetImage = `role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s` +
		` or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s))`
	// download_image is get_image with the member role: readers never
	// download.
	adminOrMemberDownloadImage = `role:admin or (role:member and (project_id:%(project_id)s or project_id:%(member_id)s` +
		` or 'community':%(visibility)s or 'public':%(visibility)s or 'shared':%(visibility)s))`
	adminOrReaderOrSharedMember = `role:admin or (role:reader and (project_id:%(project_id)s or project_id:%(member_id)s))`
	adminOrSharedMember         = `role:admin or (role:member and project_id:%(member_id)s)`
)

// Rule is one named access rule and its default check string.
type Rule struct {
	Name        string
	Check       string
	Description string
}

// Defaults are Glance's secure-RBAC default rules, by Glance's names. An
// operator may replace any of them (config.hcl's policy { rules = {...} });
// a rule not listed here cannot be defined.
var Defaults = []Rule{
	{"context_is_admin", `role:admin`, "who is an administrator (sees every image, downloads deactivated ones, replaces owners)"},
	{"default", ``, "Glance's catch-all rule (always allowed)"},

	{"get_images", adminOrProjectReader, "GET /v2/images (project_id is the caller's project)"},
	{"get_image", adminOrReaderGetImage, "GET /v2/images/{id}; every other image operation needs it too"},
	{"add_image", `role:admin or (role:member and project_id:%(owner)s)`, "POST /v2/images (owner is the new image's owner)"},
	{"modify_image", adminOrProjectMember, "PATCH /v2/images/{id}, tags"},
	{"delete_image", adminOrProjectMember, "DELETE /v2/images/{id}"},
	{"upload_image", adminOrProjectMember, "PUT /v2/images/{id}/file"},
	{"download_image", adminOrMemberDownloadImage, "GET /v2/images/{id}/file"},
	{"publicize_image", `role:admin`, "visibility public, on create or update"},
	{"communitize_image", adminOrProjectMember, "visibility community, on create or update"},
	{"deactivate", adminOrProjectMember, "POST /v2/images/{id}/actions/deactivate"},
	{"reactivate", adminOrProjectMember, "POST /v2/images/{id}/actions/reactivate"},

	{"add_member", adminOrProjectMember, "POST /v2/images/{id}/members"},
	{"delete_member", adminOrProjectMember, "DELETE /v2/images/{id}/members/{member_id}"},
	{"get_member", adminOrReaderOrSharedMember, "GET /v2/images/{id}/members/{member_id}; filters the member list"},
	{"get_members", adminOrReaderOrSharedMember, "GET /v2/images/{id}/members"},
	{"modify_member", adminOrSharedMember, "PUT /v2/images/{id}/members/{member_id} (only the member itself)"},

	{"set_image_location", adminOrProjectMember, "add or replace a location with JSON-patch"},
	{"delete_image_location", `role:admin`, "remove a location with JSON-patch"},
	{"get_image_location", adminOrProjectReader, "see locations"},
	{"add_image_location", `role:admin or role:service`, "POST /v2/images/{id}/locations"},
	{"fetch_image_location", `role:admin or role:service`, "GET /v2/images/{id}/locations"},
	{"copy_image", `role:admin`, "the copy-image import method"},
	{"tasks_api_access", `role:admin`, "the legacy /v2/tasks API"},
	{"stores_info_detail", `role:admin or role:service`, "GET /v2/info/stores/detail"},
	{"delete_image_from_store", `role:admin`, "DELETE /v2/stores/{store_id}/{image_id}"},
}
