// Command bench-metadata measures metadata operations of the Images API v2:
// create+show+delete cycles and list-25-of-N pages, at several
// concurrencies, against glance-api (started here: noauth, SQLite,
// filesystem store, a free loopback port) and, when -glance is given, the
// real OpenStack Glance in the same run. Prints ops/s and p99 for both and
// the ratio. Asserts nothing.
//
//	bench-metadata -bin bin [-glance http://127.0.0.1:PORT] [-n 10000] [-duration 5s]
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func main() {
	bin := flag.String("bin", "bin", "directory holding glance-api and glance-store-filesystem")
	glance := flag.String("glance", "", "base URL of a real Glance to measure beside glance-api (empty: glance-api only)")
	why := flag.String("glance-missing", "", "why there is no real Glance (printed when -glance is empty)")
	n := flag.Int("n", 10000, "images seeded before the list benchmark")
	glanceN := flag.Int("glance-n", 0, "images seeded into Glance (0: same as -n)")
	seedBudget := flag.Duration("seed-budget", 60*time.Second, "longest time spent seeding Glance through its API")
	fill := flag.String("glance-fill", "", "command run (sh -c, with N in $N) to bring Glance up to N images when its API seeding ran out of -seed-budget")
	dur := flag.Duration("duration", 5*time.Second, "measuring time per cell")
	concs := flag.String("c", "1,32", "concurrencies")
	flag.Parse()
	if *glanceN == 0 {
		*glanceN = *n
	}
	var cs []int
	for _, s := range strings.Split(*concs, ",") {
		c, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || c < 1 {
			fatal(fmt.Errorf("bad -c %q", *concs))
		}
		cs = append(cs, c)
	}
	if err := run(*bin, *glance, *why, *fill, *n, *glanceN, *seedBudget, *dur, cs); err != nil {
		fatal(err)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench-metadata:", err)
	os.Exit(1)
}

type target struct {
	name   string
	base   string
	client *http.Client
	seeded int    // images in the list
	filled string // how the seeding went
}

// result is one cell: ops/s, p99 and the failed operations.
type result struct {
	ops    int
	errs   int
	dur    time.Duration
	p50    time.Duration
	p99    time.Duration
	sample string // first error
}

func (r result) rate() float64 { return float64(r.ops) / r.dur.Seconds() }

func run(bin, glanceURL, why, fill string, n, glanceN int, seedBudget, dur time.Duration, cs []int) error {
	work, err := os.MkdirTemp("", "bench-metadata-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	ours, stop, err := startOurs(bin, work)
	if err != nil {
		return err
	}
	defer stop()

	targets := []*target{ours}
	if glanceURL != "" {
		targets = append(targets, &target{name: "glance", base: strings.TrimRight(glanceURL, "/"), client: newClient()})
	}
	fmt.Printf("metadata benchmark: %d CPUs (shared with whatever else runs here), %s per cell, one op = one\n", runtime.NumCPU(), dur)
	fmt.Printf("create+show+delete cycle (3 requests) or one GET /v2/images?limit=25 page at a random marker.\n")
	fmt.Printf("glance-go: bin/glance-api, noauth, SQLite, filesystem store, %s\n", ours.base)
	if glanceURL != "" {
		fmt.Printf("glance:    real OpenStack Glance (Debian glance-api, Zed), SQLite, %s\n", glanceURL)
	} else {
		fmt.Printf("glance:    not measured: %s\n", orDefault(why, "no -glance URL given"))
	}

	type cell struct {
		scenario string
		conc     int
		res      map[string]result
	}
	var cells []cell

	// Create+show+delete first, on empty registries.
	for _, c := range cs {
		cl := cell{"create+show+delete", c, map[string]result{}}
		for _, t := range targets {
			cycle(t, 1, 300*time.Millisecond) // warm-up
			cl.res[t.name] = cycle(t, c, dur)
		}
		cells = append(cells, cl)
	}

	// Seed, then list.
	ids := map[string][]string{}
	for _, t := range targets {
		want, budget := n, time.Duration(0)
		if t.name == "glance" {
			want, budget = glanceN, seedBudget
		}
		fmt.Printf("seeding %s with %d images (concurrency 32)...\n", t.name, want)
		got, d := seed(t, want, 32, budget)
		fmt.Printf("  %d images through the API in %.1fs (%.0f creates/s)\n", len(got), d.Seconds(), float64(len(got))/d.Seconds())
		t.filled = fmt.Sprintf("%d created through the API", len(got))
		if len(got) < want && fill != "" && t.name == "glance" {
			t0 := time.Now()
			cmd := exec.Command("sh", "-c", fill)
			cmd.Env = append(os.Environ(), fmt.Sprintf("N=%d", want))
			cmd.Stderr = os.Stderr
			out, err := cmd.Output()
			if err != nil {
				return fmt.Errorf("-glance-fill: %w", err)
			}
			fmt.Printf("  + %s cloned in SQL by -glance-fill in %.1fs\n", strings.TrimSpace(string(out)), time.Since(t0).Seconds())
			t.filled += ", " + strings.TrimSpace(string(out)) + " cloned in SQL"
		}
		order, err := listOrder(t)
		if err != nil {
			return err
		}
		ids[t.name], t.seeded = order, len(order)
	}
	for _, c := range cs {
		cl := cell{"list-25-of-N", c, map[string]result{}}
		for _, t := range targets {
			list(t, ids[t.name], 1, 300*time.Millisecond)
			cl.res[t.name] = list(t, ids[t.name], c, dur)
		}
		cells = append(cells, cl)
	}

	fmt.Println()
	fmt.Printf("%-22s %4s | %12s %9s %9s | %12s %9s %9s | %s\n", "scenario", "conc",
		"glance-go/s", "p50 ms", "p99 ms", "glance/s", "p50 ms", "p99 ms", "ratio")
	for _, cl := range cells {
		name := cl.scenario
		if name == "list-25-of-N" {
			name = "list-25-of-" + short(ours.seeded)
			if g, ok := cl.res["glance"]; ok && g.ops > 0 {
				if gt := targets[1]; gt.seeded != ours.seeded {
					name += "/" + short(gt.seeded)
				}
			}
		}
		o := cl.res["glance-go"]
		line := fmt.Sprintf("%-22s %4d | %12.0f %9.2f %9.2f |", name, cl.conc, o.rate(), ms(o.p50), ms(o.p99))
		if g, ok := cl.res["glance"]; ok {
			ratio := "-"
			if g.ops > 0 {
				ratio = fmt.Sprintf("%.1fx", o.rate()/g.rate())
			}
			line += fmt.Sprintf(" %12.1f %9.2f %9.2f | %s", g.rate(), ms(g.p50), ms(g.p99), ratio)
		} else {
			line += fmt.Sprintf(" %12s %9s %9s | -", "-", "-", "-")
		}
		fmt.Println(line)
	}
	for _, cl := range cells {
		for _, t := range targets {
			if r := cl.res[t.name]; r.errs > 0 {
				fmt.Printf("  %s %s c=%d: %d failed operations (first: %s)\n", t.name, cl.scenario, cl.conc, r.errs, r.sample)
			}
		}
	}
	for _, t := range targets {
		fmt.Printf("  %s lists %d images (%s)\n", t.name, t.seeded, t.filled)
	}
	return nil
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func short(n int) string {
	if n >= 1000 && n%1000 == 0 {
		return fmt.Sprintf("%dk", n/1000)
	}
	return strconv.Itoa(n)
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func newClient() *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second}).DialContext,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     90 * time.Second,
	}
	return &http.Client{Transport: tr, Timeout: 60 * time.Second}
}

// do sends one request and returns the body of a response with status want.
func (t *target) do(method, path string, body []byte, want int) ([]byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, t.base+path, rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Auth-Token", "admin")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := t.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		msg := strings.Join(strings.Fields(string(b)), " ")
		if len(msg) > 160 {
			msg = msg[:160] + "…"
		}
		return nil, fmt.Errorf("%s %s: %d (want %d): %s", method, path, resp.StatusCode, want, msg)
	}
	return b, nil
}

var seq atomic.Int64

func (t *target) create(name string) (string, error) {
	body, _ := json.Marshal(map[string]any{
		"name": name, "disk_format": "qcow2", "container_format": "bare",
		"visibility": "private", "os_distro": "cirros", "hw_disk_bus": "scsi",
		"tags": []string{"bench"},
	})
	b, err := t.do("POST", "/v2/images", body, http.StatusCreated)
	if err != nil {
		return "", err
	}
	var img struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &img); err != nil || img.ID == "" {
		return "", fmt.Errorf("create: no id in %q", b)
	}
	return img.ID, nil
}

// measure runs op from conc workers for d and collects latencies.
func measure(conc int, d time.Duration, op func(w int, rng *rand.Rand) error) result {
	var (
		mu    sync.Mutex
		lats  []time.Duration
		errs  int
		first string
		wg    sync.WaitGroup
	)
	start := time.Now()
	deadline := start.Add(d)
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(w), uint64(start.UnixNano())))
			var mine []time.Duration
			var bad int
			var firstErr string
			for time.Now().Before(deadline) {
				t0 := time.Now()
				if err := op(w, rng); err != nil {
					bad++
					if firstErr == "" {
						firstErr = err.Error()
					}
					continue
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lats = append(lats, mine...)
			errs += bad
			if first == "" {
				first = firstErr
			}
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	el := time.Since(start)
	slices.Sort(lats)
	r := result{ops: len(lats), errs: errs, dur: el, sample: first}
	if len(lats) > 0 {
		r.p50 = lats[len(lats)*50/100]
		r.p99 = lats[min(len(lats)-1, len(lats)*99/100)]
	}
	return r
}

func cycle(t *target, conc int, d time.Duration) result {
	return measure(conc, d, func(int, *rand.Rand) error {
		id, err := t.create(fmt.Sprintf("cycle-%d", seq.Add(1)))
		if err != nil {
			return err
		}
		if _, err := t.do("GET", "/v2/images/"+id, nil, http.StatusOK); err != nil {
			return err
		}
		_, err = t.do("DELETE", "/v2/images/"+id, nil, http.StatusNoContent)
		return err
	})
}

func list(t *target, ids []string, conc int, d time.Duration) result {
	return measure(conc, d, func(_ int, rng *rand.Rand) error {
		path := "/v2/images?limit=25"
		if len(ids) > 25 {
			// ids are in list order: a marker anywhere but in the last
			// 25 gives a full page.
			path += "&marker=" + ids[rng.IntN(len(ids)-25)]
		}
		b, err := t.do("GET", path, nil, http.StatusOK)
		if err != nil {
			return err
		}
		var page struct {
			Images []json.RawMessage `json:"images"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return err
		}
		if len(ids) > 25 && len(page.Images) != 25 {
			return fmt.Errorf("list: %d images on a page, want 25", len(page.Images))
		}
		return nil
	})
}

// seed creates n images from conc workers (within budget when > 0) and
// returns their ids in creation order, as near as concurrency allows.
func seed(t *target, n, conc int, budget time.Duration) ([]string, time.Duration) {
	var (
		next   atomic.Int64
		mu     sync.Mutex
		ids    = make([]string, 0, n)
		wg     sync.WaitGroup
		failed atomic.Int64
	)
	start := time.Now()
	for w := 0; w < conc; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) || (budget > 0 && time.Since(start) > budget) || failed.Load() > 100 {
					return
				}
				id, err := t.create(fmt.Sprintf("seed-%06d", i))
				if err != nil {
					if failed.Add(1) == 1 {
						fmt.Fprintln(os.Stderr, "  seed:", err)
					}
					continue
				}
				mu.Lock()
				ids = append(ids, id)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return ids, time.Since(start)
}

// listOrder pages through the whole list in the server's default order
// (created_at desc, id) and returns the ids.
func listOrder(t *target) ([]string, error) {
	var ids []string
	path := "/v2/images?limit=1000"
	for path != "" {
		b, err := t.do("GET", path, nil, http.StatusOK)
		if err != nil {
			return nil, err
		}
		var page struct {
			Images []struct {
				ID string `json:"id"`
			} `json:"images"`
			Next string `json:"next"`
		}
		if err := json.Unmarshal(b, &page); err != nil {
			return nil, err
		}
		for _, im := range page.Images {
			ids = append(ids, im.ID)
		}
		path = page.Next
		if len(page.Images) == 0 {
			path = ""
		}
	}
	return ids, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startOurs starts bin/glance-api on a free loopback port with SQLite and
// the filesystem store under work.
func startOurs(bin, work string) (*target, func(), error) {
	port, err := freePort()
	if err != nil {
		return nil, nil, err
	}
	abs, err := filepath.Abs(bin)
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(filepath.Join(work, "images"), 0o755); err != nil {
		return nil, nil, err
	}
	cfg := fmt.Sprintf(`plugin_dir = %q
api      { bind = "127.0.0.1:%d" }
registry {
  driver = "sqlite"
  dsn    = %q
}
auth { mode = "noauth" }
store "local" {
  plugin  = "filesystem"
  default = true
  config { data_dir = %q }
}
`, abs, port, filepath.Join(work, "glance.db"), filepath.Join(work, "images"))
	cfgPath := filepath.Join(work, "config.hcl")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o600); err != nil {
		return nil, nil, err
	}
	logf, err := os.Create(filepath.Join(work, "glance-api.log"))
	if err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(filepath.Join(abs, "glance-api"), "-config", cfgPath)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	stop := func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		logf.Close()
	}
	t := &target{name: "glance-go", base: fmt.Sprintf("http://127.0.0.1:%d", port), client: newClient()}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := t.do("GET", "/v2/images?limit=1", nil, http.StatusOK); err == nil {
			return t, stop, nil
		} else if time.Now().After(deadline) {
			stop()
			log, _ := os.ReadFile(filepath.Join(work, "glance-api.log"))
			return nil, nil, errors.Join(fmt.Errorf("glance-api did not answer: %w", err), errors.New(tail(string(log), 2000)))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
