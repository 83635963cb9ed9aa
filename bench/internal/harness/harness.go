// Package harness holds what the benchmark programs share: loopback
// addresses, waiting for a server, and the resident memory of glance-api
// and its store plugin.
package harness

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// NumCPU counts the machine's processors (not GOMAXPROCS).
func NumCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

// FreeAddr returns a loopback address that was free a moment ago.
func FreeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// WaitHTTP waits until url answers at all.
func WaitHTTP(url string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			return nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer", url)
}

// ChildPid returns the glance-store-* process whose parent is parent, or 0.
func ChildPid(parent int) int {
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		s := string(stat)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "glance-store-") {
			continue
		}
		if f := strings.Fields(s[i+1:]); len(f) > 1 && f[1] == strconv.Itoa(parent) {
			pid, _ := strconv.Atoi(e.Name())
			return pid
		}
	}
	return 0
}

// Mark records each process's resident set before a transfer, after
// resetting its peak, so Growth can report how far the peak rose.
type Mark struct {
	pids   []int
	names  []string
	before []int64
}

// MarkRSS resets the peak RSS of glance-api and its plugin and records
// their current RSS.
func MarkRSS(api, plugin int) Mark {
	m := Mark{pids: []int{api, plugin}, names: []string{"glance-api", "plugin"}}
	for _, p := range m.pids {
		// "5" resets the peak RSS (VmHWM) to the current RSS.
		os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", p), []byte("5"), 0)
		m.before = append(m.before, procKiB(p, "VmRSS"))
	}
	return m
}

// Growth reports each process's RSS before and its peak since the Mark.
func (m Mark) Growth() string {
	var parts []string
	for i, p := range m.pids {
		peak := procKiB(p, "VmHWM")
		parts = append(parts, fmt.Sprintf("%s RSS %d→peak %d MiB (+%d)", m.names[i], m.before[i]>>10, peak>>10, (peak-m.before[i])>>10))
	}
	return "\n      " + strings.Join(parts, "; ")
}
func procKiB(pid int, field string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

// PeakRSSKiB returns the peak resident set (VmHWM) of pid, in KiB.
func PeakRSSKiB(pid int) int64 { return procKiB(pid, "VmHWM") }

// API is a glance-api process a benchmark started.
type API struct {
	URL       string // http://addr
	Pid       int    // glance-api
	PluginPid int    // its (first) store plugin
	cmd       *exec.Cmd
	log       *bytes.Buffer
}

// StartAPI writes cfg to dir/config.hcl, runs bin/glance-api on it, waits
// until it answers on addr and finds its store plugin process.
func StartAPI(bin, dir, addr, cfg string) (*API, error) {
	path := filepath.Join(dir, "config.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		return nil, err
	}
	a := &API{URL: "http://" + addr, log: &bytes.Buffer{}}
	a.cmd = exec.Command(filepath.Join(bin, "glance-api"), "-config", path)
	a.cmd.Stdout, a.cmd.Stderr = a.log, a.log
	if err := a.cmd.Start(); err != nil {
		return nil, err
	}
	a.Pid = a.cmd.Process.Pid
	if err := WaitHTTP(a.URL+"/healthcheck", 30*time.Second); err != nil {
		a.Stop()
		return nil, fmt.Errorf("%w\n%s", err, a.log)
	}
	if a.PluginPid = ChildPid(a.Pid); a.PluginPid == 0 {
		a.Stop()
		return nil, fmt.Errorf("no plugin process under glance-api %d", a.Pid)
	}
	return a, nil
}

// Log returns what glance-api has written so far.
func (a *API) Log() string { return a.log.String() }

// Stop interrupts glance-api and waits for it to exit.
func (a *API) Stop() {
	a.cmd.Process.Signal(os.Interrupt)
	a.cmd.Wait()
}

// CPUSeconds returns the user+system CPU time pid has used so far, or 0
// when it cannot be read. CPU time per byte moved stays meaningful on a
// loaded machine, where MB/s does not.
func CPUSeconds(pid int) float64 {
	u, s := CPUSplit(pid)
	return u + s
}

// CPUSplit returns the user and the system CPU time pid has used so far,
// from /proc/<pid>/stat (utime and stime, in clock ticks of 1/100 s).
func CPUSplit(pid int) (user, sys float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0
	}
	// The command name (field 2) may hold spaces: count from after ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, 0
	}
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return ut / 100, st / 100 // USER_HZ is 100 on Linux
}

// CPUMark records the CPU time of a set of processes, to report what a
// transfer cost each of them.
type CPUMark struct {
	names     []string
	pids      []int
	user, sys []float64
}

// MarkCPU starts counting the CPU time of the named processes.
func MarkCPU(names []string, pids []int) CPUMark {
	m := CPUMark{names: names, pids: pids}
	for _, p := range pids {
		u, s := CPUSplit(p)
		m.user, m.sys = append(m.user, u), append(m.sys, s)
	}
	return m
}

// PerGiB reports each process's CPU seconds (user+system) since the mark
// per GiB of n bytes moved.
func (m CPUMark) PerGiB(n int64) string {
	var parts []string
	gib := float64(n) / (1 << 30)
	for i, p := range m.pids {
		u, s := CPUSplit(p)
		u, s = (u-m.user[i])/gib, (s-m.sys[i])/gib
		parts = append(parts, fmt.Sprintf("%s %.2f (%.2f+%.2f)", m.names[i], u+s, u, s))
	}
	return "\n      CPU s/GiB (user+sys): " + strings.Join(parts, ", ")
}
