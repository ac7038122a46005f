package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func testApp() *app {
	return newApp(BuildInfo{Version: "v1.2.3", Commit: "abc", Date: "2026-01-02T03:04:05Z"},
		slog.New(slog.NewTextHandler(io.Discard, nil)))
}

func TestFee(t *testing.T) {
	cases := []struct{ amount, want int64 }{
		{1, 30}, {2000, 30}, {2001, 30}, {10000, 150}, {10033, 150}, {10034, 151}, {1_000_000, 15000},
	}
	for _, c := range cases {
		if got := Fee(c.amount); got != c.want {
			t.Errorf("Fee(%d) = %d, want %d", c.amount, got, c.want)
		}
	}
}

func TestRoutes(t *testing.T) {
	a := testApp()
	srv := httptest.NewServer(a.routes())
	defer srv.Close()

	cases := []struct {
		path   string
		status int
		key    string
		want   string
	}{
		{"/healthz", 200, "status", "ok"},
		{"/readyz", 200, "status", "ready"},
		{"/version", 200, "version", "v1.2.3"},
		{"/api/v1/quote?amount_cents=10000", 200, "currency", "EUR"},
		{"/api/v1/quote?amount_cents=-5", 400, "error", "amount_cents must be a whole number between 1 and 100000000000"},
		{"/api/v1/quote?amount_cents=abc", 400, "", ""},
		{"/nope", 404, "", ""},
	}
	for _, c := range cases {
		resp, err := http.Get(srv.URL + c.path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: status %d, want %d (%s)", c.path, resp.StatusCode, c.status, body)
			continue
		}
		if c.key == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(body, &m); err != nil {
			t.Fatalf("%s: %v", c.path, err)
		}
		if m[c.key] != c.want {
			t.Errorf("%s: %s = %v, want %q", c.path, c.key, m[c.key], c.want)
		}
	}

	a.setReady(false)
	resp, err := http.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("readyz while draining: %d, want 503", resp.StatusCode)
	}
}

func TestQuoteTotals(t *testing.T) {
	rec := httptest.NewRecorder()
	testApp().routes().ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/quote?amount_cents=20000", nil))
	var q Quote
	if err := json.Unmarshal(rec.Body.Bytes(), &q); err != nil {
		t.Fatal(err)
	}
	if q.FeeCents != 300 || q.TotalCents != 20300 {
		t.Errorf("quote = %+v, want fee 300 total 20300", q)
	}
}

func TestServeShutsDownOnCancel(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, addr, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	deadline := time.Now().Add(5 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server never came up: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after cancel, want nil", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not return after cancel")
	}
}
