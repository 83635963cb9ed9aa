package rbd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"syscall"
	"time"

	"github.com/ceph/go-ceph/rados"

	"github.com/glance-go/glance/sdk/store"
)

// cluster is one connection to Ceph and an I/O context on the store's
// pool. librados and librbd are thread-safe: one cluster serves every call.
type cluster struct {
	conn  *rados.Conn
	ioctx *rados.IOContext
	fsid  string
}

func (cl *cluster) close() {
	if cl.ioctx != nil {
		cl.ioctx.Destroy()
	}
	if cl.conn != nil {
		cl.conn.Shutdown()
	}
}

// connect opens a connection with c's settings. librados cannot be
// interrupted: the timeouts set here bound it, and ctx only stops waiting.
func connect(ctx context.Context, c *config) (*cluster, error) {
	type result struct {
		cl  *cluster
		err error
	}
	done := make(chan result, 1)
	go func() {
		cl, err := dial(c)
		done <- result{cl, err}
	}()
	select {
	case r := <-done:
		return r.cl, r.err
	case <-ctx.Done():
		// Close what dial may still open.
		go func() {
			if r := <-done; r.cl != nil {
				r.cl.close()
			}
		}()
		return nil, fmt.Errorf("%w: connecting to ceph: %w", store.ErrUnavailable, ctx.Err())
	}
}

func dial(c *config) (_ *cluster, err error) {
	var conn *rados.Conn
	if c.user != "" {
		conn, err = rados.NewConnWithUser(c.user)
	} else {
		conn, err = rados.NewConn()
	}
	if err != nil {
		return nil, fmt.Errorf("%w: creating the rados handle: %w", store.ErrUnavailable, err)
	}
	cl := &cluster{conn: conn}
	defer func() {
		if err != nil {
			cl.close()
		}
	}()
	// Only ceph.conf: not CEPH_ARGS nor CEPH_KEYRING from the environment.
	if err := conn.ReadConfigFile(c.cephConf); err != nil {
		return nil, fmt.Errorf("%w: reading ceph_conf %s: %w", store.ErrInvalidConfig, c.cephConf, err)
	}
	secs := strconv.Itoa(int(c.connectTimeout.Round(time.Second) / time.Second))
	for _, o := range []string{"client_mount_timeout", "rados_mon_op_timeout"} {
		if err := conn.SetConfigOption(o, secs); err != nil {
			return nil, fmt.Errorf("%w: setting %s: %w", store.ErrInvalidConfig, o, err)
		}
	}
	if err := conn.Connect(); err != nil {
		return nil, cephErr("connecting to the monitors in "+c.cephConf, err)
	}
	if cl.fsid, err = conn.GetFSID(); err != nil {
		return nil, cephErr("reading the cluster fsid", err)
	}
	if cl.ioctx, err = conn.OpenIOContext(c.pool); err != nil {
		if errno(err) == syscall.ENOENT {
			return nil, fmt.Errorf("%w: pool %q does not exist", store.ErrUnavailable, c.pool)
		}
		return nil, cephErr("opening pool "+c.pool, err)
	}
	return cl, nil
}

// errno returns the positive errno of a go-ceph error, or 0.
func errno(err error) syscall.Errno {
	var ce interface{ ErrorCode() int }
	if errors.As(err, &ce) {
		n := ce.ErrorCode()
		if n < 0 {
			n = -n
		}
		return syscall.Errno(n)
	}
	return 0
}

// cephErr wraps a go-ceph error with the store sentinel it amounts to.
func cephErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var sentinel error
	switch errno(err) {
	case syscall.ENOENT:
		sentinel = store.ErrNotFound
	case syscall.EEXIST:
		sentinel = store.ErrAlreadyExists
	case syscall.EBUSY:
		sentinel = store.ErrInUse
	case syscall.ENOSPC, syscall.EDQUOT:
		sentinel = store.ErrStorageFull
	case syscall.EPERM, syscall.EACCES:
		sentinel = store.ErrForbidden
	case syscall.ETIMEDOUT, syscall.ENOTCONN, syscall.ECONNREFUSED, syscall.ESHUTDOWN:
		sentinel = store.ErrUnavailable
	case syscall.EINVAL, syscall.ERANGE:
		sentinel = store.ErrInvalidArgument
	}
	if sentinel == nil {
		return fmt.Errorf("rbd: %s: %w", op, err)
	}
	return fmt.Errorf("rbd: %s: %w: %w", op, sentinel, err)
}
