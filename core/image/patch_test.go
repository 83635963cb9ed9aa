package image

import (
	"errors"
	"fmt"
	"testing"
)

func TestParsePatch(t *testing.T) {
	for _, tc := range []struct {
		name  string
		draft int
		body  string
		want  string // fmt of the changes, or
		err   error  // the error kind
	}{
		{"rfc6902", 10, `[{"op": "replace", "path": "/name", "value": "x"}]`, "[{replace [name] x 10}]", nil},
		{"draft4", 4, `[{"remove": "/custom"}]`, "[{remove [custom] <nil> 4}]", nil},
		{"escapes", 10, `[{"op": "add", "path": "/a~1b~0c", "value": "v"}]`, "[{add [a/b~c] v 10}]", nil},
		{"location index", 10, `[{"op": "remove", "path": "/locations/0"}]`, "[{remove [locations 0] <nil> 10}]", nil},
		{"location replace depth", 10, `[{"op": "replace", "path": "/locations/0", "value": []}]`, "", ErrInvalid},
		{"tags pointer", 10, `[{"op": "add", "path": "/tags/-", "value": "x"}]`, "", ErrInvalid},
		{"adjacent slashes", 10, `[{"op": "add", "path": "/a//b", "value": "x"}]`, "", ErrInvalid},
		{"trailing slash", 10, `[{"op": "add", "path": "/a/", "value": "x"}]`, "", ErrInvalid},
		{"bare tilde", 10, `[{"op": "add", "path": "/a~", "value": "x"}]`, "", ErrInvalid},
		{"read-only", 10, `[{"op": "replace", "path": "/checksum", "value": "x"}]`, "", ErrForbidden},
		{"reserved", 10, `[{"op": "remove", "path": "/os_glance_import_task"}]`, "", ErrForbidden},
		{"schema", 10, `[{"op": "replace", "path": "/protected", "value": "yes"}]`, "", ErrInvalid},
		{"path not a string", 10, `[{"op": "add", "path": 3, "value": "x"}]`, "", ErrInvalid},
		{"unknown draft", 7, `[{"op": "add", "path": "/a", "value": "x"}]`, "", ErrInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Rules{}.ParsePatch([]byte(tc.body), tc.draft)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err %v, want kind %v", err, tc.err)
				}
				return
			}
			if err != nil || fmt.Sprint(got) != tc.want {
				t.Fatalf("%v %v, want %s", got, err, tc.want)
			}
		})
	}
}

func TestApply(t *testing.T) {
	img := &Image{Status: StatusActive, Properties: map[string]string{"a": "1"}, Tags: []string{"x"}}
	for _, tc := range []struct {
		name string
		ch   Change
		err  error
	}{
		{"replace property", Change{Op: "replace", Path: []string{"a"}, Value: "2", Draft: 10}, nil},
		{"add in draft 4 on existing", Change{Op: "add", Path: []string{"a"}, Value: "3", Draft: 4}, ErrConflict},
		{"remove missing", Change{Op: "remove", Path: []string{"b"}, Draft: 10}, ErrConflict},
		{"remove base", Change{Op: "remove", Path: []string{"name"}, Draft: 10}, ErrForbidden},
		{"format once active", Change{Op: "replace", Path: []string{"disk_format"}, Value: "raw", Draft: 10}, ErrForbidden},
		{"owner by member", Change{Op: "replace", Path: []string{"owner"}, Value: "p", Draft: 10}, ErrForbidden},
		{"tags replaced", Change{Op: "replace", Path: []string{"tags"}, Value: []any{"y", "y", "z"}, Draft: 10}, nil},
	} {
		err := Rules{}.Apply(img, tc.ch, ApplyOptions{})
		if !errors.Is(err, tc.err) {
			t.Errorf("%s: err %v, want %v", tc.name, err, tc.err)
		}
	}
	if img.Properties["a"] != "2" || fmt.Sprint(img.Tags) != "[y z]" {
		t.Fatalf("image after: %v %v", img.Properties, img.Tags)
	}
	over := &Image{Properties: map[string]string{}, Tags: []string{"1", "2", "3"}}
	if err := (Rules{TagQuota: 2}).CheckQuotas(&Image{Tags: []string{"1"}}, over); !errors.Is(err, ErrLimitExceeded) {
		t.Fatalf("tag quota: %v", err)
	}
	if err := (Rules{TagQuota: 2}).CheckQuotas(&Image{Tags: []string{"1", "2", "3", "4"}}, over); err != nil {
		t.Fatalf("shrinking an image over quota: %v", err)
	}
}
