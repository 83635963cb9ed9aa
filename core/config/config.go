package config

import (
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// Defaults applied when the configuration leaves a setting out.
const (
	DefaultBind           = "127.0.0.1:9292"
	DefaultRegistryDriver = "sqlite"
	DefaultRegistryDSN    = "data/glance.db"
	DefaultAuthMode       = "noauth"
	DefaultImageSizeCap   = int64(1) << 40 // 1 TiB
)

// Registry drivers and auth modes accepted by the configuration.
var (
	RegistryDrivers = []string{"sqlite", "postgres"}
	AuthModes       = []string{"noauth", "keystone", "tokens"}
)

var (
	pluginNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)
	storeIDRE    = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)
	sha256RE     = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
)

// Config is a parsed and validated configuration file.
type Config struct {
	// PluginDir is where glance-store-<plugin> binaries are looked up, as
	// written; "" when absent (the caller supplies its default).
	PluginDir string
	API       APIConfig
	Registry  RegistryConfig
	Auth      AuthConfig
	Policy    PolicyConfig
	Images    ImagesConfig
	// Stores in file order; never empty in a valid configuration.
	Stores []*StoreConfig

	// Filename is the configuration file's name as given to Load or Parse.
	Filename string
	// Dir is the directory of the configuration file; relative paths in
	// the file are left as written, and file() resolves against Dir.
	Dir string

	parser *hclparse.Parser
}

// APIConfig is the api {} block.
type APIConfig struct {
	Bind           string // host:port, default DefaultBind
	PublicEndpoint string // "" or an http(s) URL
}

// RegistryConfig is the registry {} block.
type RegistryConfig struct {
	Driver string // sqlite or postgres
	DSN    string
}

// ImagesConfig is the images {} block.
type ImagesConfig struct {
	SizeCap      int64 // bytes, default DefaultImageSizeCap
	CacheControl string
	// ShowMultipleLocations and ShowImageDirectURL expose locations as
	// Glance's options of the same names do (both off by default: location
	// URLs reveal the store layout).
	ShowMultipleLocations bool
	ShowImageDirectURL    bool
	// Quotas as Glance's image_property_quota, image_tag_quota,
	// image_location_quota and image_member_quota: 0 takes Glance's
	// default (128, 128, 10, 128), -1 means unlimited.
	PropertyQuota int
	TagQuota      int
	LocationQuota int
	MemberQuota   int
	// UserStorageQuota is the most bytes of image data one project may
	// hold (Glance's user_storage_quota); 0 means no quota.
	UserStorageQuota int64
}

// StoreConfig is one store "<id>" {} block.
type StoreConfig struct {
	ID      string
	Plugin  string // the binary is glance-store-<Plugin>
	Default bool
	SHA256  string // lower-case hex, or "" when not pinned

	// Config is the body of the config {} block (an empty body, whose
	// missing-item range is the store block, when the block is absent).
	Config hcl.Body
	// ConfigRange is the config block's definition range ("config"), or
	// the zero Range when the block is absent.
	ConfigRange hcl.Range
	// DeclRange is the store block's definition range (`store "id"`).
	DeclRange hcl.Range

	ctx *hcl.EvalContext
}

// DefaultStore returns the default store, or nil if there is none.
func (c *Config) DefaultStore() *StoreConfig {
	if c == nil {
		return nil
	}
	for _, s := range c.Stores {
		if s.Default {
			return s
		}
	}
	return nil
}

// Store returns the store with the given id, or nil.
func (c *Config) Store(id string) *StoreConfig {
	if c == nil {
		return nil
	}
	for _, s := range c.Stores {
		if s.ID == id {
			return s
		}
	}
	return nil
}

// Load reads and parses the configuration file at path. The returned Config
// is never nil, so that its WriteDiagnostics can render the diagnostics with
// source snippets; its settings are only meaningful when
// !diags.HasErrors().
func Load(path string) (*Config, hcl.Diagnostics) {
	p := hclparse.NewParser()
	f, diags := p.ParseHCLFile(path)
	return decodeFile(p, f, path, diags)
}

// Parse parses configuration source; filename names it in diagnostics and
// its directory is the base of file(). Like Load, it never returns a nil
// Config.
func Parse(src []byte, filename string) (*Config, hcl.Diagnostics) {
	p := hclparse.NewParser()
	f, diags := p.ParseHCL(src, filename)
	return decodeFile(p, f, filename, diags)
}

var rootSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "plugin_dir"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "api"}, {Type: "registry"}, {Type: "auth"}, {Type: "images"}, {Type: "policy"},
		{Type: "store", LabelNames: []string{"name"}},
	},
}

func decodeFile(p *hclparse.Parser, f *hcl.File, filename string, diags hcl.Diagnostics) (*Config, hcl.Diagnostics) {
	c := &Config{
		Filename: filename,
		Dir:      filepath.Dir(filename),
		parser:   p,
		API:      APIConfig{Bind: DefaultBind},
		Registry: RegistryConfig{Driver: DefaultRegistryDriver},
		Auth:     AuthConfig{Mode: DefaultAuthMode},
		Images:   ImagesConfig{SizeCap: DefaultImageSizeCap},
	}
	if diags.HasErrors() || f == nil {
		return c, diags
	}
	ctx := evalContext(c.Dir)
	content, d := f.Body.Content(rootSchema)
	diags = append(diags, d...)

	if a := content.Attributes["plugin_dir"]; a != nil {
		diags = append(diags, decodeString(a, ctx, &c.PluginDir)...)
		if c.PluginDir == "" && !diags.HasErrors() {
			diags = append(diags, attrError(a, "Invalid plugin_dir", "plugin_dir must not be empty; leave it out to use the default."))
		}
	}

	seen := map[string]*hcl.Block{}
	for _, b := range content.Blocks {
		if b.Type == "store" {
			diags = append(diags, c.decodeStore(b, ctx)...)
			continue
		}
		if prev := seen[b.Type]; prev != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Duplicate %s block", b.Type),
				Detail:   fmt.Sprintf("Only one %s block is allowed; the first one is at %s.", b.Type, posString(prev.DefRange)),
				Subject:  b.DefRange.Ptr(),
			})
			continue
		}
		seen[b.Type] = b
		switch b.Type {
		case "api":
			diags = append(diags, c.decodeAPI(b.Body, ctx)...)
		case "registry":
			diags = append(diags, c.decodeRegistry(b.Body, ctx)...)
		case "auth":
			diags = append(diags, c.decodeAuth(b.Body, ctx)...)
		case "images":
			diags = append(diags, c.decodeImages(b.Body, ctx)...)
		case "policy":
			diags = append(diags, c.decodePolicy(b.Body, ctx)...)
		}
	}
	if c.Registry.DSN == "" {
		if c.Registry.Driver == "sqlite" {
			c.Registry.DSN = DefaultRegistryDSN
		} else if !diags.HasErrors() {
			rng := f.Body.MissingItemRange()
			if b := seen["registry"]; b != nil {
				rng = b.DefRange
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Missing required argument",
				Detail:   fmt.Sprintf("The argument \"dsn\" is required when driver is %q.", c.Registry.Driver),
				Subject:  rng.Ptr(),
			})
		}
	}
	diags = append(diags, c.checkStores(f.Body.MissingItemRange())...)
	return c, diags
}

func (c *Config) decodeAPI(body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	content, diags := body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "bind"}, {Name: "public_endpoint"},
	}})
	if a := content.Attributes["bind"]; a != nil {
		d := decodeString(a, ctx, &c.API.Bind)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if err := checkBind(c.API.Bind); err != nil {
				diags = append(diags, attrError(a, "Invalid bind address", err.Error()))
			}
		}
	}
	if a := content.Attributes["public_endpoint"]; a != nil {
		d := decodeString(a, ctx, &c.API.PublicEndpoint)
		diags = append(diags, d...)
		if !d.HasErrors() && c.API.PublicEndpoint != "" {
			u, err := url.Parse(c.API.PublicEndpoint)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				diags = append(diags, attrError(a, "Invalid public_endpoint",
					"public_endpoint must be an absolute http:// or https:// URL, such as \"https://glance.example.com\"."))
			}
		}
	}
	return diags
}

func checkBind(s string) error {
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("bind must be host:port, such as %q: %v", DefaultBind, err)
	}
	n, err := strconv.Atoi(port)
	if err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("bind must be host:port with a numeric port between 0 and 65535, such as %q", DefaultBind)
	}
	return nil
}

func (c *Config) decodeRegistry(body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	content, diags := body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "driver"}, {Name: "dsn"},
	}})
	if a := content.Attributes["driver"]; a != nil {
		d := decodeString(a, ctx, &c.Registry.Driver)
		diags = append(diags, d...)
		if !d.HasErrors() && !oneOf(c.Registry.Driver, RegistryDrivers) {
			diags = append(diags, attrError(a, "Invalid registry driver",
				fmt.Sprintf("driver must be one of %s; got %q.", quoteList(RegistryDrivers), c.Registry.Driver)))
		}
	}
	if a := content.Attributes["dsn"]; a != nil {
		d := decodeString(a, ctx, &c.Registry.DSN)
		diags = append(diags, d...)
		if !d.HasErrors() && c.Registry.DSN == "" {
			diags = append(diags, attrError(a, "Invalid dsn", "dsn must not be empty."))
		}
	}
	return diags
}

func (c *Config) decodeImages(body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	content, diags := body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "size_cap"}, {Name: "cache_control"},
		{Name: "show_multiple_locations"}, {Name: "show_image_direct_url"},
		{Name: "property_quota"}, {Name: "tag_quota"}, {Name: "location_quota"},
		{Name: "member_quota"}, {Name: "user_storage_quota"},
	}})
	if a := content.Attributes["size_cap"]; a != nil {
		d := decodeValue(a, ctx, cty.Number, &c.Images.SizeCap)
		diags = append(diags, d...)
		if !d.HasErrors() && c.Images.SizeCap <= 0 {
			diags = append(diags, attrError(a, "Invalid size_cap", "size_cap must be a positive number of bytes."))
		}
	}
	if a := content.Attributes["cache_control"]; a != nil {
		diags = append(diags, decodeString(a, ctx, &c.Images.CacheControl)...)
	}
	for name, dst := range map[string]*bool{
		"show_multiple_locations": &c.Images.ShowMultipleLocations,
		"show_image_direct_url":   &c.Images.ShowImageDirectURL,
	} {
		if a := content.Attributes[name]; a != nil {
			diags = append(diags, decodeValue(a, ctx, cty.Bool, dst)...)
		}
	}
	for name, dst := range map[string]*int{
		"property_quota": &c.Images.PropertyQuota,
		"tag_quota":      &c.Images.TagQuota,
		"location_quota": &c.Images.LocationQuota,
		"member_quota":   &c.Images.MemberQuota,
	} {
		if a := content.Attributes[name]; a != nil {
			d := decodeValue(a, ctx, cty.Number, dst)
			diags = append(diags, d...)
			if !d.HasErrors() && *dst < -1 {
				diags = append(diags, attrError(a, "Invalid "+name, name+" must be -1 (unlimited), 0 (Glance's default) or a positive count."))
			}
		}
	}
	if a := content.Attributes["user_storage_quota"]; a != nil {
		d := decodeValue(a, ctx, cty.Number, &c.Images.UserStorageQuota)
		diags = append(diags, d...)
		if !d.HasErrors() && c.Images.UserStorageQuota < 0 {
			diags = append(diags, attrError(a, "Invalid user_storage_quota", "user_storage_quota must be a number of bytes, or 0 for no quota."))
		}
	}
	return diags
}

var storeSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "plugin", Required: true}, {Name: "default"}, {Name: "sha256"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "config"}},
}

func (c *Config) decodeStore(b *hcl.Block, ctx *hcl.EvalContext) hcl.Diagnostics {
	var diags hcl.Diagnostics
	s := &StoreConfig{ID: b.Labels[0], DeclRange: b.DefRange, ctx: ctx}
	if !storeIDRE.MatchString(s.ID) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid store name",
			Detail: fmt.Sprintf("The store name %q is not valid: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
				s.ID),
			Subject: b.LabelRanges[0].Ptr(),
		})
	}
	for _, other := range c.Stores {
		if other.ID == s.ID {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate store",
				Detail:   fmt.Sprintf("A store named %q is already declared at %s.", s.ID, posString(other.DeclRange)),
				Subject:  b.LabelRanges[0].Ptr(),
			})
		}
	}

	content, d := b.Body.Content(storeSchema)
	diags = append(diags, d...)
	if a := content.Attributes["plugin"]; a != nil {
		d := decodeString(a, ctx, &s.Plugin)
		diags = append(diags, d...)
		if !d.HasErrors() && !pluginNameRE.MatchString(s.Plugin) {
			diags = append(diags, attrError(a, "Invalid plugin name",
				fmt.Sprintf("The plugin name %q is not valid: it must match ^[a-z0-9][a-z0-9-]*$ (the binary is glance-store-<plugin>).", s.Plugin)))
		}
	}
	if a := content.Attributes["default"]; a != nil {
		diags = append(diags, decodeValue(a, ctx, cty.Bool, &s.Default)...)
	}
	if a := content.Attributes["sha256"]; a != nil {
		d := decodeString(a, ctx, &s.SHA256)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if !sha256RE.MatchString(s.SHA256) {
				diags = append(diags, attrError(a, "Invalid sha256",
					"sha256 must be the plugin binary's SHA-256 checksum written as 64 hexadecimal characters."))
			}
			s.SHA256 = strings.ToLower(s.SHA256)
		}
	}
	for _, cb := range content.Blocks {
		if s.Config != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate config block",
				Detail:   fmt.Sprintf("Only one config block is allowed in a store; the first one is at %s.", posString(s.ConfigRange)),
				Subject:  cb.DefRange.Ptr(),
			})
			continue
		}
		s.Config, s.ConfigRange = cb.Body, cb.DefRange
	}
	if s.Config == nil {
		s.Config = emptyBody(b)
	}
	c.Stores = append(c.Stores, s)
	return diags
}

// emptyBody stands for an absent config {} block; "missing required
// argument" diagnostics then point at the store block.
func emptyBody(b *hcl.Block) hcl.Body {
	rng := b.DefRange
	if sb, ok := b.Body.(*hclsyntax.Body); ok {
		rng = sb.SrcRange
	}
	return &hclsyntax.Body{Attributes: hclsyntax.Attributes{}, SrcRange: rng, EndRange: rng}
}

func (c *Config) checkStores(fileRange hcl.Range) hcl.Diagnostics {
	var diags hcl.Diagnostics
	switch len(c.Stores) {
	case 0:
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "No store declared",
			Detail:   "At least one store \"<name>\" { plugin = \"…\" } block is required.",
			Subject:  fileRange.Ptr(),
		}}
	case 1:
		c.Stores[0].Default = true
		return nil
	}
	var defaults []*StoreConfig
	for _, s := range c.Stores {
		if s.Default {
			defaults = append(defaults, s)
		}
	}
	switch len(defaults) {
	case 0:
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "No default store",
			Detail:   fmt.Sprintf("%d stores are declared; set default = true in exactly one of them.", len(c.Stores)),
			Subject:  c.Stores[0].DeclRange.Ptr(),
		})
	case 1:
	default:
		for _, s := range defaults[1:] {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "More than one default store",
				Detail: fmt.Sprintf("Store %q is marked default, but so is store %q at %s; only one store may be the default.",
					s.ID, defaults[0].ID, posString(defaults[0].DeclRange)),
				Subject: s.DeclRange.Ptr(),
			})
		}
	}
	return diags
}

// decodeString evaluates a string attribute; null leaves *dst unchanged.
func decodeString(a *hcl.Attribute, ctx *hcl.EvalContext, dst *string) hcl.Diagnostics {
	return decodeValue(a, ctx, cty.String, dst)
}

// decodeValue evaluates a, converts it to ty and stores it in dst (a pointer
// to a Go value that gocty understands). A null value leaves *dst unchanged,
// as if the attribute were absent.
func decodeValue(a *hcl.Attribute, ctx *hcl.EvalContext, ty cty.Type, dst any) hcl.Diagnostics {
	v, diags := evalAttr(a, ctx, ty)
	if diags.HasErrors() || v.IsNull() {
		return diags
	}
	if err := gocty.FromCtyValue(v, dst); err != nil {
		diags = append(diags, valueError(a, ctx, fmt.Sprintf("Inappropriate value for argument %q: %s.", a.Name, err)))
	}
	return diags
}

// evalAttr evaluates a and converts it to ty.
func evalAttr(a *hcl.Attribute, ctx *hcl.EvalContext, ty cty.Type) (cty.Value, hcl.Diagnostics) {
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	if !v.IsWhollyKnown() {
		return cty.NilVal, append(diags, valueError(a, ctx, fmt.Sprintf("The value of argument %q must be known when the configuration is loaded.", a.Name)))
	}
	if v.IsNull() {
		return cty.NullVal(ty), diags
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		return cty.NilVal, append(diags, valueError(a, ctx, fmt.Sprintf("Inappropriate value for argument %q: %s.", a.Name, convertErrString(err))))
	}
	return cv, diags
}

func convertErrString(err error) string {
	if pe, ok := err.(cty.PathError); ok && len(pe.Path) > 0 {
		var b strings.Builder
		for _, step := range pe.Path {
			switch s := step.(type) {
			case cty.IndexStep:
				if s.Key.Type() == cty.String {
					fmt.Fprintf(&b, "[%q]", s.Key.AsString())
				} else if s.Key.Type() == cty.Number {
					fmt.Fprintf(&b, "[%s]", s.Key.AsBigFloat().Text('f', -1))
				}
			case cty.GetAttrStep:
				fmt.Fprintf(&b, ".%s", s.Name)
			}
		}
		if b.Len() > 0 {
			return "element " + b.String() + ": " + pe.Error()
		}
	}
	return err.Error()
}

func valueError(a *hcl.Attribute, ctx *hcl.EvalContext, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity:    hcl.DiagError,
		Summary:     "Incorrect attribute value type",
		Detail:      detail,
		Subject:     a.Expr.Range().Ptr(),
		Context:     a.Range.Ptr(),
		Expression:  a.Expr,
		EvalContext: ctx,
	}
}

func attrError(a *hcl.Attribute, summary, detail string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   detail,
		Subject:  a.Expr.Range().Ptr(),
		Context:  a.Range.Ptr(),
	}
}

func posString(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}

func oneOf(s string, set []string) bool {
	for _, x := range set {
		if s == x {
			return true
		}
	}
	return false
}

func quoteList(set []string) string {
	q := make([]string, len(set))
	for i, s := range set {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}
