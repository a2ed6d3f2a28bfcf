package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostkey/gostkey/internal/testkit"
)

// softHSM is Debian's SoftHSM2, the third-party module for ECDSA keys.
const softHSM = "/usr/lib/softhsm/libsofthsm2.so"

// TestSignEveryAlgorithm runs, for every --alg, what a user does: make a
// key on a token (GOST on the softtoken, ECDSA on SoftHSM2), certify it,
// store the certificate, sign, and have both gostkey and openssl verify
// the signature.
func TestSignEveryAlgorithm(t *testing.T) {
	testkit.RequireOpenSSL(t)
	softtoken := testkit.Softtoken(t)
	if _, err := os.Stat(softHSM); err != nil {
		testkit.Missing(t, "SoftHSM2's PKCS#11 module %s (package softhsm2)", softHSM)
	}
	dir := t.TempDir()
	t.Setenv("GOSTKEY_SOFTTOKEN_DIR", filepath.Join(dir, "tokens"))
	t.Setenv("GOSTKEY_SOFTTOKEN_CONF", testkit.WriteFile(t, "softtoken.conf", []byte("scrypt_log2n = 10\n")))
	if err := os.Mkdir(filepath.Join(dir, "softhsm"), 0o700); err != nil {
		t.Fatal(err)
	}
	t.Setenv("SOFTHSM2_CONF", testkit.WriteFile(t, "softhsm2.conf",
		[]byte("directories.tokendir = "+filepath.Join(dir, "softhsm")+"\nobjectstore.backend = file\n")))
	so := testkit.WriteFile(t, "so.pin", []byte("87654321\n"))
	pin := testkit.WriteFile(t, "user.pin", []byte("12345678\n"))
	doc := testkit.WriteFile(t, "doc.txt", []byte("the document\n"))

	gostkey := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := run(context.Background(), args, stdio{in: strings.NewReader(""), out: &out, err: &errb}); code != exitOK {
			t.Fatalf("gostkey %s: exit %d: %s", strings.Join(args, " "), code, errb.String())
		}
		return out.String()
	}
	for _, m := range []string{softtoken, softHSM} {
		gostkey("token", "init", "--module", m, "--label", "t", "--so-pin-file", so, "--pin-file", pin)
	}
	for _, a := range keyAlgorithms {
		t.Run(a.name, func(t *testing.T) {
			module := softtoken
			if a.curve == nil {
				module = softHSM
			}
			tok := []string{"--module", module, "--token", "t", "--pin-file", pin}
			cert := filepath.Join(dir, a.name+".pem")
			sig := filepath.Join(dir, a.name+".sig")
			gostkey(append([]string{"key", "gen", "--alg", a.name, "--label", a.name}, tok...)...)
			gostkey(append([]string{"cert", "self-sign", "--key", a.name, "--subject", "CN=" + a.name, "--days", "2", "--out", cert}, tok...)...)
			gostkey(append([]string{"cert", "import", "--key", a.name, "--in", cert}, tok...)...)
			gostkey(append([]string{"sign", "--key", a.name, "--in", doc, "--out", sig}, tok...)...)
			if out := gostkey("verify", "--sig", sig, "--content", doc, "--ca", cert); !strings.Contains(out, "signer 1: valid") {
				t.Fatalf("gostkey verify: %s", out)
			}
			testkit.OpenSSL(t, nil, "cms", "-verify", "-cades", "-binary", "-inform", "DER", "-in", sig, "-content", doc,
				"-CAfile", cert, "-purpose", "any", "-out", os.DevNull)
		})
	}
}
