package pkcs11

import (
	"context"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/gostkey/gostkey/gost"
	"github.com/gostkey/gostkey/internal/testkit"
	"github.com/gostkey/gostkey/pki"
)

// BenchmarkTokenSign compares, on the softtoken, a raw C_SignInit +
// C_Sign on a known handle with Key.Sign (session from the pool, login
// check, cached handle, C_SignInit + C_Sign, one verification) and with
// pki.SignDigest over Key (which must not verify again). The difference
// is the token layer's overhead; it should be one verification plus a
// few microseconds.
func BenchmarkTokenSign(b *testing.B) {
	path := softtokenPath(b)
	b.Setenv("GOSTKEY_SOFTTOKEN_DIR", b.TempDir())
	b.Setenv("GOSTKEY_SOFTTOKEN_CONF", testkit.WriteFile(b, "softtoken.conf", []byte("scrypt_log2n = 10\n")))
	ctx := context.Background()
	m, err := Open(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	tok, err := m.InitToken(ctx, "bench", NewPIN([]byte(testSOPIN)), NewPIN([]byte(testUserPIN)))
	if err != nil {
		b.Fatal(err)
	}
	if err := tok.Login(ctx, fixedPIN(testUserPIN)); err != nil {
		b.Fatal(err)
	}
	key, err := tok.GenerateKey(ctx, KeySpec{Label: "k", Curve: gost.CurveTC26256A})
	if err != nil {
		b.Fatal(err)
	}
	digest := gost.Sum256([]byte("benchmark"))

	b.Run("C_Sign", func(b *testing.B) {
		err := tok.do(ctx, func(s p11.SessionHandle) error {
			h, _, err := key.privateHandle(s)
			if err != nil {
				return err
			}
			c := tok.mod.lib.ctx
			m := []*p11.Mechanism{p11.NewMechanism(CKM_GOSTR3410, nil)}
			for b.Loop() {
				if err := c.SignInit(s, m, h); err != nil {
					return err
				}
				if _, err := c.Sign(s, digest[:]); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
	})
	b.Run("Key.Sign", func(b *testing.B) {
		for b.Loop() {
			if _, err := key.Sign(nil, digest[:], nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("pki.SignDigest", func(b *testing.B) {
		for b.Loop() {
			if _, err := pki.SignDigest(nil, key, pki.GOST256, digest[:]); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("Verify", func(b *testing.B) {
		sig, err := key.Sign(nil, digest[:], nil)
		if err != nil {
			b.Fatal(err)
		}
		pub := key.Public().(*gost.PublicKey)
		for b.Loop() {
			if !pub.Verify(digest[:], sig) {
				b.Fatal("does not verify")
			}
		}
	})
}
