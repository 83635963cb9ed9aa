package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
)

// marshal encodes v as Python's json.dumps does by default (what Glance
// sends): ", " and ": " separators, non-ASCII escaped as \uXXXX, no HTML
// escaping.
func marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return pythonize(bytes.TrimRight(b.Bytes(), "\n")), nil
}

// pythonize rewrites compact JSON into Python's default layout.
func pythonize(src []byte) []byte {
	out := make([]byte, 0, len(src)+len(src)/8)
	inStr, esc := false, false
	for i := 0; i < len(src); {
		c := src[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRune(src[i:])
			i += size
			if r >= 0x10000 {
				r -= 0x10000
				out = fmt.Appendf(out, `\u%04x\u%04x`, 0xd800+(r>>10), 0xdc00+(r&0x3ff))
			} else {
				out = fmt.Appendf(out, `\u%04x`, r)
			}
			continue
		}
		i++
		out = append(out, c)
		switch {
		case inStr && esc:
			esc = false
		case inStr && c == '\\':
			esc = true
		case c == '"':
			inStr = !inStr
		case !inStr && (c == ',' || c == ':'):
			out = append(out, ' ')
		}
	}
	return out
}

// object writes a JSON object with its keys in a chosen order.
type object struct {
	b bytes.Buffer
}

func (o *object) field(key string, v any) {
	if o.b.Len() == 0 {
		o.b.WriteByte('{')
	} else {
		o.b.WriteByte(',')
	}
	k, _ := json.Marshal(key)
	o.b.Write(k)
	o.b.WriteByte(':')
	var vb bytes.Buffer
	enc := json.NewEncoder(&vb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		vb.Reset()
		vb.WriteString("null")
	}
	o.b.Write(bytes.TrimRight(vb.Bytes(), "\n"))
}

// raw is already-encoded JSON (compact).
func (o *object) raw(key string, v []byte) {
	o.field(key, json.RawMessage(v))
}

func (o *object) bytes() []byte {
	if o.b.Len() == 0 {
		return []byte("{}")
	}
	return append(o.b.Bytes(), '}')
}
