package main

import (
	"bufio"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/gostkey/gostkey/internal/testkit"
)

// TestTokenWatch pulls the softtoken out and puts it back (its .removed
// control file) while `gostkey token watch` runs, reading each line before
// the next step, so the test waits for events instead of sleeping.
func TestTokenWatch(t *testing.T) {
	module := testkit.Softtoken(t)
	dir := t.TempDir()
	t.Setenv("GOSTKEY_SOFTTOKEN_DIR", dir)
	t.Setenv("GOSTKEY_SOFTTOKEN_CONF", testkit.WriteFile(t, "softtoken.conf", []byte("scrypt_log2n = 10\npoll_interval_ms = 50\n")))
	t.Setenv("GOSTKEY_CONFIG", filepath.Join(dir, "no-config.json"))
	so := testkit.WriteFile(t, "so.pin", []byte("87654321\n"))
	pin := testkit.WriteFile(t, "user.pin", []byte("12345678\n"))
	var errb strings.Builder
	if code := run(context.Background(), []string{"token", "init", "--module", module, "--label", "w", "--so-pin-file", so, "--pin-file", pin},
		stdio{in: strings.NewReader(""), out: io.Discard, err: &errb}); code != exitOK {
		t.Fatalf("token init: %s", errb.String())
	}
	tokdirs, err := filepath.Glob(filepath.Join(dir, "[0-9a-f]*"))
	if err != nil || len(tokdirs) != 1 {
		t.Fatalf("token directories %v, %v", tokdirs, err)
	}
	removed := filepath.Join(tokdirs[0], ".removed")

	// Four events: token "w" and the softtoken's spare slot (an
	// uninitialized token) at the start, then the removal and the return.
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		code := run(context.Background(), []string{"token", "watch", "--module", module, "--count", "4", "--timeout", "60s"},
			stdio{in: strings.NewReader(""), out: pw, err: &errb})
		pw.Close()
		done <- code
	}()
	lines := bufio.NewScanner(pr)
	expect := func(pattern string) {
		t.Helper()
		for lines.Scan() {
			// The softtoken's spare slot holds an uninitialized token,
			// reported like any other; this test follows token "w".
			if strings.Contains(lines.Text(), `token "w"`) {
				if !regexp.MustCompile(pattern).MatchString(lines.Text()) {
					t.Fatalf("event %q, want %s", lines.Text(), pattern)
				}
				return
			}
		}
		t.Fatalf("watch ended (%v) before an event matching %s; stderr %s", lines.Err(), pattern, errb.String())
	}
	expect(`^\S+ inserted slot 0 token "w" serial [0-9a-f]{16}$`)
	if err := os.WriteFile(removed, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	expect(`^\S+ removed slot 0 token "w"`)
	if err := os.Remove(removed); err != nil {
		t.Fatal(err)
	}
	expect(`^\S+ inserted slot 0 token "w"`)
	go io.Copy(io.Discard, pr)
	if code := <-done; code != exitOK {
		t.Fatalf("token watch: exit %d: %s", code, errb.String())
	}
}
