// Command glance-store-s3 is the S3 store plugin. glance-api starts it; run
// by hand with "describe" it prints the plugin's info.
package main

import (
	"github.com/hashicorp/go-hclog"

	"github.com/glance-go/glance/plugins/s3"
	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storeplugin"
)

func main() {
	storeplugin.Serve(storeplugin.ServeConfig{
		New: func(l hclog.Logger) (store.Backend, error) { return s3.New(l), nil },
	})
}
