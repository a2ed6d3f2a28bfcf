package code

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func mustNew(t *testing.T) Secret {
	t.Helper()
	s, err := New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	for range 200 {
		s := mustNew(t)
		shown := s.Reveal()
		if len(shown) != 16 || shown[4] != '-' || shown[9] != '-' || shown[14] != '-' {
			t.Fatalf("display form %q, want XXXX-XXXX-XXXX-C", shown)
		}
		got, err := Parse(shown)
		if err != nil {
			t.Fatalf("Parse(%q): %v", shown, err)
		}
		if got != s {
			t.Fatalf("Parse(%q) = a different code", shown)
		}
	}
}

// A fixed 64-bit input gives a known code: the top 60 bits in big-endian 5-bit
// groups, so 0x0842_1084_2108_4210 (groups 00001 00001 …) is twelve '1'.
func TestNewUsesTopSixtyBits(t *testing.T) {
	in := []byte{0x08, 0x42, 0x10, 0x84, 0x21, 0x08, 0x42, 0x1f}
	s, err := New(bytes.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if got := s.Reveal()[:14]; got != "1111-1111-1111" {
		t.Fatalf("data = %q, want 1111-1111-1111", got)
	}
	if _, err := New(bytes.NewReader(in[:7])); err == nil {
		t.Fatal("New accepted a short read")
	}
}

func TestParseForgiving(t *testing.T) {
	s := mustNew(t)
	shown := s.Reveal()
	plain := strings.ReplaceAll(shown, "-", "")
	variants := []string{
		strings.ToLower(shown),
		plain,
		" " + plain[:3] + " " + plain[3:7] + "--" + plain[7:] + " ",
	}
	// Every 1 may be typed as I, i, L or l and every 0 as O or o.
	var conf strings.Builder
	for i, r := range shown {
		switch {
		case r == '1':
			conf.WriteByte("IiLl"[i%4])
		case r == '0':
			conf.WriteByte("Oo"[i%2])
		default:
			conf.WriteRune(r)
		}
	}
	variants = append(variants, conf.String())
	for _, v := range variants {
		got, err := Parse(v)
		if err != nil {
			t.Fatalf("Parse(%q): %v", v, err)
		}
		if got != s {
			t.Fatalf("Parse(%q) gave another code", v)
		}
	}
}

func TestParseRejects(t *testing.T) {
	s := mustNew(t)
	plain := strings.ReplaceAll(s.Reveal(), "-", "")
	for _, tc := range []struct {
		in   string
		want error
	}{
		{"", ErrMalformed},
		{plain[:12], ErrMalformed},
		{plain + "0", ErrMalformed},
		{plain[:5] + "U" + plain[6:], ErrMalformed}, // U is not a Crockford symbol
		{plain[:5] + "*" + plain[6:], ErrMalformed},
		{plain[:5] + "é" + plain[6:], ErrMalformed},
		{plain[:6] + "_" + plain[6:], ErrMalformed},
	} {
		_, err := Parse(tc.in)
		if !errors.Is(err, tc.want) {
			t.Errorf("Parse(%q) = %v, want %v", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), plain[:8]) {
			t.Errorf("error quotes the input: %v", err)
		}
	}
}

// Property: for random codes, every single-symbol substitution (all 13
// positions, all 31 other symbols) and every transposition of two adjacent
// distinct symbols is refused as mistyped.
func TestCheckCatchesEveryTypo(t *testing.T) {
	for range 300 {
		s := mustNew(t)
		plain := []byte(strings.ReplaceAll(s.Reveal(), "-", ""))
		for i := range plain {
			for _, c := range []byte(alphabet) {
				if c == plain[i] {
					continue
				}
				typo := bytes.Clone(plain)
				typo[i] = c
				if _, err := Parse(string(typo)); !errors.Is(err, ErrMistyped) {
					t.Fatalf("substitution %q → %q at %d: %v, want ErrMistyped", plain, typo, i, err)
				}
			}
		}
		for i := 0; i+1 < len(plain); i++ {
			if plain[i] == plain[i+1] {
				continue
			}
			typo := bytes.Clone(plain)
			typo[i], typo[i+1] = typo[i+1], typo[i]
			if _, err := Parse(string(typo)); !errors.Is(err, ErrMistyped) {
				t.Fatalf("transposition %q → %q at %d: %v, want ErrMistyped", plain, typo, i, err)
			}
		}
	}
}

// gfMul must be the field's multiplication: check associativity-free facts
// that pin it, α^31 = 1 and the 31 powers of α distinct (α generates).
func TestFieldGenerator(t *testing.T) {
	seen := map[byte]bool{}
	w := byte(1)
	for i := 0; i < 31; i++ {
		if seen[w] {
			t.Fatalf("α^%d repeats", i)
		}
		seen[w] = true
		w = gfMul(w, 2)
	}
	if w != 1 {
		t.Fatalf("α^31 = %d, want 1", w)
	}
	for a := byte(0); a < 32; a++ {
		for b := byte(0); b < 32; b++ {
			if gfMul(a, b) != gfMul(b, a) {
				t.Fatalf("gfMul not commutative at %d, %d", a, b)
			}
		}
	}
}

func TestSecretNeverPrints(t *testing.T) {
	s := mustNew(t)
	shown := s.Reveal()
	plain := strings.ReplaceAll(shown, "-", "")
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("code", "code", s)
	slog.New(slog.NewTextHandler(&logBuf, nil)).Info("code", "code", s)
	j, err := json.Marshal(struct{ C Secret }{s})
	if err != nil {
		t.Fatal(err)
	}
	outs := []string{
		s.String(),
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q %x %X %d", s, s, s, s, s, s, s, s),
		fmt.Sprintf("%v", &s), fmt.Sprintf("%v", []Secret{s}),
		fmt.Errorf("wrapped: %v", s).Error(),
		string(j), logBuf.String(),
	}
	for _, o := range outs {
		for _, leak := range []string{shown, plain, plain[:6], fmt.Sprintf("%x", s.sym[:4])} {
			if strings.Contains(o, leak) {
				t.Fatalf("output %q contains the code", o)
			}
		}
		if !strings.Contains(o, "redacted") {
			t.Fatalf("output %q is not the mask", o)
		}
	}
}

func TestHasher(t *testing.T) {
	if _, err := NewHasher(make([]byte, 16)); !errors.Is(err, ErrKey) {
		t.Fatalf("NewHasher(16 bytes) = %v, want ErrKey", err)
	}
	key := make([]byte, KeySize)
	rand.Read(key)
	h, _ := NewHasher(key)
	key[0] ^= 1 // the Hasher keeps its own copy
	s, o := mustNew(t), mustNew(t)
	sum := h.Sum(s)
	if len(sum) != DigestSize {
		t.Fatalf("digest size %d", len(sum))
	}
	typed, _ := Parse(strings.ToLower(strings.ReplaceAll(s.Reveal(), "-", " ")))
	if !h.Equal(typed, sum) {
		t.Fatal("a differently typed code does not match its hash")
	}
	if h.Equal(o, sum) {
		t.Fatal("another code matches")
	}
	h2, _ := NewHasher(key)
	if h2.Equal(s, sum) {
		t.Fatal("a hash under another key matches")
	}
	if h.Equal(s, sum[:31]) {
		t.Fatal("a truncated hash matches")
	}
}

func TestLink(t *testing.T) {
	s := mustNew(t)
	link, err := Link("https://ca.example:8443/base", s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(link, "gostkey://enroll?") {
		t.Fatalf("link %q", link)
	}
	ca, got, err := ParseLink(link)
	if err != nil || ca != "https://ca.example:8443/base" || got != s {
		t.Fatalf("ParseLink = %q, %v, %v", ca, got == s, err)
	}
	for _, bad := range []string{"http://ca.example", "https://", "https://u:p@ca.example", "https://ca.example/?x=1", "gostkey://x"} {
		if _, err := Link(bad, s); !errors.Is(err, ErrLink) {
			t.Errorf("Link(%q) = %v, want ErrLink", bad, err)
		}
	}
	if _, err := Link("https://ca.example", Secret{}); !errors.Is(err, ErrLink) {
		t.Errorf("Link with the zero Secret = %v", err)
	}
	c := s.Reveal()
	for _, bad := range []string{
		"https://enroll?ca=https://ca.example&code=" + c,
		"gostkey://other?ca=https://ca.example&code=" + c,
		"gostkey://enroll/x?ca=https://ca.example&code=" + c,
		"gostkey://enroll?ca=https://ca.example&code=" + c + "&code=" + c,
		"gostkey://enroll?ca=https://ca.example&code=" + c + "&extra=1",
		"gostkey://enroll?ca=http://ca.example&code=" + c,
		"gostkey://enroll?ca=https://ca.example&code=" + c + "#frag",
		"gostkey://enroll?ca=https://ca.example",
	} {
		if _, _, err := ParseLink(bad); !errors.Is(err, ErrLink) {
			t.Errorf("ParseLink(%q) = %v, want ErrLink", bad, err)
		}
	}
	typo := []byte(c)
	typo[0] = map[bool]byte{true: '2', false: '3'}[typo[0] != '2']
	if _, _, err := ParseLink("gostkey://enroll?ca=https://ca.example&code=" + string(typo)); !errors.Is(err, ErrMistyped) {
		t.Errorf("link with a typo = %v, want ErrMistyped", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add("ABCD-EFGH-JKMN-P")
	f.Add("abcd efgh jkmn p")
	f.Add("0000-0000-0000-0")
	f.Fuzz(func(t *testing.T, in string) {
		s, err := Parse(in)
		if err != nil {
			return
		}
		again, err := Parse(s.Reveal())
		if err != nil || again != s {
			t.Fatalf("Parse(Reveal(Parse(%q))) = %v", in, err)
		}
	})
}

func TestToken(t *testing.T) {
	tok, err := NewToken(nil)
	if err != nil {
		t.Fatal(err)
	}
	text := tok.Reveal()
	if !strings.HasPrefix(text, TokenPrefix) || len(text) != len(TokenPrefix)+43 {
		t.Fatalf("token text %q", text)
	}
	got, err := ParseToken(" " + text + "\n")
	if err != nil || got != tok {
		t.Fatalf("ParseToken: %v", err)
	}
	sum := tok.Sum()
	if !got.Equal(sum) {
		t.Fatal("a token does not match its hash")
	}
	other, _ := NewToken(nil)
	if other.Equal(sum) || tok.Equal(sum[:31]) {
		t.Fatal("another token or a truncated hash matches")
	}
	for _, bad := range []string{"", text[4:], "gsk_", text + "A", text[:len(text)-1], "gsk_" + strings.Repeat("*", 43), strings.ToUpper(text[:4]) + text[4:]} {
		if _, err := ParseToken(bad); !errors.Is(err, ErrMalformed) {
			t.Errorf("ParseToken(%q) = %v, want ErrMalformed", bad, err)
		}
	}
	var logBuf bytes.Buffer
	slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("t", "token", tok)
	j, _ := json.Marshal(tok)
	for _, o := range []string{tok.String(), fmt.Sprintf("%v %s %q %x %#v %+v", tok, tok, tok, tok, tok, tok), string(j), logBuf.String()} {
		if strings.Contains(o, text[4:12]) || !strings.Contains(o, "redacted") {
			t.Fatalf("token printed as %q", o)
		}
	}
}

func FuzzParseLink(f *testing.F) {
	s, _ := New(nil)
	l, _ := Link("https://ca.example", s)
	f.Add(l)
	f.Add("gostkey://enroll?ca=https%3A%2F%2Fx&code=0000-0000-0000-0")
	f.Fuzz(func(t *testing.T, in string) {
		ca, s, err := ParseLink(in)
		if err != nil {
			return
		}
		again, err := Link(ca, s)
		if err != nil {
			t.Fatalf("Link of a parsed link: %v", err)
		}
		ca2, s2, err := ParseLink(again)
		if err != nil || ca2 != ca || s2 != s {
			t.Fatalf("round trip of %q: %v", in, err)
		}
	})
}

func FuzzParseToken(f *testing.F) {
	tok, _ := NewToken(nil)
	f.Add(tok.Reveal())
	f.Add("gsk_")
	f.Fuzz(func(t *testing.T, in string) {
		tok, err := ParseToken(in)
		if err != nil {
			return
		}
		if again, err := ParseToken(tok.Reveal()); err != nil || again != tok {
			t.Fatalf("round trip of %q: %v", in, err)
		}
	})
}
