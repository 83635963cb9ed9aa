//go:build !linux

package storeplugin

import "os"

func startWriteback(*os.File, int64, int64) {}
