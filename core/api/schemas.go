package api

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/glance-go/glance/core/image"
)

// schemaFiles are Glance's schemas as /v2/schemas serves them (image and
// images: Schema.raw(); member(s), task(s): minimal()), in Glance's key
// order. The disk and container format enums are placeholders filled from
// the deployment's Rules.
//
//go:embed schemas/*.json
var schemaFiles embed.FS

// schemaNames are the documents under /v2/schemas.
var schemaNames = []string{"image", "images", "member", "members", "task", "tasks"}

// buildSchemas renders every schema once, as Python's json.dumps would.
func buildSchemas(rules image.Rules) (map[string][]byte, error) {
	enum := func(formats []string) string {
		b, _ := json.Marshal(append([]any{nil}, toAny(formats)...))
		return string(b)
	}
	df, cf := rules.DiskFormats, rules.ContainerFormats
	if df == nil {
		df = image.DiskFormats()
	}
	if cf == nil {
		cf = image.ContainerFormats()
	}
	repl := strings.NewReplacer(`"__DISK_FORMATS__"`, enum(df), `"__CONTAINER_FORMATS__"`, enum(cf))
	out := make(map[string][]byte, len(schemaNames))
	for _, name := range schemaNames {
		raw, err := schemaFiles.ReadFile("schemas/" + name + ".json")
		if err != nil {
			return nil, err
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, raw); err != nil {
			return nil, fmt.Errorf("schema %s: %w", name, err)
		}
		out[name] = pythonize([]byte(repl.Replace(compact.String())))
	}
	return out, nil
}

func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// schema serves GET /v2/schemas/{name}.
func (s *server) schema(name string) gin.HandlerFunc {
	return func(c *gin.Context) { writeJSON(c, http.StatusOK, s.schemas[name]) }
}
