package image

import (
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"
)

// Media types of PATCH /v2/images/{id} and the JSON-patch draft each
// speaks (glance/api/v2/images.py RequestDeserializer.update).
const (
	PatchMediaType20 = "application/openstack-images-v2.0-json-patch" // draft 4: {"replace": "/name", "value": …}
	PatchMediaType21 = "application/openstack-images-v2.1-json-patch" // draft 10 (RFC 6902): {"op", "path", "value"}
)

// PatchDraft returns the draft of a PATCH media type, 0 if unsupported.
func PatchDraft(mediaType string) int {
	switch mediaType {
	case PatchMediaType20:
		return 4
	case PatchMediaType21:
		return 10
	}
	return 0
}

// Change is one operation of an image patch.
type Change struct {
	Op    string   // add, remove, replace
	Path  []string // decoded JSON pointer: ["name"], ["locations", "0"]
	Value any      // decoded with json.Number; nil for remove
	Draft int      // 4 or 10
}

var supportedOps = []string{"add", "remove", "replace"}

// Attributes a patch may not touch (RequestDeserializer._readonly_properties
// and _reserved_properties).
var (
	readOnlyOnPatch = []string{"created_at", "updated_at", "status", "checksum", "size", "virtual_size", "direct_url",
		"self", "file", "schema", "id", "os_hash_algo", "os_hash_value"}
	reservedOnPatch = []string{"location", "deleted", "deleted_at"}
	// baseAttributes are the attributes of Glance's domain Image that a
	// patch sets in place (hasattr(image, path_root)); anything else is an
	// extra property.
	baseAttributes = []string{"name", "visibility", "protected", "os_hidden", "min_disk", "min_ram", "disk_format",
		"container_format", "tags", "owner"}
)

// IsBaseAttribute reports whether k is a base attribute rather than an
// extra property.
func IsBaseAttribute(k string) bool { return slices.Contains(baseAttributes, k) }

// ParsePatch decodes and checks a patch body of the given draft, as
// Glance's deserializer does before touching the image: every error is
// reported before any change is applied.
func (r Rules) ParsePatch(body []byte, draft int) ([]Change, error) {
	raw, err := decodeBody(body)
	if err != nil {
		return nil, err
	}
	list, ok := raw.([]any)
	if !ok {
		return nil, Errorf(ErrInvalid, "Request body must be a JSON array of operation objects.")
	}
	changes := make([]Change, 0, len(list))
	for _, rc := range list {
		obj, ok := rc.(map[string]any)
		if !ok {
			return nil, Errorf(ErrInvalid, "Operations must be JSON objects.")
		}
		ch := Change{Draft: draft}
		var rawPath any
		switch draft {
		case 10:
			op, ok := obj["op"]
			if !ok || op == nil {
				return nil, Errorf(ErrInvalid, "Unable to find `op` in JSON Schema change. It must be one of the following: %s.", strings.Join(supportedOps, ", "))
			}
			s, _ := op.(string)
			if !slices.Contains(supportedOps, s) {
				return nil, Errorf(ErrInvalid, "Invalid operation: `%s`. It must be one of the following: %s.", pyStr(op), strings.Join(supportedOps, ", "))
			}
			ch.Op = s
			if rawPath, ok = obj["path"]; !ok {
				return nil, Errorf(ErrInvalid, "Unable to find 'path' in JSON Schema change")
			}
		case 4:
			for _, k := range supportedOps {
				if _, ok := obj[k]; ok {
					if ch.Op != "" {
						return nil, Errorf(ErrInvalid, `Operation objects must contain only one member named "add", "remove", or "replace".`)
					}
					ch.Op = k
				}
			}
			if ch.Op == "" {
				return nil, Errorf(ErrInvalid, `Operation objects must contain exactly one member named "add", "remove", or "replace".`)
			}
			rawPath = obj[ch.Op]
		default:
			return nil, Errorf(ErrInvalid, "Unrecognized JSON Schema draft version")
		}
		path, err := decodePointer(rawPath)
		if err != nil {
			return nil, err
		}
		ch.Path = path
		if err := validatePath(ch.Op, path); err != nil {
			return nil, err
		}
		if ch.Op != "remove" {
			v, ok := obj["value"]
			if !ok {
				return nil, Errorf(ErrInvalid, `Operation "%s" requires a member named "value".`, ch.Op)
			}
			ch.Value = v
		}
		if err := r.validateChange(ch); err != nil {
			return nil, err
		}
		changes = append(changes, ch)
	}
	return changes, nil
}

func pyStr(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	return pyRepr(v)
}

var (
	adjacentSlashRe = regexp.MustCompile(`/\s*?/`)
	badTildeRe      = regexp.MustCompile(`~[^01]`)
)

// decodePointer is Glance's _decode_json_pointer: a restricted JSON
// pointer, ~1 → / and ~0 → ~ in each token.
func decodePointer(v any) ([]string, error) {
	p, ok := v.(string)
	if !ok || !strings.HasPrefix(p, "/") {
		return nil, Errorf(ErrInvalid, "Pointer `%s` does not start with \"/\".", pyStr(v))
	}
	switch {
	case adjacentSlashRe.MatchString(p[1:]):
		return nil, Errorf(ErrInvalid, "Pointer `%s` contains adjacent \"/\".", p)
	case len(p) > 1 && strings.HasSuffix(p, "/"):
		return nil, Errorf(ErrInvalid, "Pointer `%s` end with \"/\".", p)
	case strings.TrimSpace(p[1:]) == "/":
		return nil, Errorf(ErrInvalid, "Pointer `%s` does not contains valid token.", p)
	case badTildeRe.MatchString(p) || strings.HasSuffix(p, "~"):
		return nil, Errorf(ErrInvalid, "Pointer `%s` contains \"~\" not part of a recognized escape sequence.", p)
	}
	parts := strings.Split(strings.TrimLeft(p, "/"), "/")
	for i, part := range parts {
		parts[i] = strings.TrimSpace(strings.ReplaceAll(strings.ReplaceAll(part, "~1", "/"), "~0", "~"))
	}
	return parts, nil
}

// validatePath checks the pointer depth: 1, except /locations/N for add
// and remove.
func validatePath(op string, path []string) error {
	depth := 1
	if path[0] == "locations" && (op == "add" || op == "remove") {
		depth = 2
	}
	if len(path) != depth {
		return Errorf(ErrInvalid, "Invalid JSON pointer for this resource: '/%s'", strings.Join(path, "/"))
	}
	return nil
}

// validateChange refuses read-only and reserved attributes (403) and
// checks the value against the schema (400).
func (r Rules) validateChange(ch Change) error {
	root := ch.Path[0]
	switch {
	case slices.Contains(readOnlyOnPatch, root):
		return Errorf(ErrForbidden, "Attribute '%s' is read-only.", root)
	case slices.Contains(reservedOnPatch, root), strings.HasPrefix(root, ReservedNamespace):
		return Errorf(ErrForbidden, "Attribute '%s' is reserved.", root)
	}
	if ch.Op == "remove" || root == "locations" {
		return nil
	}
	// Glance validates {root: value} against the image schema here, before
	// looking at the image: a scratch image does the same checks.
	return r.setCreateAttr(&Image{Properties: map[string]string{}}, root, ch.Value)
}

// ApplyOptions say who applies a patch.
type ApplyOptions struct {
	// IsAdmin may replace owner, and publicize images when Authorize is
	// nil.
	IsAdmin bool
	// Authorize, when set, decides visibility changes: it is called with
	// "publicize_image" for visibility public (even on an image already
	// public) and "communitize_image" for community, and its error refuses
	// the change.
	Authorize func(rule string) error
}

// Apply applies one non-location change to img, as Glance's
// ImagesController._do_add/_do_replace/_do_remove. Location changes are
// the caller's (they need the stores).
func (r Rules) Apply(img *Image, ch Change, o ApplyOptions) error {
	root := ch.Path[0]
	base := IsBaseAttribute(root)
	_, isProp := img.Properties[root]
	switch ch.Op {
	case "remove":
		switch {
		case base:
			return Detailf(ErrForbidden, "Property %s may not be removed.", root)
		case isProp:
			delete(img.Properties, root)
			return nil
		}
		return Detailf(ErrConflict, "Property %s does not exist.", root)
	case "replace":
		if root == "owner" && !o.IsAdmin {
			return Detailf(ErrForbidden, "Owner can't be updated by non admin.")
		}
		if !base && !isProp {
			return Detailf(ErrConflict, "Property %s does not exist.", root)
		}
	case "add":
		if (base || isProp) && ch.Draft == 4 {
			return Detailf(ErrConflict, "Property %s already present.", root)
		}
	}
	switch root {
	case "disk_format", "container_format":
		if img.Status != StatusQueued && img.Status != StatusImporting {
			return Errorf(ErrForbidden, "Attribute %s can be only replaced for a queued image.", root)
		}
	case "visibility":
		s, _ := ch.Value.(string)
		switch {
		case o.Authorize != nil && s == string(VisibilityPublic):
			if err := o.Authorize("publicize_image"); err != nil {
				return err
			}
		case o.Authorize != nil && s == string(VisibilityCommunity):
			if err := o.Authorize("communitize_image"); err != nil {
				return err
			}
		case o.Authorize == nil && s == string(VisibilityPublic) && !o.IsAdmin && img.Visibility != VisibilityPublic:
			return Errorf(ErrForbidden, "You are not authorized to complete publicize_image action.")
		}
	case "owner":
		if !o.IsAdmin {
			return Detailf(ErrForbidden, "Owner can't be updated by non admin.")
		}
	case "tags":
		img.Tags = []string{}
	}
	if !base && utf8.RuneCountInString(root) > MaxPropertyKey {
		return Errorf(ErrInvalid, "Custom property should not be greater than 255 characters.")
	}
	return r.setCreateAttr(img, root, ch.Value)
}

// CheckQuotas refuses an image with more properties or tags than the
// quotas allow, when the patch grew them (an image already over a quota
// lowered since can still shrink).
func (r Rules) CheckQuotas(before, after *Image) error {
	if q := quota(r.PropertyQuota, DefaultPropQuota); q >= 0 && len(after.Properties) > q && len(after.Properties) > len(before.Properties) {
		return Errorf(ErrLimitExceeded, "The limit has been exceeded on the number of allowed image properties. Attempted: %d, Maximum: %d", len(after.Properties), q)
	}
	if q := quota(r.TagQuota, DefaultTagQuota); q >= 0 && len(after.Tags) > q && len(after.Tags) > len(before.Tags) {
		return Errorf(ErrLimitExceeded, "The limit has been exceeded on the number of allowed image tags. Attempted: %d, Maximum: %d", len(after.Tags), q)
	}
	return nil
}

// ValidTag checks a tag as PUT /v2/images/{id}/tags/{tag} does (the schema
// of tags items).
func ValidTag(tag string) error {
	return Rules{}.setCreateAttr(&Image{}, "tags", []any{tag})
}
