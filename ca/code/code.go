// Package code makes and checks the CA's secrets that people carry: one-time
// codes (activation codes that let an applicant's agent redeem an enrollment
// order, revocation codes a registrar hands to the holder of a lost token)
// and operators' API tokens (token.go).
//
// A code is 12 characters of Crockford base32 (60 bits from crypto/rand) and a
// check character, shown as XXXX-XXXX-XXXX-C. Parse is forgiving about how
// people type (lower case, I and L for 1, O for 0, hyphens and spaces anywhere)
// and strict about what they type: a wrong check character is ErrMistyped, so
// the agent catches a typo before it reaches the network and before it counts
// as a failed attempt against the order.
//
// The check character. Crockford's own check symbol is the value mod 37, which
// needs five extra symbols (*~$=U) that are awkward to type and read aloud. We
// use an equivalent that stays inside the 32-symbol alphabet: treating each
// symbol as an element of GF(2^5), the check is c = Σ α^(i+1)·s_i, where α is
// a generator of the field (x^5 + x^2 + 1). A single substitution at position
// i changes c by α^(i+1)·δ with δ ≠ 0, which is never 0; swapping the symbols
// at positions i and j (adjacent or not) changes c by (α^(i+1) + α^(j+1))·δ,
// also never 0 because the 13 weights are distinct. So every single-character
// error and every transposition is caught, as with the mod-37 symbol.
//
// A Secret never prints itself: String, Format (every verb), MarshalJSON and
// LogValue give a mask. Reveal is the one way out, for the moment a code is
// shown to a registrar.
package code

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Len is the number of data characters in a code; with the check character a
// code has Len+1 symbols.
const Len = 12

// Bits is the entropy of a code.
const Bits = Len * 5

// alphabet is Crockford's base32: digits and letters without I, L, O and U.
const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"

// Errors from Parse. Callers branch on them: ErrMistyped is the user's typo,
// reported before any network request; ErrMalformed is anything that is not a
// code at all.
var (
	ErrMistyped  = errors.New("code: mistyped (the check character does not match)")
	ErrMalformed = errors.New("code: malformed")
)

// Secret is a one-time code. The zero value is not a valid code.
type Secret struct {
	// sym holds the data symbols as values 0..31; the check symbol is derived.
	sym [Len]byte
	ok  bool
}

// New draws a fresh code from r (crypto/rand.Reader when r is nil).
func New(r io.Reader) (Secret, error) {
	if r == nil {
		r = rand.Reader
	}
	var b [8]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Secret{}, fmt.Errorf("code: reading randomness: %w", err)
	}
	v := binary.BigEndian.Uint64(b[:]) >> (64 - Bits)
	var s Secret
	for i := Len - 1; i >= 0; i-- {
		s.sym[i] = byte(v & 31)
		v >>= 5
	}
	s.ok = true
	return s, nil
}

// Parse reads a code as a person typed it. It accepts lower case, I and L for
// 1, O for 0, and hyphens and spaces anywhere; it needs exactly Len symbols
// and the check symbol, and reports ErrMistyped when the check does not match.
// Errors never quote the input.
func Parse(text string) (Secret, error) {
	var syms [Len + 1]byte
	n := 0
	for _, r := range text {
		if r == '-' || r == ' ' {
			continue
		}
		v, ok := decodeSymbol(r)
		if !ok {
			return Secret{}, fmt.Errorf("%w: a character outside Crockford base32", ErrMalformed)
		}
		if n == len(syms) {
			return Secret{}, fmt.Errorf("%w: more than %d characters", ErrMalformed, Len+1)
		}
		syms[n] = v
		n++
	}
	if n != len(syms) {
		return Secret{}, fmt.Errorf("%w: %d characters, want %d", ErrMalformed, n, Len+1)
	}
	var s Secret
	copy(s.sym[:], syms[:Len])
	if subtle.ConstantTimeByteEq(check(&s.sym), syms[Len]) != 1 {
		return Secret{}, ErrMistyped
	}
	s.ok = true
	return s, nil
}

func decodeSymbol(r rune) (byte, bool) {
	switch {
	case r >= 'a' && r <= 'z':
		r -= 'a' - 'A'
	}
	switch r {
	case 'I', 'L':
		r = '1'
	case 'O':
		r = '0'
	}
	i := strings.IndexRune(alphabet, r)
	if i < 0 {
		return 0, false
	}
	return byte(i), true
}

// gfMul multiplies in GF(2^5) modulo x^5 + x^2 + 1, without branches on the
// operands (they are secret symbols).
func gfMul(a, b byte) byte {
	var p byte
	for i := 0; i < 5; i++ {
		p ^= a & -(b & 1)
		b >>= 1
		carry := (a >> 4) & 1
		a = (a << 1) & 31
		a ^= 0b00101 & -carry
	}
	return p
}

// check computes Σ α^(i+1)·s_i with α = x (the field's generator).
func check(sym *[Len]byte) byte {
	var c byte
	w := byte(2) // α^1
	for _, s := range sym {
		c ^= gfMul(w, s)
		w = gfMul(w, 2)
	}
	return c
}

// Valid reports whether s holds a code (it is false for the zero value).
func (s Secret) Valid() bool { return s.ok }

// Reveal returns the code in its display form, XXXX-XXXX-XXXX-C. It is the
// only method that prints the code: call it where the code is meant to be
// shown (the registrar's response, the QR image, the enrollment link).
func (s Secret) Reveal() string {
	if !s.ok {
		return ""
	}
	var b strings.Builder
	b.Grow(Len + 4)
	for i, v := range s.sym {
		if i > 0 && i%4 == 0 {
			b.WriteByte('-')
		}
		b.WriteByte(alphabet[v])
	}
	b.WriteByte('-')
	b.WriteByte(alphabet[check(&s.sym)])
	return b.String()
}

// mask is what a Secret prints instead of itself.
const mask = "XXXX-XXXX-XXXX-X(redacted)"

// String returns a mask, so a code in a log line or an error stays secret.
func (s Secret) String() string { return mask }

// GoString returns a mask for %#v.
func (s Secret) GoString() string { return "code.Secret(" + mask + ")" }

// Format prints the mask for every verb, %x and %q included.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, mask) }

// MarshalJSON writes the mask; JSON that must carry the code builds its field
// from Reveal explicitly.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + mask + `"`), nil }

// LogValue makes slog print the mask.
func (s Secret) LogValue() slog.Value { return slog.StringValue(mask) }

// bytes returns the canonical bytes that are hashed: the display form without
// hyphens, so two typings of one code hash alike.
func (s Secret) bytes() []byte {
	var b [Len]byte
	for i, v := range s.sym {
		b[i] = alphabet[v]
	}
	return b[:]
}

var (
	_ fmt.Formatter  = Secret{}
	_ fmt.GoStringer = Secret{}
	_ slog.LogValuer = Secret{}
)
