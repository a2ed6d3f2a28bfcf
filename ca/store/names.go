package store

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/gostkey/gostkey/pki"
)

// String is the serial in lower-case hex, 40 digits: the form in URLs, audit
// objects and the CLI's --serial.
func (s Serial) String() string { return hex.EncodeToString(s[:]) }

// ErrBadSerial is text that is not a 20-byte serial in hex.
var ErrBadSerial = errors.New("store: a serial is 40 hex digits")

// ParseSerial reads a serial as String writes it (either case; colons, as
// openssl prints serials, are allowed between bytes).
func ParseSerial(text string) (Serial, error) {
	var s Serial
	b, err := hex.DecodeString(strings.ReplaceAll(text, ":", ""))
	if err != nil || len(b) != len(s) {
		return s, ErrBadSerial
	}
	copy(s[:], b)
	return s, nil
}

// String is RFC 5280's CRLReason name (5.3.1), as the CLI and the API
// spell it; the codes are pki's, so the names come from one table.
func (r RevocationReason) String() string {
	if !pki.CRLReason(r).Valid() {
		return fmt.Sprintf("RevocationReason(%d)", int(r))
	}
	return pki.CRLReason(r).String()
}

// ErrBadReason is an unknown reason name.
var ErrBadReason = errors.New("store: unknown revocation reason")

// ParseRevocationReason reads an RFC 5280 reason name, spelled exactly as
// String writes it (the API's names are case-sensitive).
func ParseRevocationReason(name string) (RevocationReason, error) {
	r, err := pki.ParseCRLReason(name)
	if err != nil || r.String() != name {
		return 0, fmt.Errorf("%w %q", ErrBadReason, name)
	}
	return RevocationReason(r), nil
}
