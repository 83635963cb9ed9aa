package image

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Limits of Glance's image schema and default quotas.
const (
	MaxNameLength     = 255
	MaxTagLength      = 255
	MaxPropertyKey    = 255
	MaxOwnerLength    = 255
	MaxPropertyValue  = 65535 // Glance's column is TEXT; keep rows bounded
	DefaultPropQuota  = 128   // image_property_quota
	DefaultTagQuota   = 128   // image_tag_quota
	ReservedNamespace = "os_glance"
)

// idPattern is the schema pattern of an image id.
var idPattern = regexp.MustCompile(`^([0-9a-fA-F]){8}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){4}-([0-9a-fA-F]){12}$`)

// ValidID reports whether id matches the schema's UUID pattern.
func ValidID(id string) bool { return idPattern.MatchString(id) }

// DiskFormats returns Glance's default disk_formats, in schema order.
func DiskFormats() []string {
	return []string{"ami", "ari", "aki", "vhd", "vhdx", "vmdk", "raw", "qcow2", "vdi", "iso", "ploop"}
}

// ContainerFormats returns Glance's default container_formats.
func ContainerFormats() []string {
	return []string{"ami", "ari", "aki", "bare", "ovf", "ova", "docker", "compressed"}
}

// Visibilities returns the visibility enum in schema order.
func Visibilities() []string {
	return []string{"community", "public", "private", "shared"}
}

// Attributes that a create request may not set (RequestDeserializer and
// ImageFactory in glance/api/v2/images.py and glance/domain).
var (
	disallowedOnCreate = []string{"direct_url", "self", "file", "schema", "stores"}
	readOnlyOnCreate   = []string{"created_at", "updated_at", "status", "checksum", "os_hash_algo", "os_hash_value", "size", "virtual_size"}
	reservedProperties = []string{"location", "locations", "deleted", "deleted_at"}
)

// Rules are the deployment's schema settings. The zero value means Glance's
// defaults.
type Rules struct {
	DiskFormats      []string
	ContainerFormats []string
	PropertyQuota    int // < 0: unlimited
	TagQuota         int // < 0: unlimited
}

func (r Rules) diskFormats() []string {
	if r.DiskFormats != nil {
		return r.DiskFormats
	}
	return DiskFormats()
}

func (r Rules) containerFormats() []string {
	if r.ContainerFormats != nil {
		return r.ContainerFormats
	}
	return ContainerFormats()
}

func quota(q, def int) int {
	if q == 0 {
		return def
	}
	return q
}

// schemaError is the first line of the message Glance's jsonschema
// validation gives.
func schemaError(format string, args ...any) error {
	return Errorf(ErrInvalid, "Provided object does not match schema 'image': "+format, args...)
}

// ParseCreate validates the JSON body of POST /v2/images and returns the new
// image: status queued, visibility shared unless given, no id unless given
// (the caller assigns one), no owner unless given, no timestamps.
func (r Rules) ParseCreate(body []byte) (*Image, error) {
	raw, err := decodeBody(body)
	if err != nil {
		return nil, err
	}
	obj, ok := raw.(map[string]any)
	if !ok {
		return nil, schemaError("%s is not of type 'object'", pyRepr(raw))
	}
	for _, k := range disallowedOnCreate {
		if _, ok := obj[k]; ok {
			return nil, Errorf(ErrForbidden, "Attribute '%s' is read-only.", k)
		}
	}
	img := &Image{Status: StatusQueued, Visibility: VisibilityShared, Properties: map[string]string{}, Tags: []string{}}
	// Validate in a stable order so the same body always gives the same
	// message.
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if err := r.setCreateAttr(img, k, obj[k]); err != nil {
			return nil, err
		}
	}
	for _, k := range readOnlyOnCreate {
		if _, ok := obj[k]; ok {
			return nil, Errorf(ErrForbidden, "Attribute '%s' is read-only.", k)
		}
	}
	for k := range img.Properties {
		if utf8.RuneCountInString(k) > MaxPropertyKey {
			return nil, Errorf(ErrInvalid, "Custom property should not be greater than 255 characters.")
		}
	}
	for _, k := range keys {
		if _, isProp := img.Properties[k]; !isProp && k != "locations" {
			continue
		}
		if slices.Contains(reservedProperties, k) || strings.HasPrefix(k, ReservedNamespace) {
			return nil, Errorf(ErrForbidden, "Attribute '%s' is reserved.", k)
		}
	}
	if q := quota(r.PropertyQuota, DefaultPropQuota); q >= 0 && len(img.Properties) > q {
		return nil, Errorf(ErrLimitExceeded, "The limit has been exceeded on the number of allowed image properties. Attempted: %d, Maximum: %d", len(img.Properties), q)
	}
	if q := quota(r.TagQuota, DefaultTagQuota); q >= 0 && len(img.Tags) > q {
		return nil, Errorf(ErrLimitExceeded, "The limit has been exceeded on the number of allowed image tags. Attempted: %d, Maximum: %d", len(img.Tags), q)
	}
	return img, nil
}

func (r Rules) setCreateAttr(img *Image, k string, v any) error {
	switch k {
	case "id":
		s, ok := v.(string)
		if !ok {
			return schemaError("%s is not of type 'string'", pyRepr(v))
		}
		if !ValidID(s) {
			return schemaError("%s does not match '%s'", pyRepr(v), idPattern.String())
		}
		img.ID = s
	case "name":
		s, err := nullableString(v, MaxNameLength)
		if err != nil {
			return err
		}
		img.Name = s
	case "owner":
		s, err := nullableString(v, MaxOwnerLength)
		if err != nil {
			return err
		}
		img.Owner = s
	case "disk_format", "container_format":
		enum := r.diskFormats()
		if k == "container_format" {
			enum = r.containerFormats()
		}
		s, err := nullableString(v, -1)
		if err != nil {
			return err
		}
		if s != nil && !slices.Contains(enum, *s) {
			return schemaError("%s is not one of %s", pyRepr(v), pyEnum(enum, true))
		}
		if k == "disk_format" {
			img.DiskFormat = s
		} else {
			img.ContainerFormat = s
		}
	case "visibility":
		s, ok := v.(string)
		if !ok {
			return schemaError("%s is not of type 'string'", pyRepr(v))
		}
		if !slices.Contains(Visibilities(), s) {
			return schemaError("%s is not one of %s", pyRepr(v), pyEnum(Visibilities(), false))
		}
		img.Visibility = Visibility(s)
	case "protected", "os_hidden":
		b, ok := v.(bool)
		if !ok {
			return schemaError("%s is not of type 'boolean'", pyRepr(v))
		}
		if k == "protected" {
			img.Protected = b
		} else {
			img.OSHidden = b
		}
	case "min_disk", "min_ram":
		n, ok := v.(json.Number)
		i, err := strconv.ParseInt(string(n), 10, 64)
		if !ok || err != nil {
			return schemaError("%s is not of type 'integer'", pyRepr(v))
		}
		if i < 0 {
			return Errorf(ErrInvalid, "Invalid value '%d' for parameter '%s': Cannot be a negative value", i, k)
		}
		if k == "min_disk" {
			img.MinDisk = i
		} else {
			img.MinRAM = i
		}
	case "tags":
		arr, ok := v.([]any)
		if !ok {
			return schemaError("%s is not of type 'array'", pyRepr(v))
		}
		for _, t := range arr {
			s, ok := t.(string)
			if !ok {
				return schemaError("%s is not of type 'string'", pyRepr(t))
			}
			if utf8.RuneCountInString(s) > MaxTagLength {
				return schemaError("%s is too long", pyRepr(t))
			}
			if !slices.Contains(img.Tags, s) {
				img.Tags = append(img.Tags, s)
			}
		}
	case "status", "checksum", "os_hash_algo", "os_hash_value", "created_at", "updated_at":
		// Read-only: refused after schema validation, as Glance does. Only
		// check the type here.
		if _, ok := v.(string); !ok && v != nil {
			return schemaError("%s is not of type 'string'", pyRepr(v))
		}
	case "size", "virtual_size":
		if _, ok := v.(json.Number); !ok && v != nil {
			return schemaError("%s is not of type 'null', 'integer'", pyRepr(v))
		}
	case "locations":
		if _, ok := v.([]any); !ok {
			return schemaError("%s is not of type 'array'", pyRepr(v))
		}
	default:
		s, ok := v.(string)
		if !ok {
			return schemaError("%s is not of type 'string'", pyRepr(v))
		}
		if len(s) > MaxPropertyValue {
			return Errorf(ErrInvalid, "Value of property %s is too long (%d bytes, at most %d)", k, len(s), MaxPropertyValue)
		}
		img.Properties[k] = s
	}
	return nil
}

func nullableString(v any, max int) (*string, error) {
	if v == nil {
		return nil, nil
	}
	s, ok := v.(string)
	if !ok {
		return nil, schemaError("%s is not of type 'null', 'string'", pyRepr(v))
	}
	if max >= 0 && utf8.RuneCountInString(s) > max {
		return nil, schemaError("%s is too long", pyRepr(v))
	}
	return &s, nil
}

// pyRepr renders a decoded JSON value the way Python's repr shows it in
// jsonschema messages (abbreviated for long values).
func pyRepr(v any) string {
	switch x := v.(type) {
	case nil:
		return "None"
	case bool:
		if x {
			return "True"
		}
		return "False"
	case json.Number:
		return string(x)
	case string:
		if len(x) > 80 {
			x = x[:77] + "..."
		}
		return "'" + strings.ReplaceAll(x, "'", `\'`) + "'"
	case []any:
		parts := make([]string, 0, len(x))
		for i, e := range x {
			if i == 8 {
				parts = append(parts, "...")
				break
			}
			parts = append(parts, pyRepr(e))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case map[string]any:
		return "{...}"
	}
	return fmt.Sprint(v)
}

func pyEnum(enum []string, nullable bool) string {
	var parts []string
	if nullable {
		parts = append(parts, "None")
	}
	for _, e := range enum {
		parts = append(parts, "'"+e+"'")
	}
	return "[" + strings.Join(parts, ", ") + "]"
}

// decodeBody decodes a request's JSON body as Glance's deserializers do:
// an empty body and anything but one JSON value are errors. Numbers stay
// json.Number.
func decodeBody(body []byte) (any, error) {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		return nil, Errorf(ErrInvalid, "Body expected in request.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var raw any
	if err := dec.Decode(&raw); err != nil || dec.More() {
		return nil, Errorf(ErrInvalid, "Malformed JSON in request body.")
	}
	return raw, nil
}
