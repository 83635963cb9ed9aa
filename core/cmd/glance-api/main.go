// Command glance-api serves the OpenStack Images API v2 and supervises the
// store plugins named in config.hcl.
//
//	glance-api [-config FILE]            serve
//	glance-api validate -config FILE     check a configuration, plugins included
//	glance-api version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/hcl/v2"

	"github.com/glance-go/glance/core/api"
	"github.com/glance-go/glance/core/auth"
	"github.com/glance-go/glance/core/config"
	"github.com/glance-go/glance/core/image"
	"github.com/glance-go/glance/core/registry"
	"github.com/glance-go/glance/core/storage"
	"github.com/glance-go/glance/sdk/store"
	"github.com/glance-go/glance/sdk/storeplugin"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && (args[0] == "validate" || args[0] == "version" || args[0] == "serve") {
		cmd, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet("glance-api "+cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "config.hcl", "configuration file")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	switch cmd {
	case "version":
		fmt.Fprintf(stdout, "glance-api %s (store protocol %d.%d)\n", version, storeplugin.ProtocolVersion, storeplugin.ProtocolMinor)
		return 0
	case "validate":
		return validate(*cfgPath, stdout, stderr)
	}
	return serve(*cfgPath, stderr)
}

func newLogger(w io.Writer) hclog.Logger {
	level := hclog.LevelFromString(os.Getenv("GLANCE_LOG_LEVEL"))
	if level == hclog.NoLevel {
		level = hclog.Info
	}
	return hclog.New(&hclog.LoggerOptions{Name: "glance-api", Level: level, Output: w})
}

// loaded is a configuration with each store's plugin resolved and its
// config {} block decoded against the schema the plugin publishes.
type loaded struct {
	cfg   *config.Config
	specs []storage.Spec
}

// load reads the configuration and resolves the stores; on failure the
// diagnostics have been written to stderr.
func load(ctx context.Context, path string, stderr io.Writer) (*loaded, bool) {
	cfg, diags := config.Load(path)
	if diags.HasErrors() {
		cfg.WriteDiagnostics(stderr, diags)
		return nil, false
	}
	pluginDir := cfg.PluginDir
	if pluginDir == "" {
		exe, err := os.Executable()
		if err != nil {
			fmt.Fprintln(stderr, "glance-api: cannot find its own directory for plugin_dir:", err)
			return nil, false
		}
		pluginDir = filepath.Dir(exe)
	}
	l := &loaded{cfg: cfg}
	for _, sc := range cfg.Stores {
		path, err := storage.ResolveBinary(pluginDir, sc.Plugin)
		if err == nil {
			var sum []byte
			if sum, err = storage.ParseSHA256(sc.SHA256); err == nil {
				var info store.Info
				if info, err = storage.Describe(ctx, path, sum); err == nil {
					js, d := sc.DecodeConfig(info.ConfigSchema)
					diags = append(diags, d...)
					l.specs = append(l.specs, storage.Spec{ID: sc.ID, Plugin: sc.Plugin, Path: path, SHA256: sum, ConfigJSON: js, Default: sc.Default})
				}
			}
		}
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  fmt.Sprintf("Store %q: plugin %q cannot be used", sc.ID, sc.Plugin),
				Detail:   err.Error(),
				Subject:  sc.DeclRange.Ptr(),
			})
		}
	}
	if len(diags) > 0 {
		cfg.WriteDiagnostics(stderr, diags)
	}
	return l, !diags.HasErrors()
}

// validate checks the file, each plugin binary, and each store's config {}
// against its plugin, without side effects.
func validate(path string, stdout, stderr io.Writer) int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	l, ok := load(ctx, path, stderr)
	if !ok {
		return 1
	}
	var diags hcl.Diagnostics
	for i, spec := range l.specs {
		c, err := storeplugin.NewClient(storeplugin.ClientConfig{Path: spec.Path, SHA256: spec.SHA256, Logger: newLogger(stderr).Named(spec.ID)})
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: fmt.Sprintf("Store %q: plugin did not start", spec.ID), Detail: err.Error(), Subject: l.cfg.Stores[i].DeclRange.Ptr()})
			continue
		}
		// A failed call comes back as one error diagnostic without a path,
		// which PluginDiagnostics places on the store block.
		pd := c.ValidateConfig(ctx, store.Config{StoreID: spec.ID, JSON: spec.ConfigJSON, ChunkSize: store.DefaultChunkSize})
		c.Kill()
		diags = append(diags, l.cfg.Stores[i].PluginDiagnostics(pd)...)
	}
	if len(diags) > 0 {
		l.cfg.WriteDiagnostics(stderr, diags)
	}
	if diags.HasErrors() {
		return 1
	}
	fmt.Fprintf(stdout, "%s: configuration is valid (%d store(s))\n", path, len(l.specs))
	return 0
}

func serve(path string, stderr io.Writer) int {
	logger := newLogger(stderr)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	l, ok := load(ctx, path, stderr)
	if !ok {
		return 1
	}
	cfg := l.cfg
	authn, err := newAuth(ctx, cfg, logger)
	if err != nil {
		logger.Error(err.Error())
		return 1
	}

	db, err := registry.Open(ctx, cfg.Registry.Driver, cfg.Registry.DSN, registry.OpenOptions{AutoMigrate: cfg.Registry.Driver == "sqlite"})
	if err != nil {
		logger.Error("registry", "error", err)
		return 1
	}
	defer db.Close()

	host, err := storage.Start(ctx, l.specs, storage.Options{Logger: logger})
	if err != nil {
		logger.Error("stores", "error", err)
		return 1
	}
	defer host.Close(context.Background())

	opts := api.Options{
		Registry:       db,
		Stores:         host,
		Logger:         logger.Named("api"),
		SizeCap:        cfg.Images.SizeCap,
		CacheControl:   cfg.Images.CacheControl,
		PublicEndpoint: cfg.API.PublicEndpoint,
		Rules: image.Rules{
			PropertyQuota: cfg.Images.PropertyQuota,
			TagQuota:      cfg.Images.TagQuota,
		},
		ShowMultipleLocations: cfg.Images.ShowMultipleLocations,
		ShowImageDirectURL:    cfg.Images.ShowImageDirectURL,
		LocationQuota:         cfg.Images.LocationQuota,
		MemberQuota:           cfg.Images.MemberQuota,
		StorageQuota:          cfg.Images.UserStorageQuota,
	}
	// Load has already checked the rules; an error here is a bug.
	if opts.Policy, err = cfg.Policy.Enforcer(); err != nil {
		logger.Error("policy", "error", err)
		return 1
	}
	if authn != nil {
		opts.Authenticate, opts.AuthChallenge = authn.Authenticate, authn.Challenge()
	}
	handler := api.New(opts)
	ln, err := net.Listen("tcp", cfg.API.Bind)
	if err != nil {
		logger.Error("listen", "error", err)
		return 1
	}
	srv := &http.Server{Handler: handler, ReadHeaderTimeout: 30 * time.Second, ErrorLog: logger.StandardLogger(&hclog.StandardLoggerOptions{InferLevels: true})}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	logger.Info("serving the Images API v2", "addr", ln.Addr().String(), "stores", host.IDs(), "default_store", host.DefaultStore(), "registry", cfg.Registry.Driver)

	select {
	case err := <-errc:
		logger.Error("server stopped", "error", err)
		return 1
	case <-ctx.Done():
	}
	logger.Info("shutting down: draining requests")
	sctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		logger.Warn("requests still running at shutdown", "error", err)
	}
	return 0
}

// newAuth returns the authenticator of the auth {} block (nil for noauth),
// refusing what is not safe: noauth makes every caller an admin, so it
// serves loopback only unless the operator insists.
func newAuth(ctx context.Context, cfg *config.Config, logger hclog.Logger) (auth.Authenticator, error) {
	switch cfg.Auth.Mode {
	case "noauth":
		host, _, err := net.SplitHostPort(cfg.API.Bind)
		if err != nil {
			return nil, fmt.Errorf("api.bind %q: %w", cfg.API.Bind, err)
		}
		ip := net.ParseIP(host)
		loopback := host == "localhost" || (ip != nil && ip.IsLoopback())
		if !loopback && !cfg.Auth.AllowInsecure {
			return nil, fmt.Errorf("auth mode noauth makes every caller an admin: refusing to bind %s (not loopback) without auth { allow_insecure = true }", cfg.API.Bind)
		}
		logger.Warn("auth mode is noauth: every caller is an admin (development only)")
		return nil, nil
	case "tokens":
		a, err := auth.New(ctx, cfg.Auth, logger.Named("auth"))
		if err != nil {
			return nil, err
		}
		logger.Info("auth mode is tokens", "tokens", len(cfg.Auth.Tokens))
		return a, nil
	case "keystone":
		a, err := auth.New(ctx, cfg.Auth, logger.Named("auth"))
		if err != nil {
			return nil, err
		}
		k := cfg.Auth.Keystone
		// Keystone may come up after glance-api: a failure here is
		// reported, and requests get 503 until it answers.
		if ks, ok := a.(*auth.Keystone); ok {
			cctx, cancel := context.WithTimeout(ctx, k.Timeout)
			err := ks.Check(cctx)
			cancel()
			if err != nil {
				logger.Warn("keystone is not usable yet; requests get 503 until it is", "auth_url", k.AuthURL, "error", err)
			}
		}
		logger.Info("auth mode is keystone", "auth_url", k.AuthURL, "username", k.Username, "project_name", k.ProjectName,
			"cache_ttl", k.CacheTTL.String(), "cache_size", k.CacheSize)
		return a, nil
	}
	return nil, fmt.Errorf("unknown auth mode %q", cfg.Auth.Mode)
}
