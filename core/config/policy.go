package config

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/glance-go/glance/core/policy"
)

// PolicyConfig is the policy {} block: operator overrides of the default
// access rules, by rule name.
//
//	policy {
//	  rules = {
//	    publicize_image = "role:admin"
//	    download_image  = "role:member or role:admin"
//	  }
//	}
type PolicyConfig struct {
	// Rules maps a rule name (Glance's, such as "publicize_image") to its
	// replacement check string.
	Rules map[string]string
}

// Enforcer returns the policy engine: the defaults with Rules in force.
// A configuration that decoded without errors always gives one.
func (p PolicyConfig) Enforcer() (*policy.Enforcer, error) {
	return policy.New(p.Rules)
}

func (c *Config) decodePolicy(body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	content, diags := body.Content(&hcl.BodySchema{Attributes: []hcl.AttributeSchema{{Name: "rules"}}})
	a := content.Attributes["rules"]
	if a == nil {
		return diags
	}
	pairs, d := hcl.ExprMap(a.Expr)
	if d.HasErrors() {
		// Not an object constructor: an expression (a variable, a
		// function) evaluating to a map.
		return append(diags, c.decodePolicyValue(a, ctx)...)
	}
	rules := map[string]string{}
	ranges := map[string]hcl.Range{}
	for _, kv := range pairs {
		var name string
		if k := hcl.ExprAsKeyword(kv.Key); k != "" {
			name = k
		} else {
			v, d := kv.Key.Value(ctx)
			if d.HasErrors() || v.IsNull() || !v.IsWhollyKnown() || v.Type() != cty.String {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError, Summary: "Invalid policy rule name",
					Detail: "A rule name must be an identifier or a string.", Subject: kv.Key.Range().Ptr(), Context: a.Range.Ptr(),
				})
				continue
			}
			name = v.AsString()
		}
		if prev, ok := ranges[name]; ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Duplicate policy rule",
				Detail:  fmt.Sprintf("Rule %q is already set at %s.", name, posString(prev)),
				Subject: kv.Key.Range().Ptr(), Context: a.Range.Ptr(),
			})
			continue
		}
		ranges[name] = kv.Key.Range()
		if !policy.Known(name) {
			diags = append(diags, unknownRule(name, kv.Key.Range(), a.Range))
			continue
		}
		v, d := kv.Value.Value(ctx)
		if d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		if v.IsNull() || !v.IsWhollyKnown() || v.Type() != cty.String {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Invalid policy rule",
				Detail:  fmt.Sprintf("The check string of rule %q must be a string.", name),
				Subject: kv.Value.Range().Ptr(), Context: a.Range.Ptr(),
			})
			continue
		}
		check := v.AsString()
		if err := policy.Validate(check); err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Invalid policy rule",
				Detail:  fmt.Sprintf("Rule %q: %s.", name, err),
				Subject: kv.Value.Range().Ptr(), Context: a.Range.Ptr(),
			})
			continue
		}
		rules[name] = check
	}
	if diags.HasErrors() {
		return diags
	}
	// References between rules (rule:x) are checked on the whole set.
	if _, err := policy.New(rules); err != nil {
		rng := a.Expr.Range()
		var pe *policy.Error
		if errors.As(err, &pe) {
			for _, kv := range pairs {
				if name := keyName(kv.Key, ctx); name == pe.Rule {
					rng = kv.Value.Range()
				}
			}
		}
		return append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Invalid policy rule",
			Detail: capitalize(err.Error()) + ".", Subject: rng.Ptr(), Context: a.Range.Ptr(),
		})
	}
	c.Policy.Rules = rules
	return diags
}

// decodePolicyValue decodes rules given as an expression yielding a map
// of strings; diagnostics point at the attribute.
func (c *Config) decodePolicyValue(a *hcl.Attribute, ctx *hcl.EvalContext) hcl.Diagnostics {
	var rules map[string]string
	diags := decodeValue(a, ctx, cty.Map(cty.String), &rules)
	if diags.HasErrors() {
		return diags
	}
	names := make([]string, 0, len(rules))
	for name := range rules {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if !policy.Known(name) {
			diags = append(diags, unknownRule(name, a.Expr.Range(), a.Range))
		}
	}
	if diags.HasErrors() {
		return diags
	}
	if _, err := policy.New(rules); err != nil {
		return append(diags, attrError(a, "Invalid policy rule", capitalize(err.Error())+"."))
	}
	c.Policy.Rules = rules
	return diags
}

func unknownRule(name string, subject, context hcl.Range) *hcl.Diagnostic {
	known := make([]string, 0, len(policy.Defaults))
	for _, r := range policy.Defaults {
		known = append(known, r.Name)
	}
	sort.Strings(known)
	return &hcl.Diagnostic{
		Severity: hcl.DiagError, Summary: "Unknown policy rule",
		Detail:  fmt.Sprintf("There is no rule %q; the rules are %s.", name, strings.Join(known, ", ")),
		Subject: subject.Ptr(), Context: context.Ptr(),
	}
}

func keyName(e hcl.Expression, ctx *hcl.EvalContext) string {
	if k := hcl.ExprAsKeyword(e); k != "" {
		return k
	}
	if v, d := e.Value(ctx); !d.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
		return v.AsString()
	}
	return ""
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
