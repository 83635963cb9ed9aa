package api

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"testing"
	"unicode/utf8"
)

// encodingJSON is the reference: what object.field wrote for every value
// before it had its own writers for the common types.
func encodingJSON(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return []byte("null")
	}
	return bytes.TrimRight(b.Bytes(), "\n")
}

func fieldBytes(key string, v any) []byte {
	var o object
	o.field(key, v)
	return o.bytes()
}

// TestFieldFastPathMatchesEncodingJSON: the direct writers for strings,
// nullable strings and integers, booleans and string lists produce exactly
// the bytes encoding/json did, so pythonize (and so the wire) is unchanged.
func TestFieldFastPathMatchesEncodingJSON(t *testing.T) {
	strs := []string{"", "cirros", `quote " back \ slash`, "tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f\x7f",
		"<html> & 'x'", "é ü 日本 😀", "line\u2028sep\u2029", "bad \xff\xfe utf8 \xc3", "/v2/images/x/file"}
	r := rand.New(rand.NewPCG(1, 2))
	for range 2000 {
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		strs = append(strs, string(b))
	}
	n := int64(-42)
	var values []any
	for _, s := range strs {
		values = append(values, s, &s)
	}
	values = append(values, (*string)(nil), true, false, int64(0), int64(1<<62), n, &n, (*int64)(nil),
		[]string{}, []string(nil), []string{"a", "b\"", "é"})
	for _, v := range values {
		got := fieldBytes("k\u00e9y", v)
		want := append(append([]byte(`{"k`+"\u00e9"+`y":`), encodingJSON(v)...), '}')
		if !bytes.Equal(got, want) {
			t.Errorf("%#v: got %q want %q", v, got, want)
		}
		if !utf8.Valid(pythonize(got)) || !json.Valid(got) {
			t.Errorf("%#v: invalid JSON %q", v, got)
		}
	}
}

// TestPropertyNamesNotHTMLEscaped: Python's json.dumps (Glance) writes
// "<", ">" and "&" as they are, in keys as in values; json.Marshal, which
// once wrote the keys, sent \u003c, \u003e and \u0026.
func TestPropertyNamesNotHTMLEscaped(t *testing.T) {
	e := newEnv(t)
	resp, b := e.do("POST", "/v2/images", bytes.NewReader([]byte(`{"name": "<a&b>", "x<y&z>": "<v&w>"}`)),
		map[string]string{"Content-Type": "application/json"})
	if resp.StatusCode != 201 {
		t.Fatalf("create: %d %s", resp.StatusCode, b)
	}
	if !bytes.Contains(b, []byte(`{"x<y&z>": "<v&w>", "name": "<a&b>", `)) {
		t.Errorf("HTML-escaped or misplaced: %s", b)
	}
}
