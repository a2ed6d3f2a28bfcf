package ca

import (
	"errors"
	"time"
)

// Kind is the class of a refusal; ca/api maps each to one HTTP status.
type Kind int

const (
	KindInvalid         Kind = iota + 1 // 422: the request is wrong
	KindNotFound                        // 404
	KindConflict                        // 409: the current state forbids it
	KindRateLimited                     // 429: too many failures from this client
	KindUnauthenticated                 // 401
	KindForbidden                       // 403
	KindUnavailable                     // 503: a dependency is down
)

// Error is a refusal with what a client may be told. Err keeps the
// internal cause for the log; it is never sent.
type Error struct {
	Kind    Kind
	Code    string // stable, snake_case: "code_used", "invalid_field", …
	Message string // safe to show: no secrets, no personal data
	Field   string // the JSON field at fault, when one is
	// RetryAfter is set with KindRateLimited.
	RetryAfter time.Duration
	// WindowOpensAt is set with renewal_not_open.
	WindowOpensAt time.Time
	Err           error
}

func (e *Error) Error() string {
	s := e.Code + ": " + e.Message
	if e.Field != "" {
		s += " (" + e.Field + ")"
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

func (e *Error) Unwrap() error { return e.Err }

func refuse(k Kind, code, msg string) *Error { return &Error{Kind: k, Code: code, Message: msg} }

func invalidField(field, msg string, cause error) *Error {
	return &Error{Kind: KindInvalid, Code: "invalid_field", Message: msg, Field: field, Err: cause}
}

// AsError returns err's *Error, if it has one.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
