// Package swift is the glance-go store that keeps images in an OpenStack
// Swift container (or any Swift API, such as Ceph radosgw's), through
// github.com/ncw/swift/v2.
//
// Authentication is tempauth/swauth v1 (auth_url …/auth/v1.0, user
// account:user) or Keystone v3 (auth_url …/v3, with user_domain, project,
// project_domain, region and endpoint_type). The key is a sensitive
// attribute: it is never logged and never part of a location. Configure does
// not contact Swift; Probe authenticates and checks the container (creating
// it when create_container is set), so a wrong key, a missing container or
// an unreachable endpoint leave glance-api up with the store unhealthy and a
// reason in its log.
//
// An image is the object <container>/<image id>; its location is
// swift://<container>/<image id>. An image of known size up to
// large_object_threshold is one streaming PUT carrying Content-Length and
// If-None-Match: *, whose last bytes are handed over only once the body has
// ended and verified, so a short, long, aborted or unverified body never
// completes the request. Larger images, and every upload of unknown size,
// become a static large object (SLO): segments named
// <image id>/<upload token>/<00000001…>, each a streaming PUT of at most
// segment_size bytes (memory stays bounded whatever the image size), then
// the manifest at <image id> with If-None-Match: * once the body ended. A
// failed or cancelled upload deletes the segments it wrote. Delete removes
// the manifest or object, then every segment under <image id>/.
//
// Reads use HTTP Range requests, also across SLO segments; Stat is a HEAD.
// Image ids must match [A-Za-z0-9][A-Za-z0-9_-]{0,63}.
package swift
