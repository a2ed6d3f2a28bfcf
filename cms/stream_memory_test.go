package cms

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
)

// The constant-memory check signs and verifies 1 GiB attached, each in a
// child process whose peak resident set (VmHWM) must stay under 64 MiB.
// It takes a while, so it runs only when asked:
//
//	GOSTKEY_STREAM_1GIB=1 go test -run TestStream1GiB -v ./cms
//
// (without -race, whose shadow memory is not the code's).
const (
	stream1GiBFlag  = "GOSTKEY_STREAM_1GIB"
	streamChildEnv  = "GOSTKEY_STREAM_CHILD" // "sign-<size>" or "verify", in the child
	streamFileEnv   = "GOSTKEY_STREAM_FILE"  // the signature file the children share
	streamBytes     = 1 << 30
	streamPeakLimit = 64 << 20
)

func TestStream1GiB(t *testing.T) {
	if child := os.Getenv(streamChildEnv); child != "" {
		streamChild(t, child, os.Getenv(streamFileEnv))
		return
	}
	if os.Getenv(stream1GiBFlag) != "1" {
		t.Skipf("set %s=1 to sign and verify 1 GiB and check the peak memory", stream1GiBFlag)
	}
	dir := t.TempDir()
	for _, tc := range []struct{ name, child string }{
		{"sign, size known", fmt.Sprintf("sign-%d", streamBytes)},
		{"verify definite", "verify"},
		{"sign, size unknown", "sign--1"},
		{"verify indefinite", "verify"},
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestStream1GiB$", "-test.v")
		cmd.Env = append(os.Environ(), streamChildEnv+"="+tc.child, streamFileEnv+"="+filepath.Join(dir, "sig"))
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s", tc.name, err, out)
		}
		m := regexp.MustCompile(`peak (\d+) kB`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("%s: no peak reported:\n%s", tc.name, out)
		}
		kb, _ := strconv.Atoi(string(m[1]))
		t.Logf("%s: peak RSS %d KiB", tc.name, kb)
		if kb*1024 >= streamPeakLimit {
			t.Errorf("%s: peak RSS %d KiB, want under %d MiB", tc.name, kb, streamPeakLimit>>20)
		}
	}
}

// streamChild signs 1 GiB into file or verifies file, then reports the
// process's peak resident set.
func streamChild(t *testing.T, what, file string) {
	switch what {
	case "verify":
		f, err := os.Open(file)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		counted := &countingWriter{}
		// The signing child's root went with its fixtures; the chain
		// costs no memory worth measuring, the content does.
		if _, err := VerifyStream(context.Background(), f, nil, counted, &VerifyOptions{SkipChainVerification: true}); err != nil {
			t.Fatal(err)
		}
		if counted.n != streamBytes {
			t.Fatalf("%d bytes of content out, want %d", counted.n, streamBytes)
		}
	default:
		size, err := strconv.ParseInt(what[len("sign-"):], 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		id := newIdentity(t, "gost256-TCA")
		f, err := os.Create(file)
		if err != nil {
			t.Fatal(err)
		}
		if err := SignStream(f, &countingReader{n: streamBytes}, size, []Signer{{Key: id.key, Certificate: id.cert}}, nil); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`VmHWM:\s+(\d+) kB`).FindSubmatch(status)
	if m == nil {
		t.Fatal("no VmHWM in /proc/self/status")
	}
	fmt.Printf("peak %s kB\n", m[1])
}

// countingWriter counts what is written to it and drops it.
type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	return io.Discard.Write(p)
}
