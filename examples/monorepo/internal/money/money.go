// Package money is shared by orders and billing: a change here affects both.
package money

import "fmt"

// Cents is an amount of money in cents.
type Cents int64

// String formats an amount as 12.34.
func (c Cents) String() string { return fmt.Sprintf("%d.%02d", c/100, c%100) }
