package storeplugin

import (
	"encoding/json"

	"github.com/glance-go/glance/sdk/internal/gen/storev1"
	"github.com/glance-go/glance/sdk/store"
)

// Conversions between sdk/store types and their protocol messages.

var attrTypes = map[store.AttrType]storev1.AttributeType{
	store.TypeString:       storev1.AttributeType_ATTRIBUTE_TYPE_STRING,
	store.TypeNumber:       storev1.AttributeType_ATTRIBUTE_TYPE_NUMBER,
	store.TypeBool:         storev1.AttributeType_ATTRIBUTE_TYPE_BOOL,
	store.TypeListOfString: storev1.AttributeType_ATTRIBUTE_TYPE_LIST_OF_STRING,
	store.TypeMapOfString:  storev1.AttributeType_ATTRIBUTE_TYPE_MAP_OF_STRING,
	store.TypeDuration:     storev1.AttributeType_ATTRIBUTE_TYPE_DURATION,
}

func infoToProto(i store.Info) *storev1.GetPluginInfoResponse {
	attrs := make([]*storev1.ConfigAttribute, 0, len(i.ConfigSchema.Attributes))
	for _, a := range i.ConfigSchema.Attributes {
		attrs = append(attrs, &storev1.ConfigAttribute{
			Name:        a.Name,
			Type:        attrTypes[a.Type],
			Required:    a.Required,
			Sensitive:   a.Sensitive,
			Description: a.Description,
			DefaultJson: string(a.Default),
		})
	}
	return &storev1.GetPluginInfoResponse{
		Name:          i.Name,
		Version:       i.Version,
		ProtocolMinor: ProtocolMinor,
		Schemes:       i.Schemes,
		ConfigSchema:  &storev1.ConfigSchema{Attributes: attrs},
		Description:   i.Description,
	}
}

func infoFromProto(p *storev1.GetPluginInfoResponse) store.Info {
	i := store.Info{
		Name:        p.GetName(),
		Version:     p.GetVersion(),
		Schemes:     p.GetSchemes(),
		Description: p.GetDescription(),
	}
	for _, a := range p.GetConfigSchema().GetAttributes() {
		attr := store.Attribute{
			Name:        a.GetName(),
			Required:    a.GetRequired(),
			Sensitive:   a.GetSensitive(),
			Description: a.GetDescription(),
		}
		for t, pt := range attrTypes {
			if pt == a.GetType() {
				attr.Type = t
			}
		}
		if d := a.GetDefaultJson(); d != "" {
			attr.Default = json.RawMessage(d)
		}
		i.ConfigSchema.Attributes = append(i.ConfigSchema.Attributes, attr)
	}
	return i
}

func capsToProto(c store.Capabilities) []storev1.Capability {
	var out []storev1.Capability
	add := func(on bool, v storev1.Capability) {
		if on {
			out = append(out, v)
		}
	}
	add(c.Read, storev1.Capability_CAPABILITY_READ)
	add(c.ReadRange, storev1.Capability_CAPABILITY_READ_RANGE)
	add(c.Write, storev1.Capability_CAPABILITY_WRITE)
	add(c.WriteUnknownSize, storev1.Capability_CAPABILITY_WRITE_UNKNOWN_SIZE)
	add(c.Delete, storev1.Capability_CAPABILITY_DELETE)
	add(c.ConcurrentSafe, storev1.Capability_CAPABILITY_CONCURRENT_SAFE)
	add(c.LocalFile, storev1.Capability_CAPABILITY_LOCAL_FILE)
	add(c.LocalPut, storev1.Capability_CAPABILITY_LOCAL_PUT)
	return out
}

func capsFromProto(cs []storev1.Capability) store.Capabilities {
	var c store.Capabilities
	for _, v := range cs {
		switch v {
		case storev1.Capability_CAPABILITY_READ:
			c.Read = true
		case storev1.Capability_CAPABILITY_READ_RANGE:
			c.ReadRange = true
		case storev1.Capability_CAPABILITY_WRITE:
			c.Write = true
		case storev1.Capability_CAPABILITY_WRITE_UNKNOWN_SIZE:
			c.WriteUnknownSize = true
		case storev1.Capability_CAPABILITY_DELETE:
			c.Delete = true
		case storev1.Capability_CAPABILITY_CONCURRENT_SAFE:
			c.ConcurrentSafe = true
		case storev1.Capability_CAPABILITY_LOCAL_FILE:
			c.LocalFile = true
		case storev1.Capability_CAPABILITY_LOCAL_PUT:
			c.LocalPut = true
		}
	}
	return c
}

func diagsToProto(ds store.Diagnostics) []*storev1.Diagnostic {
	out := make([]*storev1.Diagnostic, 0, len(ds))
	for _, d := range ds {
		sev := storev1.DiagnosticSeverity_DIAGNOSTIC_SEVERITY_ERROR
		if d.Severity == store.SeverityWarning {
			sev = storev1.DiagnosticSeverity_DIAGNOSTIC_SEVERITY_WARNING
		}
		out = append(out, &storev1.Diagnostic{
			Severity:      sev,
			Summary:       d.Summary,
			Detail:        d.Detail,
			AttributePath: d.Path,
		})
	}
	return out
}

func diagsFromProto(ps []*storev1.Diagnostic) store.Diagnostics {
	var out store.Diagnostics
	for _, p := range ps {
		sev := store.SeverityError // an unknown severity must not pass as harmless
		if p.GetSeverity() == storev1.DiagnosticSeverity_DIAGNOSTIC_SEVERITY_WARNING {
			sev = store.SeverityWarning
		}
		out = append(out, store.Diagnostic{
			Severity: sev,
			Summary:  p.GetSummary(),
			Detail:   p.GetDetail(),
			Path:     p.GetAttributePath(),
		})
	}
	return out
}

func putResultToProto(r store.PutResult) *storev1.PutResponse {
	return &storev1.PutResponse{Location: r.Location, SizeBytes: r.Size, LocationMetadata: r.Metadata}
}

func putResultFromProto(r *storev1.PutResponse) store.PutResult {
	return store.PutResult{Location: r.GetLocation(), Size: r.GetSizeBytes(), Metadata: r.GetLocationMetadata()}
}
