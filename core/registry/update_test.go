package registry

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/glance-go/glance/core/image"
)

func TestUpdate(t *testing.T) {
	ctx := context.Background()
	clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	db, _ := openTest(t, OpenOptions{AutoMigrate: true, Now: func() time.Time { return clock }})
	img := newImage("u")
	if err := db.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	if err := db.CommitUpload(ctx, img.ID, upload("mem://fast/"+img.ID)); !errors.Is(err, ErrConflict) {
		t.Fatalf("commit on queued: %v", err)
	}
	clock = clock.Add(time.Minute)
	boom := errors.New("boom")

	for _, tc := range []struct {
		name    string
		fn      func(*image.Image) error
		wantErr error
		check   func(*testing.T, *image.Image)
	}{
		{"fn error changes nothing", func(i *image.Image) error { i.Name = image.Ptr("never"); return boom }, boom,
			func(t *testing.T, got *image.Image) {
				if *got.Name != "u" || !got.UpdatedAt.Equal(got.CreatedAt) {
					t.Errorf("changed: %v %v", *got.Name, got.UpdatedAt)
				}
			}},
		{"no change keeps updated_at", func(*image.Image) error { return nil }, nil,
			func(t *testing.T, got *image.Image) {
				if !got.UpdatedAt.Equal(got.CreatedAt) {
					t.Errorf("updated_at moved on an empty update")
				}
			}},
		{"attributes, properties, tags", func(i *image.Image) error {
			i.Name, i.MinRAM, i.Protected, i.OSHidden = image.Ptr("renamed"), 512, true, true
			delete(i.Properties, "os_distro")
			i.Properties["hw_disk_bus"] = "scsi"
			i.Tags = []string{"a", "c"}
			return nil
		}, nil, func(t *testing.T, got *image.Image) {
			if *got.Name != "renamed" || got.MinRAM != 512 || !got.Protected || !got.OSHidden {
				t.Errorf("attributes: %+v", got)
			}
			if fmt.Sprint(got.Properties) != "map[hw_disk_bus:scsi]" || fmt.Sprint(got.Tags) != "[a c]" {
				t.Errorf("properties %v tags %v", got.Properties, got.Tags)
			}
			if !got.UpdatedAt.Equal(clock) {
				t.Errorf("updated_at %v, want %v", got.UpdatedAt, clock)
			}
		}},
		{"property value replaced", func(i *image.Image) error { i.Properties["hw_disk_bus"] = "virtio"; return nil }, nil,
			func(t *testing.T, got *image.Image) {
				if got.Properties["hw_disk_bus"] != "virtio" {
					t.Errorf("properties %v", got.Properties)
				}
			}},
		{"locations added then one removed", func(i *image.Image) error {
			i.Locations = append(i.Locations, image.Location{URL: "mem://fast/1", StoreID: "fast"}, image.Location{URL: "mem://fast/2", StoreID: "fast"})
			i.Status = image.StatusActive
			return nil
		}, nil, func(t *testing.T, got *image.Image) {
			if len(got.Locations) != 2 || got.Status != image.StatusActive {
				t.Fatalf("locations %v status %s", got.Locations, got.Status)
			}
			got2, err := db.Update(ctx, got.ID, func(i *image.Image) error { i.Locations = i.Locations[1:]; return nil })
			if err != nil || len(got2.Locations) != 1 || got2.Locations[0].URL != "mem://fast/2" {
				t.Fatalf("remove location: %v %v", err, got2)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := db.Update(ctx, img.ID, tc.fn)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("err %v, want %v", err, tc.wantErr)
			}
			got, err := db.Get(ctx, img.ID)
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, got)
		})
	}
	if _, err := db.Update(ctx, "00000000-0000-0000-0000-000000000000", func(*image.Image) error { return nil }); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing image: %v", err)
	}
	if locs, _ := db.Locations(ctx, img.ID); len(locs) != 1 {
		t.Fatalf("Locations after removal: %v", locs)
	}
}

// TestUpdateNoLostUpdates runs concurrent read-modify-writes that each add
// one tag: every tag must survive.
func TestUpdateNoLostUpdates(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	img := newImage("race")
	img.Tags = nil
	if err := db.Create(ctx, img); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	const n = 16
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := db.Update(ctx, img.ID, func(im *image.Image) error {
				im.Tags = append(im.Tags, fmt.Sprintf("t%02d", i))
				return nil
			})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got, err := db.Get(ctx, img.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tags) != n || !slices.IsSorted(got.Tags) {
		t.Fatalf("tags %v", got.Tags)
	}
}

func TestProjectUsage(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	for i, owner := range []string{"p1", "p1", "p2"} {
		img := newImage(fmt.Sprint(i))
		img.Owner = image.Ptr(owner)
		if err := db.Create(ctx, img); err != nil {
			t.Fatal(err)
		}
		if err := db.SetStatus(ctx, img.ID, image.StatusQueued, image.StatusSaving); err != nil {
			t.Fatal(err)
		}
		if err := db.CommitUpload(ctx, img.ID, upload("mem://fast/"+img.ID)); err != nil {
			t.Fatal(err)
		}
	}
	for owner, want := range map[string]int64{"p1": 128, "p2": 64, "p3": 0} {
		if got, err := db.ProjectUsage(ctx, owner); err != nil || got != want {
			t.Errorf("usage of %s: %d %v, want %d", owner, got, err, want)
		}
	}
}
