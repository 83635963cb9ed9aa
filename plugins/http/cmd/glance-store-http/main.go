// Command glance-store-http is the read-only HTTP store plugin. glance-api
// starts it; run by hand with "describe" it prints the plugin's info.
package main

import (
	"github.com/hashicorp/go-hclog"

	httpstore "github.com/glance-go/glance/plugins/http"
	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storeplugin"
)

func main() {
	storeplugin.Serve(storeplugin.ServeConfig{
		New: func(l hclog.Logger) (store.Backend, error) { return httpstore.New(l), nil },
	})
}
