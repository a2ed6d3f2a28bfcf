package pkcs11

import (
	"encoding/binary"
	"errors"
	"math/big"
	"testing"

	p11 "github.com/miekg/pkcs11"

	"github.com/gostkey/gostkey/gost"
)

// smallOrderValues are CKA_VALUE (X_le ‖ Y_le) of points of order 2 and 4
// on the cofactor-4 curves, as the gost package's tests find them ([q]R for
// points R of the curve). A token showing one of them as a key's public
// value must not get it accepted: signatures could be forged for it.
var smallOrderValues = []struct {
	name  string
	curve *gost.Curve
	x, y  string
}{
	{"256-A order 2", gost.CurveTC26256A, "100FE73F595FF158E974B44D478D9588744FE5C192AC47EA63075DCE7A14AAA", "0"},
	{"256-A order 4", gost.CurveTC26256A,
		"7F7F80C60535007538B45A5D95C39353BC5D80D1F36A9DC0ACE7C5118C2F5977",
		"7E7E82520F9F015FAA1D0F18C14AB9FB35188275DA3FD94206B74F34A48E0ECD"},
	{"512-C order 2", gost.CurveTC26512C,
		"9A628F975594ECEFD89BA28A2539FFB79C8AB238AEED0851FA5C1ABB02B80B44C6734501B83A011DD625CD0B5145091A6D9ACD4B1F5C5B1E21B2B249DDFD1271", "0"},
	{"512-C order 4", gost.CurveTC26512C,
		"B2CEB8345535898813B22EBAED63002431BAA6E3A8897BD702D1F2A27EA3FA5D9CC65D7F23E2FF7114ED197A575D7B72C932995A7051D270EF26A6DB1101748F",
		"186C289CFFA09C983B168C30C829006C952FF4AAF99C73850875D7E77BEBEF18D653187D6BA8FE533EC74C6F061872585B97CC0F50F57752CD73F4913304621E"},
}

func leHex(t *testing.T, s string, size int) []byte {
	t.Helper()
	v, ok := new(big.Int).SetString(s, 16)
	if !ok {
		t.Fatal("bad hex")
	}
	out := v.FillBytes(make([]byte, size))
	for i, j := 0, size-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// TestPublicKeyRefusesSmallOrder: public values read from a token go
// through gost.NewPublicKey's subgroup check, raw or wrapped in an OCTET
// STRING.
func TestPublicKeyRefusesSmallOrder(t *testing.T) {
	for _, tt := range smallOrderValues {
		c := tt.curve
		x, y := leHex(t, tt.x, c.Size()), leHex(t, tt.y, c.Size())
		xb, yb := new(big.Int).SetBytes(reverseBytes(x)), new(big.Int).SetBytes(reverseBytes(y))
		rhs := new(big.Int).Mul(xb, xb)
		rhs.Add(rhs, c.A).Mul(rhs, xb).Add(rhs, c.B).Mod(rhs, c.P)
		if new(big.Int).Mod(new(big.Int).Mul(yb, yb), c.P).Cmp(rhs) != 0 {
			t.Fatalf("%s: not a point of the curve", tt.name)
		}
		value := append(x, y...)
		keyType := uint(CKK_GOSTR3410)
		if c.Size() == gost.Size512 {
			keyType = CKK_GOSTR3410_512
		}
		kt := make([]byte, 8)
		binary.NativeEndian.PutUint64(kt, uint64(keyType))
		for _, v := range [][]byte{value, derOctetString(value)} {
			attrs := map[uint][]byte{
				p11.CKA_KEY_TYPE:     kt,
				CKA_GOSTR3410_PARAMS: derOID(c.OID),
				p11.CKA_VALUE:        v,
			}
			if pub, err := publicKey(attrs); !errors.Is(err, gost.ErrNotInSubgroup) {
				t.Errorf("%s: publicKey = %v, %v; want gost.ErrNotInSubgroup", tt.name, pub != nil, err)
			}
		}
	}
}

func reverseBytes(b []byte) []byte {
	out := make([]byte, len(b))
	for i, v := range b {
		out[len(b)-1-i] = v
	}
	return out
}

func derOctetString(v []byte) []byte {
	if len(v) < 0x80 {
		return append([]byte{0x04, byte(len(v))}, v...)
	}
	return append([]byte{0x04, 0x81, byte(len(v))}, v...)
}
