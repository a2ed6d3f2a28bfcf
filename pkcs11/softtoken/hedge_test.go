package softtoken

import (
	"encoding/hex"
	"errors"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostkey/gostkey/internal/testkit"
)

// TestHedgedNonce runs src/test/hedgetest.c: with OpenSSL's RNG replaced by
// a constant in the whole process, two digests signed with one key must get
// different r (the nonce depends on the key and the digest, not on the RNG
// alone), on curves with cofactor 1 and 4, and openssl must verify every
// signature made so.
func TestHedgedNonce(t *testing.T) {
	t.Parallel()
	testkit.RequireOpenSSL(t)
	mod := module(t)
	cflags, err := exec.Command("pkg-config", "--cflags", "--libs", "p11-kit-1", "libcrypto").Output()
	if err != nil {
		testkit.Missing(t, "pkg-config p11-kit-1 libcrypto (libp11-kit-dev, libssl-dev)")
	}
	bin := filepath.Join(t.TempDir(), "hedgetest")
	args := append([]string{"-std=c11", "-g", "-Wall", "-Wextra", "-Werror", "-DOPENSSL_SUPPRESS_DEPRECATED", "-o", bin,
		filepath.Join("src", "test", "hedgetest.c")}, strings.Fields(string(cflags))...)
	args = append(args, "-ldl")
	if out, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
		t.Fatalf("cc hedgetest.c: %v\n%s", err, out)
	}
	e, _ := env(t)
	cmd := exec.Command(bin, mod)
	cmd.Env = e
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("hedgetest: %v\n%s%s", err, out, stderrOf(err))
	}
	if !strings.Contains(string(out), "hedgetest: all checks passed") {
		t.Fatalf("hedgetest did not finish:\n%s", out)
	}
	var pub string
	sigs := 0
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 {
			continue
		}
		a, b := unhex(t, f[1]), unhex(t, f[2])
		switch f[0] {
		case "key":
			pub = testkit.WriteFile(t, "pub.der", spki(t, a, b))
		case "sig":
			dg, sig := testkit.WriteFile(t, "dg.bin", a), testkit.WriteFile(t, "sig.bin", b)
			testkit.OpenSSL(t, nil, "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", pub, "-in", dg, "-sigfile", sig)
			sigs++
		}
	}
	if sigs != 8 {
		t.Fatalf("verified %d signatures, want 8:\n%s", sigs, out)
	}
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// stderrOf returns what a failed command wrote to stderr (Output keeps it
// in the error).
func stderrOf(err error) string {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return string(ee.Stderr)
	}
	return ""
}
