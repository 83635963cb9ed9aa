package api

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
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
	o.b.Write(appendJSONString(nil, key))
	o.b.WriteByte(':')
	// The common attribute types are written directly (lists encode many
	// images); anything else goes through encoding/json.
	switch v := v.(type) {
	case string:
		o.b.Write(appendJSONString(nil, v))
		return
	case *string:
		if v == nil {
			o.b.WriteString("null")
		} else {
			o.b.Write(appendJSONString(nil, *v))
		}
		return
	case bool:
		o.b.WriteString(strconv.FormatBool(v))
		return
	case int64:
		o.b.WriteString(strconv.FormatInt(v, 10))
		return
	case *int64:
		if v == nil {
			o.b.WriteString("null")
		} else {
			o.b.WriteString(strconv.FormatInt(*v, 10))
		}
		return
	case []string:
		if v == nil {
			o.b.WriteString("null")
			return
		}
		o.b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				o.b.WriteByte(',')
			}
			o.b.Write(appendJSONString(nil, e))
		}
		o.b.WriteByte(']')
		return
	}
	var vb bytes.Buffer
	enc := json.NewEncoder(&vb)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		vb.Reset()
		vb.WriteString("null")
	}
	o.b.Write(bytes.TrimRight(vb.Bytes(), "\n"))
}

// appendJSONString appends s as encoding/json does with HTML escaping off:
// quotes, backslashes and control characters escaped, invalid UTF-8 as
// U+FFFD, U+2028 and U+2029 escaped; other non-ASCII is left as is
// (pythonize escapes it afterwards).
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if c := s[i]; c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[r&0xf])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
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
