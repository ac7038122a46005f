// Package strictjson holds what Slipway's JSON readers check before
// encoding/json reads a document that protobuf's JSON reader (protojson,
// which sigstore-go and the in-toto libraries read with) would refuse:
// encoding/json lets it through, changed, so two readers of one document
// would see two different documents.
package strictjson

import (
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// Surrogates refuses a \u escape of a UTF-16 surrogate that is not a high
// one followed by an escaped low one (encoding/json turns it into U+FFFD;
// protojson refuses it). Anything else malformed is left to the decoder.
func Surrogates(data []byte) error {
	in := false
	for i := 0; i < len(data); i++ {
		c := data[i]
		if !in {
			in = c == '"'
			continue
		}
		switch c {
		case '"':
			in = false
		case '\\':
			if i+1 < len(data) && data[i+1] != 'u' {
				i++
				continue
			}
			r, ok := hex4(data, i+2)
			if !ok {
				continue
			}
			i += 5
			if !utf16.IsSurrogate(r) {
				continue
			}
			if i+6 < len(data) && data[i+1] == '\\' && data[i+2] == 'u' {
				if r2, ok := hex4(data, i+3); ok && utf16.DecodeRune(r, r2) != utf8.RuneError {
					i += 6
					continue
				}
			}
			return fmt.Errorf("escaped surrogate %q is not half of a pair", data[i-5:i+1])
		}
	}
	return nil
}

func hex4(data []byte, at int) (rune, bool) {
	if at+4 > len(data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(data[at:at+4]), 16, 16)
	return rune(v), err == nil
}
