package code

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// An API token authenticates a CA operator: "gsk_" and 43 base64url
// characters (256 random bits). Unlike a one-time code it is never typed, so
// it can be long, and with 256 bits an unkeyed SHA-256 is enough for the
// stored form: nobody can search that space offline, and no server key has
// to travel with the database.

// TokenPrefix starts every API token, so a leaked one is recognisable by
// secret scanners.
const TokenPrefix = "gsk_"

const tokenBytes = 32

// Token is an API token. Like Secret it prints only a mask.
type Token struct {
	b  [tokenBytes]byte
	ok bool
}

// NewToken draws a token from r (crypto/rand.Reader when nil).
func NewToken(r io.Reader) (Token, error) {
	if r == nil {
		r = rand.Reader
	}
	var t Token
	if _, err := io.ReadFull(r, t.b[:]); err != nil {
		return Token{}, fmt.Errorf("code: reading randomness: %w", err)
	}
	t.ok = true
	return t, nil
}

// ParseToken reads a token as sent in an Authorization header or read from a
// token file (surrounding white space is dropped).
func ParseToken(s string) (Token, error) {
	s = strings.TrimSpace(s)
	rest, ok := strings.CutPrefix(s, TokenPrefix)
	if !ok {
		return Token{}, fmt.Errorf("%w: not an API token", ErrMalformed)
	}
	b, err := base64.RawURLEncoding.Strict().DecodeString(rest)
	if err != nil || len(b) != tokenBytes {
		return Token{}, fmt.Errorf("%w: not an API token", ErrMalformed)
	}
	var t Token
	copy(t.b[:], b)
	t.ok = true
	return t, nil
}

// Reveal returns the token's text: for the one time it is shown (the
// admin.token file, the response that creates it).
func (t Token) Reveal() string {
	if !t.ok {
		return ""
	}
	return TokenPrefix + base64.RawURLEncoding.EncodeToString(t.b[:])
}

// Sum is the stored form: SHA-256 over a label and the token's bytes.
func (t Token) Sum() []byte {
	h := sha256.New()
	h.Write([]byte("gostkey api token v1\x00"))
	h.Write(t.b[:])
	return h.Sum(nil)
}

// Equal compares t with a stored hash in constant time.
func (t Token) Equal(stored []byte) bool {
	return subtle.ConstantTimeCompare(t.Sum(), stored) == 1
}

const tokenMask = TokenPrefix + "(redacted)"

func (t Token) String() string               { return tokenMask }
func (t Token) GoString() string             { return "code.Token(" + tokenMask + ")" }
func (t Token) Format(f fmt.State, _ rune)   { _, _ = io.WriteString(f, tokenMask) }
func (t Token) MarshalJSON() ([]byte, error) { return []byte(`"` + tokenMask + `"`), nil }
func (t Token) LogValue() slog.Value         { return slog.StringValue(tokenMask) }

var _ interface {
	fmt.Formatter
	fmt.GoStringer
	slog.LogValuer
} = Token{}
