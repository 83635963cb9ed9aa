package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/glance-go/glance/sdk/store"
)

// Sensitive is what Redacted shows in place of a sensitive value.
const Sensitive = "(sensitive)"

// ctyType is the cty type an attribute of type t is converted to.
func ctyType(t store.AttrType) (cty.Type, bool) {
	switch t {
	case store.TypeString, store.TypeDuration:
		return cty.String, true
	case store.TypeNumber:
		return cty.Number, true
	case store.TypeBool:
		return cty.Bool, true
	case store.TypeListOfString:
		return cty.List(cty.String), true
	case store.TypeMapOfString:
		return cty.Map(cty.String), true
	}
	return cty.NilType, false
}

func (s *StoreConfig) body() hcl.Body {
	if s.Config == nil {
		return &hclsyntax.Body{Attributes: hclsyntax.Attributes{}, SrcRange: s.DeclRange, EndRange: s.DeclRange}
	}
	return s.Config
}

func (s *StoreConfig) evalContext() *hcl.EvalContext {
	if s.ctx == nil {
		return evalContext(".")
	}
	return s.ctx
}

// DecodeConfig decodes the store's config {} block against the plugin's
// schema and returns it as a JSON object. Absent attributes take the
// schema's default, if any, and are otherwise left out; an attribute set to
// null counts as absent. Durations stay strings, checked with
// time.ParseDuration. Unknown arguments, missing required ones and values of
// the wrong type are reported at their place in the file. On error the JSON
// is nil.
func (s *StoreConfig) DecodeConfig(schema store.Schema) ([]byte, hcl.Diagnostics) {
	if err := schema.Validate(); err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Invalid plugin schema",
			Detail:   fmt.Sprintf("The %q plugin of store %q declares an invalid configuration schema: %v.", s.Plugin, s.ID, err),
			Subject:  s.DeclRange.Ptr(),
		}}
	}
	bs := &hcl.BodySchema{}
	for _, a := range schema.Attributes {
		bs.Attributes = append(bs.Attributes, hcl.AttributeSchema{Name: a.Name, Required: a.Required})
	}
	content, diags := s.body().Content(bs)
	ctx := s.evalContext()
	out := map[string]json.RawMessage{}
	for _, a := range schema.Attributes {
		attr := content.Attributes[a.Name]
		if attr == nil {
			if len(a.Default) > 0 {
				out[a.Name] = a.Default
			}
			continue // a missing required argument was reported by Content
		}
		ty, _ := ctyType(a.Type) // Validate checked the type
		v, d := evalAttr(attr, ctx, ty)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if v.IsNull() {
			switch {
			case a.Required:
				diags = append(diags, attrError(attr, "Missing required argument",
					fmt.Sprintf("The argument %q is required and must not be null.", a.Name)))
			case len(a.Default) > 0:
				out[a.Name] = a.Default
			}
			continue
		}
		if ty.IsCollectionType() && hasNullElement(v) {
			diags = append(diags, valueError(attr, ctx, fmt.Sprintf("Inappropriate value for argument %q: elements must not be null.", a.Name)))
			continue
		}
		if a.Type == store.TypeDuration {
			if _, err := time.ParseDuration(v.AsString()); err != nil {
				diags = append(diags, attrError(attr, "Invalid duration",
					fmt.Sprintf("The argument %q must be a duration such as \"30s\", \"5m\" or \"1h30m\".", a.Name)))
				continue
			}
		}
		j, err := ctyjson.Marshal(v, ty)
		if err != nil {
			diags = append(diags, valueError(attr, ctx, fmt.Sprintf("Cannot encode argument %q: %v.", a.Name, err)))
			continue
		}
		out[a.Name] = j
	}
	if diags.HasErrors() {
		return nil, diags
	}
	j, err := json.Marshal(out)
	if err != nil { // a schema default that is not JSON; Validate rules it out
		return nil, append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid plugin schema",
			Detail:   fmt.Sprintf("Cannot encode the configuration of store %q: %v.", s.ID, err),
			Subject:  s.DeclRange.Ptr(),
		})
	}
	return j, diags
}

func hasNullElement(v cty.Value) bool {
	for it := v.ElementIterator(); it.Next(); {
		if _, e := it.Element(); e.IsNull() {
			return true
		}
	}
	return false
}

// attributes returns the attributes set in the config {} block, by name.
func (s *StoreConfig) attributes() map[string]*hcl.Attribute {
	out := map[string]*hcl.Attribute{}
	switch b := s.body().(type) {
	case *hclsyntax.Body:
		for name, a := range b.Attributes {
			out[name] = a.AsHCLAttribute()
		}
	default:
		attrs, _ := b.JustAttributes()
		for name, a := range attrs {
			out[name] = a
		}
	}
	return out
}

// PluginDiagnostics turns the diagnostics a plugin returned about this
// store's configuration into hcl diagnostics: each points at the value of
// the attribute named by Path[0], or at the config block (the store block
// when there is none) when that attribute is not set or no path is given.
func (s *StoreConfig) PluginDiagnostics(d store.Diagnostics) hcl.Diagnostics {
	if len(d) == 0 {
		return nil
	}
	attrs := s.attributes()
	fallback := s.DeclRange
	if s.ConfigRange != (hcl.Range{}) {
		fallback = s.ConfigRange
	}
	out := make(hcl.Diagnostics, 0, len(d))
	for _, pd := range d {
		hd := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: pd.Summary, Detail: pd.Detail}
		if pd.Severity == store.SeverityWarning {
			hd.Severity = hcl.DiagWarning
		}
		if hd.Summary == "" {
			hd.Summary = fmt.Sprintf("Invalid configuration for store %q", s.ID)
		}
		var a *hcl.Attribute
		if len(pd.Path) > 0 {
			a = attrs[pd.Path[0]]
		}
		if a != nil {
			hd.Subject, hd.Context = a.Expr.Range().Ptr(), a.Range.Ptr()
		} else {
			hd.Subject = fallback.Ptr()
			if len(pd.Path) > 0 {
				note := fmt.Sprintf("This concerns the argument %q, which is not set.", pd.Path[0])
				if hd.Detail == "" {
					hd.Detail = note
				} else {
					hd.Detail += "\n\n" + note
				}
			}
		}
		out = append(out, hd)
	}
	return out
}

// Redacted returns a decoded configuration (as produced by DecodeConfig)
// with the values of sensitive attributes replaced by "(sensitive)", fit for
// logs. It returns nil if configJSON is not a JSON object.
func (s *StoreConfig) Redacted(schema store.Schema, configJSON []byte) map[string]any {
	dec := json.NewDecoder(bytes.NewReader(configJSON))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil || m == nil {
		return nil
	}
	for _, a := range schema.Attributes {
		if _, ok := m[a.Name]; ok && a.Sensitive {
			m[a.Name] = Sensitive
		}
	}
	return m
}
