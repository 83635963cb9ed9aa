package s3

import (
	"math"
	"os"
	"runtime/debug"
	"sync"
)

// memBase is what the plugin needs beside its part buffers: the runtime,
// gRPC's stream buffers, the SDK.
const memBase = 32 << 20

// memBudget keeps the Go runtime's soft memory limit at what the uploads in
// progress really need: memBase plus their part buffers. Without it, the
// 1 MiB messages of the gRPC stream, garbage once copied into a part, pile
// up until the heap doubles (GOGC=100), and a plugin whose buffers are
// 80 MiB would reach twice that. An operator's GOMEMLIMIT wins.
type memBudget struct {
	mu       sync.Mutex
	reserved int64
	off      bool
}

var budget = memBudget{off: os.Getenv("GOMEMLIMIT") != ""}

// reserve adds n bytes to the budget until the returned func is called.
func (b *memBudget) reserve(n int64) (release func()) {
	if b.off {
		return func() {}
	}
	b.add(n)
	var once sync.Once
	return func() { once.Do(func() { b.add(-n) }) }
}

func (b *memBudget) add(n int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.reserved += n
	if b.reserved <= 0 {
		b.reserved = 0
		debug.SetMemoryLimit(math.MaxInt64) // no upload: the runtime's default
		return
	}
	debug.SetMemoryLimit(memBase + b.reserved)
}
