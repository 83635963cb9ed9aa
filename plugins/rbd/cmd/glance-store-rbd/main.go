// Command glance-store-rbd is the Ceph RBD store plugin. glance-api starts
// it; run by hand with "describe" it prints the plugin's info. Build it with
// -tags pacific against Ceph 16's librados and librbd.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/plugins/rbd"
	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storeplugin"
)

func main() {
	storeplugin.Serve(storeplugin.ServeConfig{
		New: func(l hclog.Logger) (store.Backend, error) { return rbd.New(l), nil },
	})
}
