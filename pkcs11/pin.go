package pkcs11

import (
	"bytes"
	"context"
	"crypto/subtle"
	"fmt"
	"os"
	"unsafe"

	p11 "github.com/miekg/pkcs11"
)

// PIN is a token PIN (or SO PIN). It refuses to print: String, GoString
// and every fmt verb show a mask. Functions of this package that take a
// PIN consume it: they zero it before they return, so a caller holds a
// PIN only as long as it needs to. Copies of a PIN share it: once zeroed,
// every copy is empty, and passing it again is refused with ErrNoPIN
// rather than sending a blank PIN. The zero PIN is empty.
type PIN struct {
	s *pinSecret
}

type pinSecret struct{ b []byte }

const pinMask = "[PIN redacted]"

// NewPIN makes a PIN from b, taking ownership of b: the PIN's Zero (and
// every function that consumes the PIN) wipes it.
func NewPIN(b []byte) PIN { return PIN{s: &pinSecret{b: b}} }

// ReadPINFile reads a PIN from the first line of a file (the line ending,
// LF or CRLF, is not part of it). A file that cannot be read or whose
// first line is empty is an error: an unreadable PIN file must never turn
// into a login attempt with an empty PIN, which would cost a retry.
func ReadPINFile(path string) (PIN, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return PIN{}, fmt.Errorf("pkcs11: reading PIN file: %w", err)
	}
	defer clear(data)
	line := data
	if i := bytes.IndexByte(line, '\n'); i >= 0 {
		line = line[:i]
	}
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return PIN{}, fmt.Errorf("pkcs11: PIN file %s: first line is empty", path)
	}
	return NewPIN(bytes.Clone(line)), nil
}

// PINFile is a PINPrompt that answers with the first line of a file
// (RFC 7512's pin-source), read afresh each time a PIN is needed.
func PINFile(path string) PINPrompt {
	return func(context.Context, PINRequest) (PIN, error) { return ReadPINFile(path) }
}

func (p PIN) bytes() []byte {
	if p.s == nil {
		return nil
	}
	return p.s.b
}

// Len is the PIN length in bytes; 0 once zeroed.
func (p PIN) Len() int { return len(p.bytes()) }

// Equal compares two PINs in constant time.
func (p PIN) Equal(q PIN) bool { return subtle.ConstantTimeCompare(p.bytes(), q.bytes()) == 1 }

// Zero wipes the PIN and leaves it (and every copy) empty.
func (p PIN) Zero() {
	if p.s != nil {
		clear(p.s.b)
		p.s.b = nil
	}
}

// clone copies the PIN, for a function that consumes one PIN in two calls.
func (p PIN) clone() PIN { return NewPIN(bytes.Clone(p.bytes())) }

// String returns a mask, never the PIN.
func (p PIN) String() string { return pinMask }

// GoString returns a mask, never the PIN.
func (p PIN) GoString() string { return pinMask }

// Format prints a mask for every verb, so that %x or %q cannot leak the PIN.
func (p PIN) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(pinMask)) }

// UserType is the PKCS#11 user a PIN belongs to.
type UserType uint

const (
	User            UserType = p11.CKU_USER
	SecurityOfficer UserType = p11.CKU_SO
	// ContextSpecific is the re-authentication that keys marked
	// CKA_ALWAYS_AUTHENTICATE ask for before each signature.
	ContextSpecific UserType = p11.CKU_CONTEXT_SPECIFIC
)

func (u UserType) String() string {
	switch u {
	case User:
		return "user PIN"
	case SecurityOfficer:
		return "SO PIN"
	case ContextSpecific:
		return "user PIN (re-authentication)"
	}
	return fmt.Sprintf("user type %d", uint(u))
}

// PINState is what a token says about a PIN's retry counter. PKCS#11
// tokens do not report the number of tries left, only these flags.
type PINState struct {
	CountLow    bool // a wrong PIN was entered since the last success
	FinalTry    bool // the next wrong PIN locks the PIN
	Locked      bool // the PIN is blocked (the SO can unblock a user PIN)
	ToBeChanged bool // the PIN is a default or expired one and must be changed
}

func userPINState(flags uint) PINState {
	return PINState{
		CountLow:    flags&p11.CKF_USER_PIN_COUNT_LOW != 0,
		FinalTry:    flags&p11.CKF_USER_PIN_FINAL_TRY != 0,
		Locked:      flags&p11.CKF_USER_PIN_LOCKED != 0,
		ToBeChanged: flags&p11.CKF_USER_PIN_TO_BE_CHANGED != 0,
	}
}

func soPINState(flags uint) PINState {
	return PINState{
		CountLow:    flags&p11.CKF_SO_PIN_COUNT_LOW != 0,
		FinalTry:    flags&p11.CKF_SO_PIN_FINAL_TRY != 0,
		Locked:      flags&p11.CKF_SO_PIN_LOCKED != 0,
		ToBeChanged: flags&p11.CKF_SO_PIN_TO_BE_CHANGED != 0,
	}
}

// PINRequest is what a PINPrompt is asked for.
type PINRequest struct {
	Token TokenInfo // the token, as it was just read
	User  UserType  // whose PIN
	State PINState  // that PIN's retry state now, to warn the user
}

// PINPrompt supplies a PIN when a token needs one: a terminal prompt, a
// consent page, or PINFile. The package consumes (zeroes) the PIN it
// returns. An error from the prompt aborts the login; no login is tried.
type PINPrompt func(ctx context.Context, req PINRequest) (PIN, error)

// pinString exposes the PIN to the miekg/pkcs11 calls, which take strings.
// The string is built without copying, so the bytes that Zero wipes are
// the only Go copy; miekg copies it into C memory for the call and keeps
// nothing.
func (p PIN) pinString() string {
	b := p.bytes()
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
