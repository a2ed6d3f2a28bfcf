package pkcs11

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/internal/testkit"
)

// moduleCase is one real PKCS#11 module the shared suite runs against.
type moduleCase struct {
	name string
	// setup prepares an empty token store for the module (environment
	// variables, config) and returns the module path.
	setup func(t *testing.T) string
	keys  []keyCase
	// retryLimit is the number of wrong user PINs that lock the PIN, 0
	// when the module never locks.
	retryLimit int
}

type keyCase struct {
	name string
	spec KeySpec
}

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

func moduleCases() []moduleCase {
	return []moduleCase{
		{
			name:  "softhsm2",
			setup: softHSM,
			keys:  []keyCase{{"ecdsa-p256", KeySpec{ECDSA: elliptic.P256()}}},
		},
	}
}

func fixedPIN(s string) PINPrompt {
	return func(context.Context, PINRequest) (PIN, error) { return NewPIN([]byte(s)), nil }
}

func pin(s string) PIN { return NewPIN([]byte(s)) }

func TestModules(t *testing.T) {
	for _, mc := range moduleCases() {
		t.Run(mc.name, func(t *testing.T) { runSuite(t, mc) })
	}
}

func runSuite(t *testing.T, mc moduleCase) {
	path := mc.setup(t)
	ctx := context.Background()
	m, err := Open(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := m.Close(); err != nil {
			t.Error(err)
		}
	})
	tok, err := m.InitToken(ctx, "gostkey test", pin("87654321"), pin("12345678"))
	if err != nil {
		t.Fatal(err)
	}
	info := tok.Info()
	if !info.Initialized || !info.UserPINInitialized || info.Label != "gostkey test" {
		t.Fatalf("after InitToken: %+v", info)
	}
	t.Logf("token %+v", info)

	t.Run("login", func(t *testing.T) {
		err := tok.Login(ctx, fixedPIN("0000"))
		var pe *PINError
		if !errors.As(err, &pe) || !errors.Is(err, ErrPINIncorrect) {
			t.Fatalf("wrong PIN: %v", err)
		}
		t.Logf("wrong PIN: %v (state %+v)", err, pe.State)
		if err := tok.Login(ctx, fixedPIN("12345678")); err != nil {
			t.Fatal(err)
		}
	})

	for _, kc := range mc.keys {
		t.Run(kc.name, func(t *testing.T) {
			spec := kc.spec
			spec.Label = "key " + kc.name
			key, err := tok.GenerateKey(ctx, spec)
			if err != nil {
				t.Fatal(err)
			}
			digest := sha256.Sum256([]byte("hello"))
			var sig []byte
			switch pub := key.Public().(type) {
			case *ecdsa.PublicKey:
				sig, err = key.Sign(nil, digest[:], crypto.SHA256)
				if err != nil {
					t.Fatal(err)
				}
				if !ecdsa.VerifyASN1(pub, digest[:], sig) {
					t.Fatal("signature does not verify")
				}
			case *gost.PublicKey:
				t.Fatal("todo")
			}
			keys, err := tok.Keys(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(keys) != 1 || keys[0].Label() != spec.Label || !keys[0].HasPrivateKey() {
				t.Fatalf("Keys: %v", keys)
			}
		})
	}
}
