// Package rbd is the glance-go store that keeps images as Ceph RBD images,
// laid out exactly as glance_store's rbd driver lays them out, so Nova and
// Cinder can clone them copy-on-write.
//
// An image is the RBD image <pool>/<image id>, created with the features in
// ceph.conf's rbd_default_features (layering always added) and an object
// size of chunk_size. Put writes the body into a temporary image
// glance-tmp.<id>.<random> in object-sized writes, a few in flight at once
// (memory per upload: writeDepth × chunk_size), and renames it to <id> only
// when complete: rbd_rename refuses an existing name, so a duplicate id
// never clobbers, and nothing is visible at the location of an unfinished
// upload. Configure removes temporary images older than an hour that nobody
// has open (their writer died).
//
// An upload of unknown size grows the image in steps (doubling, at most
// 8 GiB at a time) and shrinks it to the final size at the end. Once every
// byte arrived and was verified, Put snapshots the image as "snap",
// protects the snapshot and renames the image; the location is
//
//	rbd://<fsid>/<pool>/<image>/snap     (each part URL-quoted)
//
// as Glance writes it. A failed, aborted or cancelled Put removes the
// temporary image and its snapshot; a duplicate image id is
// store.ErrAlreadyExists and the existing image is left alone.
//
// Get reads any range of the protected snapshot, reading ahead a few
// objects. Delete unprotects and removes the snapshot, then removes the
// image; deleting what is gone is not an error. While a clone of the
// snapshot exists (a Nova disk, a Cinder volume) Delete fails with
// store.ErrInUse and changes nothing, as Glance answers 409; so does an
// image that has snapshots other than "snap" or that is still open.
//
// Config attributes:
//
//	ceph_conf        path of ceph.conf (default /etc/ceph/ceph.conf); the keyring
//	                 comes from it (keyring = …), never from the plugin's config
//	user             cephx user id without "client." (default: librados' default, admin)
//	pool             the pool of the images (default "images")
//	chunk_size       RBD object size in bytes, a power of two from 4 KiB to 32 MiB (default 8 MiB)
//	connect_timeout  how long connecting to the monitors may take (default "30s")
//
// Locations are checked before use: four non-empty parts, the fsid of the
// connected cluster, this store's pool and a valid image id. The legacy
// form rbd://<image> (an image in this store's pool, without snapshot) is
// read and deleted too.
//
// Image ids must match [A-Za-z0-9][A-Za-z0-9_-]{0,63}.
//
// The package needs cgo and Ceph's librados and librbd (Debian
// librados-dev, librbd-dev); build it with -tags pacific against Ceph 16.
package rbd
