package storetest

import "testing"

// The in-memory store passes the suite through the gRPC adapters too.
func TestMemoryStorePassesOverGRPC(t *testing.T) {
	cfg := memSuiteConfig("")
	cfg.MaxSize = 16 * mib
	RunGRPC(t, cfg)
}

func TestMemoryStorePassesOverGRPCSmallChunks(t *testing.T) {
	cfg := memSuiteConfig("")
	cfg.ChunkSize = 4096 + 3
	cfg.MaxSize = 1 * mib
	RunGRPC(t, cfg)
}
