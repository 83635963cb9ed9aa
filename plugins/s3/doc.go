// Package s3 is the glance-go store that keeps images as objects in an S3
// bucket: AWS S3, Ceph radosgw, MinIO or any service speaking the S3 API
// with SigV4 signatures (aws-sdk-go-v2).
//
// An image is the object <prefix>/<image id> of the bucket; its location is
// s3://<bucket>/<prefix>/<image id>. Locations name neither the endpoint nor
// the credentials: the store reads them from its configuration, so keys can
// be rotated without rewriting image records, and a location is safe to log
// or show to an admin.
//
// Uploads stream. A body that ends within the first part goes up with one
// PutObject; a longer one, of known or unknown size, as a multipart upload
// whose parts are sent while the next one is read, at most parts_in_flight
// at a time: an upload holds at most (parts_in_flight + 1) × part_size bytes,
// whatever the image's size (the SDK cannot PutObject a body it cannot seek,
// and buffering a whole image, as glance_store's S3 driver does below 100 MB
// or when the size is unknown, is what this store never does). The plugin
// also keeps the Go runtime's soft memory limit at what its uploads in
// progress need (unless GOMEMLIMIT is set), so the gRPC stream's garbage
// does not double its resident set.
//
// A known size that would need more than 10000 parts (S3's limit) gets
// bigger parts, with fewer in flight so that the memory bound holds; an
// upload of unknown size is limited to 10000 × part_size bytes (78 GiB with
// the default 8 MiB; raise part_size for larger images sent without a
// length).
//
// Any failure of an upload, a body that errs (the host's abort, a checksum
// that did not verify), a length other than the declared one, a cancelled
// context or a deadline, aborts the multipart upload once no part is in
// flight: no object and no pending upload is left behind. A duplicate image
// id is store.ErrAlreadyExists: the store looks for the object before
// sending anything and again just before completing, and sends If-None-Match:
// * with the final request (PutObject or CompleteMultipartUpload); radosgw
// of Ceph 16 honours it on PutObject and ignores it on
// CompleteMultipartUpload, where the second look closes all but a
// millisecond's window. conditional_writes = false leaves the header out
// for services that refuse it.
//
// Reads take one GetObject with a Range header; the object's whole size
// comes from Content-Range. Delete is idempotent. Configure checks the
// configuration only; Probe checks the endpoint, the credentials and the
// bucket (creating it with create_bucket = true) and says which is wrong,
// so glance-api starts with the store unhealthy instead of not at all.
//
// Config attributes (glance-store-s3 describe prints them all):
//
//	endpoint              S3 endpoint URL; empty for AWS
//	region                signing region (default us-east-1)
//	bucket                the bucket (required)
//	create_bucket         create a missing bucket (default false)
//	prefix                key prefix, e.g. "glance/images"
//	path_style            <endpoint>/<bucket> addressing (radosgw, MinIO)
//	access_key            access key id (sensitive, required)
//	secret_key            secret access key (sensitive, required)
//	session_token         for temporary credentials (sensitive)
//	part_size             bytes per part (default 8 MiB; 5 MiB to 5 GiB)
//	parts_in_flight       parts sent at once per upload (default 4)
//	ca_file               PEM CA bundle for an https endpoint
//	insecure_skip_verify  do not verify TLS (testing only)
//	connect_timeout       default "10s"
//	conditional_writes    send If-None-Match: * (default true)
package s3
