package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gostkey/gostkey/ca"
)

// Error is every refusal the API sends: an HTTP status, a stable
// snake_case code, a message safe to show, and the JSON field at fault.
// Err is the internal cause; it goes to the log, never to the client.
type Error struct {
	Status        int
	Code          string
	Message       string
	Field         string
	RetryAfter    time.Duration
	WindowOpensAt time.Time
	Err           error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Code + ": " + e.Message + ": " + e.Err.Error()
	}
	return e.Code + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.Err }

func newError(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

var kindStatus = map[ca.Kind]int{
	ca.KindInvalid:         http.StatusUnprocessableEntity,
	ca.KindNotFound:        http.StatusNotFound,
	ca.KindConflict:        http.StatusConflict,
	ca.KindRateLimited:     http.StatusTooManyRequests,
	ca.KindUnauthenticated: http.StatusUnauthorized,
	ca.KindForbidden:       http.StatusForbidden,
	ca.KindUnavailable:     http.StatusServiceUnavailable,
}

// toError turns any error into the one sent: an *Error as is, a *ca.Error
// by its kind, anything else a 500 that says nothing.
func toError(err error) *Error {
	var ae *Error
	if errors.As(err, &ae) {
		return ae
	}
	if ce, ok := ca.AsError(err); ok {
		st, ok := kindStatus[ce.Kind]
		if !ok {
			st = http.StatusInternalServerError
		}
		return &Error{Status: st, Code: ce.Code, Message: ce.Message, Field: ce.Field, RetryAfter: ce.RetryAfter, WindowOpensAt: ce.WindowOpensAt, Err: err}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal error", Err: err}
}

type errorBody struct {
	Error errorJSON `json:"error"`
}

type errorJSON struct {
	Code          string `json:"code"`
	Message       string `json:"message"`
	Field         string `json:"field,omitempty"`
	WindowOpensAt string `json:"window_opens_at,omitempty"`
}

// writeError sends err and records it for the request's log line.
func writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := toError(err)
	if info := requestInfo(r); info != nil {
		info.err = e
	}
	if e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((e.RetryAfter+time.Second-1)/time.Second)))
	}
	body := errorBody{errorJSON{Code: e.Code, Message: e.Message, Field: e.Field}}
	if !e.WindowOpensAt.IsZero() {
		body.Error.WindowOpensAt = e.WindowOpensAt.UTC().Format(time.RFC3339)
	}
	writeJSON(w, e.Status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

// validator is a request body that checks itself after decoding.
type validator interface{ Validate() error }

// readJSON decodes the request body into v: the content type must be
// application/json, the body at most max bytes, one JSON object with no
// unknown fields and nothing after it; then v.Validate, if v has it.
func readJSON(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json")
	}
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, max))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if err := dec.Decode(&struct{}{}); err != io.EOF {
		if err != nil {
			if je := jsonError(err); je.Code == "body_too_large" {
				return je
			}
		}
		return &Error{Status: http.StatusBadRequest, Code: "bad_json", Message: "the body holds more than one JSON value"}
	}
	if val, ok := v.(validator); ok {
		return val.Validate()
	}
	return nil
}

func jsonError(err error) *Error {
	var mbe *http.MaxBytesError
	var ute *json.UnmarshalTypeError
	switch {
	case errors.As(err, &mbe):
		return &Error{Status: http.StatusRequestEntityTooLarge, Code: "body_too_large", Message: fmt.Sprintf("the body is larger than %d bytes", mbe.Limit)}
	case errors.As(err, &ute):
		return &Error{Status: http.StatusBadRequest, Code: "bad_json", Message: "wrong JSON type for " + ute.Field, Field: ute.Field, Err: err}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		f := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		return &Error{Status: http.StatusBadRequest, Code: "bad_json", Message: "unknown field " + strconv.Quote(f), Field: f}
	}
	return &Error{Status: http.StatusBadRequest, Code: "bad_json", Message: "the body is not valid JSON", Err: err}
}

// readOptionalJSON is readJSON for endpoints whose body may be empty.
func readOptionalJSON(w http.ResponseWriter, r *http.Request, max int64, v any) error {
	if r.ContentLength == 0 && r.Header.Get("Content-Type") == "" {
		return nil
	}
	return readJSON(w, r, max, v)
}

func invalid(field, msg string) *Error {
	return &Error{Status: http.StatusUnprocessableEntity, Code: "invalid_field", Message: msg, Field: field}
}
