package storeplugin

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/glance-go/glance/sdk/store"
)

// Description is what `<plugin> describe` prints.
type Description struct {
	store.Info
	ProtocolVersion int `json:"protocol_version"`
	ProtocolMinor   int `json:"protocol_minor"`
}

func describe(cfg ServeConfig, stdout, stderr io.Writer) int {
	if cfg.New == nil {
		fmt.Fprintln(stderr, "storeplugin: ServeConfig.New is nil")
		return 1
	}
	b, err := cfg.New(newLogger(stderr))
	if err != nil || b == nil {
		fmt.Fprintf(stderr, "cannot build the store: %v\n", err)
		return 1
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(Description{Info: b.Info(), ProtocolVersion: ProtocolVersion, ProtocolMinor: ProtocolMinor}); err != nil {
		fmt.Fprintf(stderr, "cannot describe the store: %v\n", err)
		return 1
	}
	return 0
}
