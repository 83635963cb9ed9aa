// Package e2e holds end-to-end tests: the real glance-api binary, real store
// plugin processes over gRPC, a real listener, driven over HTTP.
package e2e
