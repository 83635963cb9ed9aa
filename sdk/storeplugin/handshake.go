package storeplugin

import (
	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"

	"github.com/glance-go/glance/sdk/store"
)

// ProtocolVersion is the go-plugin application protocol version; version N
// speaks proto package glance.store.vN.
const ProtocolVersion = 1

// ProtocolMinor counts additive changes to glance.store.v1.
// 1: CAPABILITY_LOCAL_PUT and the LocalPut call.
const ProtocolMinor = 1

// PluginName is the name the store service is dispensed under.
const PluginName = "store"

// Handshake is shared by host and plugins. The cookie is a UX guard against
// running a plugin by hand, not a security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "GLANCE_STORE_PLUGIN",
	MagicCookieValue: "4d1c7f0e-glance-store-v1",
}

// ServeConfig is what a plugin's main gives Serve.
type ServeConfig struct {
	// New builds the store. It is called once per process, before the
	// handshake, with the logger the plugin must use (stdout belongs to the
	// handshake; anything printed there breaks it).
	New func(logger hclog.Logger) (store.Backend, error)
}
