package softtoken

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"github.com/gostkey/gostkey/internal/testkit"
)

// crashShim builds src/test/crashshim.c, the LD_PRELOAD library that kills
// the process around a chosen rename of an object file.
func crashShim(t *testing.T) string {
	t.Helper()
	so := filepath.Join(t.TempDir(), "crashshim.so")
	src := filepath.Join("src", "test", "crashshim.c")
	if out, err := exec.Command("cc", "-std=c11", "-Wall", "-Wextra", "-Werror", "-shared", "-fPIC", "-o", so, src, "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("cc crashshim.c: %v\n%s", err, out)
	}
	return so
}

// tokenDir returns the one token directory below base.
func tokenDir(t *testing.T, base string) string {
	t.Helper()
	dirs, err := filepath.Glob(filepath.Join(base, "*", "token.conf"))
	if err != nil || len(dirs) != 1 {
		t.Fatalf("token directories below %s: %v %v", base, dirs, err)
	}
	return filepath.Dir(dirs[0])
}

// tokenFiles lists the names in a token directory and in its objects/.
func tokenFiles(t *testing.T, dir string) (top, objs []string) {
	t.Helper()
	read := func(d string) []string {
		ents, err := os.ReadDir(d)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		return names
	}
	return read(dir), read(filepath.Join(dir, "objects"))
}

// TestKeyPairCrash kills C_GenerateKeyPair around each rename of an object
// file it makes (before it and after it) and opens the token again: both
// halves of the pair or neither must be there, no temporary or journal file
// may be left, and the token must go on generating and signing.
func TestKeyPairCrash(t *testing.T) {
	t.Parallel()
	requirePkcs11Tool(t)
	mod, shim := module(t), crashShim(t)
	const pin = "user-pin-1"
	finished := 0
	for at := 1; at <= 8 && finished < 2; at++ {
		for _, when := range []string{"before", "after"} {
			t.Run(fmt.Sprintf("%s-%d", when, at), func(t *testing.T) {
				e, base := env(t)
				p := tool{t, mod, e}
				p.run("--init-token", "--slot", "0", "--label", "crash", "--so-pin", "so-pin-12")
				p.run("--init-pin", "--slot", "0", "--so-pin", "so-pin-12", "--pin", pin)
				cmd := exec.Command("pkcs11-tool", "--module", mod, "--slot", "0", "--login", "--pin", pin,
					"--keypairgen", "--key-type", "GOSTR3410-2012-256:A", "--label", "k1", "--id", "01")
				cmd.Env = append(slices.Clone(e), "LD_PRELOAD="+shim, fmt.Sprintf("CRASHSHIM_AT=%d", at), "CRASHSHIM_WHEN="+when)
				out, err := cmd.CombinedOutput()
				var ee *exec.ExitError
				switch {
				case err == nil:
					finished++ // fewer renames than at: the generation completed
				case errors.As(err, &ee) && ee.Sys().(syscall.WaitStatus).Signaled():
				default:
					t.Fatalf("key generation failed without the simulated crash: %v\n%s", err, out)
				}

				listing := p.run("--slot", "0", "--login", "--pin", pin, "--list-objects")
				pubs, privs := strings.Count(listing, "Public Key Object"), strings.Count(listing, "Private Key Object")
				if pubs != privs || pubs > 1 || (err == nil && pubs != 1) {
					t.Errorf("after the crash: %d public and %d private keys:\n%s", pubs, privs, listing)
				}
				dir := tokenDir(t, base)
				top, objs := tokenFiles(t, dir)
				for _, name := range top {
					if name != ".lock" && name != ".login" && name != "objects" && name != "token.conf" {
						t.Errorf("left behind in the token directory: %s", name)
					}
				}
				for _, name := range objs {
					if !strings.HasSuffix(name, ".obj") || strings.Contains(name, ".tmp-") {
						t.Errorf("left behind in objects/: %s", name)
					}
				}
				if len(objs) != 2*pubs {
					t.Errorf("objects/ holds %q for %d key pairs", objs, pubs)
				}

				p.run("--slot", "0", "--login", "--pin", pin, "--keypairgen", "--key-type", "GOSTR3410-2012-256:A", "--label", "k2", "--id", "02")
				dg := testkit.WriteFile(t, "dg.bin", make([]byte, 32))
				p.run("--slot", "0", "--login", "--pin", pin, "--sign", "--mechanism", "GOSTR3410", "--id", "02",
					"--input-file", dg, "--output-file", filepath.Join(t.TempDir(), "sig"))
			})
		}
	}
	if finished < 2 {
		t.Fatalf("key generation never completed within the renames tried")
	}
}

// TestWipeCrash kills C_InitToken on an initialized token (which destroys
// every object) after it removed the first object file: the next session
// must finish the wipe rather than leave half of a key pair, and the token,
// whose new state was never written, keeps its PINs.
func TestWipeCrash(t *testing.T) {
	t.Parallel()
	requirePkcs11Tool(t)
	mod, shim := module(t), crashShim(t)
	const pin = "user-pin-1"
	e, base := env(t)
	p := tool{t, mod, e}
	p.run("--init-token", "--slot", "0", "--label", "wipe", "--so-pin", "so-pin-12")
	p.run("--init-pin", "--slot", "0", "--so-pin", "so-pin-12", "--pin", pin)
	for _, id := range []string{"01", "02"} {
		p.run("--slot", "0", "--login", "--pin", pin, "--keypairgen", "--key-type", "GOSTR3410-2012-256:A", "--label", "k"+id, "--id", id)
	}
	dir := tokenDir(t, base)
	if _, objs := tokenFiles(t, dir); len(objs) != 4 {
		t.Fatalf("objects/ holds %q, want 4 objects", objs)
	}
	cmd := exec.Command("pkcs11-tool", "--module", mod, "--init-token", "--slot", "0", "--label", "wiped", "--so-pin", "so-pin-12")
	cmd.Env = append(slices.Clone(e), "LD_PRELOAD="+shim, "CRASHSHIM_CALL=unlink", "CRASHSHIM_AT=1", "CRASHSHIM_WHEN=after")
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || !ee.Sys().(syscall.WaitStatus).Signaled() {
		t.Fatalf("the re-initialization was not killed: %v\n%s", err, out)
	}

	listing := p.run("--slot", "0", "--login", "--pin", pin, "--list-objects")
	if strings.Contains(listing, "Key Object") {
		t.Errorf("keys left after the interrupted wipe:\n%s", listing)
	}
	if _, objs := tokenFiles(t, dir); len(objs) != 0 {
		t.Errorf("objects/ still holds %q", objs)
	}
	p.run("--slot", "0", "--login", "--pin", pin, "--keypairgen", "--key-type", "GOSTR3410-2012-256:A", "--label", "k3", "--id", "03")
}
