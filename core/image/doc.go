// Package image is the domain of glance-go: the image entity as Glance's
// Images API v2 shows it, its status machine, and the validation rules of
// the image schema (formats, visibility, read-only and reserved attributes).
//
// The package knows nothing of HTTP nor SQL: the api package parses requests
// into an Image and renders it back, the registry package stores it.
// Errors are *Error values wrapping one of the Err… kinds, so callers map a
// kind to a status code with errors.Is and show Error() to the user.
package image
