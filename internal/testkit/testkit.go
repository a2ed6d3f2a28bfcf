// Package testkit holds what gostkey's tests share: running the openssl
// command line with the gost engine loaded (the independent judge of every
// GOST artifact), and the rule for components a machine lacks: a test that
// needs one fails with a clear message in CI (CI=true) and skips only on a
// developer box.
package testkit

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// Missing reports a component the test cannot run without.
func Missing(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatalf("missing test component: %s (run scripts/install-deps.sh)", msg)
	}
	t.Skipf("missing test component: %s (run scripts/install-deps.sh)", msg)
}

// RepoRoot is the directory holding go.mod, found from this source file so
// that it is right whatever package directory a test runs in.
func RepoRoot() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("testkit: no caller information")
	}
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}

// OpenSSLConfig is the path of the config that loads the gost engine.
func OpenSSLConfig() string {
	return filepath.Join(RepoRoot(), "testdata", "openssl-gost.cnf")
}

var (
	probeOnce sync.Once
	probeErr  error
)

// RequireOpenSSL makes sure openssl and the gost engine answer, once per
// test binary.
func RequireOpenSSL(t testing.TB) {
	t.Helper()
	probeOnce.Do(func() {
		if _, err := exec.LookPath("openssl"); err != nil {
			probeErr = fmt.Errorf("openssl not on PATH")
			return
		}
		out, err := command(context.Background(), nil, "dgst", "-streebog256").CombinedOutput()
		if err != nil || !strings.Contains(string(out), "3f539a213e97c802cc229d474c6aa32a825a360b2a933a949fd925208d9ce1bb") {
			probeErr = fmt.Errorf("openssl gost engine does not load (libengine-gost-openssl): %v: %s", err, out)
		}
	})
	if probeErr != nil {
		Missing(t, "%v", probeErr)
	}
}

func command(ctx context.Context, stdin []byte, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "openssl", args...)
	cmd.Env = append(os.Environ(), "OPENSSL_CONF="+OpenSSLConfig())
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	return cmd
}

// TryOpenSSL runs openssl with the gost engine and returns its standard
// output; a non-zero exit is an error carrying standard error. Negative
// interop tests use it to see OpenSSL refuse something.
func TryOpenSSL(t testing.TB, stdin []byte, args ...string) ([]byte, error) {
	t.Helper()
	RequireOpenSSL(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := command(ctx, stdin, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("openssl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.Bytes(), nil
}

// OpenSSL runs openssl with the gost engine and fails the test if it fails.
func OpenSSL(t testing.TB, stdin []byte, args ...string) []byte {
	t.Helper()
	out, err := TryOpenSSL(t, stdin, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// WriteFile writes data into the test's temporary directory and returns
// the path, for handing fixtures to openssl.
func WriteFile(t testing.TB, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var (
	softtokenOnce sync.Once
	softtokenPath string
	softtokenErr  error
	softtokenMiss string
)

// Softtoken is the path of the project's PKCS#11 module for tests: bin/'s
// when `make build` left an up-to-date one there, else one built once per
// test binary into a private directory with the Makefile's own rule (so a
// newcomer's plain `go test ./...` works, and concurrent test binaries
// never load a half-written bin/).
func Softtoken(t testing.TB) string {
	t.Helper()
	softtokenOnce.Do(buildSofttoken)
	if softtokenMiss != "" {
		Missing(t, "%s", softtokenMiss)
	}
	if softtokenErr != nil {
		t.Fatalf("testkit: %v", softtokenErr)
	}
	return softtokenPath
}

func buildSofttoken() {
	const name = "libgostkey-softtoken.so"
	root := RepoRoot()
	for _, tool := range []string{"make", "cc", "pkg-config"} {
		if _, err := exec.LookPath(tool); err != nil {
			softtokenMiss = tool + " (needed to build the softtoken; or run make build)"
			return
		}
	}
	if err := exec.Command("pkg-config", "--exists", "libcrypto", "p11-kit-1").Run(); err != nil {
		softtokenMiss = "libssl-dev and libp11-kit-dev (needed to build the softtoken; make build installs them)"
		return
	}
	inBin := filepath.Join(root, "bin", name)
	// -q: exit status 0 when the target is up to date, without building.
	if exec.Command("make", "-s", "-q", "-C", root, filepath.Join("bin", name)).Run() == nil {
		softtokenPath = inBin
		return
	}
	dir, err := os.MkdirTemp("", "gostkey-softtoken-")
	if err != nil {
		softtokenErr = err
		return
	}
	so := filepath.Join(dir, name)
	if out, err := exec.Command("make", "-s", "-C", root, "BIN="+dir, so).CombinedOutput(); err != nil {
		softtokenErr = fmt.Errorf("building the softtoken (make %s) failed, try make build: %w: %s", so, err, bytes.TrimSpace(out))
		return
	}
	softtokenPath = so
}

// VectorsDir holds the standard test vectors (RFC 9215 certificates, TC26
// reference CMS) inside the repository.
func VectorsDir() string {
	return filepath.Join(RepoRoot(), "testdata", "vectors")
}
