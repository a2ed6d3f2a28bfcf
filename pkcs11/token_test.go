package pkcs11

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	p11 "github.com/miekg/pkcs11"

	"github.com/gostkey/gostkey/gost"
)

func stubToken(t *testing.T, st *stub, opts Options) *Token {
	t.Helper()
	m := stubModule(t, st, opts)
	tok, err := Modules{m}.FindToken("stubA")
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// loggedInToken is stubToken with the user logged in (PIN 1234).
func loggedInToken(t *testing.T, st *stub, opts Options) *Token {
	t.Helper()
	tok := stubToken(t, st, opts)
	if err := tok.Login(context.Background(), fixedPIN("1234")); err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestReadPINFile(t *testing.T) {
	tests := []struct {
		content string
		want    string // "" means an error
	}{
		{"1234\n", "1234"},
		{"1234", "1234"},
		{"1234\r\nsecond line\n", "1234"},
		{"  12 34 \n", "  12 34 "},
		{"", ""},
		{"\n1234\n", ""},
		{"\r\n", ""},
	}
	for _, tt := range tests {
		path := filepath.Join(t.TempDir(), "pin")
		if err := os.WriteFile(path, []byte(tt.content), 0o600); err != nil {
			t.Fatal(err)
		}
		p, err := ReadPINFile(path)
		if tt.want == "" {
			if err == nil {
				t.Errorf("ReadPINFile(%q) succeeded", tt.content)
			}
			continue
		}
		if err != nil || string(p.bytes()) != tt.want {
			t.Errorf("ReadPINFile(%q) = %q, %v; want %q", tt.content, p.bytes(), err, tt.want)
		}
	}
	if _, err := ReadPINFile(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing PIN file read")
	}
}

// A PIN that cannot be had must never turn into a C_Login.
func TestNoLoginWithoutPIN(t *testing.T) {
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	prompts := map[string]PINPrompt{
		"missing file": PINFile(filepath.Join(t.TempDir(), "missing")),
		"empty file":   PINFile(empty),
		"directory":    PINFile(t.TempDir()),
		"prompt error": func(context.Context, PINRequest) (PIN, error) { return PIN{}, errors.New("cancelled") },
		"empty PIN":    func(context.Context, PINRequest) (PIN, error) { return NewPIN(nil), nil },
	}
	for name, prompt := range prompts {
		t.Run(name, func(t *testing.T) {
			st := newStub(1)
			tok := stubToken(t, st, Options{})
			if err := tok.Login(context.Background(), prompt); err == nil {
				t.Fatal("Login succeeded")
			}
			if n := st.count("C_Login"); n != 0 {
				t.Fatalf("C_Login called %d times", n)
			}
		})
	}
}

func TestPINNeverPrints(t *testing.T) {
	const secret = "s3cr3t-PIN"
	p := NewPIN([]byte(secret))
	holder := struct {
		P  PIN
		PP *PIN
	}{p, &p}
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%T %v"} {
		for _, arg := range []any{p, &p, holder} {
			out := fmt.Sprintf(format, arg)
			if strings.Contains(out, secret) || strings.Contains(out, fmt.Sprintf("%x", secret)) || strings.Contains(out, "115") {
				t.Errorf("Sprintf(%q, %T) = %q leaks the PIN", format, arg, out)
			}
		}
	}
	if p.String() != pinMask || p.GoString() != pinMask {
		t.Error("String/GoString do not mask")
	}
}

func TestLoginZeroesPIN(t *testing.T) {
	st := newStub(1)
	tok := stubToken(t, st, Options{})
	buf := []byte("1234")
	err := tok.Login(context.Background(), func(context.Context, PINRequest) (PIN, error) { return NewPIN(buf), nil })
	if err != nil {
		t.Fatal(err)
	}
	if string(buf) != "\x00\x00\x00\x00" {
		t.Errorf("PIN buffer after Login: %q", buf)
	}
	// A second Login is a no-op: no prompt, no C_Login.
	if err := tok.Login(context.Background(), func(context.Context, PINRequest) (PIN, error) {
		t.Error("prompted while logged in")
		return PIN{}, errors.New("no")
	}); err != nil {
		t.Fatal(err)
	}
	if n := st.count("C_Login"); n != 1 {
		t.Errorf("C_Login called %d times", n)
	}
}

// The PIN life cycle: wrong PINs report the state after them, the last
// try locks, a locked PIN is not even asked for, the SO unblocks it.
func TestPINLifeCycle(t *testing.T) {
	st := newStub(1)
	tok := stubToken(t, st, Options{})
	ctx := context.Background()
	want := []PINState{
		{CountLow: true},
		{CountLow: true, FinalTry: true},
		{Locked: true},
	}
	for i, state := range want {
		var asked PINState
		err := tok.Login(ctx, func(_ context.Context, req PINRequest) (PIN, error) {
			asked = req.State
			return NewPIN([]byte("9999")), nil
		})
		var pe *PINError
		if !errors.As(err, &pe) || !errors.Is(err, ErrPINIncorrect) {
			t.Fatalf("try %d: %v", i, err)
		}
		if pe.State != state || pe.User != User {
			t.Errorf("try %d: state %+v, want %+v", i, pe.State, state)
		}
		if i > 0 && asked != want[i-1] {
			t.Errorf("try %d: prompt saw state %+v, want %+v", i, asked, want[i-1])
		}
		if got := errors.Is(err, ErrPINLocked); got != state.Locked {
			t.Errorf("try %d: errors.Is(ErrPINLocked) = %v", i, got)
		}
		if strings.Contains(err.Error(), "9999") {
			t.Errorf("error leaks the PIN: %v", err)
		}
	}
	logins := st.count("C_Login")
	err := tok.Login(ctx, func(context.Context, PINRequest) (PIN, error) {
		t.Error("prompted for a locked PIN")
		return NewPIN([]byte("1234")), nil
	})
	if !errors.Is(err, ErrPINLocked) {
		t.Fatalf("locked: %v", err)
	}
	if st.count("C_Login") != logins {
		t.Error("C_Login tried on a locked PIN")
	}
	if info, _ := tok.Refresh(); !info.UserPIN.Locked {
		t.Errorf("Refresh: %+v", info.UserPIN)
	}

	var pe *PINError
	if err := tok.InitPIN(ctx, NewPIN([]byte("0000")), NewPIN([]byte("4321"))); !errors.As(err, &pe) || pe.User != SecurityOfficer {
		t.Fatalf("InitPIN with a wrong SO PIN: %v", err)
	}
	if err := tok.InitPIN(ctx, NewPIN([]byte("5678")), NewPIN([]byte("4321"))); err != nil {
		t.Fatalf("unblock: %v", err)
	}
	if info := tok.Info(); info.UserPIN != (PINState{}) {
		t.Errorf("after unblock: %+v", info.UserPIN)
	}
	if err := tok.Login(ctx, fixedPIN("4321")); err != nil {
		t.Fatal(err)
	}
	if err := tok.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tok.SetPIN(ctx, NewPIN([]byte("1111")), NewPIN([]byte("2222"))); !errors.Is(err, ErrPINIncorrect) {
		t.Fatalf("SetPIN with a wrong old PIN: %v", err)
	}
	if err := tok.SetPIN(ctx, NewPIN([]byte("4321")), NewPIN([]byte("22"))); !errors.Is(err, ErrPINInvalid) {
		t.Fatalf("SetPIN to a short PIN: %v", err)
	}
	if err := tok.SetPIN(ctx, NewPIN([]byte("4321")), NewPIN([]byte("2222"))); err != nil {
		t.Fatal(err)
	}
	if err := tok.Login(ctx, fixedPIN("2222")); err != nil {
		t.Fatal(err)
	}
}

func TestSignStub(t *testing.T) {
	ctx := context.Background()
	msg := []byte("message")
	tests := []struct {
		name     string
		spec     KeySpec
		reversed bool // the module reads the digest reversed
		order    DigestOrder
		corrupt  bool
		wantErr  error
	}{
		{name: "ecdsa", spec: KeySpec{ECDSA: elliptic.P256()}},
		{name: "ecdsa corrupt", spec: KeySpec{ECDSA: elliptic.P256()}, corrupt: true, wantErr: ErrInvalidSignature},
		{name: "gost256", spec: KeySpec{Curve: gost.CurveTC26256A}},
		{name: "gost512", spec: KeySpec{Curve: gost.CurveTC26512C}},
		{name: "gost corrupt", spec: KeySpec{Curve: gost.CurveTC26256B}, corrupt: true, wantErr: ErrInvalidSignature},
		{name: "gost order mismatch", spec: KeySpec{Curve: gost.CurveCryptoProA}, reversed: true, wantErr: ErrInvalidSignature},
		{name: "gost reversed", spec: KeySpec{Curve: gost.CurveCryptoProA}, reversed: true, order: DigestReversed},
		{name: "gost512 reversed", spec: KeySpec{Curve: gost.CurveTC26512A}, reversed: true, order: DigestReversed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newStub(1)
			st.reversed, st.corrupt = tt.reversed, tt.corrupt
			tok := stubToken(t, st, Options{GOSTDigestOrder: tt.order})
			if err := tok.Login(ctx, fixedPIN("1234")); err != nil {
				t.Fatal(err)
			}
			tt.spec.Label = "k"
			key, err := tok.GenerateKey(ctx, tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			var digest []byte
			var opts crypto.SignerOpts
			switch pub := key.Public().(type) {
			case *gost.PublicKey:
				h := pub.Curve.Hash.New()
				h.Write(msg)
				digest = h.Sum(nil)
				opts = &gost.SignerOpts{Hash: pub.Curve.Hash}
			case *ecdsa.PublicKey:
				d := sha256.Sum256(msg)
				digest, opts = d[:], crypto.SHA256
			default:
				t.Fatalf("public key %T", pub)
			}
			sig, err := key.Sign(rand.Reader, digest, opts)
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) || sig != nil {
					t.Fatalf("Sign = %x, %v; want %v", sig, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			switch pub := key.Public().(type) {
			case *gost.PublicKey:
				if !pub.Verify(digest, sig) {
					t.Error("GOST signature does not verify")
				}
				if _, err := key.Sign(nil, digest, &gost.SignerOpts{Hash: gost.Streebog256 + gost.Streebog512 - pub.Curve.Hash}); err == nil {
					t.Error("signing with the other Streebog accepted")
				}
				if _, err := key.Sign(nil, digest[1:], nil); err == nil {
					t.Error("short digest accepted")
				}
				if _, err := key.Sign(nil, digest, crypto.SHA256); err == nil {
					t.Error("crypto.SHA256 opts accepted for a GOST key")
				}
				var none *gost.SignerOpts // a typed nil means the curve's hash
				if _, err := key.Sign(nil, digest, none); err != nil {
					t.Errorf("typed nil opts: %v", err)
				}
			case *ecdsa.PublicKey:
				if !ecdsa.VerifyASN1(pub, digest, sig) {
					t.Error("ECDSA signature does not verify")
				}
			}
		})
	}
}

func TestGenerateKeyChecks(t *testing.T) {
	ctx := context.Background()
	st := newStub(1)
	st.slots[0].mechanism = []uint{CKM_GOSTR3410_KEY_PAIR_GEN, CKM_GOSTR3410}
	tok := stubToken(t, st, Options{})
	if _, err := tok.GenerateKey(ctx, KeySpec{Label: "k", Curve: gost.CurveTC26256A}); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("without login: %v", err)
	}
	if err := tok.Login(ctx, fixedPIN("1234")); err != nil {
		t.Fatal(err)
	}
	var me *MechanismError
	if _, err := tok.GenerateKey(ctx, KeySpec{Label: "k", Curve: gost.CurveTC26512A}); !errors.As(err, &me) || !errors.Is(err, ErrMechanismUnsupported) || me.Mechanism != CKM_GOSTR3410_512_KEY_PAIR_GEN {
		t.Fatalf("512 on a 256-only token: %v", err)
	}
	for _, spec := range []KeySpec{{Label: "k"}, {Curve: gost.CurveTC26256A}, {Label: "k", Curve: gost.CurveTC26256A, ECDSA: elliptic.P256()}, {Label: "k", ECDSA: elliptic.P224()}} {
		if _, err := tok.GenerateKey(ctx, spec); err == nil {
			t.Errorf("GenerateKey(%+v) accepted", spec)
		}
	}
	key, err := tok.GenerateKey(ctx, KeySpec{Label: "k", ID: []byte{1, 2}, Curve: gost.CurveTC26256A})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tok.GenerateKey(ctx, KeySpec{Label: "k", Curve: gost.CurveTC26256A}); err == nil {
		t.Error("a second key with the same label accepted")
	}
	// The templates: what the token was asked to make.
	var priv, pub []byte
	for _, attrs := range st.slots[0].objects {
		class, _ := attr(attrs, 0) // CKA_CLASS
		switch ulong(class) {
		case 3: // CKO_PRIVATE_KEY
			priv = mustAttrs(t, attrs, map[uint][]byte{
				0x100: le(CKK_GOSTR3410), 0x102: {1, 2}, 0x103: {1}, 0x108: {1}, 0x162: {0}, 0x1: {1}, 0x2: {1},
				CKA_GOSTR3410_PARAMS: mustHex("06092a8503070102010101"), CKA_GOSTR3411_PARAMS: mustHex("06082a85030701010202"),
			})
		case 2: // CKO_PUBLIC_KEY
			pub = mustAttrs(t, attrs, map[uint][]byte{
				0x100: le(CKK_GOSTR3410), 0x102: {1, 2}, 0x10A: {1}, 0x2: {0},
				CKA_GOSTR3410_PARAMS: mustHex("06092a8503070102010101"), CKA_GOSTR3411_PARAMS: mustHex("06082a85030701010202"),
			})
		}
	}
	if priv == nil || pub == nil {
		t.Fatal("key objects not found")
	}
	if key.Label() != "k" || string(key.ID()) != "\x01\x02" || !key.HasPrivateKey() {
		t.Errorf("key %q %x", key.Label(), key.ID())
	}
}

func TestGenerateKey512Templates(t *testing.T) {
	ctx := context.Background()
	st := newStub(1)
	tok := loggedInToken(t, st, Options{})
	if _, err := tok.GenerateKey(ctx, KeySpec{Label: "k", Curve: gost.CurveTC26512B}); err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, attrs := range st.slots[0].objects {
		mustAttrs(t, attrs, map[uint][]byte{
			0x100:                le(CKK_GOSTR3410_512),
			CKA_GOSTR3410_PARAMS: mustHex("06092a8503070102010202"),
			CKA_GOSTR3411_PARAMS: mustHex("06082a85030701010203"),
		})
		found++
	}
	if found != 2 {
		t.Errorf("%d objects", found)
	}
}

func mustAttrs(t *testing.T, attrs []*p11.Attribute, want map[uint][]byte) []byte {
	t.Helper()
	for typ, v := range want {
		got, ok := attr(attrs, typ)
		if !ok || string(got) != string(v) {
			t.Errorf("attribute 0x%X = %x (present %v), want %x", typ, got, ok, v)
		}
	}
	return []byte{1}
}

func le(v uint) []byte {
	b := make([]byte, 8)
	for i := range b {
		b[i] = byte(v >> (8 * i))
	}
	return b
}

// Pulling the token during C_Sign gives ErrTokenRemoved; after it is
// back, signing works again (the token's prompt logs in again).
func TestRemovalMidSign(t *testing.T) {
	ctx := context.Background()
	st := newStub(1)
	tok := loggedInToken(t, st, Options{})
	key, err := tok.GenerateKey(ctx, KeySpec{Label: "k", Curve: gost.CurveTC26256A})
	if err != nil {
		t.Fatal(err)
	}
	digest := gost.Sum256([]byte("x"))
	st.onSign = func() { st.remove(0) }
	_, err = key.Sign(nil, digest[:], nil)
	if !errors.Is(err, ErrTokenRemoved) || !errors.Is(err, ErrTokenNotPresent) {
		t.Fatalf("Sign with the token pulled: %v", err)
	}
	var ce *CallError
	if !errors.As(err, &ce) || ce.Op != "C_Sign" {
		t.Errorf("error %#v", err)
	}
	st.onSign = nil
	if _, err := key.Sign(nil, digest[:], nil); !errors.Is(err, ErrTokenNotPresent) {
		t.Fatalf("Sign with no token: %v", err)
	}
	st.insert(0)
	if _, err := key.Sign(nil, digest[:], nil); err != nil {
		t.Fatalf("Sign after re-insertion: %v", err)
	}
	// Pulled and put back while idle: the stale session is replaced.
	st.remove(0)
	st.insert(0)
	if _, err := key.Sign(nil, digest[:], nil); err != nil {
		t.Fatalf("Sign after an unnoticed re-insertion: %v", err)
	}
	// Another token in the slot is not this token.
	st.remove(0)
	st.slots[0].info.SerialNumber = "other"
	st.insert(0)
	if _, err := key.Sign(nil, digest[:], nil); !errors.Is(err, ErrTokenNotPresent) {
		t.Fatalf("Sign with another token in the slot: %v", err)
	}
	// Still so once the module has met the new token (a rescan, Watch).
	if _, err := tok.Module().Tokens(); err != nil {
		t.Fatal(err)
	}
	if _, err := key.Sign(nil, digest[:], nil); !errors.Is(err, ErrTokenNotPresent) {
		t.Fatalf("Sign with another token in the slot, after a rescan: %v", err)
	}
}

// Concurrent signers share the pool (never more than MaxSessions
// sessions) and one login: the prompt runs once.
func TestConcurrentSign(t *testing.T) {
	ctx := context.Background()
	st := newStub(1)
	tok := stubToken(t, st, Options{MaxSessions: 2})
	var prompts atomic.Int32
	if err := tok.Login(ctx, fixedPIN("1234")); err != nil {
		t.Fatal(err)
	}
	key, err := tok.GenerateKey(ctx, KeySpec{Label: "k", ECDSA: elliptic.P256()})
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	tok.prompt = func(context.Context, PINRequest) (PIN, error) {
		prompts.Add(1)
		return NewPIN([]byte("1234")), nil
	}
	digest := sha256.Sum256([]byte("x"))
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			_, err := key.Sign(nil, digest[:], crypto.SHA256)
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := prompts.Load(); n != 1 {
		t.Errorf("prompted %d times", n)
	}
	if n := st.count("C_OpenSession"); n > 2 {
		t.Errorf("%d sessions opened with MaxSessions 2", n)
	}
}

func TestPoolWaitsForContext(t *testing.T) {
	st := newStub(1)
	tok := stubToken(t, st, Options{MaxSessions: 1})
	s, err := tok.pool.get(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := tok.Login(ctx, fixedPIN("1234")); !errors.Is(err, context.Canceled) {
		t.Fatalf("Login with the pool exhausted and ctx cancelled: %v", err)
	}
	tok.pool.put(s)
	if err := tok.Login(context.Background(), fixedPIN("1234")); err != nil {
		t.Fatal(err)
	}
}

func selfSigned(t testing.TB, key crypto.Signer, serial int64) []byte {
	t.Helper()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: "gostkey test"},
		NotBefore:    time.Unix(1700000000, 0),
		NotAfter:     time.Unix(1900000000, 0),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func TestCertificates(t *testing.T) {
	ctx := context.Background()
	st := newStub(1)
	tok := loggedInToken(t, st, Options{})
	a, err := tok.GenerateKey(ctx, KeySpec{Label: "a", ECDSA: elliptic.P256()})
	if err != nil {
		t.Fatal(err)
	}
	b, err := tok.GenerateKey(ctx, KeySpec{Label: "b", ECDSA: elliptic.P256()})
	if err != nil {
		t.Fatal(err)
	}
	certA := selfSigned(t, a, 0x1234)
	if err := tok.ImportCertificate(ctx, b, certA); err == nil {
		t.Fatal("a certificate imported for another key")
	}
	if err := tok.ImportCertificate(ctx, a, []byte("junk")); err == nil {
		t.Fatal("junk imported")
	}
	if err := tok.ImportCertificate(ctx, a, certA); err != nil {
		t.Fatal(err)
	}
	parsed, _ := x509.ParseCertificate(certA)
	var certAttrs [][]byte
	for _, attrs := range st.slots[0].objects {
		if class, _ := attr(attrs, 0); ulong(class) == 1 { // CKO_CERTIFICATE
			mustAttrs(t, attrs, map[uint][]byte{
				0x80: le(0), // CKC_X_509
				0x1:  {1}, 0x2: {0}, 0x3: []byte("a"), 0x102: a.ID(), 0x11: certA,
				0x101: parsed.RawSubject, 0x81: parsed.RawIssuer, 0x82: mustHex("02021234"),
			})
			certAttrs = append(certAttrs, nil)
		}
	}
	if len(certAttrs) != 1 {
		t.Fatalf("%d certificate objects", len(certAttrs))
	}
	// Re-importing replaces, never duplicates.
	certA2 := selfSigned(t, a, 0x99)
	if err := tok.ImportCertificate(ctx, a, certA2); err != nil {
		t.Fatal(err)
	}
	keys, err := tok.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].Label() != "a" || string(keys[0].Certificate()) != string(certA2) || keys[1].Certificate() != nil {
		t.Fatalf("Keys after import: %v", keys)
	}
	if err := tok.DeleteCertificate(ctx, keys[0]); err != nil {
		t.Fatal(err)
	}
	keys, _ = tok.Keys(ctx)
	if keys[0].Certificate() != nil {
		t.Error("certificate still listed after DeleteCertificate")
	}
	if err := tok.DeleteKey(ctx, keys[1]); err != nil {
		t.Fatal(err)
	}
	if keys, _ = tok.Keys(ctx); len(keys) != 1 {
		t.Errorf("%d keys after DeleteKey", len(keys))
	}
}

func TestKeysWithoutLogin(t *testing.T) {
	ctx := context.Background()
	st := newStub(1)
	tok := loggedInToken(t, st, Options{})
	if _, err := tok.GenerateKey(ctx, KeySpec{Label: "a", Curve: gost.CurveTC26256A}); err != nil {
		t.Fatal(err)
	}
	if err := tok.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	keys, err := tok.Keys(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 1 || keys[0].HasPrivateKey() || keys[0].Public() == nil {
		t.Fatalf("Keys before login: %v", keys)
	}
	tok.prompt = nil
	digest := gost.Sum256(nil)
	if _, err := keys[0].Sign(nil, digest[:], nil); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("Sign without a prompt: %v", err)
	}
	if n := st.count("C_Login"); n != 1 {
		t.Errorf("C_Login called %d times", n)
	}
}

func TestFindToken(t *testing.T) {
	st := newStub(3)
	st.slots[2].info.Label = "stubA" // two tokens labelled stubA
	m := stubModule(t, st, Options{})
	ms := Modules{m}
	tests := []struct {
		ref     string
		serial  string
		wantErr error
	}{
		{"stubB", "0002", nil},
		{"stubA", "", ErrAmbiguous},
		{"pkcs11:token=stubA;serial=0003", "0003", nil},
		{"pkcs11:serial=0001", "0001", nil},
		{"pkcs11:token=stubB?module-path=stub.so", "0002", nil},
		{"pkcs11:token=stubB?module-path=other.so", "", ErrNotFound},
		{"nope", "", ErrNotFound},
		{"pkcs11:token=stubB;slot-id=1", "0002", nil},
		{"pkcs11:token=stubB;slot-id=0", "", ErrNotFound},
	}
	for _, tt := range tests {
		tok, err := ms.FindToken(tt.ref)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) {
				t.Errorf("FindToken(%q) = %v, want %v", tt.ref, err, tt.wantErr)
			}
			continue
		}
		if err != nil || tok.Info().Serial != tt.serial {
			t.Errorf("FindToken(%q) = %v, %v; want serial %s", tt.ref, tok, err, tt.serial)
			continue
		}
		again, err := ms.FindToken(tok.URI().String())
		if err != nil || again != tok {
			t.Errorf("FindToken(%s) = %v, %v; want the same token", tok.URI(), again, err)
		}
	}
}

func TestWatch(t *testing.T) {
	st := newStub(2)
	m := stubModule(t, st, Options{PollInterval: 5 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	events := m.Watch(ctx)
	next := func() Event {
		t.Helper()
		ev, ok := <-events
		if !ok {
			t.Fatal("event channel closed")
		}
		return ev
	}
	for _, want := range []uint{0, 1} {
		if ev := next(); ev.Type != TokenInserted || ev.SlotID != want || ev.Module != m {
			t.Fatalf("initial event %+v", ev)
		}
	}
	st.remove(1)
	if ev := next(); ev.Type != TokenRemoved || ev.SlotID != 1 || ev.Token.Label != "stubB" {
		t.Fatalf("removal event %+v", ev)
	}
	st.insert(1)
	if ev := next(); ev.Type != TokenInserted || ev.SlotID != 1 || ev.Token.Serial != "0002" {
		t.Fatalf("insertion event %+v", ev)
	}
	cancel()
	for range events {
	}
}

func TestWatchEndsWithModule(t *testing.T) {
	st := newStub(1)
	m := stubModule(t, st, Options{PollInterval: time.Hour})
	events := m.Watch(context.Background())
	<-events
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	for range events {
	}
	if _, err := m.Tokens(); !errors.Is(err, ErrClosed) {
		t.Errorf("Tokens after Close: %v", err)
	}
}

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// A key marked CKA_ALWAYS_AUTHENTICATE gets the PIN, through the token's
// prompt, between C_SignInit and every C_Sign.
func TestAlwaysAuthenticate(t *testing.T) {
	ctx := context.Background()
	st := newStub(1)
	st.alwaysAuth = true
	tok := stubToken(t, st, Options{})
	var users []UserType
	prompt := func(_ context.Context, req PINRequest) (PIN, error) {
		users = append(users, req.User)
		return NewPIN([]byte("1234")), nil
	}
	if err := tok.Login(ctx, prompt); err != nil {
		t.Fatal(err)
	}
	key, err := tok.GenerateKey(ctx, KeySpec{Label: "k", Curve: gost.CurveTC26256A})
	if err != nil {
		t.Fatal(err)
	}
	digest := gost.Sum256([]byte("x"))
	for range 2 {
		if _, err := key.Sign(nil, digest[:], nil); err != nil {
			t.Fatal(err)
		}
	}
	listed, err := tok.FindKey(ctx, "k")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := listed.Sign(nil, digest[:], nil); err != nil {
		t.Fatal(err)
	}
	want := []UserType{User, ContextSpecific, ContextSpecific, ContextSpecific}
	if fmt.Sprint(users) != fmt.Sprint(want) {
		t.Errorf("prompts for %v, want %v", users, want)
	}
}

// A remembered prompt whose PIN went stale (changed elsewhere) costs one
// retry, not one per operation: after the refusal it is forgotten.
func TestStalePromptForgotten(t *testing.T) {
	ctx := context.Background()
	st := newStub(1)
	tok := loggedInToken(t, st, Options{})
	key, err := tok.GenerateKey(ctx, KeySpec{Label: "k", Curve: gost.CurveTC26256A})
	if err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.slots[0].userPIN, st.slots[0].loggedIn = "4321", 0
	st.mu.Unlock()
	digest := gost.Sum256(nil)
	if _, err := key.Sign(nil, digest[:], nil); !errors.Is(err, ErrPINIncorrect) {
		t.Fatalf("Sign with a stale PIN: %v", err)
	}
	if _, err := key.Sign(nil, digest[:], nil); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("second Sign: %v", err)
	}
	if n := st.count("C_Login"); n != 2 {
		t.Errorf("C_Login called %d times, want 2", n)
	}
	// A failed Login does not install its prompt either.
	if err := tok.Login(ctx, fixedPIN("0000")); !errors.Is(err, ErrPINIncorrect) {
		t.Fatal(err)
	}
	if _, err := key.Sign(nil, digest[:], nil); !errors.Is(err, ErrLoginRequired) {
		t.Fatalf("Sign after a failed Login: %v", err)
	}
}

func TestModulesWatch(t *testing.T) {
	a, b := newStub(1), newStub(1)
	b.slots[0].info.SerialNumber = "b"
	ms := Modules{stubModule(t, a, Options{PollInterval: 5 * time.Millisecond}), stubModule(t, b, Options{PollInterval: 5 * time.Millisecond})}
	ctx, cancel := context.WithCancel(context.Background())
	events := ms.Watch(ctx)
	seen := map[string]bool{}
	for len(seen) < 2 {
		ev := <-events
		seen[ev.Token.Serial] = ev.Type == TokenInserted
	}
	if !seen["0001"] || !seen["b"] {
		t.Errorf("initial events %v", seen)
	}
	// A swapped token is a removal and an insertion.
	b.mu.Lock()
	b.slots[0].info.SerialNumber = "c"
	b.mu.Unlock()
	if ev := <-events; ev.Type != TokenRemoved || ev.Token.Serial != "b" {
		t.Errorf("event %+v", ev)
	}
	if ev := <-events; ev.Type != TokenInserted || ev.Token.Serial != "c" {
		t.Errorf("event %+v", ev)
	}
	cancel()
	for range events {
	}
}

// A PIN is consumed: passing it a second time is ErrNoPIN, never a blank
// or NUL PIN sent to the token.
func TestConsumedPIN(t *testing.T) {
	ctx := context.Background()
	st := newStub(1)
	tok := stubToken(t, st, Options{})
	oldPIN, newPIN := NewPIN([]byte("1234")), NewPIN([]byte("4321"))
	copied := oldPIN
	if err := tok.SetPIN(ctx, oldPIN, newPIN); err != nil {
		t.Fatal(err)
	}
	if oldPIN.Len() != 0 || copied.Len() != 0 || newPIN.Len() != 0 {
		t.Fatal("PINs not consumed")
	}
	if err := tok.SetPIN(ctx, copied, newPIN); !errors.Is(err, ErrNoPIN) {
		t.Fatalf("second SetPIN: %v", err)
	}
	if n := st.count("C_SetPIN"); n != 1 {
		t.Errorf("C_SetPIN called %d times", n)
	}
	var zero PIN
	zero.Zero()
	if zero.Len() != 0 || !zero.Equal(PIN{}) || NewPIN([]byte("1")).Equal(zero) {
		t.Error("zero PIN")
	}
}

// Modules.InitToken finds the first uninitialized token across modules.
func TestModulesInitToken(t *testing.T) {
	ctx := context.Background()
	a, b := newStub(1), newStub(2)
	b.slots[1].info.Flags = 0 // not initialized
	b.slots[1].info.SerialNumber = "new"
	ms := Modules{stubModule(t, a, Options{}), stubModule(t, b, Options{})}
	so, user := NewPIN([]byte("5678")), NewPIN([]byte("1111"))
	tok, err := ms.InitToken(ctx, "fresh", so, user)
	if err != nil {
		t.Fatal(err)
	}
	if info := tok.Info(); info.Label != "fresh" || info.Serial != "new" || !info.Initialized || !info.UserPINInitialized || tok.Module() != ms[1] {
		t.Errorf("initialized %+v", info)
	}
	if so.Len() != 0 || user.Len() != 0 {
		t.Error("PINs not consumed")
	}
	if err := tok.Login(ctx, fixedPIN("1111")); err != nil {
		t.Fatal(err)
	}
	so, user = NewPIN([]byte("5678")), NewPIN([]byte("1111"))
	if _, err := ms.InitToken(ctx, "again", so, user); !errors.Is(err, ErrNotFound) || so.Len() != 0 || user.Len() != 0 {
		t.Fatalf("no free token: %v", err)
	}
}

// After Close nothing reaches the (possibly unloaded) library.
func TestClosedModule(t *testing.T) {
	ctx := context.Background()
	st := newStub(1)
	m := stubModule(t, st, Options{})
	tok, err := m.Token(0)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	checks := map[string]error{}
	_, checks["Token"] = m.Token(0)
	_, checks["Tokens"] = m.Tokens()
	_, checks["Slots"] = m.Slots()
	_, checks["Refresh"] = tok.Refresh()
	_, checks["Mechanisms"] = tok.Mechanisms()
	checks["Login"] = tok.Login(ctx, fixedPIN("1234"))
	_, checks["Keys"] = tok.Keys(ctx)
	for name, err := range checks {
		if !errors.Is(err, ErrClosed) {
			t.Errorf("%s after Close: %v", name, err)
		}
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestCertificateWhileImporting reads a key's certificate while another
// goroutine replaces and deletes it: keys are documented as safe for
// concurrent use, so -race must find nothing.
func TestCertificateWhileImporting(t *testing.T) {
	ctx := context.Background()
	st := newStub(1)
	tok := loggedInToken(t, st, Options{})
	key, err := tok.GenerateKey(ctx, KeySpec{Label: "a", ECDSA: elliptic.P256()})
	if err != nil {
		t.Fatal(err)
	}
	cert := selfSigned(t, key, 1)
	var wg sync.WaitGroup
	wg.Go(func() {
		for range 3 {
			if err := tok.ImportCertificate(ctx, key, cert); err != nil {
				t.Error(err)
			}
			if err := tok.DeleteCertificate(ctx, key); err != nil {
				t.Error(err)
			}
		}
	})
	for range 50 {
		if c := key.Certificate(); c != nil && !bytes.Equal(c, cert) {
			t.Fatalf("Certificate() = %x", c)
		}
	}
	wg.Wait()
	if err := tok.ImportCertificate(ctx, key, cert); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(key.Certificate(), cert) {
		t.Fatal("Certificate() after import is not the imported certificate")
	}
}

// TestEndlessFind lists keys on a module whose C_FindObjects never runs
// out: the listing must stop with an error by itself, not loop (and grow)
// until the module gives up.
func TestEndlessFind(t *testing.T) {
	ctx := context.Background()
	st := newStub(1)
	tok := loggedInToken(t, st, Options{})
	if _, err := tok.GenerateKey(ctx, KeySpec{Label: "k", ECDSA: elliptic.P256()}); err != nil {
		t.Fatal(err)
	}
	st.mu.Lock()
	st.endlessFind, st.findCalls = true, 0
	st.mu.Unlock()
	_, err := tok.Keys(ctx)
	st.mu.Lock()
	calls := st.findCalls
	st.mu.Unlock()
	if err == nil || calls > 2 {
		t.Fatalf("Keys on a module repeating its matches: %v after %d C_FindObjects calls", err, calls)
	}
	var ce *CallError
	if errors.As(err, &ce) {
		t.Fatalf("error %v is the module's own, not the repeat being noticed", err)
	}
}

// TestGenerateKeyBadPublic generates keys on a module that hands back a
// public key off the curve: GenerateKey fails, and the pair it made is not
// left on the token (it could never sign: nothing could check it).
func TestGenerateKeyBadPublic(t *testing.T) {
	for _, spec := range []KeySpec{{Label: "g", Curve: gost.CurveTC26256A}, {Label: "e", ECDSA: elliptic.P256()}} {
		st := newStub(1)
		tok := loggedInToken(t, st, Options{})
		st.mu.Lock()
		st.badPublic = true
		st.mu.Unlock()
		if _, err := tok.GenerateKey(context.Background(), spec); err == nil {
			t.Fatalf("%s: GenerateKey with a public key off the curve succeeded", spec.Label)
		}
		st.mu.Lock()
		n := len(st.slots[0].objects)
		st.mu.Unlock()
		if n != 0 {
			t.Errorf("%s: %d objects left on the token", spec.Label, n)
		}
	}
}
