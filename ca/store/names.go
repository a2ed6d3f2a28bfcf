package store

import (
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
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

// reasonNames are RFC 5280's CRLReason names (5.3.1), as the CLI and the API
// spell them.
var reasonNames = map[RevocationReason]string{
	ReasonUnspecified:          "unspecified",
	ReasonKeyCompromise:        "keyCompromise",
	ReasonCACompromise:         "cACompromise",
	ReasonAffiliationChanged:   "affiliationChanged",
	ReasonSuperseded:           "superseded",
	ReasonCessationOfOperation: "cessationOfOperation",
	ReasonCertificateHold:      "certificateHold",
	ReasonRemoveFromCRL:        "removeFromCRL",
	ReasonPrivilegeWithdrawn:   "privilegeWithdrawn",
	ReasonAACompromise:         "aACompromise",
}

func (r RevocationReason) String() string {
	if n, ok := reasonNames[r]; ok {
		return n
	}
	return fmt.Sprintf("RevocationReason(%d)", int(r))
}

// ErrBadReason is an unknown reason name.
var ErrBadReason = errors.New("store: unknown revocation reason")

// ParseRevocationReason reads an RFC 5280 reason name.
func ParseRevocationReason(name string) (RevocationReason, error) {
	for r, n := range reasonNames {
		if n == name {
			return r, nil
		}
	}
	return 0, fmt.Errorf("%w %q", ErrBadReason, name)
}
