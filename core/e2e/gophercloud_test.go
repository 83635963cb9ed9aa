package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/imagedata"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/pagination"
)

// imageClient is gophercloud's image v2 client for a noauth server: the
// endpoint as the catalog would give it, and the /v2/ resource base that
// openstack.NewImageV2 derives from it.
func imageClient(s *server) *gophercloud.ServiceClient {
	pc := &gophercloud.ProviderClient{HTTPClient: http.Client{}}
	return &gophercloud.ServiceClient{ProviderClient: pc, Endpoint: s.URL + "/", ResourceBase: s.URL + "/v2/", Type: "image"}
}

// TestGophercloud drives the real server with gophercloud's image v2
// package: create, upload, download, list with paging, update, delete.
func TestGophercloud(t *testing.T) {
	s := startServer(t)
	ctx := context.Background()
	c := imageClient(s)
	data := bytes.Repeat([]byte("glance-go gophercloud "), 5000)
	sum := md5.Sum(data)

	img, err := images.Create(ctx, c, images.CreateOpts{
		Name: "gc-1", DiskFormat: "qcow2", ContainerFormat: "bare", Tags: []string{"alpha"},
		Properties: map[string]string{"os_distro": "cirros"},
	}).Extract()
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if img.Status != images.ImageStatusQueued || img.Visibility != images.ImageVisibilityShared || img.Properties["os_distro"] != "cirros" ||
		!slices.Equal(img.Tags, []string{"alpha"}) {
		t.Fatalf("created: %+v", img)
	}

	if err := imagedata.Upload(ctx, c, img.ID, bytes.NewReader(data)).ExtractErr(); err != nil {
		t.Fatalf("upload: %v", err)
	}
	got, err := images.Get(ctx, c, img.ID).Extract()
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if got.Status != images.ImageStatusActive || got.SizeBytes != int64(len(data)) || got.Checksum != hex.EncodeToString(sum[:]) {
		t.Fatalf("after upload: status %s size %d checksum %s", got.Status, got.SizeBytes, got.Checksum)
	}

	rc, err := imagedata.Download(ctx, c, img.ID).Extract()
	if err != nil {
		t.Fatalf("download: %v", err)
	}
	back, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || !bytes.Equal(back, data) {
		t.Fatalf("download: %d bytes, err %v", len(back), err)
	}

	updated, err := images.Update(ctx, c, img.ID, images.UpdateOpts{
		images.ReplaceImageName{NewName: "gc-1-renamed"},
		images.ReplaceImageTags{NewTags: []string{"beta", "gamma"}},
		images.ReplaceImageMinRam{NewMinRam: 512},
		images.UpdateImageProperty{Op: images.AddOp, Name: "hw_disk_bus", Value: "scsi"},
		images.UpdateImageProperty{Op: images.RemoveOp, Name: "os_distro"},
	}).Extract()
	if err != nil {
		t.Fatalf("update: %v", err)
	}
	slices.Sort(updated.Tags)
	if updated.Name != "gc-1-renamed" || updated.MinRAMMegabytes != 512 || fmt.Sprint(updated.Tags) != "[beta gamma]" ||
		updated.Properties["hw_disk_bus"] != "scsi" || updated.Properties["os_distro"] != nil {
		t.Fatalf("updated: %+v", updated)
	}
	// A refused patch is reported, and changes nothing.
	_, err = images.Update(ctx, c, img.ID, images.UpdateOpts{images.UpdateImageProperty{Op: images.RemoveOp, Name: "nothing"}}).Extract()
	if !gophercloud.ResponseCodeIs(err, http.StatusConflict) {
		t.Fatalf("remove a missing property: %v", err)
	}

	// Paging: 7 images, pages of 3.
	want := []string{img.ID}
	for i := range 6 {
		im, err := images.Create(ctx, c, images.CreateOpts{Name: fmt.Sprintf("gc-page-%d", i)}).Extract()
		if err != nil {
			t.Fatalf("create page image: %v", err)
		}
		want = append(want, im.ID)
	}
	var seen []string
	pages := 0
	err = images.List(c, images.ListOpts{Limit: 3}).EachPage(ctx, func(_ context.Context, p pagination.Page) (bool, error) {
		pages++
		list, err := images.ExtractImages(p)
		if err != nil {
			return false, err
		}
		for _, im := range list {
			seen = append(seen, im.ID)
		}
		return pages < 10, nil
	})
	if err != nil {
		t.Fatalf("list: %v", err)
	}
	slices.Sort(seen)
	slices.Sort(want)
	if !slices.Equal(seen, want) || pages < 3 {
		t.Fatalf("listed %d images in %d pages, want %d in ≥3", len(seen), pages, len(want))
	}

	for _, id := range want {
		if err := images.Delete(ctx, c, id).ExtractErr(); err != nil {
			t.Fatalf("delete %s: %v", id, err)
		}
	}
	if _, err := images.Get(ctx, c, img.ID).Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Fatalf("get after delete: %v", err)
	}
}
