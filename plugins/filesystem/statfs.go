//go:build linux || darwin

package filesystem

import "syscall"

// freeBytes returns the space an unprivileged user may still use on the
// filesystem of dir, or ok false when it cannot be known.
func freeBytes(dir string) (n int64, ok bool) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0, false
	}
	return int64(st.Bavail) * int64(st.Bsize), true
}
