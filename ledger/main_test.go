package main

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPostRefusesOverdraft(t *testing.T) {
	l := NewLedger()
	if b, err := l.Post("a", 500); err != nil || b != 500 {
		t.Fatalf("credit: %d %v", b, err)
	}
	if b, err := l.Post("a", -600); !errors.Is(err, ErrInsufficient) || b != 500 {
		t.Fatalf("overdraft: %d %v", b, err)
	}
}

func TestHandler(t *testing.T) {
	srv := httptest.NewServer(NewLedger().Handler())
	defer srv.Close()
	res, err := http.Post(srv.URL+"/accounts/x", "application/json", strings.NewReader(`{"amount": 250}`))
	if err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("post: %v %v", res, err)
	}
	res.Body.Close()
	res, err = http.Post(srv.URL+"/accounts/x", "application/json", strings.NewReader(`{"amount": -300}`))
	if err != nil || res.StatusCode != http.StatusConflict {
		t.Fatalf("overdraft: %v %v", res, err)
	}
	res.Body.Close()
	res, err = http.Post(srv.URL+"/accounts/x", "application/json", strings.NewReader(`nope`))
	if err != nil || res.StatusCode != http.StatusBadRequest {
		t.Fatalf("bad body: %v %v", res, err)
	}
	res.Body.Close()
}
