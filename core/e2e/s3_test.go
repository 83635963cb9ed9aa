//go:build integration

package e2e

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"encoding/hex"
	"fmt"
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
)

// The S3 tests need an S3 API: S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY and
// S3_SECRET_KEY as scripts/ceph-micro.sh exports them for its radosgw.
// Without S3_ENDPOINT they fail: these files are the integration tier (build tag integration).
type s3Service struct {
	endpoint, region, access, secret string
}

func needS3(t *testing.T) s3Service {
	t.Helper()
	sv := s3Service{os.Getenv("S3_ENDPOINT"), os.Getenv("S3_REGION"), os.Getenv("S3_ACCESS_KEY"), os.Getenv("S3_SECRET_KEY")}
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

// client is the test's own view of the bucket, through S3's API.
func (sv s3Service) client() *s3.Client {
	return s3.New(s3.Options{
		Region: sv.region, BaseEndpoint: aws.String(sv.endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(sv.access, sv.secret, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// env is glance-api's environment for an s3 store block: the settings
// travel through env(), as in examples/deploy/s3.hcl.
func (sv s3Service) env(bucket string) []string {
	return []string{"S3_ENDPOINT=" + sv.endpoint, "S3_REGION=" + sv.region,
		"S3_ACCESS_KEY=" + sv.access, "S3_SECRET_KEY=" + sv.secret, "S3_BUCKET=" + bucket}
}

// s3Store is a store block reading its settings from the environment.
func s3Store(createBucket bool) string {
	return fmt.Sprintf(`store "objects" {
  plugin  = "s3"
  default = true
  config {
    endpoint        = env("S3_ENDPOINT")
    region          = env("S3_REGION")
    bucket          = env("S3_BUCKET")
    create_bucket   = %t
    path_style      = true
    prefix          = "e2e"
    access_key      = env("S3_ACCESS_KEY")
    secret_key      = env("S3_SECRET_KEY")
    part_size       = 5242880
    connect_timeout = "2s"
  }
}
`, createBucket)
}

func randomSuffix() string {
	var b [6]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// bucketContents lists the objects and the pending multipart uploads.
func bucketContents(t *testing.T, c *s3.Client, bucket string) []string {
	t.Helper()
	var out []string
	objs, err := c.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("listing %s: %v", bucket, err)
	}
	for _, o := range objs.Contents {
		out = append(out, aws.ToString(o.Key))
	}
	ups, err := c.ListMultipartUploads(t.Context(), &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatalf("listing multipart uploads of %s: %v", bucket, err)
	}
	for _, u := range ups.Uploads {
		out = append(out, "multipart:"+aws.ToString(u.Key))
	}
	return out
}

func removeBucket(c *s3.Client, bucket string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)}); err == nil {
		for _, u := range ups.Uploads {
			c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId})
		}
	}
	if objs, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)}); err == nil {
		for _, o := range objs.Contents {
			c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: o.Key})
		}
	}
	c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)})
}

// TestS3ImageLifecycle: glance-api with an s3 store on radosgw: create,
// upload 24 MiB of unknown length (chunked, so a multipart upload), download
// byte-identical with its Content-MD5, Range reads, delete; the bucket is
// then empty, pending multipart uploads included, as S3 itself lists it.
func TestS3ImageLifecycle(t *testing.T) {
	sv := needS3(t)
	bucket := "glance-e2e-" + randomSuffix()
	c := sv.client()
	t.Cleanup(func() { removeBucket(c, bucket) })
	s := startServerWith(t, Options{Stores: s3Store(true), Env: sv.env(bucket)})

	img := s.createImage("s3-lifecycle")
	data := randomBytes(24<<20+123, 7)
	sum := md5.Sum(data)
	// No Content-Length: the store gets an upload of unknown size.
	resp := s.do("PUT", "/v2/images/"+img.ID+"/file", io.MultiReader(bytes.NewReader(data)), map[string]string{"Content-Type": "application/octet-stream"})
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("upload: %d %s", resp.StatusCode, b)
	}
	got := s.getImage(img.ID)
	if got.Status != "active" || got.Size == nil || *got.Size != int64(len(data)) || got.Checksum == nil || *got.Checksum != hex.EncodeToString(sum[:]) {
		t.Fatalf("after upload: %+v", got)
	}
	if keys := bucketContents(t, c, bucket); len(keys) != 1 || keys[0] != "e2e/"+img.ID {
		t.Errorf("the bucket holds %q, want just e2e/%s", keys, img.ID)
	}
	head, err := c.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("e2e/" + img.ID)})
	if err != nil || aws.ToInt64(head.ContentLength) != int64(len(data)) {
		t.Errorf("HeadObject: %v, %v", head, err)
	}

	resp = s.do("GET", "/v2/images/"+img.ID+"/file", nil, nil)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, data) {
		t.Fatalf("download: %d, %v, %d bytes (identical: %v)", resp.StatusCode, err, len(body), bytes.Equal(body, data))
	}
	if h := resp.Header.Get("Content-MD5"); h != hex.EncodeToString(sum[:]) {
		t.Errorf("Content-MD5 %q, want %x", h, sum)
	}
	for _, r := range []byteRange{
		{"bytes=0-0", 0, 0},
		{"bytes=5242870-5242889", 5242870, 5242889}, // across a part boundary
		{"bytes=-100", len(data) - 100, len(data) - 1},
		{fmt.Sprintf("bytes=%d-", len(data)-7), len(data) - 7, len(data) - 1},
	} {
		s.checkRange(img.ID, data, r)
	}

	s.mustDelete(img.ID, "delete")
	waitFor(t, 10*time.Second, "an empty bucket", func() bool { return len(bucketContents(t, c, bucket)) == 0 })
}

// TestS3UnhealthyStore: wrong credentials, a missing bucket (without
// create_bucket) or an unreachable endpoint leave the store unhealthy at
// start with a clear reason in the log; the API stays up, and an upload
// fails with 503 and a message, not a 500 and not a hang.
func TestS3UnhealthyStore(t *testing.T) {
	sv := needS3(t)
	c := sv.client()
	bucket := "glance-e2e-" + randomSuffix()
	if _, err := c.CreateBucket(t.Context(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeBucket(c, bucket) })
	const wrongSecret = "wrong-secret-0123456789"
	cases := []struct {
		name   string
		env    []string // overrides
		reason string   // in glance-api's log
	}{
		{"wrong_credentials", []string{"S3_SECRET_KEY=" + wrongSecret}, "rejected the access key"},
		{"missing_bucket", []string{"S3_BUCKET=glance-e2e-missing-" + randomSuffix()}, "does not exist"},
		{"unreachable_endpoint", []string{"S3_ENDPOINT=http://127.0.0.1:1"}, "cannot reach http://127.0.0.1:1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := startServerWith(t, Options{Stores: s3Store(false), Env: append(sv.env(bucket), tc.env...)})
			s.checkUnhealthyUpload(tc.reason, sv.secret, wrongSecret)
		})
	}
}

// TestS3ExampleConfigValidates: examples/deploy/s3.hcl, with the variables
// scripts/ceph-micro.sh exports, passes `glance-api validate` against the
// real plugin's schema. Validation does not contact the endpoint, so any
// values do when no S3 is running.
func TestS3ExampleConfigValidates(t *testing.T) {
	example, err := filepath.Abs("../../examples/deploy/s3.hcl")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"S3_ENDPOINT=http://127.0.0.1:7480", "S3_REGION=us-east-1", "S3_ACCESS_KEY=EXAMPLEACCESSKEY", "S3_SECRET_KEY=example-secret"}
	if os.Getenv("S3_ENDPOINT") != "" {
		env = nil // the real ones, from the environment
	}
	cmd := exec.Command(filepath.Join(binDir, "glance-api"), "validate", "-config", example)
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("glance-api validate %s: %v\n%s", example, err, out)
	}
	if strings.Contains(string(out), "example-secret") || (os.Getenv("S3_SECRET_KEY") != "" && strings.Contains(string(out), os.Getenv("S3_SECRET_KEY"))) {
		t.Errorf("validate prints the secret key:\n%s", out)
	}
	// Without the variables, validate names what is missing.
	cmd = exec.Command(filepath.Join(binDir, "glance-api"), "validate", "-config", example)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "S3_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err = cmd.CombinedOutput()
	if err == nil || !strings.Contains(string(out), "S3_ENDPOINT") {
		t.Errorf("validate without S3_ENDPOINT: %v\n%s", err, out)
	}
}
