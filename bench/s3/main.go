// Command s3 measures glance-api's data path to an S3 store (radosgw from
// scripts/ceph-micro.sh, or any S3 named by S3_ENDPOINT, S3_REGION,
// S3_ACCESS_KEY, S3_SECRET_KEY): a 1 GiB upload and download through the
// API and glance-store-s3, beside, in the same run, a plain S3 client
// (aws-sdk-go-v2, multipart with the same part size and parallelism) doing
// the same transfers, and the plugin's peak RSS during a 1 GiB upload of
// unknown size. It prints figures; it asserts nothing.
package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/glance-go/glance/bench/internal/harness"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

const (
	partSize = 8 << 20 // the plugin's default
	inFlight = 4       // the plugin's default
)

func main() {
	bin := flag.String("bin", "bin", "directory of glance-api and glance-store-s3")
	size := flag.Int64("size", 1<<30, "bytes per transfer")
	work := flag.String("work", os.TempDir(), "directory for the source file and glance-api's state")
	flag.Parse()
	if err := run(*bin, *size, *work); err != nil {
		fmt.Fprintln(os.Stderr, "bench-s3:", err)
		os.Exit(1)
	}
}

type service struct{ endpoint, region, access, secret string }

func (sv service) client() *s3.Client {
	return s3.New(s3.Options{
		Region: sv.region, BaseEndpoint: aws.String(sv.endpoint), UsePathStyle: true,
		Credentials:                credentials.NewStaticCredentialsProvider(sv.access, sv.secret, ""),
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		HTTPClient:                 &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16, DisableCompression: true}},
	})
}

func run(bin string, size int64, work string) error {
	sv := service{os.Getenv("S3_ENDPOINT"), os.Getenv("S3_REGION"), os.Getenv("S3_ACCESS_KEY"), os.Getenv("S3_SECRET_KEY")}
	if sv.endpoint == "" || sv.access == "" || sv.secret == "" {
		return fmt.Errorf("S3_ENDPOINT, S3_ACCESS_KEY and S3_SECRET_KEY must be set (eval \"$(scripts/ceph-micro.sh up DIR)\")")
	}
	if sv.region == "" {
		sv.region = "us-east-1"
	}
	bin, _ = filepath.Abs(bin)
	dir, err := os.MkdirTemp(work, "bench-s3-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	src := filepath.Join(dir, "image.raw")
	if err := writeRandom(src, size); err != nil {
		return err
	}
	ctx := context.Background()
	c := sv.client()
	var rb [4]byte
	rand.Read(rb[:])
	bucket := "glance-bench-" + hex.EncodeToString(rb[:])
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return fmt.Errorf("creating bucket: %w", err)
	}
	defer removeBucket(c, bucket)

	fmt.Printf("%d MiB to %s (radosgw, memstore OSD), %d CPUs; parts of %d MiB, %d in flight\n\n", size>>20, sv.endpoint, harness.NumCPU(), partSize>>20, inFlight)

	// (a) the plain S3 client, same file, same part size and parallelism.
	fmt.Println("plain S3 client (aws-sdk-go-v2, multipart, in this process):")
	d, err := clientUpload(ctx, c, bucket, "baseline", src, size)
	if err != nil {
		return fmt.Errorf("baseline upload: %w", err)
	}
	upBase := mbps(size, d)
	report("  upload", size, d, "")
	d, err = clientDownload(ctx, c, bucket, "baseline")
	if err != nil {
		return fmt.Errorf("baseline download: %w", err)
	}
	downBase := mbps(size, d)
	report("  download", size, d, "")
	// memstore keeps objects in RAM: free it before the next ones.
	c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("baseline")})
	fmt.Println()

	return apiRun(bin, dir, src, size, sv, bucket, upBase, downBase)
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

func report(what string, n int64, d time.Duration, extra string) {
	fmt.Printf("%-44s %8.0f MB/s  (%6.2fs)%s\n", what, mbps(n, d), d.Seconds(), extra)
}

func writeRandom(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	buf := make([]byte, 4<<20)
	for left := size; left > 0; {
		n := min(int64(len(buf)), left)
		rand.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	return f.Close()
}

// clientUpload sends src as a multipart upload, inFlight parts at a time,
// each read from the file by a section reader (seekable, as the SDK likes).
func clientUpload(ctx context.Context, c *s3.Client, bucket, key, src string, size int64) (time.Duration, error) {
	f, err := os.Open(src)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	cr, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return 0, err
	}
	n := int((size + partSize - 1) / partSize)
	parts := make([]types.CompletedPart, n)
	errs := make(chan error, n)
	sem := make(chan struct{}, inFlight)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			off := int64(i) * partSize
			l := min(partSize, size-off)
			out, err := c.UploadPart(ctx, &s3.UploadPartInput{
				Bucket: aws.String(bucket), Key: aws.String(key), UploadId: cr.UploadId,
				PartNumber: aws.Int32(int32(i + 1)), Body: io.NewSectionReader(f, off, l), ContentLength: aws.Int64(l),
			})
			if err != nil {
				errs <- err
				return
			}
			parts[i] = types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(int32(i + 1))}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: cr.UploadId})
		return 0, err
	}
	_, err = c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(key), UploadId: cr.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	return time.Since(start), err
}

func clientDownload(ctx context.Context, c *s3.Client, bucket, key string) (time.Duration, error) {
	start := time.Now()
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return 0, err
	}
	defer out.Body.Close()
	if _, err := io.CopyBuffer(io.Discard, out.Body, make([]byte, 1<<20)); err != nil {
		return 0, err
	}
	return time.Since(start), nil
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

// onlyReader hides the file's type, so net/http sends it chunked and
// glance-api hands the store an upload of unknown size.
type onlyReader struct{ io.Reader }

// apiRun starts glance-api with an s3 store in bucket and measures a
// known-size upload, a download, and an unknown-size upload of src.
func apiRun(bin, dir, src string, size int64, sv service, bucket string, upBase, downBase float64) error {
	addr := harness.FreeAddr()
	cfg := fmt.Sprintf(`plugin_dir = %q
api      { bind = %q }
registry {
  driver = "sqlite"
  dsn    = %q
}
auth     { mode = "noauth" }
store "s3" {
  plugin = "s3"
  config {
    endpoint        = env("S3_ENDPOINT")
    region          = %q
    bucket          = %q
    path_style      = true
    access_key      = env("S3_ACCESS_KEY")
    secret_key      = env("S3_SECRET_KEY")
    part_size       = %d
    parts_in_flight = %d
  }
}
`, bin, addr, filepath.Join(dir, "glance.db"), sv.region, bucket, partSize, inFlight)
	api, err := harness.StartAPI(bin, dir, addr, cfg)
	if err != nil {
		return err
	}
	defer api.Stop()
	base, apiPid, plugin := api.URL, api.Pid, api.PluginPid
	fmt.Println("through glance-api + glance-store-s3 (gRPC stream, multipart to radosgw):")

	upload := func(known bool) (string, time.Duration, harness.Mark, error) {
		id, err := createImage(base)
		if err != nil {
			return "", 0, harness.Mark{}, err
		}
		f, err := os.Open(src)
		if err != nil {
			return "", 0, harness.Mark{}, err
		}
		defer f.Close()
		var body io.Reader = onlyReader{f}
		if known {
			body = f
		}
		req, _ := http.NewRequest("PUT", base+"/v2/images/"+id+"/file", body)
		if known {
			req.ContentLength = size
		}
		req.Header.Set("Content-Type", "application/octet-stream")
		m := harness.MarkRSS(apiPid, plugin)
		start := time.Now()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return "", 0, harness.Mark{}, err
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != 204 {
			return "", 0, harness.Mark{}, fmt.Errorf("upload: %s %s\n%s", resp.Status, b, api.Log())
		}
		return id, d, m, nil
	}

	id, d, m, err := upload(true)
	if err != nil {
		return err
	}
	report("  upload   (known size, API)", size, d, fmt.Sprintf(" %3.0f%% of the plain client%s", 100*mbps(size, d)/upBase, m.Growth()))

	m = harness.MarkRSS(apiPid, plugin)
	start := time.Now()
	resp, err := http.Get(base + "/v2/images/" + id + "/file")
	if err != nil {
		return err
	}
	n, _ := io.CopyBuffer(io.Discard, resp.Body, make([]byte, 1<<20))
	resp.Body.Close()
	d = time.Since(start)
	if resp.StatusCode != 200 || n != size {
		return fmt.Errorf("download: %s, %d bytes", resp.Status, n)
	}
	report("  download (API)", size, d, fmt.Sprintf(" %3.0f%% of the plain client%s", 100*mbps(size, d)/downBase, m.Growth()))
	deleteImage(base, id)

	id, d, m, err = upload(false)
	if err != nil {
		return err
	}
	report("  upload   (unknown size, chunked, API)", size, d, fmt.Sprintf(" %3.0f%% of the plain client%s", 100*mbps(size, d)/upBase, m.Growth()))
	fmt.Printf("  plugin peak RSS during the unknown-size upload: %d MiB (target < 128 MiB)\n", harness.PeakRSSKiB(plugin)>>10)
	deleteImage(base, id)
	return nil
}

func createImage(base string) (string, error) {
	resp, err := http.Post(base+"/v2/images", "application/json",
		strings.NewReader(`{"name":"bench","disk_format":"raw","container_format":"bare"}`))
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var img struct{ ID string }
	if err := json.NewDecoder(resp.Body).Decode(&img); err != nil || img.ID == "" {
		return "", fmt.Errorf("create image: %s %v", resp.Status, err)
	}
	return img.ID, nil
}

func deleteImage(base, id string) {
	req, _ := http.NewRequest("DELETE", base+"/v2/images/"+id, nil)
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
	}
}
