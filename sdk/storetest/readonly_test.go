package storetest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/glance-go/glance/sdk/store"
)

// The suite's read-only mode (Config.Preload): a read-only view of memStore
// passes, and flawed read-only stores fail where they should.

// roStore is memStore without the write and delete capabilities, unless
// broken names a flaw:
//
//	accepts-put     stores what Put is given
//	ignore-offset   reads every range from offset 0
type roStore struct {
	memStore
}

func (r *roStore) Configure(ctx context.Context, cfg store.Config) (store.Capabilities, error) {
	caps, err := r.memStore.Configure(ctx, cfg)
	caps.Write, caps.WriteUnknownSize, caps.Delete = false, false, false
	return caps, err
}

func (r *roStore) Put(ctx context.Context, req store.PutRequest, body io.Reader) (store.PutResult, error) {
	if r.broken == "accepts-put" {
		return r.memStore.Put(ctx, req, body)
	}
	return store.PutResult{}, fmt.Errorf("memory (read-only): %w", store.ErrUnsupported)
}

func (r *roStore) Delete(context.Context, string) error {
	return fmt.Errorf("memory (read-only): %w", store.ErrUnsupported)
}

func roSuiteConfig(broken string) Config {
	cfg := memSuiteConfig(broken)
	var bucketName string
	setup := cfg.Setup
	cfg.Setup = func(t testing.TB) ([]byte, func() ([]string, error)) {
		js, list := setup(t)
		var mc memConfig
		if err := json.Unmarshal(js, &mc); err != nil {
			t.Fatal(err)
		}
		bucketName = mc.Bucket
		return js, list
	}
	cfg.New = func() store.Backend { return &roStore{memStore{broken: broken}} }
	cfg.Preload = func(t testing.TB, id string, size int64, data io.Reader) string {
		b, ok := buckets.Load(bucketName)
		if !ok {
			t.Fatalf("no bucket %s", bucketName)
		}
		d, err := io.ReadAll(data)
		if err != nil || int64(len(d)) != size {
			t.Fatalf("preload: %d bytes, %v", len(d), err)
		}
		bk := b.(*bucket)
		bk.mu.Lock()
		bk.objs["obj/"+id] = d
		bk.mu.Unlock()
		return (&url.URL{Scheme: "mem", Host: bucketName, Path: "/" + id}).String()
	}
	cfg.MaxSize = 4 * mib
	return cfg
}

func TestReadOnlyStorePasses(t *testing.T) {
	Run(t, roSuiteConfig(""))
}

func TestReadOnlyStorePassesOverGRPC(t *testing.T) {
	RunGRPC(t, roSuiteConfig(""))
}

const brokenROEnv = "STORETEST_BROKEN_RO_VARIANT"

// TestBrokenReadOnlyHelper runs the suite against a broken read-only store,
// in the child process of TestSuiteCatchesBrokenReadOnlyStores only.
func TestBrokenReadOnlyHelper(t *testing.T) {
	v := os.Getenv(brokenROEnv)
	if v == "" {
		t.Skip("runs in the child process of TestSuiteCatchesBrokenReadOnlyStores")
	}
	cfg := roSuiteConfig(v)
	cfg.SettleTimeout = 100 * time.Millisecond
	Run(t, cfg)
}

func TestSuiteCatchesBrokenReadOnlyStores(t *testing.T) {
	const helper = "TestBrokenReadOnlyHelper"
	cases := []brokenCase{
		{
			variant:  "accepts-put",
			wantFail: []string{"RefusedWrites"},
			wantPass: []string{"Info", "RoundTrip", "Range", "NotFound"},
		},
		{
			variant:  "ignore-offset",
			wantFail: []string{"Range/middle_across_chunks", "Range/offset_size-1"},
			wantPass: []string{"Range/whole", "RoundTrip", "RefusedWrites"},
		},
	}
	for _, tc := range cases {
		t.Run(tc.variant, func(t *testing.T) {
			t.Parallel()
			runBroken(t, helper, brokenROEnv, "read-only ", tc)
		})
	}
}
