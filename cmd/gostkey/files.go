package main

import (
	"bytes"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/gostkey/gostkey/cms"
)

// writeOutput writes data to the file the user named with --out, "-"
// being standard output. A file is written atomically, so an interrupted
// run never leaves half a signature where a good one was; errors name the
// user's path, not the temporary file beside it.
func writeOutput(path string, data []byte, stdout io.Writer) error {
	if path == "-" {
		if _, err := stdout.Write(data); err != nil {
			return usageError{fmt.Errorf("standard output: %w", err)}
		}
		return nil
	}
	if err := writeFileAtomic(path, data); err != nil {
		return usageError{fmt.Errorf("cannot write %s: %w", path, bareCause(err))}
	}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	return writeAtomic(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// streamOutput is writeOutput for output made as it is written, in
// constant memory: write streams it to the file (atomically, as
// writeOutput does) or to standard output.
func streamOutput(path string, stdout io.Writer, write func(io.Writer) error) error {
	if path == "-" {
		return write(stdout)
	}
	var werr error
	err := writeAtomic(path, func(w io.Writer) error {
		werr = write(w)
		return werr
	})
	if err != nil && werr == nil {
		return usageError{fmt.Errorf("cannot write %s: %w", path, bareCause(err))}
	}
	return err
}

// writeAtomic writes a temporary file beside path with write and renames
// it to path only when everything went well.
func writeAtomic(path string, write func(io.Writer) error) error {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return errors.New("is a directory")
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".gostkey-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// bareCause strips the path (the temporary file's, or a directory's) that
// os errors carry, leaving what went wrong.
func bareCause(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}

// reportTo is where a command's report lines go: standard error when its
// result goes to standard output (--out -), standard output otherwise.
func reportTo(out string, std stdio) io.Writer {
	if out == "-" {
		return std.err
	}
	return std.out
}

// serialHex formats a serial number as `openssl x509 -serial` does: upper-
// case hex, two digits per byte, zero as 00.
func serialHex(n *big.Int) string {
	if n == nil {
		return "(none)"
	}
	sign := ""
	if n.Sign() < 0 {
		sign = "-"
	}
	b := n.Bytes()
	if len(b) == 0 {
		return "00"
	}
	return fmt.Sprintf("%s%X", sign, b)
}

// checkPINFile warns about a PIN file that group or others can read (the
// PIN is the token's only protection), and refuses it under --strict.
func checkPINFile(path string, g *globals) error {
	if path == "" {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil {
		return usagef("PIN file %s: %v", path, bareCause(err))
	}
	if st.Mode().Perm()&0o044 == 0 || g.warned[path] {
		return nil
	}
	if g.strict {
		return usagef("PIN file %s is readable by group or others (mode %04o): chmod 600 it, or leave out --strict", path, st.Mode().Perm())
	}
	g.warned[path] = true
	fmt.Fprintf(g.stderr, "gostkey: warning: PIN file %s is readable by group or others (mode %04o); chmod 600 it\n", path, st.Mode().Perm())
	return nil
}

// malformedError turns a parser's complaint about the contents of file
// into words: which file, what it is not, and where its encoding breaks,
// instead of the decoder's structure dump. what is "a certificate", "a
// CMS signature"…
func malformedError(file, what string, data []byte, err error) error {
	if problem := encodingProblem(data); problem != "" {
		return usagef("%s: not %s (%s)", file, what, problem)
	}
	if reason := plainReason(err); reason != "" {
		if errors.Is(err, cms.ErrMalformed) {
			return usagef("%s: not %s (%s)", file, what, strings.TrimPrefix(reason, cms.ErrMalformed.Error()+": "))
		}
		return usagef("%s: %s", file, reason)
	}
	return usagef("%s: not %s (well-formed DER, but of another structure)", file, what)
}

// plainReason is the parser's error when it is in words, or "" when it is
// the ASN.1 decoder's internal detail.
func plainReason(err error) string {
	if err == nil {
		return ""
	}
	s := oneLine(err.Error())
	if strings.Contains(s, "asn1:") || strings.Contains(s, "{class:") {
		return ""
	}
	return s
}

// encodingProblem says in words what is wrong with the encoding of data
// (PEM or DER), or "" when the encoding is sound and the problem, if any,
// is in the structure.
func encodingProblem(data []byte) string {
	if len(bytes.TrimSpace(data)) == 0 {
		return "the file is empty"
	}
	if bytes.Contains(data, []byte("-----BEGIN ")) {
		return pemProblem(data)
	}
	if data[0] != 0x30 {
		if looksLikeText(data) {
			return "text, neither PEM nor DER"
		}
		return fmt.Sprintf("malformed DER at byte 0: starts with 0x%02X, not a SEQUENCE", data[0])
	}
	return derProblem(data)
}

func pemProblem(data []byte) string {
	rest := data
	for n := 1; ; n++ {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if n == 1 {
				return "PEM armour without a readable block (broken base64 or END line)"
			}
			return ""
		}
		if p := derProblem(block.Bytes); p != "" {
			return fmt.Sprintf("PEM block %d (%s): %s", n, block.Type, p)
		}
	}
}

// derProblem walks the TLV structure of DER (or BER) data, descending
// into constructed elements, and names the first byte where it breaks.
func derProblem(data []byte) string {
	end, problem := walkTLV(data, 0, 0)
	if problem != "" {
		return problem
	}
	if end != len(data) {
		return fmt.Sprintf("malformed DER at byte %d: %d bytes of trailing data after the first element", end, len(data)-end)
	}
	return ""
}

// maxDepth bounds the walk; real objects nest a dozen levels at most.
const maxDepth = 64

// walkTLV reads one element at off and returns the offset after it.
func walkTLV(data []byte, off, depth int) (int, string) {
	if depth > maxDepth {
		return 0, fmt.Sprintf("malformed DER at byte %d: nested deeper than %d levels", off, maxDepth)
	}
	start := off
	if off >= len(data) {
		return 0, fmt.Sprintf("malformed DER at byte %d: truncated (an element was expected)", off)
	}
	tag := data[off]
	off++
	if tag&0x1f == 0x1f { // high tag number form
		for {
			if off >= len(data) {
				return 0, fmt.Sprintf("malformed DER at byte %d: truncated in a tag", start)
			}
			b := data[off]
			off++
			if b&0x80 == 0 {
				break
			}
		}
	}
	if off >= len(data) {
		return 0, fmt.Sprintf("malformed DER at byte %d: truncated before a length", start)
	}
	lb := data[off]
	off++
	constructed := tag&0x20 != 0
	if lb == 0x80 { // BER indefinite length: elements until 00 00
		if !constructed {
			return 0, fmt.Sprintf("malformed DER at byte %d: indefinite length on a primitive element", start)
		}
		for {
			if off+1 < len(data) && data[off] == 0 && data[off+1] == 0 {
				return off + 2, ""
			}
			next, p := walkTLV(data, off, depth+1)
			if p != "" {
				return 0, p
			}
			off = next
		}
	}
	length := int(lb)
	if lb&0x80 != 0 {
		n := int(lb & 0x7f)
		if n > 4 {
			return 0, fmt.Sprintf("malformed DER at byte %d: a length of %d bytes", start, n)
		}
		if off+n > len(data) {
			return 0, fmt.Sprintf("malformed DER at byte %d: truncated in a length", start)
		}
		length = 0
		for _, b := range data[off : off+n] {
			length = length<<8 | int(b)
		}
		off += n
	}
	if length > len(data)-off {
		return 0, fmt.Sprintf("malformed DER at byte %d: the element claims %d bytes, %d are left (truncated file?)", start, length, len(data)-off)
	}
	end := off + length
	if constructed {
		for off < end {
			next, p := walkTLV(data[:end], off, depth+1)
			if p != "" {
				return 0, p
			}
			off = next
		}
	}
	return end, ""
}

func looksLikeText(data []byte) bool {
	sample := data[:min(len(data), 512)]
	if len(data) > len(sample) {
		// Drop a character the sample's end cut in two.
		for i := 0; i < utf8.UTFMax-1 && !utf8.Valid(sample); i++ {
			sample = sample[:len(sample)-1]
		}
	}
	if !utf8.Valid(sample) {
		return false
	}
	for _, r := range string(sample) {
		if r < 0x20 && r != '\n' && r != '\r' && r != '\t' {
			return false
		}
	}
	return true
}
