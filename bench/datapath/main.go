// Command datapath measures glance-api's data path: a 1 GiB upload and
// download through the API and the filesystem store plugin, with the local
// fast paths (uploads written by glance-api into the plugin's temporary
// file, downloads by sendfile) and without them (both streamed over the
// plugin's gRPC connection), beside, in the same run, a raw write and read
// of the same file on the same disk, the in-process md5+sha512 ceiling, and
// a plain Go http.ServeFile of the file. Besides MB/s it prints the CPU
// seconds per GiB each process spent (from /proc/<pid>/stat), which stay
// meaningful on a loaded machine. It prints figures; it asserts nothing.
package main

import (
	"crypto/md5"
	"crypto/sha512"
	"encoding/json"
	"flag"
	"fmt"
	"hash"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/glance-go/glance/bench/internal/harness"
)

func main() {
	bin := flag.String("bin", "bin", "directory holding glance-api and the store plugins")
	sizeMiB := flag.Int("size", 1024, "transfer size in MiB")
	work := flag.String("dir", "", "scratch directory on the disk to measure (default: a temp dir under ./data)")
	serveFile := flag.String("serve-file", "", "internal: serve this file with http.ServeFile on -addr")
	addr := flag.String("addr", "", "internal: listen address for -serve-file")
	paths := flag.String("paths", "local,stream", "data paths through glance-api to measure, in order: local (fast paths on), stream (over gRPC)")
	flag.Parse()
	if *serveFile != "" {
		runServeFile(*serveFile, *addr)
		return
	}
	if err := run(*bin, int64(*sizeMiB)<<20, *work, strings.Split(*paths, ",")); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(bin string, size int64, work string, paths []string) error {
	bin, _ = filepath.Abs(bin)
	if work == "" {
		if err := os.MkdirAll("data", 0o750); err != nil {
			return err
		}
		d, err := os.MkdirTemp("data", "bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		work = d
	}
	work, _ = filepath.Abs(work)
	src := filepath.Join(work, "source.bin")
	fmt.Printf("data path benchmark: %d MiB, scratch %s, GOMAXPROCS-visible CPUs %d\n\n", size>>20, work, harness.NumCPU())

	// (a) raw write (with fdatasync) and read of the same file on the same disk.
	d, err := writeRandom(src, size)
	if err != nil {
		return err
	}
	report("raw write + fdatasync (disk)", size, d, "")
	d, err = readFile(src)
	if err != nil {
		return err
	}
	report("raw read (page cache warm)", size, d, "")

	// (b) md5 and sha512 in parallel over the same bytes: the hashing ceiling.
	d, _, err = hashCeiling(src)
	if err != nil {
		return err
	}
	report("md5+sha512 in parallel, in-process", size, d, "")
	hashRate := mbps(size, d)

	// (c) a plain Go http.ServeFile of the file, read by this process over loopback.
	d, err = serveFileBaseline(src)
	if err != nil {
		return err
	}
	serveFileRate := mbps(size, d)
	report("http.ServeFile download (loopback)", size, d, "")
	fmt.Println()

	// The hashing ceiling once more, as CPU time: what md5 and sha512 alone
	// cost per GiB, for comparison with glance-api's CPU time below.
	d, cpu, err := hashCeiling(src)
	if err != nil {
		return err
	}
	fmt.Printf("%-48s %8.0f MB/s  (%6.2fs)\n      CPU s/GiB: md5+sha512 %.2f\n\n", "md5+sha512 in parallel, again", mbps(size, d), d.Seconds(),
		cpu/(float64(size)/(1<<30)))

	// Local fast paths on (the default: uploads written by glance-api into
	// the plugin's file, downloads by sendfile), then off (both streamed
	// over the plugin's gRPC connection): after and before, in one run.
	for _, p := range paths {
		if p != "local" && p != "stream" {
			return fmt.Errorf("-paths: %q is neither local nor stream", p)
		}
		if err := apiRun(bin, work, src, size, p == "local", serveFileRate, hashRate); err != nil {
			return err
		}
	}
	return nil
}

func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

func report(what string, n int64, d time.Duration, extra string) {
	fmt.Printf("%-48s %8.0f MB/s  (%6.2fs)%s\n", what, mbps(n, d), d.Seconds(), extra)
}

func writeRandom(path string, size int64) (time.Duration, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	r := rand.NewChaCha8([32]byte{7})
	buf := make([]byte, 4<<20)
	start := time.Now()
	for left := size; left > 0; {
		n := min(int64(len(buf)), left)
		r.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			return 0, err
		}
		left -= n
	}
	if err := f.Sync(); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

func readFile(path string) (time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 1<<20)
	start := time.Now()
	for {
		_, err := f.Read(buf)
		if err == io.EOF {
			return time.Since(start), nil
		}
		if err != nil {
			return 0, err
		}
	}
}

// hashCeiling hashes the file's bytes with md5 and sha512 in parallel, as
// glance-api does, and returns the time and the CPU seconds it took.
func hashCeiling(path string) (time.Duration, float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	// Pre-read so the ceiling measures hashing, not the disk.
	data, err := io.ReadAll(f)
	if err != nil {
		return 0, 0, err
	}
	cpu0 := harness.CPUSeconds(os.Getpid())
	start := time.Now()
	var wg sync.WaitGroup
	for _, h := range []hash.Hash{md5.New(), sha512.New()} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for off := 0; off < len(data); off += 1 << 20 {
				h.Write(data[off:min(off+1<<20, len(data))])
			}
			h.Sum(nil)
		}()
	}
	wg.Wait()
	return time.Since(start), harness.CPUSeconds(os.Getpid()) - cpu0, nil
}

func runServeFile(path, addr string) {
	http.HandleFunc("/f", func(w http.ResponseWriter, r *http.Request) { http.ServeFile(w, r, path) })
	if err := http.ListenAndServe(addr, nil); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

func serveFileBaseline(path string) (time.Duration, error) {
	self, _ := os.Executable()
	addr := harness.FreeAddr()
	cmd := exec.Command(self, "-serve-file", path, "-addr", addr)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	if err := harness.WaitHTTP("http://"+addr+"/f", 10*time.Second); err != nil {
		return 0, err
	}
	return download("http://" + addr + "/f")
}

func download(url string) (time.Duration, error) {
	start := time.Now()
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}

// apiRun starts glance-api with a filesystem store under work and measures
// one upload and one download of src.
func apiRun(bin, work, src string, size int64, local bool, serveFileRate, hashRate float64) error {
	dir, err := os.MkdirTemp(work, "api-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	addr := harness.FreeAddr()
	cfg := fmt.Sprintf(`plugin_dir = %q
api      { bind = %q }
registry {
  driver = "sqlite"
  dsn    = %q
}
auth     { mode = "noauth" }
store "local" {
  plugin = "filesystem"
  config {
    data_dir   = %q
    local_file = %t
    local_put  = %t
  }
}
`, bin, addr, filepath.Join(dir, "glance.db"), filepath.Join(dir, "images"), local, local)
	api, err := harness.StartAPI(bin, dir, addr, cfg)
	if err != nil {
		return err
	}
	defer api.Stop()
	base, apiPid, plugin := api.URL, api.Pid, api.PluginPid

	resp, err := http.Post(base+"/v2/images", "application/json",
		strings.NewReader(`{"name":"bench","disk_format":"raw","container_format":"bare"}`))
	if err != nil {
		return err
	}
	var img struct{ ID string }
	json.NewDecoder(resp.Body).Decode(&img)
	resp.Body.Close()

	path := "gRPC stream"
	if local {
		path = "local fast path"
	}
	fmt.Printf("through glance-api + filesystem plugin (uploads and downloads by %s):\n", path)

	mark := harness.MarkRSS(apiPid, plugin)
	cpu := harness.MarkCPU([]string{"glance-api", "plugin", "bench client"}, []int{apiPid, plugin, os.Getpid()})
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	req, _ := http.NewRequest("PUT", base+"/v2/images/"+img.ID+"/file", f)
	req.ContentLength = size
	req.Header.Set("Content-Type", "application/octet-stream")
	start := time.Now()
	resp, err = http.DefaultClient.Do(req)
	f.Close()
	if err != nil {
		return err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	d := time.Since(start)
	if resp.StatusCode != 204 {
		return fmt.Errorf("upload: %s\n%s", resp.Status, api.Log())
	}
	report("  upload   (md5+sha512+store, API)", size, d, fmt.Sprintf(" %3.0f%% of the md5+sha512 ceiling%s%s", 100*mbps(size, d)/hashRate, mark.Growth(), cpu.PerGiB(size)))

	mark = harness.MarkRSS(apiPid, plugin)
	cpu = harness.MarkCPU([]string{"glance-api", "plugin", "bench client"}, []int{apiPid, plugin, os.Getpid()})
	d, err = download(base + "/v2/images/" + img.ID + "/file")
	if err != nil {
		return err
	}
	report("  download (API)", size, d, fmt.Sprintf(" %3.0f%% of http.ServeFile%s%s", 100*mbps(size, d)/serveFileRate, mark.Growth(), cpu.PerGiB(size)))
	fmt.Println()
	return nil
}
