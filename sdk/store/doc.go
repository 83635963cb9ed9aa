// Package store defines what a glance-go store plugin implements: the Backend
// interface, its request and result types, the sentinel errors that cross the
// plugin boundary, and the configuration schema a plugin publishes so the host
// can check its config.hcl block.
//
// The package imports no gRPC: a store author writes a Backend against these
// types, and sdk/storeplugin carries it over the wire. Errors are wrapped with
// %w around the Err… sentinels and compared with errors.Is on both sides.
package store
