package s3

import (
	"bytes"
	"crypto/md5"
	"encoding/hex"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// fakeS3 is a small in-memory S3 for the tests that need only Go: one
// bucket, path-style requests, the object and multipart calls the store
// makes, ranges, If-None-Match: *. Signatures are not checked.
type fakeS3 struct {
	bucket string

	mu      sync.Mutex
	objects map[string][]byte
	uploads map[string]*fakeUpload // by upload id
	nextID  int
	// failPart makes every upload of this part number fail with a 500.
	failPart int
}

type fakeUpload struct {
	key   string
	parts map[int][]byte
}

func newFakeS3(t testing.TB, bucket string) (*fakeS3, string) {
	f := &fakeS3{bucket: bucket, objects: map[string][]byte{}, uploads: map[string]*fakeUpload{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

// contents lists the objects and pending multipart uploads.
func (f *fakeS3) contents() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.objects {
		out = append(out, "object "+k)
	}
	for id, u := range f.uploads {
		out = append(out, "multipart upload "+u.key+" "+id)
	}
	slices.Sort(out)
	return out
}

func s3Error(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message></Error>`, code, code)
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	bucket, key, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if bucket != f.bucket {
		if r.Method == http.MethodHead {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		s3Error(w, http.StatusNotFound, "NoSuchBucket")
		return
	}
	q := r.URL.Query()
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case key == "" && r.Method == http.MethodHead:
		w.WriteHeader(http.StatusOK)
	case q.Has("uploads") && r.Method == http.MethodPost:
		f.nextID++
		id := fmt.Sprintf("upload-%d", f.nextID)
		f.uploads[id] = &fakeUpload{key: key, parts: map[int][]byte{}}
		fmt.Fprintf(w, `<InitiateMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key><UploadId>%s</UploadId></InitiateMultipartUploadResult>`, bucket, key, id)
	case q.Has("uploadId"):
		u := f.uploads[q.Get("uploadId")]
		if u == nil || u.key != key {
			s3Error(w, http.StatusNotFound, "NoSuchUpload")
			return
		}
		switch r.Method {
		case http.MethodPut:
			n, _ := strconv.Atoi(q.Get("partNumber"))
			if n == f.failPart {
				s3Error(w, http.StatusInternalServerError, "InternalError")
				return
			}
			f.mu.Unlock()
			data, err := io.ReadAll(r.Body)
			f.mu.Lock()
			if err != nil {
				return
			}
			u.parts[n] = data
			sum := md5.Sum(data)
			w.Header().Set("ETag", `"`+hex.EncodeToString(sum[:])+`"`)
		case http.MethodDelete:
			delete(f.uploads, q.Get("uploadId"))
			w.WriteHeader(http.StatusNoContent)
		case http.MethodPost:
			var req struct {
				Parts []struct{ PartNumber int } `xml:"Part"`
			}
			if err := xml.NewDecoder(r.Body).Decode(&req); err != nil {
				s3Error(w, http.StatusBadRequest, "MalformedXML")
				return
			}
			if _, ok := f.objects[key]; ok && r.Header.Get("If-None-Match") == "*" {
				s3Error(w, http.StatusPreconditionFailed, "PreconditionFailed")
				return
			}
			var obj []byte
			for _, p := range req.Parts {
				obj = append(obj, u.parts[p.PartNumber]...)
			}
			f.objects[key] = obj
			delete(f.uploads, q.Get("uploadId"))
			fmt.Fprintf(w, `<CompleteMultipartUploadResult><Bucket>%s</Bucket><Key>%s</Key><ETag>"x"</ETag></CompleteMultipartUploadResult>`, bucket, key)
		}
	case r.Method == http.MethodPut:
		f.mu.Unlock()
		data, err := io.ReadAll(r.Body)
		f.mu.Lock()
		if err != nil {
			return
		}
		if _, ok := f.objects[key]; ok && r.Header.Get("If-None-Match") == "*" {
			s3Error(w, http.StatusPreconditionFailed, "PreconditionFailed")
			return
		}
		f.objects[key] = data
		w.Header().Set("ETag", `"x"`)
	case r.Method == http.MethodHead || r.Method == http.MethodGet:
		obj, ok := f.objects[key]
		if !ok {
			if r.Method == http.MethodHead {
				w.WriteHeader(http.StatusNotFound)
			} else {
				s3Error(w, http.StatusNotFound, "NoSuchKey")
			}
			return
		}
		size := int64(len(obj))
		start, end := int64(0), size-1
		status := http.StatusOK
		if rng := r.Header.Get("Range"); rng != "" && r.Method == http.MethodGet {
			a, b, _ := strings.Cut(strings.TrimPrefix(rng, "bytes="), "-")
			start, _ = strconv.ParseInt(a, 10, 64)
			if b != "" {
				end, _ = strconv.ParseInt(b, 10, 64)
			}
			end = min(end, size-1)
			if start >= size {
				w.Header().Set("Content-Range", fmt.Sprintf("bytes */%d", size))
				s3Error(w, http.StatusRequestedRangeNotSatisfiable, "InvalidRange")
				return
			}
			w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, end, size))
			status = http.StatusPartialContent
		}
		w.Header().Set("Content-Length", strconv.FormatInt(end-start+1, 10))
		w.WriteHeader(status)
		if r.Method == http.MethodGet {
			data := bytes.Clone(obj[start : end+1])
			f.mu.Unlock()
			w.Write(data)
			f.mu.Lock()
		}
	case r.Method == http.MethodDelete:
		delete(f.objects, key)
		w.WriteHeader(http.StatusNoContent)
	default:
		s3Error(w, http.StatusNotImplemented, "NotImplemented")
	}
}
