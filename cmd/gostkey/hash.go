package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/gostkey/gostkey/gost"
)

func init() {
	register(&command{
		name:       "hash",
		usage:      "[--alg streebog256|streebog512] [FILE|-]...",
		summary:    "print Streebog digests (the bytes `openssl dgst` prints)",
		positional: true,
		setup:      setupHash,
	})
}

func setupHash(fs *pflag.FlagSet, _ *globals) runFunc {
	alg := fs.String("alg", "streebog256", "`ALG`: streebog256 or streebog512")
	return func(ctx context.Context, std stdio, files []string) error {
		h, ok := gost.HashByName(*alg)
		if !ok {
			return cmdLinef("unknown --alg %q (want streebog256 or streebog512)", *alg)
		}
		if len(files) == 0 {
			files = []string{"-"}
		}
		for _, name := range files {
			sum, err := hashFile(ctx, h, name, std)
			if err != nil {
				return err
			}
			fmt.Fprintf(std.out, "%s  %s\n", hex.EncodeToString(sum), name)
		}
		return nil
	}
}

// progressThreshold is the input size from which a terminal gets a
// progress line: below it hashing finishes before anyone could read one.
const progressThreshold = 256 << 20

func hashFile(ctx context.Context, alg gost.Hash, name string, std stdio) ([]byte, error) {
	in, err := openInput(name, std.in)
	if err != nil {
		return nil, err
	}
	defer in.Close()
	var r io.Reader = in
	if f, ok := in.(*os.File); ok && isTerminal(std.err) {
		if st, err := f.Stat(); err == nil && st.Mode().IsRegular() && st.Size() >= progressThreshold {
			p := &progress{w: std.err, name: name, total: st.Size()}
			defer p.done()
			r = p.wrap(f)
		}
	}
	h := alg.New()
	if _, err := copyContext(ctx, h, r); err != nil {
		return nil, usageError{fmt.Errorf("%s: %w", name, err)}
	}
	return h.Sum(nil), nil
}

// copyContext streams in fixed-size chunks (constant memory for any input)
// and stops when the context is cancelled.
func copyContext(ctx context.Context, dst io.Writer, src io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	var n int64
	for {
		if err := ctx.Err(); err != nil {
			return n, err
		}
		k, err := src.Read(buf)
		if k > 0 {
			if _, werr := dst.Write(buf[:k]); werr != nil {
				return n, werr
			}
			n += int64(k)
		}
		if err == io.EOF {
			return n, nil
		}
		if err != nil {
			return n, err
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progress draws "name  42% 1.2 GiB/2.9 GiB" on one terminal line,
// redrawn at most a few times a second.
type progress struct {
	w     io.Writer
	name  string
	total int64
	seen  int64
	last  time.Time
}

func (p *progress) wrap(r io.Reader) io.Reader { return &progressReader{r: r, p: p} }

type progressReader struct {
	r io.Reader
	p *progress
}

func (pr *progressReader) Read(b []byte) (int, error) {
	n, err := pr.r.Read(b)
	pr.p.add(int64(n))
	return n, err
}

func (p *progress) add(n int64) {
	p.seen += n
	if now := time.Now(); now.Sub(p.last) >= 200*time.Millisecond {
		p.last = now
		fmt.Fprintf(p.w, "\r%s %3d%% %s/%s", p.name, p.seen*100/p.total, byteSize(p.seen), byteSize(p.total))
	}
}

func (p *progress) done() { fmt.Fprint(p.w, "\r\033[K") }

func byteSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
