package pkcs11

import (
	"context"
	"crypto"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/internal/testkit"
	"github.com/gostkey/gostkey/pki"
)

// moduleCase is one real PKCS#11 module the shared suite runs against.
type moduleCase struct {
	name string
	// setup prepares an empty token store for the module (environment,
	// config) and returns the module path.
	setup func(t *testing.T) string
	keys  []keyCase
	// retryLimit is the number of wrong user PINs that lock the PIN, 0
	// when the module never locks.
	retryLimit int
	// removable: the module simulates pulling a token (see pull).
	removable bool
	// toolKeyType is a pkcs11-tool --key-type this package must be able to
	// use when OpenSC made the key; "" skips the check.
	toolKeyType string
	toolCurve   *gost.Curve // the curve that key type gives
}

type keyCase struct {
	name string
	spec KeySpec
}

const (
	testSOPIN   = "87654321"
	testUserPIN = "12345678"
)

func softHSM(t *testing.T) string {
	const lib = "/usr/lib/softhsm/libsofthsm2.so"
	if _, err := os.Stat(lib); err != nil {
		testkit.Missing(t, "SoftHSM2 (%s)", lib)
	}
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "tokens"), 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "softhsm2.conf")
	data := "directories.tokendir = " + filepath.Join(dir, "tokens") + "\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n"
	if err := os.WriteFile(conf, []byte(data), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", conf)
	return lib
}

func softtokenPath(t testing.TB) string {
	lib := filepath.Join(testkit.RepoRoot(), "bin", "libgostkey-softtoken.so")
	if _, err := os.Stat(lib); err != nil {
		testkit.Missing(t, "%s: run make build", lib)
	}
	return lib
}

func softtoken(t *testing.T) string {
	lib := softtokenPath(t)
	dir := t.TempDir()
	conf := filepath.Join(dir, "softtoken.conf")
	// Few KDF iterations keep the suite fast; the PIN retry limit stays at
	// its default.
	if err := os.WriteFile(conf, []byte("scrypt_log2n = 10\npoll_interval_ms = 20\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(dir, "tokens"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("GOSTKEY_SOFTTOKEN_DIR", filepath.Join(dir, "tokens"))
	t.Setenv("GOSTKEY_SOFTTOKEN_CONF", conf)
	return lib
}

// pull takes the softtoken's token out (in is false) or puts it back.
func pull(t *testing.T, tok *Token, in bool) {
	t.Helper()
	ctl := filepath.Join(os.Getenv("GOSTKEY_SOFTTOKEN_DIR"), tok.Info().Serial, ".removed")
	var err error
	if in {
		err = os.Remove(ctl)
	} else {
		err = os.WriteFile(ctl, nil, 0o600)
	}
	if err != nil {
		t.Fatal(err)
	}
}

func gostKeyCases() []keyCase {
	var cases []keyCase
	for _, c := range gost.Curves() {
		cases = append(cases, keyCase{c.Name, KeySpec{Curve: c}})
	}
	return cases
}

func moduleCases() []moduleCase {
	return []moduleCase{
		{
			name:  "softhsm2",
			setup: softHSM,
			keys:  []keyCase{{"ecdsa-p256", KeySpec{ECDSA: elliptic.P256()}}},
		},
		{
			name:       "softtoken",
			setup:      softtoken,
			keys:       gostKeyCases(),
			retryLimit: 10,
			removable:  true,
			// OpenSC sends the CryptoPro-A OID for 2012-256 "B".
			toolKeyType: "GOSTR3410-2012-256:B",
			toolCurve:   gost.CurveCryptoProA,
		},
	}
}

func fixedPIN(s string) PINPrompt {
	return func(context.Context, PINRequest) (PIN, error) { return NewPIN([]byte(s)), nil }
}

// TestModules runs one suite against every real module: the softtoken
// with GOST keys on every curve, SoftHSM2 with ECDSA.
func TestModules(t *testing.T) {
	for _, mc := range moduleCases() {
		t.Run(mc.name, func(t *testing.T) { runSuite(t, mc) })
	}
}

func runSuite(t *testing.T, mc moduleCase) {
	path := mc.setup(t)
	ctx := context.Background()
	ms, err := OpenAll([]string{path}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := ms.Close(); err != nil {
			t.Error(err)
		}
	})
	m := ms[0]
	if m.Info().Path != path || m.Info().Manufacturer == "" {
		t.Errorf("module info %+v", m.Info())
	}
	tok, err := m.InitToken(ctx, "gostkey test", NewPIN([]byte(testSOPIN)), NewPIN([]byte(testUserPIN)))
	if err != nil {
		t.Fatal(err)
	}
	info := tok.Info()
	if !info.Initialized || !info.UserPINInitialized || !info.LoginRequired || info.Label != "gostkey test" || info.Serial == "" || info.UserPIN != (PINState{}) {
		t.Fatalf("after InitToken: %+v", info)
	}
	slots, err := m.Slots()
	if err != nil {
		t.Fatal(err)
	}
	if !hasPresentSlot(slots, tok.SlotID()) {
		t.Errorf("slot %d not in %+v", tok.SlotID(), slots)
	}

	t.Run("find", func(t *testing.T) {
		for _, ref := range []string{"gostkey test", tok.URI().String(), "pkcs11:token=gostkey%20test;serial=" + info.Serial} {
			found, err := ms.FindToken(ref)
			if err != nil || found != tok {
				t.Errorf("FindToken(%q) = %v, %v", ref, found, err)
			}
		}
		u, err := ParseURI(tok.URI().String())
		if err != nil || u.String() != tok.URI().String() || u.ModulePath != path {
			t.Errorf("URI round trip: %v %v", u, err)
		}
		if _, err := ms.FindToken("no such token"); !errors.Is(err, ErrNotFound) {
			t.Errorf("FindToken of a missing token: %v", err)
		}
	})

	t.Run("watch", func(t *testing.T) {
		// Whether or not the module can wait for events (SoftHSM2 cannot),
		// Watch starts with the tokens present.
		ctx, cancel := context.WithCancel(context.Background())
		events := m.Watch(ctx)
		for ev := range events {
			if ev.SlotID == tok.SlotID() {
				if ev.Type != TokenInserted || ev.Token.Serial != tok.Info().Serial {
					t.Errorf("event %+v", ev)
				}
				break
			}
		}
		cancel()
		for range events {
		}
	})

	t.Run("mechanisms", func(t *testing.T) {
		mechs, err := tok.Mechanisms()
		if err != nil {
			t.Fatal(err)
		}
		for _, kc := range mc.keys {
			gen, sign := keyMechanisms(kc.spec)
			if err := tok.requireMechanism(gen, 0x10000); err != nil { // CKF_GENERATE_KEY_PAIR
				t.Errorf("%s: %v (have %v)", kc.name, err, mechs)
			}
			if err := tok.requireMechanism(sign, 0x800); err != nil { // CKF_SIGN
				t.Errorf("%s: %v", kc.name, err)
			}
		}
	})

	pinFile := testkit.WriteFile(t, "pin", []byte(testUserPIN+"\n"))
	t.Run("login", func(t *testing.T) {
		if keys, err := tok.Keys(ctx); err != nil || len(keys) != 0 {
			t.Fatalf("Keys on a fresh token: %v, %v", keys, err)
		}
		err := tok.Login(ctx, PINFile(filepath.Join(t.TempDir(), "missing")))
		if err == nil || tok.Info().UserPIN != (PINState{}) {
			t.Fatalf("login from a missing PIN file: %v; PIN state %+v", err, tok.Info().UserPIN)
		}
		if info, _ := tok.Refresh(); info.UserPIN != (PINState{}) {
			t.Fatalf("a missing PIN file cost a try: %+v", info.UserPIN)
		}
		err = tok.Login(ctx, fixedPIN("0000"))
		var pe *PINError
		if !errors.As(err, &pe) || !errors.Is(err, ErrPINIncorrect) || !pe.State.CountLow || pe.State.Locked {
			t.Fatalf("wrong PIN: %v (%+v)", err, pe)
		}
		if err := tok.Login(ctx, PINFile(pinFile)); err != nil {
			t.Fatal(err)
		}
		if info, _ := tok.Refresh(); info.UserPIN.CountLow {
			t.Errorf("after a good PIN: %+v", info.UserPIN)
		}
	})

	keys := map[string]*Key{}
	for _, kc := range mc.keys {
		t.Run("key/"+kc.name, func(t *testing.T) {
			spec := kc.spec
			spec.Label = "key " + kc.name
			key, err := tok.GenerateKey(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			keys[spec.Label] = key
			checkPublic(t, key, spec)
			signAndCheck(t, key)
			cert := selfSignedOnToken(t, key)
			if err := tok.ImportCertificate(ctx, key, cert); err != nil {
				t.Fatal(err)
			}
			found, err := ms.FindKey(ctx, key.URI().String())
			if err != nil {
				t.Fatal(err)
			}
			if found.Label() != spec.Label || string(found.ID()) != string(key.ID()) || string(found.Certificate()) != string(cert) || !found.HasPrivateKey() {
				t.Errorf("FindKey(%s): %q %x cert %v", key.URI(), found.Label(), found.ID(), found.Certificate() != nil)
			}
			signAndCheck(t, found)
		})
	}

	t.Run("list", func(t *testing.T) {
		list, err := tok.Keys(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(list) != len(keys) {
			t.Fatalf("Keys: %d, generated %d", len(list), len(keys))
		}
		for _, k := range list {
			want := keys[k.Label()]
			if want == nil || string(k.ID()) != string(want.ID()) || k.Certificate() == nil || !k.HasPrivateKey() {
				t.Errorf("listed key %q", k.Label())
				continue
			}
			if eq, ok := k.Public().(interface{ Equal(crypto.PublicKey) bool }); !ok || !eq.Equal(want.Public()) {
				t.Errorf("key %q: listed public key differs", k.Label())
			}
		}
		if err := tok.DeleteCertificate(ctx, list[0]); err != nil {
			t.Fatal(err)
		}
		again, err := tok.FindKey(ctx, list[0].Label())
		if err != nil || again.Certificate() != nil {
			t.Errorf("after DeleteCertificate: %v, cert %v", err, again != nil && again.Certificate() != nil)
		}
	})

	t.Run("concurrent", func(t *testing.T) {
		// Signers share the token's session pool and its one login.
		var wg sync.WaitGroup
		errs := make(chan error, 3*len(keys))
		for _, key := range keys {
			for range 3 {
				wg.Go(func() { errs <- signCheck(key) })
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
	})

	if mc.keys[0].spec.Curve != nil {
		t.Run("digest order", func(t *testing.T) { digestOrder(t, path, tok, keys) })
	}

	if mc.toolKeyType != "" {
		t.Run("pkcs11-tool key", func(t *testing.T) { toolKey(t, mc, path, tok) })
	}

	if mc.removable {
		t.Run("removal", func(t *testing.T) { removal(t, m, tok, keys) })
	}

	t.Run("pin", func(t *testing.T) { pinLifeCycle(t, mc, tok, keys) })
}

func hasPresentSlot(slots []Slot, id uint) bool {
	for _, s := range slots {
		if s.ID == id && s.Present {
			return true
		}
	}
	return false
}

func keyMechanisms(spec KeySpec) (gen, sign uint) {
	switch {
	case spec.ECDSA != nil:
		return 0x1040, 0x1041 // CKM_EC_KEY_PAIR_GEN, CKM_ECDSA
	case spec.Curve.Size() == 64:
		return CKM_GOSTR3410_512_KEY_PAIR_GEN, CKM_GOSTR3410_512
	}
	return CKM_GOSTR3410_KEY_PAIR_GEN, CKM_GOSTR3410
}

func checkPublic(t *testing.T, key *Key, spec KeySpec) {
	t.Helper()
	switch pub := key.Public().(type) {
	case *gost.PublicKey:
		if spec.Curve == nil || pub.Curve != spec.Curve {
			t.Errorf("public key on %v, want %v", pub.Curve, spec.Curve)
		}
	default:
		if spec.ECDSA == nil {
			t.Errorf("public key %T", pub)
		}
	}
}

// signAndCheck signs through pki.Sign (the way cms and the CA call a
// token key) and checks the signature on its own.
func signAndCheck(t *testing.T, key *Key) {
	t.Helper()
	if err := signCheck(key); err != nil {
		t.Fatal(err)
	}
}

func signCheck(key *Key) error {
	alg, err := pki.DefaultSignatureAlgorithm(key.Public())
	if err != nil {
		return err
	}
	msg := []byte("signed on a token")
	sig, err := pki.Sign(rand.Reader, key, alg, msg)
	if err != nil {
		return err
	}
	if err := pki.CheckSignature(alg, msg, sig, key.Public()); err != nil {
		return err
	}
	if err := pki.CheckSignature(alg, []byte("another message"), sig, key.Public()); err == nil {
		return errors.New("signature verifies for another message")
	}
	return nil
}

// selfSignedOnToken makes a self-signed certificate with the token key and
// has openssl (with the gost engine) verify it: OpenSSL is the judge of the
// signature the token made.
func selfSignedOnToken(t *testing.T, key *Key) []byte {
	t.Helper()
	alg, err := pki.DefaultSignatureAlgorithm(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	spki, err := pki.MarshalPublicKey(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	name, err := asn1.Marshal(pkix.Name{CommonName: key.Label()}.ToRDNSequence())
	if err != nil {
		t.Fatal(err)
	}
	serial := big.NewInt(time.Now().UnixNano())
	tbs, err := asn1.Marshal(struct {
		Version   int `asn1:"explicit,tag:0"`
		Serial    *big.Int
		Algorithm pkix.AlgorithmIdentifier
		Issuer    asn1.RawValue
		Validity  struct{ NotBefore, NotAfter time.Time }
		Subject   asn1.RawValue
		SPKI      asn1.RawValue
	}{
		Version: 2, Serial: serial, Algorithm: alg.AlgorithmIdentifier(),
		Issuer:   asn1.RawValue{FullBytes: name},
		Validity: struct{ NotBefore, NotAfter time.Time }{time.Now().Add(-time.Hour).UTC().Truncate(time.Second), time.Now().Add(time.Hour).UTC().Truncate(time.Second)},
		Subject:  asn1.RawValue{FullBytes: name},
		SPKI:     asn1.RawValue{FullBytes: spki},
	})
	if err != nil {
		t.Fatal(err)
	}
	sig, err := pki.Sign(rand.Reader, key, alg, tbs)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := asn1.Marshal(struct {
		TBS       asn1.RawValue
		Algorithm pkix.AlgorithmIdentifier
		Signature asn1.BitString
	}{asn1.RawValue{FullBytes: tbs}, alg.AlgorithmIdentifier(), asn1.BitString{Bytes: sig, BitLength: 8 * len(sig)}})
	if err != nil {
		t.Fatal(err)
	}
	file := testkit.WriteFile(t, "cert.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert}))
	out := testkit.OpenSSL(t, nil, "verify", "-CAfile", file, "-check_ss_sig", file)
	if !strings.Contains(string(out), "OK") {
		t.Fatalf("openssl verify: %s", out)
	}
	return cert
}

// removal pulls the token in the middle of a signature: the signature fails
// with ErrTokenRemoved, and once the token is back the key signs again.
// Watch reports both changes; its poll interval is an hour, so the events
// come from C_WaitForSlotEvent.
func removal(t *testing.T, m *Module, tok *Token, keys map[string]*Key) {
	// A generous bound, so that a module whose events never come fails
	// the test instead of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	watcher, err := Open(m.Path(), Options{PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer watcher.Close()
	events := watcher.Watch(ctx)
	expect := func(typ EventType) {
		t.Helper()
		for ev := range events {
			if ev.SlotID == tok.SlotID() {
				if ev.Type != typ || ev.Token.Serial != tok.Info().Serial {
					t.Fatalf("event %+v, want %v", ev, typ)
				}
				return
			}
		}
		t.Fatalf("no %v event: %v", typ, ctx.Err())
	}
	expect(TokenInserted) // present at the start

	var key *Key
	for _, k := range keys {
		key = k
		break
	}
	tok.beforeSign = func() { pull(t, tok, false) }
	_, err = pki.Sign(rand.Reader, key, mustAlg(t, key), []byte("x"))
	tok.beforeSign = nil
	if !errors.Is(err, ErrTokenRemoved) || !errors.Is(err, ErrTokenNotPresent) {
		t.Fatalf("Sign with the token pulled: %v", err)
	}
	expect(TokenRemoved)
	if _, err := tok.Keys(context.Background()); !errors.Is(err, ErrTokenNotPresent) {
		t.Fatalf("Keys with the token out: %v", err)
	}
	if err := tok.Login(context.Background(), fixedPIN(testUserPIN)); !errors.Is(err, ErrTokenNotPresent) {
		t.Fatalf("Login with the token out: %v", err)
	}
	pull(t, tok, true)
	expect(TokenInserted)
	// The login died with the token; the prompt given to Login logs in again.
	signAndCheck(t, key)
}

func mustAlg(t *testing.T, key *Key) pki.SignatureAlgorithm {
	alg, err := pki.DefaultSignatureAlgorithm(key.Public())
	if err != nil {
		t.Fatal(err)
	}
	return alg
}

// pinLifeCycle: change the PIN, lock it with wrong PINs, unblock it as
// the SO; the keys survive.
func pinLifeCycle(t *testing.T, mc moduleCase, tok *Token, keys map[string]*Key) {
	ctx := context.Background()
	if err := tok.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tok.SetPIN(ctx, NewPIN([]byte("00000000")), NewPIN([]byte("11112222"))); !errors.Is(err, ErrPINIncorrect) {
		t.Fatalf("SetPIN with a wrong old PIN: %v", err)
	}
	if err := tok.SetPIN(ctx, NewPIN([]byte(testUserPIN)), NewPIN([]byte("1"))); !errors.Is(err, ErrPINInvalid) {
		t.Fatalf("SetPIN to a 1-digit PIN: %v", err)
	}
	if err := tok.SetPIN(ctx, NewPIN([]byte(testUserPIN)), NewPIN([]byte("11112222"))); err != nil {
		t.Fatal(err)
	}
	if err := tok.Login(ctx, fixedPIN(testUserPIN)); !errors.Is(err, ErrPINIncorrect) {
		t.Fatalf("old PIN after SetPIN: %v", err)
	}
	if err := tok.Login(ctx, fixedPIN("11112222")); err != nil {
		t.Fatal(err)
	}
	if err := tok.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if mc.retryLimit == 0 {
		return
	}
	for i := 1; i <= mc.retryLimit; i++ {
		err := tok.Login(ctx, fixedPIN("99999999"))
		var pe *PINError
		if !errors.As(err, &pe) {
			t.Fatalf("wrong PIN %d: %v", i, err)
		}
		want := PINState{CountLow: i < mc.retryLimit, FinalTry: i == mc.retryLimit-1, Locked: i == mc.retryLimit}
		if pe.State.CountLow != want.CountLow && i < mc.retryLimit || pe.State.FinalTry != want.FinalTry || pe.State.Locked != want.Locked {
			t.Errorf("wrong PIN %d: state %+v, want %+v", i, pe.State, want)
		}
		if errors.Is(err, ErrPINLocked) != want.Locked {
			t.Errorf("wrong PIN %d: errors.Is(ErrPINLocked) = %v", i, !want.Locked)
		}
	}
	err := tok.Login(ctx, func(context.Context, PINRequest) (PIN, error) {
		t.Error("asked for a locked PIN")
		return NewPIN([]byte("11112222")), nil
	})
	if !errors.Is(err, ErrPINLocked) {
		t.Fatalf("login on a locked PIN: %v", err)
	}
	if err := tok.InitPIN(ctx, NewPIN([]byte("00000000")), NewPIN([]byte("33334444"))); !errors.Is(err, ErrPINIncorrect) {
		t.Fatalf("unblock with a wrong SO PIN: %v", err)
	}
	if err := tok.InitPIN(ctx, NewPIN([]byte(testSOPIN)), NewPIN([]byte("33334444"))); err != nil {
		t.Fatal(err)
	}
	if st := tok.Info().UserPIN; st.Locked || st.CountLow {
		t.Errorf("after unblock: %+v", st)
	}
	if err := tok.Login(ctx, fixedPIN("33334444")); err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		signAndCheck(t, key) // unblocking keeps the keys
	}
}

// digestOrder opens the module a second time with the other GOST digest
// byte order: the token's signatures no longer verify, and Sign refuses
// to return them.
func digestOrder(t *testing.T, path string, tok *Token, keys map[string]*Key) {
	ctx := context.Background()
	reversed, err := Open(path, Options{GOSTDigestOrder: DigestReversed})
	if err != nil {
		t.Fatal(err)
	}
	defer reversed.Close()
	other, err := Modules{reversed}.FindToken(tok.URI().String())
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for label, k := range keys {
		if _, ok := k.Public().(*gost.PublicKey); !ok {
			continue
		}
		key, err := other.FindKey(ctx, label)
		if err != nil {
			t.Fatal(err)
		}
		digest := gost.Sum512([]byte("x"))
		// The login is the application's, shared with the first Module.
		sig, err := key.Sign(nil, digest[:key.Public().(*gost.PublicKey).Curve.Size()], nil)
		if !errors.Is(err, ErrInvalidSignature) || sig != nil {
			t.Errorf("%s with reversed digests: %x, %v", label, sig, err)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no GOST keys")
	}
}

// toolKey has OpenSC's pkcs11-tool generate a key, then lists and signs
// with it here: keys made by other software are usable.
func toolKey(t *testing.T, mc moduleCase, path string, tok *Token) {
	tool, err := exec.LookPath("pkcs11-tool")
	if err != nil {
		testkit.Missing(t, "pkcs11-tool (opensc)")
	}
	out, err := exec.Command(tool, "--module", path, "--slot", strconv.FormatUint(uint64(tok.SlotID()), 10),
		"--login", "--pin", testUserPIN, "--keypairgen", "--key-type", mc.toolKeyType,
		"--label", "tool key", "--id", "7001").CombinedOutput()
	if err != nil {
		t.Fatalf("pkcs11-tool: %v: %s", err, out)
	}
	ctx := context.Background()
	key, err := tok.FindKey(ctx, "pkcs11:object=tool%20key;id=%70%01")
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := key.Public().(*gost.PublicKey)
	if !ok || pub.Curve != mc.toolCurve || !key.HasPrivateKey() {
		t.Fatalf("pkcs11-tool key: %T on %v", key.Public(), pub)
	}
	signAndCheck(t, key)
	if err := tok.DeleteKey(ctx, key); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.FindKey(ctx, "tool key"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("after DeleteKey: %v", err)
	}
}

func TestOpenErrors(t *testing.T) {
	notLib := testkit.WriteFile(t, "not-a-module.so", []byte("text"))
	for _, path := range []string{filepath.Join(t.TempDir(), "missing.so"), notLib, t.TempDir()} {
		if m, err := Open(path, Options{}); err == nil {
			m.Close()
			t.Errorf("Open(%s) succeeded", path)
		}
	}
	if ms, err := OpenAll([]string{softHSM(t), filepath.Join(t.TempDir(), "missing.so")}, Options{}); err == nil {
		ms.Close()
		t.Error("OpenAll with a missing module succeeded")
	}
}

// Opening a module twice shares the initialized library: closing one
// leaves the other working, and the last Close finalizes it.
func TestOpenTwice(t *testing.T) {
	path := softHSM(t)
	ctx := context.Background()
	a, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := Open("/usr/lib/softhsm/../softhsm/libsofthsm2.so", Options{GOSTDigestOrder: DigestReversed})
	if err != nil {
		t.Fatal(err)
	}
	if a.lib != b.lib || b.Options().GOSTDigestOrder != DigestReversed || a.Options().GOSTDigestOrder != DigestAsHashed {
		t.Error("the two Modules do not share the library, or share options")
	}
	tok, err := a.InitToken(ctx, "twice", NewPIN([]byte(testSOPIN)), NewPIN([]byte(testUserPIN)))
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := tok.Refresh(); !errors.Is(err, ErrClosed) {
		t.Errorf("token of a closed Module: %v", err)
	}
	other, err := Modules{b}.FindToken("twice")
	if err != nil {
		t.Fatal(err)
	}
	if err := other.Login(ctx, fixedPIN(testUserPIN)); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	libraries.Lock()
	n := len(libraries.m)
	libraries.Unlock()
	if n != 0 {
		t.Errorf("%d libraries still loaded", n)
	}
}

// TestPINCallsBypassCopies checks that a real module's PIN calls go
// through pinCtx (the PIN bytes handed over as they are, never copied into
// a C string freed unwiped), and that they work: init, SO login, set the
// user PIN, log in, change it.
func TestPINCallsBypassCopies(t *testing.T) {
	ctx := context.Background()
	m, err := Open(softtoken(t), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if _, ok := m.lib.ctx.(*pinCtx); !ok {
		t.Fatalf("module context is %T, not *pinCtx", m.lib.ctx)
	}
	tok, err := m.InitToken(ctx, "pincalls", NewPIN([]byte(testSOPIN)), NewPIN([]byte(testUserPIN)))
	if err != nil {
		t.Fatal(err)
	}
	if err := tok.Login(ctx, fixedPIN("wrong-pin")); !errors.Is(err, ErrPINIncorrect) {
		t.Fatalf("Login with a wrong PIN: %v", err)
	}
	if err := tok.Login(ctx, fixedPIN(testUserPIN)); err != nil {
		t.Fatal(err)
	}
	if err := tok.Logout(ctx); err != nil {
		t.Fatal(err)
	}
	if err := tok.SetPIN(ctx, NewPIN([]byte(testUserPIN)), NewPIN([]byte("new-pin-1"))); err != nil {
		t.Fatal(err)
	}
	if err := tok.Login(ctx, fixedPIN("new-pin-1")); err != nil {
		t.Fatal(err)
	}
}
