package config

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// evalContext returns the context in which configuration expressions are
// evaluated: no variables, and the functions env and file. file resolves
// relative paths against dir.
func evalContext(dir string) *hcl.EvalContext {
	return &hcl.EvalContext{Functions: map[string]function.Function{
		"env":  envFunc,
		"file": fileFunc(dir),
	}}
}

// envFunc is env("NAME") or env("NAME", "default"). Error messages name the
// variable but never contain a value.
var envFunc = function.New(&function.Spec{
	Description: "Returns the value of an environment variable, or the optional default when it is not set.",
	Params:      []function.Parameter{{Name: "name", Type: cty.String}},
	VarParam:    &function.Parameter{Name: "default", Type: cty.String},
	Type:        function.StaticReturnType(cty.String),
	RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
		return b.NotNull()
	},
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		if len(args) > 2 {
			return cty.NilVal, function.NewArgErrorf(2, "env takes a variable name and an optional default, not %d arguments", len(args))
		}
		name := args[0].AsString()
		if name == "" {
			return cty.NilVal, function.NewArgErrorf(0, "the environment variable name must not be empty")
		}
		if v, ok := os.LookupEnv(name); ok {
			return cty.StringVal(v), nil
		}
		if len(args) == 2 {
			return args[1], nil
		}
		return cty.NilVal, fmt.Errorf("environment variable %q is not set (give a default with env(%q, \"…\"))", name, name)
	},
})

// fileFunc is file("path"): the file's contents with trailing newlines
// trimmed; relative paths are relative to dir.
func fileFunc(dir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the contents of a file, relative to the configuration file's directory, without trailing newlines.",
		Params:      []function.Parameter{{Name: "path", Type: cty.String}},
		Type:        function.StaticReturnType(cty.String),
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
			return b.NotNull()
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if p == "" {
				return cty.NilVal, function.NewArgErrorf(0, "the file name must not be empty")
			}
			full := p
			if !filepath.IsAbs(full) {
				full = filepath.Join(dir, full)
			}
			b, err := os.ReadFile(full)
			if err != nil {
				if os.IsNotExist(err) {
					return cty.NilVal, fmt.Errorf("no file %q (looked for %s)", p, full)
				}
				// The *PathError names the file and the reason, never contents.
				return cty.NilVal, fmt.Errorf("cannot read %q: %v", p, err)
			}
			if !utf8.Valid(b) {
				return cty.NilVal, fmt.Errorf("file %q is not valid UTF-8 text", p)
			}
			return cty.StringVal(strings.TrimRight(string(b), "\r\n")), nil
		},
	})
}
