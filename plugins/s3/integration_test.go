//go:build integration

package s3

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storeplugin"
	"github.com/glance-go/glance/sdk/storetest"
)

// The service tests need an S3 API: S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY
// and S3_SECRET_KEY as scripts/ceph-micro.sh (radosgw) exports them. Each
// run works in a fresh bucket, removed at the end. Without S3_ENDPOINT they fail: these files are the integration tier (build tag integration).
type service struct {
	endpoint, region, access, secret string
}

func needS3(t testing.TB) service {
	t.Helper()
	sv := service{
		endpoint: os.Getenv("S3_ENDPOINT"), region: os.Getenv("S3_REGION"),
		access: os.Getenv("S3_ACCESS_KEY"), secret: os.Getenv("S3_SECRET_KEY"),
	}
	if sv.endpoint == "" {
		t.Fatal("S3_ENDPOINT is not set: no S3 to test against (eval \"$(scripts/ceph-micro.sh up /tmp/ceph)\")")
	}
	if sv.access == "" || sv.secret == "" {
		t.Fatal("S3_ENDPOINT is set but S3_ACCESS_KEY or S3_SECRET_KEY is not")
	}
	if sv.region == "" {
		sv.region = "us-east-1"
	}
	return sv
}

// client is the test's own S3 client, independent of the store's code, to
// look at the bucket through S3's API.
func (sv service) client() *s3.Client {
	return s3.New(s3.Options{
		Region:                     sv.region,
		BaseEndpoint:               aws.String(sv.endpoint),
		UsePathStyle:               true,
		Credentials:                credentials.NewStaticCredentialsProvider(sv.access, sv.secret, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// config returns the store's config {} for bucket, with extra attributes.
func (sv service) config(t testing.TB, bucket string, extra map[string]any) []byte {
	t.Helper()
	cfg := map[string]any{
		"endpoint": sv.endpoint, "region": sv.region, "bucket": bucket, "path_style": true,
		"access_key": sv.access, "secret_key": sv.secret,
	}
	for k, v := range extra {
		cfg[k] = v
	}
	js, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return js
}

func randomName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// newBucket creates a fresh bucket, emptied and removed (multipart uploads
// included) at the test's end.
func (sv service) newBucket(t testing.TB) string {
	t.Helper()
	name := randomName("glance-test-")
	c := sv.client()
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatalf("creating bucket %s: %v", name, err)
	}
	t.Cleanup(func() { removeBucket(t, c, name) })
	return name
}

func removeBucket(t testing.TB, c *s3.Client, name string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ups, _ := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(name)})
	if ups != nil {
		for _, u := range ups.Uploads {
			c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(name), Key: u.Key, UploadId: u.UploadId})
		}
	}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			break
		}
		for _, o := range page.Contents {
			c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(name), Key: o.Key})
		}
	}
	if _, err := c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Logf("removing bucket %s: %v", name, err)
	}
}

// contents lists the objects and the pending multipart uploads of bucket:
// what an upload may leave behind.
func contents(ctx context.Context, c *s3.Client, bucket string) ([]string, error) {
	var out []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, err
		}
		for _, o := range page.Contents {
			out = append(out, "object "+aws.ToString(o.Key))
		}
	}
	in := &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)}
	for {
		page, err := c.ListMultipartUploads(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, u := range page.Uploads {
			out = append(out, "multipart upload "+aws.ToString(u.Key)+" "+aws.ToString(u.UploadId))
		}
		if !aws.ToBool(page.IsTruncated) {
			return out, nil
		}
		in.KeyMarker, in.UploadIdMarker = page.NextKeyMarker, page.NextUploadIdMarker
	}
}

// suiteConfig is the conformance suite's view of the store: a fresh bucket
// and a lister of its objects and pending multipart uploads.
func suiteConfig(extra map[string]any) storetest.Config {
	return storetest.Config{
		Setup: func(t testing.TB) ([]byte, func() ([]string, error)) {
			sv := needS3(t)
			bucket := sv.newBucket(t)
			c := sv.client()
			return sv.config(t, bucket, extra), func() ([]string, error) {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				return contents(ctx, c, bucket)
			}
		},
		New:           func() store.Backend { return New(nil) },
		SettleTimeout: 10 * time.Second,
	}
}

// The suite against the real plugin process, as glance-api starts it,
// with 1 GiB objects of known and unknown size outside -short. Small parts
// make the 64 MiB objects of -short multipart uploads of 13 parts.
func TestConformanceBinary(t *testing.T) {
	needS3(t)
	storetest.RunBinary(t, pluginBinary(t), suiteConfig(map[string]any{"part_size": 5 << 20, "parts_in_flight": 3}))
}

// The suite in this process with the default part size and a key prefix.
func TestConformancePrefix(t *testing.T) {
	needS3(t)
	cfg := suiteConfig(map[string]any{"prefix": "/glance/images/"})
	cfg.MaxSize = 64 << 20
	storetest.Run(t, cfg)
}

// pluginBinary returns $GLANCE_PLUGIN_DIR/glance-store-s3 when
// GLANCE_PLUGIN_DIR is set (make build's bin/), else a binary built now
// from this tree.
func pluginBinary(t *testing.T) string {
	t.Helper()
	const name = "glance-store-s3"
	if dir := os.Getenv("GLANCE_PLUGIN_DIR"); dir != "" {
		p := filepath.Join(dir, name)
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("GLANCE_PLUGIN_DIR is set but holds no plugin: %v", err)
		}
		return p
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("building the plugin needs the go command: %v", err)
	}
	p := filepath.Join(t.TempDir(), name)
	out, err := exec.CommandContext(t.Context(), goTool, "build", "-o", p, "./cmd/"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("go build ./cmd/%s: %v\n%s", name, err, out)
	}
	return p
}

// startPlugin starts the plugin binary and configures it with cfg.
func startPlugin(t *testing.T, cfg []byte) *storeplugin.Client {
	t.Helper()
	c, err := storeplugin.NewClient(storeplugin.ClientConfig{Path: pluginBinary(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Kill)
	if _, err := c.Configure(t.Context(), store.Config{StoreID: "t", JSON: cfg}); err != nil {
		t.Fatalf("Configure: %v", err)
	}
	return c
}

// cancelAfter yields pseudo-random data forever and cancels the upload's
// context once n bytes went by.
type cancelAfter struct {
	n      int64
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(b []byte) (int, error) {
	rand.Read(b)
	c.n -= int64(len(b))
	if c.n <= 0 {
		c.cancel()
	}
	return len(b), nil
}

// TestCancelledUploadLeavesNothing: a multipart upload through the plugin
// process, cancelled after several parts went out, leaves neither an
// object nor a pending multipart upload, as S3's own API sees the bucket.
func TestCancelledUploadLeavesNothing(t *testing.T) {
	sv := needS3(t)
	bucket := sv.newBucket(t)
	p := startPlugin(t, sv.config(t, bucket, map[string]any{"part_size": 5 << 20, "parts_in_flight": 2}))
	cases := []struct {
		name string
		size int64
	}{
		{"known_size", 100 << 20},
		{"unknown_size", store.UnknownSize},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id := randomName("img-")
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			_, err := p.Put(ctx, store.PutRequest{ImageID: id, Size: tc.size}, io.LimitReader(&cancelAfter{n: 23 << 20, cancel: cancel}, 100<<20))
			if err == nil {
				t.Fatal("a cancelled Put succeeded")
			}
			t.Logf("Put: %v", err)
			c := sv.client()
			deadline := time.Now().Add(10 * time.Second)
			for {
				left, err := contents(t.Context(), c, bucket)
				if err != nil {
					t.Fatal(err)
				}
				if len(left) == 0 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after a cancelled upload the bucket holds %q", left)
				}
				time.Sleep(100 * time.Millisecond)
			}
			_, err = c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(id)})
			if httpStatus(err) != http.StatusNotFound {
				t.Errorf("HeadObject of the cancelled image: %v, want 404", err)
			}
		})
	}
}

// TestProbeReasons: a store with the wrong key, a missing bucket or an
// endpoint where nothing listens configures (glance-api starts) but Probe
// fails with ErrUnavailable and a reason naming what to fix;
// create_bucket makes a missing bucket.
func TestProbeReasons(t *testing.T) {
	sv := needS3(t)
	bucket := sv.newBucket(t)
	missing := randomName("glance-missing-")
	cases := []struct {
		name   string
		bucket string
		extra  map[string]any
		want   []error
		reason string // in the error's text
	}{
		{"ok", bucket, nil, nil, ""},
		{"wrong_secret", bucket, map[string]any{"secret_key": "not-the-secret"}, []error{store.ErrUnavailable, store.ErrUnauthenticated}, "rejected the access key"},
		{"unknown_access_key", bucket, map[string]any{"access_key": "NOSUCHKEY0000000000"}, []error{store.ErrUnavailable, store.ErrUnauthenticated}, "rejected the access key"},
		{"missing_bucket", missing, nil, []error{store.ErrUnavailable}, "does not exist"},
		{"unreachable", bucket, map[string]any{"endpoint": "http://127.0.0.1:1", "connect_timeout": "2s"}, []error{store.ErrUnavailable}, "cannot reach http://127.0.0.1:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := New(nil)
			cfg := sv.config(t, tc.bucket, tc.extra)
			if _, err := s.Configure(t.Context(), store.Config{JSON: cfg}); err != nil {
				t.Fatalf("Configure: %v", err)
			}
			err := s.Probe(t.Context())
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Probe: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatal("Probe succeeded")
			}
			t.Logf("Probe: %v", err)
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("Probe: %v, want %v", err, w)
				}
			}
			if !strings.Contains(err.Error(), tc.reason) {
				t.Errorf("Probe: %q does not say %q", err, tc.reason)
			}
			for _, secret := range []string{sv.secret, "not-the-secret"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Probe's reason carries a secret: %q", err)
				}
			}
		})
	}
	t.Run("create_bucket", func(t *testing.T) {
		name := randomName("glance-created-")
		t.Cleanup(func() { removeBucket(t, sv.client(), name) })
		s := New(nil)
		if _, err := s.Configure(t.Context(), store.Config{JSON: sv.config(t, name, map[string]any{"create_bucket": true})}); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 2; i++ { // the second finds it there
			if err := s.Probe(t.Context()); err != nil {
				t.Fatalf("Probe #%d: %v", i+1, err)
			}
		}
		if _, err := sv.client().HeadBucket(t.Context(), &s3.HeadBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Errorf("the bucket was not created: %v", err)
		}
	})
}

// TestExistingObjectKept: an object already at an image's key (written by
// another client) refuses the Put and stays intact, for single and
// multipart uploads.
func TestExistingObjectKept(t *testing.T) {
	sv := needS3(t)
	bucket := sv.newBucket(t)
	s := New(nil)
	if _, err := s.Configure(t.Context(), store.Config{JSON: sv.config(t, bucket, map[string]any{"part_size": 5 << 20})}); err != nil {
		t.Fatal(err)
	}
	c := sv.client()
	id := randomName("img-")
	if _, err := c.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(id), Body: strings.NewReader("original")}); err != nil {
		t.Fatal(err)
	}
	for _, size := range []int64{10, 12 << 20} {
		_, err := s.Put(t.Context(), store.PutRequest{ImageID: id, Size: size}, io.LimitReader(rand.Reader, size))
		if !errors.Is(err, store.ErrAlreadyExists) {
			t.Errorf("Put of %d bytes over an existing object: %v, want ErrAlreadyExists", size, err)
		}
	}
	out, err := c.GetObject(t.Context(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(id)})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(out.Body)
	out.Body.Close()
	if string(b) != "original" {
		t.Errorf("the existing object now holds %d bytes", len(b))
	}
	ups, err := c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil || len(ups.Uploads) != 0 {
		t.Errorf("pending multipart uploads: %v, %v", ups, err)
	}
}
