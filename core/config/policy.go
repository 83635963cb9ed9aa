package config

import (
	"github.com/hashicorp/hcl/v2"
)

// PolicyConfig is the policy {} block: operator overrides of the default
// access rules, by rule name.
type PolicyConfig struct {
	// Rules maps a rule name (Glance's, such as "publicize_image") to its
	// replacement check string.
	Rules map[string]string
}

func (c *Config) decodePolicy(body hcl.Body, ctx *hcl.EvalContext) hcl.Diagnostics {
	_, diags := body.Content(&hcl.BodySchema{})
	return diags
}
