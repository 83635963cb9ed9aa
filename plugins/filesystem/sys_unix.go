//go:build unix

package filesystem

import (
	"errors"
	"os"
	"syscall"
)

// oNoFollow makes opening an object fail on a symbolic link, so a link
// planted in data_dir cannot lead a read outside it.
const oNoFollow = syscall.O_NOFOLLOW

// writable reports whether the plugin's user may create files in dir
// (access(2) also answers EROFS on a read-only filesystem).
func writable(dir string) bool {
	return syscall.Access(dir, 2 /* W_OK */) == nil
}

// isNoSpace reports whether err means the filesystem or the user's quota
// is full.
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// isSymlinkLoop reports whether an O_NOFOLLOW open met a symbolic link.
func isSymlinkLoop(err error) bool {
	return errors.Is(err, syscall.ELOOP)
}

// lockExclusive takes the lock that marks a temporary file as being written.
func lockExclusive(f *os.File) error {
	return syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
}

// unlocked reports whether nobody holds the lock on the file at path; known
// is false when that cannot be told.
func unlocked(path string) (orphan, known bool) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false, false
	}
	defer f.Close()
	switch err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); {
	case err == nil:
		return true, true // closing f releases it
	case errors.Is(err, syscall.EWOULDBLOCK):
		return false, true
	default:
		return false, false
	}
}
