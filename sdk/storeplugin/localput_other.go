//go:build !unix

package storeplugin

import (
	"errors"
	"os"
)

// localPutSupported: without O_NOFOLLOW and file owners the host cannot
// check a plugin's file, so Put always streams.
const localPutSupported = false

func openLocalPut(string) (*os.File, error) {
	return nil, errors.New("local put is not supported on this platform")
}

func isNoSpace(error) bool { return false }
