package gost

import (
	"encoding"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"math/bits"
)

// Streebog is the GOST R 34.11-2012 hash function (RFC 6986) in its two
// output sizes. Digests are returned in the byte order the hash outputs
// them, which is what `openssl dgst -streebog256` prints; the RFC prints
// the same values as big-endian numbers, i.e. byte-reversed.
const (
	// Size256 is the size of a Streebog-256 digest in bytes.
	Size256 = 32
	// Size512 is the size of a Streebog-512 digest in bytes.
	Size512 = 64
	// BlockSize is the block size of both Streebog variants in bytes.
	BlockSize = 64
)

// streebog is the running state of either variant: the chaining value h,
// the processed length N in bits and the checksum Σ of the processed
// blocks (all 512-bit little-endian numbers, see streebog_tables.go), plus
// the bytes of a block not yet full.
type streebog struct {
	h, n, sigma [8]uint64
	buf         [BlockSize]byte
	nx          int
	size        int
}

var (
	_ hash.Cloner                = (*streebog)(nil)
	_ encoding.BinaryAppender    = (*streebog)(nil)
	_ encoding.BinaryMarshaler   = (*streebog)(nil)
	_ encoding.BinaryUnmarshaler = (*streebog)(nil)
)

// New256 returns a new hash.Hash computing Streebog-256. Its state can be
// saved and restored with encoding.BinaryMarshaler/BinaryUnmarshaler.
func New256() hash.Hash { d := &streebog{size: Size256}; d.Reset(); return d }

// New512 returns a new hash.Hash computing Streebog-512. Its state can be
// saved and restored with encoding.BinaryMarshaler/BinaryUnmarshaler.
func New512() hash.Hash { d := &streebog{size: Size512}; d.Reset(); return d }

// Sum256 returns the Streebog-256 digest of data.
func Sum256(data []byte) [Size256]byte {
	d := streebog{size: Size256}
	d.Reset()
	d.Write(data)
	var out [Size256]byte
	d.checkSum(out[:0])
	return out
}

// Sum512 returns the Streebog-512 digest of data.
func Sum512(data []byte) [Size512]byte {
	d := streebog{size: Size512}
	d.Reset()
	d.Write(data)
	var out [Size512]byte
	d.checkSum(out[:0])
	return out
}

// Reset restores the initial state: IV = 0x01 repeated for the 256-bit
// variant, zero for the 512-bit one.
func (d *streebog) Reset() {
	iv := uint64(0)
	if d.size == Size256 {
		iv = 0x0101010101010101
	}
	for i := range d.h {
		d.h[i] = iv
	}
	d.n = [8]uint64{}
	d.sigma = [8]uint64{}
	d.nx = 0
}

func (d *streebog) Size() int      { return d.size }
func (d *streebog) BlockSize() int { return BlockSize }

// Write absorbs p. Full blocks are compressed straight from p; only a
// trailing partial block is copied into the state.
func (d *streebog) Write(p []byte) (int, error) {
	n := len(p)
	if d.nx > 0 {
		c := copy(d.buf[d.nx:], p)
		d.nx += c
		p = p[c:]
		if d.nx < BlockSize {
			return n, nil
		}
		d.blocks(d.buf[:])
		d.nx = 0
	}
	if full := len(p) &^ (BlockSize - 1); full > 0 {
		d.blocks(p[:full])
		p = p[full:]
	}
	d.nx = copy(d.buf[:], p)
	return n, nil
}

// blocks compresses whole 64-byte blocks (stage 2 of RFC 6986 §8).
func (d *streebog) blocks(p []byte) {
	var m [8]uint64
	for len(p) >= BlockSize {
		for i := range m {
			m[i] = binary.LittleEndian.Uint64(p[8*i:])
		}
		gBlock(&d.h, &d.n, &m)
		add512(&d.n, 512)
		addVec512(&d.sigma, &m)
		p = p[BlockSize:]
	}
}

// Sum appends the digest to b without changing the state, so writing may
// go on afterwards.
func (d *streebog) Sum(b []byte) []byte {
	c := *d
	return c.checkSum(b)
}

// Clone returns an independent copy of the running hash (hash.Cloner).
func (d *streebog) Clone() (hash.Cloner, error) {
	c := *d
	return &c, nil
}

// checkSum runs stage 3 of RFC 6986 §8 on d and appends the digest.
func (d *streebog) checkSum(b []byte) []byte {
	// Pad the partial block: its bytes, then 0x01, then zeros (the
	// standard's 0…01‖M read as a little-endian number).
	var pad [BlockSize]byte
	copy(pad[:], d.buf[:d.nx])
	pad[d.nx] = 1
	var m [8]uint64
	for i := range m {
		m[i] = binary.LittleEndian.Uint64(pad[8*i:])
	}
	gBlock(&d.h, &d.n, &m)
	add512(&d.n, uint64(d.nx)*8)
	addVec512(&d.sigma, &m)
	var zero [8]uint64
	gBlock(&d.h, &zero, &d.n)
	gBlock(&d.h, &zero, &d.sigma)

	var out [Size512]byte
	for i, w := range d.h {
		binary.LittleEndian.PutUint64(out[8*i:], w)
	}
	// The 256-bit digest is the most significant half of h.
	return append(b, out[Size512-d.size:]...)
}

// add512 adds a small number to a 512-bit counter, modulo 2^512.
func add512(x *[8]uint64, v uint64) {
	var c uint64
	x[0], c = bits.Add64(x[0], v, 0)
	for i := 1; i < 8 && c != 0; i++ {
		x[i], c = bits.Add64(x[i], 0, c)
	}
}

// addVec512 sets x = x + y modulo 2^512.
func addVec512(x, y *[8]uint64) {
	var c uint64
	for i := range x {
		x[i], c = bits.Add64(x[i], y[i], c)
	}
}

// The marshaled state is magic ‖ h ‖ N ‖ Σ ‖ buffered bytes (zero-padded
// to a block) ‖ number of buffered bytes, words big-endian like the
// standard library's hashes. The magic names the variant, so a state of
// one size cannot be loaded into the other.
const (
	streebogMagic256     = "stbg\x20"
	streebogMagic512     = "stbg\x40"
	streebogMarshaledLen = len(streebogMagic256) + 3*64 + BlockSize + 1
)

// ErrStreebogState is returned (wrapped) when a saved state cannot be
// restored.
var ErrStreebogState = errors.New("gost: invalid Streebog state")

func (d *streebog) magic() string {
	if d.size == Size256 {
		return streebogMagic256
	}
	return streebogMagic512
}

// MarshalBinary saves the state (encoding.BinaryMarshaler).
func (d *streebog) MarshalBinary() ([]byte, error) {
	return d.AppendBinary(make([]byte, 0, streebogMarshaledLen))
}

// AppendBinary appends the saved state to b (encoding.BinaryAppender).
func (d *streebog) AppendBinary(b []byte) ([]byte, error) {
	b = append(b, d.magic()...)
	for _, v := range [...]*[8]uint64{&d.h, &d.n, &d.sigma} {
		for _, w := range v {
			b = binary.BigEndian.AppendUint64(b, w)
		}
	}
	b = append(b, d.buf[:d.nx]...)
	b = append(b, make([]byte, BlockSize-d.nx)...)
	return append(b, byte(d.nx)), nil
}

// UnmarshalBinary restores a state saved by MarshalBinary of the same
// variant (encoding.BinaryUnmarshaler).
func (d *streebog) UnmarshalBinary(b []byte) error {
	magic := d.magic()
	if len(b) < len(magic) || string(b[:len(magic)]) != magic {
		if len(b) >= len(magic) && string(b[:len(magic)-1]) == magic[:len(magic)-1] {
			return fmt.Errorf("%w: state is of the other Streebog size", ErrStreebogState)
		}
		return fmt.Errorf("%w: state identifier not recognized", ErrStreebogState)
	}
	if len(b) != streebogMarshaledLen {
		return fmt.Errorf("%w: state size mismatch", ErrStreebogState)
	}
	p := b[len(magic):]
	var st streebog
	st.size = d.size
	for _, v := range [...]*[8]uint64{&st.h, &st.n, &st.sigma} {
		for i := range v {
			v[i] = binary.BigEndian.Uint64(p)
			p = p[8:]
		}
	}
	copy(st.buf[:], p[:BlockSize])
	st.nx = int(p[BlockSize])
	// Only whole blocks are ever counted in N; bytes past nx are padding.
	if st.nx >= BlockSize || st.n[0]%512 != 0 {
		return fmt.Errorf("%w: inconsistent lengths", ErrStreebogState)
	}
	for _, c := range st.buf[st.nx:] {
		if c != 0 {
			return fmt.Errorf("%w: nonzero padding", ErrStreebogState)
		}
	}
	*d = st
	return nil
}
