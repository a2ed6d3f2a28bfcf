package pkcs11

import (
	"errors"
	"fmt"
	"strings"

	p11 "github.com/miekg/pkcs11"
)

// Sentinel errors to test with errors.Is. The concrete errors returned are
// *CallError, *PINError or *MechanismError, which say more.
var (
	// ErrPINIncorrect: the token refused the PIN (CKR_PIN_INCORRECT).
	ErrPINIncorrect = errors.New("pkcs11: incorrect PIN")
	// ErrPINLocked: the PIN is blocked after too many wrong attempts
	// (CKR_PIN_LOCKED, or a wrong attempt that used up the last try).
	ErrPINLocked = errors.New("pkcs11: PIN locked")
	// ErrPINInvalid: the token does not accept the new PIN: too short,
	// too long or with characters it refuses (CKR_PIN_LEN_RANGE,
	// CKR_PIN_INVALID).
	ErrPINInvalid = errors.New("pkcs11: PIN not acceptable to the token (length or characters)")
	// ErrTokenNotPresent: no token in the slot (CKR_TOKEN_NOT_PRESENT,
	// CKR_DEVICE_REMOVED), or the slot now holds a different token.
	ErrTokenNotPresent = errors.New("pkcs11: token not present")
	// ErrTokenRemoved: the token went away while an operation was under
	// way. Errors matching it also match ErrTokenNotPresent.
	ErrTokenRemoved = errors.New("pkcs11: token removed during the operation")
	// ErrMechanismUnsupported: the token does not offer the mechanism.
	ErrMechanismUnsupported = errors.New("pkcs11: mechanism not supported by the token")
	// ErrLoginRequired: the operation needs a logged-in user and no PIN
	// prompt is set (see Token.Login).
	ErrLoginRequired = errors.New("pkcs11: login required")
	// ErrNotFound: no token or key matches the name or URI given.
	ErrNotFound = errors.New("pkcs11: not found")
	// ErrAmbiguous: more than one token or key matches the name or URI given.
	ErrAmbiguous = errors.New("pkcs11: ambiguous name")
	// ErrInvalidSignature: the token returned a signature that does not
	// verify with the key's public key; it is never handed out.
	ErrInvalidSignature = errors.New("pkcs11: token returned an invalid signature")
	// ErrNoPIN: a prompt produced an empty PIN, refused rather than sent
	// to the token.
	ErrNoPIN = errors.New("pkcs11: empty PIN")
	// ErrClosed: the Module was closed.
	ErrClosed = errors.New("pkcs11: module closed")
)

// CallError is a PKCS#11 function that returned an error code.
type CallError struct {
	Op    string // the PKCS#11 function, e.g. "C_Sign"
	Token string // label of the token, "" when the call is not about one
	RV    uint   // the CKR_ return value
	kind  error  // the sentinel RV maps to in this context, or nil
}

func (e *CallError) Error() string {
	msg := "pkcs11: " + e.Op
	if e.Token != "" {
		msg += fmt.Sprintf(" on token %q", e.Token)
	}
	msg += ": " + rvName(e.RV)
	if e.kind != nil {
		msg += " (" + strings.TrimPrefix(e.kind.Error(), "pkcs11: ") + ")"
	}
	return msg
}

// Is lets a removal match both ErrTokenRemoved and ErrTokenNotPresent.
func (e *CallError) Is(target error) bool {
	if e.kind == nil {
		return false
	}
	if e.kind == ErrTokenRemoved && target == ErrTokenNotPresent {
		return true
	}
	return e.kind == target
}

// PINError is a refused PIN. State is the token's PIN state read right
// after the refusal, so a caller can tell the user how many tries are left.
type PINError struct {
	Token string   // token label
	User  UserType // whose PIN
	State PINState // after the failed attempt
	Err   error    // ErrPINIncorrect or ErrPINLocked
}

func (e *PINError) Error() string {
	msg := fmt.Sprintf("pkcs11: %s for token %q", strings.TrimPrefix(e.Err.Error(), "pkcs11: "), e.Token)
	if e.User != User {
		msg = fmt.Sprintf("pkcs11: %s (%s) for token %q", strings.TrimPrefix(e.Err.Error(), "pkcs11: "), e.User, e.Token)
	}
	switch {
	case e.Err != ErrPINLocked && e.State.Locked:
		msg += ": the PIN is now locked"
	case e.State.FinalTry:
		msg += ": one try left before the PIN locks"
	case e.State.CountLow:
		msg += ": few tries left"
	}
	return msg
}

func (e *PINError) Unwrap() error { return e.Err }

// Is makes a wrong PIN that used up the last try match ErrPINLocked too.
func (e *PINError) Is(target error) bool {
	return target == ErrPINLocked && e.State.Locked
}

// MechanismError is a mechanism the token does not offer.
type MechanismError struct {
	Token     string
	Mechanism uint
}

func (e *MechanismError) Error() string {
	return fmt.Sprintf("pkcs11: token %q does not support mechanism %s", e.Token, MechanismName(e.Mechanism))
}

func (e *MechanismError) Unwrap() error { return ErrMechanismUnsupported }

// removalCodes are what modules return once a token was pulled: the
// session handles of a removed token die with it.
var removalCodes = map[uint]bool{
	p11.CKR_DEVICE_REMOVED:         true,
	p11.CKR_TOKEN_NOT_PRESENT:      true,
	p11.CKR_SESSION_HANDLE_INVALID: true,
	p11.CKR_SESSION_CLOSED:         true,
}

// callError wraps err, the result of the PKCS#11 function op, classifying
// its code. inSession says whether the call ran on a session the token
// had handed out, in which case a removal code means the token was pulled
// mid-operation.
func callError(op, token string, err error, inSession bool) error {
	if err == nil {
		return nil
	}
	var rv p11.Error
	if !errors.As(err, &rv) {
		return fmt.Errorf("pkcs11: %s: %w", op, err)
	}
	e := &CallError{Op: op, Token: token, RV: uint(rv)}
	switch code := uint(rv); {
	case removalCodes[code] && inSession:
		e.kind = ErrTokenRemoved
	case code == p11.CKR_DEVICE_REMOVED || code == p11.CKR_TOKEN_NOT_PRESENT || code == p11.CKR_TOKEN_NOT_RECOGNIZED:
		e.kind = ErrTokenNotPresent
	case code == p11.CKR_MECHANISM_INVALID:
		e.kind = ErrMechanismUnsupported
	case code == p11.CKR_PIN_INCORRECT:
		e.kind = ErrPINIncorrect
	case code == p11.CKR_PIN_LOCKED:
		e.kind = ErrPINLocked
	case code == p11.CKR_PIN_LEN_RANGE || code == p11.CKR_PIN_INVALID:
		e.kind = ErrPINInvalid
	case code == p11.CKR_USER_NOT_LOGGED_IN:
		e.kind = ErrLoginRequired
	}
	return e
}

// isRemoval reports whether err says the token's sessions are gone.
func isRemoval(err error) bool {
	var ce *CallError
	return errors.As(err, &ce) && removalCodes[ce.RV]
}

func rvCode(err error) (uint, bool) {
	var ce *CallError
	if errors.As(err, &ce) {
		return ce.RV, true
	}
	var rv p11.Error
	if errors.As(err, &rv) {
		return uint(rv), true
	}
	return 0, false
}

func rvName(rv uint) string {
	// p11.Error formats as "pkcs11: 0x32: CKR_DEVICE_REMOVED".
	return strings.TrimPrefix(p11.Error(rv).Error(), "pkcs11: ")
}
