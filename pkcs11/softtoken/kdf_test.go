package softtoken

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gostkey/gostkey/internal/testkit"
)

// kdfLines returns token.conf's version and the KDF lines of both PINs.
func kdfLines(t *testing.T, dir string) (version, so, user string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "token.conf"))
	if err != nil {
		t.Fatal(err)
	}
	get := func(key string) string {
		m := regexp.MustCompile(`(?m)^` + key + ` (.*)$`).FindSubmatch(b)
		if m == nil {
			return ""
		}
		return string(m[1])
	}
	return get("version"), get("so_kdf"), get("user_kdf")
}

// copyTree copies a fixture directory with the modes the module keeps.
func copyTree(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, path)
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o700)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestLegacyTokenRewrapped logs in to a token written before scrypt (both
// master-key copies under PBKDF2, testdata/README.md): each PIN's copy is
// wrapped again with the configured scrypt parameters at that PIN's first
// successful login, the key made then still signs, and the PINs keep
// working (a 4-digit user PIN included: the minimum length applies to new
// PINs only).
func TestLegacyTokenRewrapped(t *testing.T) {
	t.Parallel()
	requirePkcs11Tool(t)
	testkit.RequireOpenSSL(t)
	e, base := env(t)
	p := tool{t, module(t), e}
	dir := filepath.Join(base, "817076f83728326f")
	copyTree(t, filepath.Join("testdata", "legacy-v1", "817076f83728326f"), dir)
	if v, so, user := kdfLines(t, dir); v != "1" || so != "" || user != "" {
		t.Fatalf("fixture is not a version 1 token: version %q so_kdf %q user_kdf %q", v, so, user)
	}
	want := "scrypt " + testScryptLog2N + " 8 1"

	if _, err := p.try("--slot", "0", "--login", "--pin", "123456", "--list-objects"); err == nil {
		t.Fatal("a wrong PIN opened the legacy token")
	}
	if v, _, user := kdfLines(t, dir); v != "2" || user != "pbkdf2-sha256 1000" {
		t.Errorf("a failed login re-wrapped the user PIN: version %q user_kdf %q", v, user)
	}
	listing := p.run("--slot", "0", "--login", "--pin", "1234", "--list-objects")
	if !strings.Contains(listing, "Private Key Object") {
		t.Fatalf("legacy key not visible after login:\n%s", listing)
	}
	if _, so, user := kdfLines(t, dir); user != want || so != "pbkdf2-sha256 1000" {
		t.Errorf("after the user's login: so_kdf %q user_kdf %q, want pbkdf2-sha256 1000 and %q", so, user, want)
	}

	keys := publicKeys(t, listing)
	dg := testkit.WriteFile(t, "dg.bin", testkit.OpenSSL(t, []byte("legacy"), "dgst", "-streebog256", "-binary"))
	sig := filepath.Join(t.TempDir(), "sig")
	p.run("--slot", "0", "--login", "--pin", "1234", "--sign", "--mechanism", "GOSTR3410", "--id", "01", "--input-file", dg, "--output-file", sig)
	k, ok := keys["legacy"]
	if !ok {
		t.Fatalf("no public key labelled legacy:\n%s", listing)
	}
	pub := testkit.WriteFile(t, "pub.der", spki(t, k[0], k[1]))
	testkit.OpenSSL(t, nil, "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", pub, "-in", dg, "-sigfile", sig)

	// The SO logs in (a R/W session: pkcs11-tool's --init-pin) and sets
	// a new user PIN.
	p.run("--slot", "0", "--init-pin", "--so-pin", "87654321", "--pin", "654321")
	if _, so, user := kdfLines(t, dir); so != want || user != want {
		t.Errorf("after the SO's login: so_kdf %q user_kdf %q, want %q", so, user, want)
	}
	if _, err := p.try("--slot", "0", "--init-pin", "--so-pin", "12345678", "--pin", "654321"); err == nil {
		t.Error("a wrong SO PIN opened the re-wrapped copy")
	}
	p.run("--slot", "0", "--login", "--pin", "654321", "--sign", "--mechanism", "GOSTR3410", "--id", "01", "--input-file", dg, "--output-file", sig)
	testkit.OpenSSL(t, nil, "pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey", pub, "-in", dg, "-sigfile", sig)
}

// TestRewrapCrash kills the first login to a legacy token around each
// rename of token.conf (the failure counter going up, then the reset with
// the re-wrapped copy): whatever survives, the PIN still opens the token,
// and the re-wrap is done by the next login if it was not yet.
func TestRewrapCrash(t *testing.T) {
	t.Parallel()
	requirePkcs11Tool(t)
	mod, shim := module(t), crashShim(t)
	want := "scrypt " + testScryptLog2N + " 8 1"
	for _, tc := range []struct {
		at        int
		when      string
		rewrapped bool
	}{{1, "before", false}, {1, "after", false}, {2, "before", false}, {2, "after", true}} {
		e, base := env(t)
		p := tool{t, mod, e}
		dir := filepath.Join(base, "817076f83728326f")
		copyTree(t, filepath.Join("testdata", "legacy-v1", "817076f83728326f"), dir)
		cmd := exec.Command("pkcs11-tool", "--module", mod, "--slot", "0", "--login", "--pin", "1234", "--list-objects")
		cmd.Env = append(slices.Clone(e), "LD_PRELOAD="+shim, fmt.Sprintf("CRASHSHIM_AT=%d", tc.at), "CRASHSHIM_WHEN="+tc.when, "CRASHSHIM_MATCH=/token.conf")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
			t.Fatalf("%s rename %d: the login was not killed: %v\n%s", tc.when, tc.at, err, out)
		}
		if _, _, user := kdfLines(t, dir); (user == want) != tc.rewrapped {
			t.Errorf("%s rename %d: user_kdf %q after the kill", tc.when, tc.at, user)
		}
		if out := p.run("--slot", "0", "--login", "--pin", "1234", "--list-objects"); !strings.Contains(out, "Private Key Object") {
			t.Errorf("%s rename %d: the PIN no longer opens the token:\n%s", tc.when, tc.at, out)
		}
		if _, _, user := kdfLines(t, dir); user != want {
			t.Errorf("%s rename %d: user_kdf %q after the next login, want %q", tc.when, tc.at, user, want)
		}
		top, _ := tokenFiles(t, dir)
		for _, name := range top {
			if strings.Contains(name, ".tmp-") {
				t.Errorf("%s rename %d: left behind: %s", tc.when, tc.at, name)
			}
		}
	}
}

// TestDefaultKDF initializes a token with no KDF setting: the SO PIN is
// wrapped with the documented default, scrypt N = 2^16, r = 8, p = 1.
func TestDefaultKDF(t *testing.T) {
	t.Parallel()
	requirePkcs11Tool(t)
	dir := t.TempDir()
	conf := testkit.WriteFile(t, "softtoken.conf", []byte("directory = "+filepath.Join(dir, "tokens")+"\n"))
	e := append(os.Environ(), "GOSTKEY_SOFTTOKEN_CONF="+conf, "GOSTKEY_SOFTTOKEN_DIR=")
	p := tool{t, module(t), e}
	p.run("--init-token", "--slot", "0", "--label", "default", "--so-pin", "87654321")
	if _, so, _ := kdfLines(t, tokenDir(t, filepath.Join(dir, "tokens"))); so != "scrypt 16 8 1" {
		t.Errorf("default so_kdf %q, want scrypt 16 8 1", so)
	}
}

// TestLoginKDFUnlocked runs src/test/locktest.c: while one thread's login
// derives a key that takes hours, the main thread must be able to use the
// module. The deadline only catches a module that holds its lock for the
// KDF (it would never finish); a passing run takes milliseconds.
func TestLoginKDFUnlocked(t *testing.T) {
	t.Parallel()
	requirePkcs11Tool(t)
	cflags, err := exec.Command("pkg-config", "--cflags", "p11-kit-1").Output()
	if err != nil {
		testkit.Missing(t, "pkg-config p11-kit-1 (libp11-kit-dev)")
	}
	bin := filepath.Join(t.TempDir(), "locktest")
	args := append([]string{"-std=c11", "-g", "-Wall", "-Wextra", "-Werror"}, strings.Fields(string(cflags))...)
	args = append(args, "-o", bin, filepath.Join("src", "test", "locktest.c"), "-ldl", "-lpthread")
	if out, err := exec.Command("cc", args...).CombinedOutput(); err != nil {
		t.Fatalf("cc locktest.c: %v\n%s", err, out)
	}
	e, base := env(t)
	p := tool{t, module(t), e}
	p.run("--init-token", "--slot", "0", "--label", "slow", "--so-pin", "so-pin-12")
	p.run("--init-pin", "--slot", "0", "--so-pin", "so-pin-12", "--pin", "user-pin-1")
	dir := tokenDir(t, base)
	conf := filepath.Join(dir, "token.conf")
	state, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	slow := regexp.MustCompile(`(?m)^user_kdf .*$`).ReplaceAll(state, []byte("user_kdf pbkdf2-sha256 2000000000"))
	if err := os.WriteFile(conf, slow, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, p.module, dir)
	cmd.Env = e
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("the module stayed locked while another thread checked a PIN:\n%s", out)
	}
	if err != nil || !strings.Contains(string(out), "locktest: all checks passed") {
		t.Fatalf("locktest: %v\n%s", err, out)
	}
}
