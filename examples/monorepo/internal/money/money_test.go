package money

import "testing"

func TestString(t *testing.T) {
	if got := Cents(1234).String(); got != "12.34" {
		t.Fatalf("got %s", got)
	}
}
