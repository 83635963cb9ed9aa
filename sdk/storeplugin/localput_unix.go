//go:build unix

package storeplugin

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// localPutSupported: the host can check and write a plugin's file here.
const localPutSupported = true

// openLocalPut opens the plugin's temporary file for writing. The path
// comes from another process, so it is checked before a byte goes into it:
// absolute, not a symbolic link (O_NOFOLLOW), a regular file, empty (a
// file that holds data is not a fresh temporary file), and owned by this
// process's user (as a plugin started by this host is).
func openLocalPut(path string) (*os.File, error) {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return nil, fmt.Errorf("%q is not a clean absolute path", path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	switch {
	case !fi.Mode().IsRegular():
		err = fmt.Errorf("%s is not a regular file", path)
	case fi.Size() != 0:
		err = fmt.Errorf("%s is not empty (%d bytes)", path, fi.Size())
	case !ok:
		err = fmt.Errorf("%s: no owner information", path)
	case int(st.Uid) != os.Geteuid():
		err = fmt.Errorf("%s is owned by uid %d, not by this process's %d", path, st.Uid, os.Geteuid())
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// isNoSpace reports whether err means the filesystem or the quota is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}
