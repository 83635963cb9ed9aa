//go:build !unix

package filesystem

import "os"

const oNoFollow = 0

func writable(string) bool { return true }

func isNoSpace(error) bool { return false }

func isSymlinkLoop(error) bool { return false }

func lockExclusive(*os.File) error { return nil }

func unlocked(string) (orphan, known bool) { return false, false }
