// Package filesystem is the glance-go store that keeps images as files in one
// directory, local or shared (NFS), like glance_store's filesystem driver.
//
// An image is the file <data_dir>/<image id>; its location is the file URI
// of that path. Uploads are written to a temporary file in data_dir (named
// .tmp-<id>-<random>), fsynced, and only then linked to the final name with
// os.Link, which never replaces an existing file, so a duplicate image id is
// store.ErrAlreadyExists and a failed or aborted upload leaves nothing at the
// final name. The temporary file is removed on every failure; Configure also
// sweeps temporary files nobody holds locked (their writer died), or older
// than an hour where locks are not available.
//
// With local_put (the default), glance-api writes an upload itself into the
// temporary file this store created and locked (store.LocalWriter), and the
// store then checks its size and free space, fsyncs and links it exactly as
// after a streamed Put: the bytes do not cross the plugin's gRPC connection.
//
// Config attributes:
//
//	data_dir           directory of the images (required; created 0750 when missing)
//	thin_provisioning  leave all-zero runs of an image as holes (sparse files)
//	min_free_bytes     refuse a Put that would leave less free space than this
//	file_perm          octal mode of image files (default "0640")
//	local_file         let glance-api read image files itself (default true)
//	local_put          let glance-api write uploads into the store's temporary
//	                   files itself (default true; not with thin_provisioning)
//
// Image ids must match [A-Za-z0-9][A-Za-z0-9_-]{0,63}: Glance ids are UUIDs,
// and the rule keeps every id a single plain file name that can never be
// ".", "..", a path, or one of the store's own .tmp- names.
//
// Locations are checked before use: the scheme must be file, the path clean
// and directly inside data_dir, the name a valid id, and the file a regular
// file (opened with O_NOFOLLOW), so a location can neither escape data_dir
// nor follow a symbolic link planted in it.
package filesystem
