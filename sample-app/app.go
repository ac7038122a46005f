package main

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"sync/atomic"
)

// BuildInfo is what /version reports.
type BuildInfo struct {
	Version string `json:"version"`
	Commit  string `json:"commit"`
	Date    string `json:"date"`
}

// Quote is the JSON body of /api/v1/quote: a fee quote for a payment amount.
type Quote struct {
	AmountCents int64  `json:"amount_cents"`
	FeeCents    int64  `json:"fee_cents"`
	TotalCents  int64  `json:"total_cents"`
	Currency    string `json:"currency"`
}

type app struct {
	info   BuildInfo
	logger *slog.Logger
	ready  atomic.Bool
}

func newApp(info BuildInfo, logger *slog.Logger) *app {
	a := &app{info: info, logger: logger}
	a.ready.Store(true)
	return a
}

func (a *app) setReady(v bool) { a.ready.Store(v) }

func (a *app) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !a.ready.Load() {
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	})
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, a.info)
	})
	mux.HandleFunc("GET /api/v1/quote", a.quote)
	return mux
}

// quote prices a payment: 1.5% with a 30-cent minimum, rounded half up.
func (a *app) quote(w http.ResponseWriter, r *http.Request) {
	raw := r.URL.Query().Get("amount_cents")
	amount, err := strconv.ParseInt(raw, 10, 64)
	if err != nil || amount <= 0 || amount > 1_000_000_000_00 {
		writeJSON(w, http.StatusBadRequest, map[string]string{
			"error": "amount_cents must be a whole number between 1 and 100000000000",
		})
		return
	}
	fee := Fee(amount)
	a.logger.Info("quote", "amount_cents", amount, "fee_cents", fee)
	writeJSON(w, http.StatusOK, Quote{AmountCents: amount, FeeCents: fee, TotalCents: amount + fee, Currency: "EUR"})
}

// Fee returns the fee in cents for an amount in cents: 1.5%, at least 30.
func Fee(amountCents int64) int64 {
	fee := (amountCents*15 + 500) / 1000
	if fee < 30 {
		return 30
	}
	return fee
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
