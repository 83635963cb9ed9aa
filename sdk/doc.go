// Package sdk is the root of the module that store plugin authors build
// against: store (the Backend interface), storeplugin (Serve and NewClient)
// and storetest (the conformance suite). It imports nothing of glance-api.
package sdk
