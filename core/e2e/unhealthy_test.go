//go:build integration

package e2e

import (
	"net/http"
	"strings"
	"time"
)

// checkUnhealthyUpload uploads to s, whose default store cannot work, and
// checks what the object-store tests expect then: a quick 503 that says a
// store failed, the image still queued, glance-api itself healthy, its log
// (read after it stopped) naming the store unhealthy because of reason,
// and none of secrets in the log or the answer. It stops s.
func (s *server) checkUnhealthyUpload(reason string, secrets ...string) {
	t := s.t
	t.Helper()
	img := s.createImage("unhealthy")
	start := time.Now()
	code, b := s.upload(img.ID, make([]byte, 1<<20))
	t.Logf("upload: %d %q", code, b)
	if code != http.StatusServiceUnavailable {
		t.Errorf("upload to an unhealthy store: %d %s, want 503", code, b)
	}
	if !strings.Contains(strings.ToLower(b), "store") {
		t.Errorf("the 503 does not say what failed: %q", b)
	}
	if d := time.Since(start); d > 15*time.Second {
		t.Errorf("the 503 took %v", d)
	}
	if st := s.getImage(img.ID).Status; st != "queued" {
		t.Errorf("status after the refused upload %q, want queued", st)
	}
	resp := s.do("GET", "/healthcheck", nil, nil)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("healthcheck: %d", resp.StatusCode)
	}
	s.stop()
	log := s.log.String()
	if !strings.Contains(log, "unhealthy") || !strings.Contains(log, reason) {
		t.Errorf("glance-api's log does not say the store is unhealthy because %q:\n%s", reason, log)
	}
	for _, secret := range secrets {
		if strings.Contains(log+b, secret) {
			t.Errorf("a secret appears in the log or the answer")
		}
	}
}
