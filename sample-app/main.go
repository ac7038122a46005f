// Command sample-app is the small HTTP service that Slipway's pipeline builds,
// scans, pushes and deploys. It uses only the standard library so it builds
// where no module proxy is reachable.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// Build information, stamped by the pipeline with -ldflags -X.
var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

func main() {
	showVersion := flag.Bool("version", false, "print build information as JSON and exit")
	flag.Parse()
	if *showVersion {
		// Used by smoke tests: proves the image runs and as which user.
		_ = json.NewEncoder(os.Stdout).Encode(map[string]any{
			"version": version, "commit": commit, "date": date, "uid": os.Getuid(),
		})
		return
	}
	logger := slog.New(slog.NewJSONHandler(os.Stdout, nil))
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8080"
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	if err := serve(ctx, addr, logger); err != nil {
		logger.Error("server stopped", "err", err)
		os.Exit(1)
	}
}

// serve runs the HTTP server until ctx is cancelled, then drains in-flight
// requests for up to 10 seconds (Kubernetes sends SIGTERM, waits, then SIGKILL).
func serve(ctx context.Context, addr string, logger *slog.Logger) error {
	app := newApp(BuildInfo{Version: version, Commit: commit, Date: date}, logger)
	srv := &http.Server{
		Addr:              addr,
		Handler:           app.routes(),
		ReadHeaderTimeout: 5 * time.Second,
	}
	errc := make(chan error, 1)
	go func() {
		logger.Info("listening", "addr", addr, "version", version, "commit", commit)
		errc <- srv.ListenAndServe()
	}()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	app.setReady(false)
	logger.Info("shutting down")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return err
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
