package image

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestTransitions(t *testing.T) {
	withFormats := &Image{Status: StatusQueued, DiskFormat: Ptr("raw"), ContainerFormat: Ptr("bare")}
	tests := []struct {
		name string
		img  *Image
		to   Status
		want error
		msg  string
	}{
		{"queued to saving", withFormats, StatusSaving, nil, ""},
		{"active to saving", &Image{Status: StatusActive}, StatusSaving, ErrInvalidTransition, "Image status transition from active to saving is not allowed"},
		{"saving to saving", &Image{Status: StatusSaving}, StatusSaving, ErrInvalidTransition, "from saving to saving"},
		{"deleted is final", &Image{Status: StatusDeleted}, StatusQueued, ErrInvalidTransition, ""},
		{"no formats", &Image{Status: StatusQueued}, StatusSaving, ErrInvalid, "Properties disk_format, container_format must be set prior to saving data."},
		{"no disk format", &Image{Status: StatusQueued, ContainerFormat: Ptr("bare")}, StatusActive, ErrInvalid, "Property disk_format must be set"},
		{"queued to deleted needs no formats", &Image{Status: StatusQueued}, StatusDeleted, nil, ""},
		{"saving back to queued", &Image{Status: StatusSaving}, StatusQueued, nil, ""},
	}
	for _, tc := range tests {
		err := CheckTransition(tc.img, tc.to)
		if !errors.Is(err, tc.want) || (tc.want == nil && err != nil) || (err != nil && !strings.Contains(err.Error(), tc.msg)) {
			t.Errorf("%s: %v, want %v %q", tc.name, err, tc.want, tc.msg)
		}
	}
	for _, s := range []Status{StatusQueued, StatusSaving, StatusActive, StatusDeleted} {
		if !s.Valid() {
			t.Errorf("%s not valid", s)
		}
	}
	if Status("bogus").Valid() {
		t.Error("bogus status valid")
	}
}

func TestParseCreate(t *testing.T) {
	img, err := Rules{}.ParseCreate([]byte(`{"name": "tx-1", "disk_format": "raw", "container_format": "bare", "visibility": "private",
		"tags": ["alpha", "alpha", "beta"], "min_ram": 0, "min_disk": 2, "os_distro": "cirros", "protected": true, "os_hidden": false,
		"id": "c75a0f69-5144-4e53-bf5f-fe54039fd6f2"}`))
	if err != nil {
		t.Fatal(err)
	}
	if img.ID != "c75a0f69-5144-4e53-bf5f-fe54039fd6f2" || *img.Name != "tx-1" || *img.DiskFormat != "raw" || *img.ContainerFormat != "bare" ||
		img.Visibility != VisibilityPrivate || img.Status != StatusQueued || img.MinDisk != 2 || !img.Protected ||
		len(img.Tags) != 2 || img.Properties["os_distro"] != "cirros" || len(img.Properties) != 1 || img.Owner != nil {
		t.Fatalf("parsed %+v", img)
	}
	def, err := Rules{}.ParseCreate([]byte(`{}`))
	if err != nil || def.Visibility != VisibilityShared || def.Name != nil || def.Tags == nil {
		t.Fatalf("defaults: %+v %v", def, err)
	}

	props := make([]string, 129)
	for i := range props {
		props[i] = fmt.Sprintf(`"p%d": "v"`, i)
	}
	many := "{" + strings.Join(props, ", ") + "}"
	tests := []struct {
		name, body string
		rules      Rules
		kind       error
	}{
		{"property quota", many, Rules{}, ErrLimitExceeded},
		{"property quota off", many, Rules{PropertyQuota: -1}, nil},
		{"custom disk formats", `{"disk_format": "floppy"}`, Rules{DiskFormats: []string{"floppy"}}, nil},
		{"default disk formats", `{"disk_format": "floppy"}`, Rules{}, ErrInvalid},
		{"tag quota", `{"tags": ["a", "b", "c"]}`, Rules{TagQuota: 2}, ErrLimitExceeded},
		{"long property key", `{"` + strings.Repeat("k", 256) + `": "v"}`, Rules{}, ErrInvalid},
		{"reserved", `{"os_glance_x": "v"}`, Rules{}, ErrForbidden},
		{"read-only", `{"os_hash_value": "v"}`, Rules{}, ErrForbidden},
		{"disallowed", `{"stores": "a"}`, Rules{}, ErrForbidden},
		{"null name", `{"name": null}`, Rules{}, nil},
		{"trailing data", `{} {}`, Rules{}, ErrInvalid},
	}
	for _, tc := range tests {
		_, err := tc.rules.ParseCreate([]byte(tc.body))
		if !errors.Is(err, tc.kind) || (tc.kind == nil && err != nil) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.kind)
		}
	}
}

func TestStoreIDs(t *testing.T) {
	img := &Image{Locations: []Location{{StoreID: "b"}, {StoreID: "a"}, {StoreID: "b"}, {}}}
	if got := strings.Join(img.StoreIDs(), ","); got != "b,a" {
		t.Fatalf("StoreIDs %q", got)
	}
}
