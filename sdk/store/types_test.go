package store

import (
	"errors"
	"slices"
	"testing"
)

func TestDecodeDiagnostics(t *testing.T) {
	type cfg struct {
		DataDir string `json:"data_dir"`
		Size    int    `json:"size"`
	}
	for _, tc := range []struct {
		name, json string
		ok         bool
		path       []string
	}{
		{"valid", `{"data_dir": "/x", "size": 3}`, true, nil},
		{"empty", ``, true, nil},
		{"unknown attribute names its path", `{"data_dri": "/x"}`, false, []string{"data_dri"}},
		{"wrong type has no path", `{"size": "big"}`, false, nil},
		{"not JSON has no path", `{`, false, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v cfg
			d := Config{JSON: []byte(tc.json)}.DecodeDiagnostics(&v)
			if d.HasErrors() == tc.ok {
				t.Fatalf("diagnostics %+v, want ok=%v", d, tc.ok)
			}
			if tc.ok {
				return
			}
			if len(d) != 1 || !slices.Equal(d[0].Path, tc.path) || d[0].Summary != "Invalid configuration" {
				t.Errorf("diagnostics %+v, want one error at path %v", d, tc.path)
			}
			if !errors.Is(d.Err(), ErrInvalidConfig) {
				t.Errorf("Err() = %v, want ErrInvalidConfig", d.Err())
			}
		})
	}
}
