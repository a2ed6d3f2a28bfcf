package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gostkey/gostkey/internal/testkit"
)

// TestSignManyLogsInOnce signs three documents with the PIN coming from a
// named pipe that holds the right PIN for one read and a wrong one for
// any read after it: one login for the batch signs all three, a second
// login would be refused.
func TestSignManyLogsInOnce(t *testing.T) {
	module := testkit.Softtoken(t)
	dir := t.TempDir()
	t.Setenv("GOSTKEY_SOFTTOKEN_DIR", filepath.Join(dir, "tokens"))
	t.Setenv("GOSTKEY_SOFTTOKEN_CONF", testkit.WriteFile(t, "softtoken.conf", []byte("scrypt_log2n = 10\n")))
	t.Setenv("GOSTKEY_CONFIG", filepath.Join(dir, "no-config.json"))
	so := testkit.WriteFile(t, "so.pin", []byte("87654321\n"))
	pin := testkit.WriteFile(t, "user.pin", []byte("12345678\n"))
	gostkey := func(args ...string) (int, string) {
		var errb strings.Builder
		code := run(context.Background(), args, stdio{in: strings.NewReader(""), out: io.Discard, err: &errb})
		return code, errb.String()
	}
	tok := []string{"--module", module, "--token", "b"}
	for _, args := range [][]string{
		{"token", "init", "--module", module, "--label", "b", "--so-pin-file", so, "--pin-file", pin},
		append([]string{"key", "gen", "--pin-file", pin, "--label", "k"}, tok...),
		append([]string{"cert", "self-sign", "--pin-file", pin, "--key", "k", "--subject", "CN=b", "--out", filepath.Join(dir, "k.pem")}, tok...),
		append([]string{"cert", "import", "--pin-file", pin, "--key", "k", "--in", filepath.Join(dir, "k.pem")}, tok...),
	} {
		if code, stderr := gostkey(args...); code != exitOK {
			t.Fatalf("gostkey %v: exit %d: %s", args, code, stderr)
		}
	}

	fifo := filepath.Join(dir, "pin.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	written := make(chan error, 1)
	go func() { written <- feedPINs(fifo, done, "12345678\n", "wrong-pin\n") }()
	var docs []string
	args := append([]string{"sign", "--pin-file", fifo, "--key", "k"}, tok...)
	for _, name := range []string{"a.txt", "b.txt", "c.txt"} {
		docs = append(docs, testkit.WriteFile(t, name, []byte("document "+name)))
		args = append(args, "--in", docs[len(docs)-1])
	}
	code, stderr := gostkey(args...)
	// Release the feeder, wherever it waits: a reader of our own takes
	// any PIN it is still offering.
	close(done)
	r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	if err := <-written; err != nil {
		t.Fatal(err)
	}
	// A second login would have read the wrong PIN and failed.
	if code != exitOK {
		t.Fatalf("sign of 3 documents: exit %d: %s", code, stderr)
	}
	for _, d := range docs {
		if code, stderr := gostkey("verify", "--sig", d+".sig", "--content", d, "--ca", filepath.Join(dir, "k.pem")); code != exitOK {
			t.Errorf("verify %s: exit %d: %s", d, code, stderr)
		}
	}
}

// feedPINs writes each PIN to the named pipe for one reader each, until
// done: a pipe opened for writing while the last reader still holds it
// would join that reader's stream, so each write waits for the reader
// before to go.
func feedPINs(fifo string, done <-chan struct{}, pins ...string) error {
	for i, p := range pins {
		for i > 0 {
			select {
			case <-done:
				return nil
			default:
			}
			f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0)
			if errors.Is(err, syscall.ENXIO) {
				break // no reader left
			}
			if err != nil {
				return err
			}
			f.Close()
			time.Sleep(time.Millisecond)
		}
		f, err := os.OpenFile(fifo, os.O_WRONLY, 0) // blocks until a reader opens
		if err != nil {
			return err
		}
		_, err = f.WriteString(p)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
	}
	return nil
}
