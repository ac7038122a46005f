// Command ledger is the second service of Slipway's own pipeline: a tiny
// in-memory account ledger, there so this repository's monorepo path (two
// apps, only the changed one built, one atomic deploy) runs for real.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"
)

var (
	version = "dev"
	commit  = "unknown"
	date    = "unknown"
)

// Ledger holds balances in cents.
type Ledger struct {
	mu       sync.Mutex
	balances map[string]int64
}

// NewLedger returns an empty ledger.
func NewLedger() *Ledger { return &Ledger{balances: map[string]int64{}} }

// ErrInsufficient is returned when a debit would overdraw an account.
var ErrInsufficient = errors.New("insufficient funds")

// Post adds amount (negative: a debit) to an account and returns the new balance.
func (l *Ledger) Post(account string, amount int64) (int64, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.balances[account] + amount
	if b < 0 {
		return l.balances[account], ErrInsufficient
	}
	l.balances[account] = b
	return b, nil
}

// Handler serves /healthz and /accounts/{id} (GET balance, POST {"amount": n}).
func (l *Ledger) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { _, _ = fmt.Fprintln(w, "ok") })
	mux.HandleFunc("GET /accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
		b, _ := l.Post(r.PathValue("id"), 0)
		writeJSON(w, http.StatusOK, map[string]int64{"balance": b})
	})
	mux.HandleFunc("POST /accounts/{id}", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Amount int64 `json:"amount"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<10)).Decode(&body); err != nil {
			writeJSON(w, http.StatusBadRequest, map[string]string{"error": "want {\"amount\": <cents>}"})
			return
		}
		b, err := l.Post(r.PathValue("id"), body.Amount)
		if err != nil {
			writeJSON(w, http.StatusConflict, map[string]any{"error": err.Error(), "balance": b})
			return
		}
		writeJSON(w, http.StatusOK, map[string]int64{"balance": b})
	})
	return mux
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

func main() {
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Printf("ledger %s (%s, %s)\n", version, commit, date)
		return
	}
	addr := os.Getenv("ADDR")
	if addr == "" {
		addr = ":8080"
	}
	srv := &http.Server{Addr: addr, Handler: NewLedger().Handler(), ReadHeaderTimeout: 5 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	slog.Info("ledger listening", "addr", addr, "version", version)
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		slog.Error("serve", "err", err)
		os.Exit(1)
	}
}
