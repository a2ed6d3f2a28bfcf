package softtoken

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gostkey/gostkey/internal/testkit"
)

// looseToken makes a token with a key pair and a data object, then opens
// the base directory, the token directory and everything in it to group
// and others, as a careless umask, cp or tar would.
func looseToken(t *testing.T) (p tool, base, dir string) {
	t.Helper()
	e, base := env(t)
	p = tool{t, module(t), e}
	p.run("--init-token", "--slot", "0", "--label", "loose", "--so-pin", "so-pin-12")
	p.run("--init-pin", "--slot", "0", "--so-pin", "so-pin-12", "--pin", "user-pin-1")
	p.run("--slot", "0", "--login", "--pin", "user-pin-1", "--keypairgen", "--key-type", "GOSTR3410-2012-256:A", "--label", "k", "--id", "01")
	data := testkit.WriteFile(t, "data.bin", []byte("x"))
	p.run("--slot", "0", "--login", "--pin", "user-pin-1", "--write-object", data, "--type", "data", "--label", "d")
	dir = tokenDir(t, base)
	err := filepath.WalkDir(base, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.Chmod(path, 0o777)
		}
		return os.Chmod(path, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return p, base, dir
}

// TestLoosePermissionsTightened opens a token whose directories and files
// are open to group and others but are the user's own: the session works
// and everything is 0700/0600 afterwards.
func TestLoosePermissionsTightened(t *testing.T) {
	t.Parallel()
	requirePkcs11Tool(t)
	p, base, _ := looseToken(t)
	if out := p.run("--slot", "0", "--login", "--pin", "user-pin-1", "--list-objects"); !strings.Contains(out, "Private Key Object") {
		t.Fatalf("token unusable after tightening:\n%s", out)
	}
	checkModes(t, base)
}

// TestLoosePermissionsRefused opens a token directory open to others and
// owned by another user (the module cannot and must not fix it): the
// session is refused with CKR_DEVICE_ERROR and a line on stderr naming the
// directory, and nothing is changed. The same directory made 0700 by its
// owner is accepted; so is a base directory of another user's that others
// can read but not write, while one they can write is refused.
func TestLoosePermissionsRefused(t *testing.T) {
	t.Parallel()
	requirePkcs11Tool(t)
	if os.Geteuid() != 0 {
		testkit.Missing(t, "root (the test gives a token directory to another user)")
	}
	const nobody = 65534
	p, base, dir := looseToken(t)
	if err := os.Chown(dir, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	refused := func(what string) {
		t.Helper()
		out, err := p.try("--slot", "0", "--login", "--pin", "user-pin-1", "--list-objects")
		if err == nil || !strings.Contains(out, "CKR_DEVICE_ERROR") || !strings.Contains(out, "libgostkey-softtoken: ") ||
			!strings.Contains(out, "open to group or others") {
			t.Errorf("%s: session not refused with a message (%v):\n%s", what, err, out)
		}
	}
	refused("token directory 0777 of another user")
	if fi, err := os.Stat(dir); err != nil || fi.Mode().Perm() != 0o777 {
		t.Errorf("the refused directory was changed: %v %v", fi.Mode(), err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "token.conf")
	if err := os.Chown(conf, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	refused("token.conf 0644 of another user")
	if err := os.Chown(conf, 0, 0); err != nil {
		t.Fatal(err)
	}
	p.run("--slot", "0", "--login", "--pin", "user-pin-1", "--list-objects")

	if err := os.Chown(base, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(base, 0o777); err != nil {
		t.Fatal(err)
	}
	refused("base directory 0777 of another user")
	if err := os.Chmod(base, 0o755); err != nil {
		t.Fatal(err)
	}
	p.run("--slot", "0", "--login", "--pin", "user-pin-1", "--list-objects")
	if fi, err := os.Stat(base); err != nil || fi.Mode().Perm() != 0o755 {
		t.Errorf("another user's base directory was changed: %v %v", fi.Mode(), err)
	}
}
