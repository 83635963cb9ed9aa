package storeplugin

import (
	"os"
	"time"
)

// parentPollInterval is how often the plugin checks that its host lives.
const parentPollInterval = 500 * time.Millisecond

// watchParent calls onExit once the process's parent is no longer ppid, which
// means the host died and the plugin was re-parented (go-plugin has no
// parent-death handling, and Pdeathsig is tied to the thread that started
// the process). It returns after calling onExit.
func watchParent(ppid int, every time.Duration, onExit func(ppid int)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for range t.C {
		if os.Getppid() != ppid {
			onExit(ppid)
			return
		}
	}
}
