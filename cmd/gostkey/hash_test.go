package main

import (
	"bytes"
	"io"
	"strings"
	"testing"
	"time"
)

func TestProgressLine(t *testing.T) {
	var w bytes.Buffer
	p := &progress{w: &w, name: "big.iso", total: 3 << 30}
	r := p.wrap(io.LimitReader(zeroReader{}, 3<<29))
	buf := make([]byte, 1<<20)
	for {
		if _, err := r.Read(buf); err == io.EOF {
			break
		}
		p.last = time.Time{} // redraw on every read, as if time had passed
	}
	p.done()
	out := w.String()
	for _, want := range []string{"\rbig.iso   0% 1.0 MiB/3.0 GiB", "\rbig.iso  50% 1.5 GiB/3.0 GiB", "\r\033[K"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress output lacks %q", want)
		}
	}
	if strings.Contains(out, "\n") {
		t.Error("progress output spans lines")
	}
}

type zeroReader struct{}

func (zeroReader) Read(b []byte) (int, error) { clear(b); return len(b), nil }

func TestByteSize(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 64 << 20: "64.0 MiB", 5 << 40: "5.0 TiB"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}
