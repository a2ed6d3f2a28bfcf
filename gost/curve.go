package gost

import (
	"encoding/asn1"
	"math/big"
)

// Curve is a GOST R 34.10-2012 parameter set: a short Weierstrass curve
// y² = x³ + a·x + b over GF(p) with a base point (X, Y) of prime order Q.
//
// The big.Int fields are public domain parameters for callers (encoders,
// printers); they must not be modified. Arithmetic never touches them on
// secret data: it runs on the unexported fixed-size state.
type Curve struct {
	Name     string                // e.g. "id-tc26-gost-3410-2012-256-paramSetA"
	OID      asn1.ObjectIdentifier // publicKeyParamSet
	Hash     Hash                  // Streebog256 for 256-bit curves, Streebog512 for 512-bit
	P, A, B  *big.Int              // field prime and coefficients
	Q        *big.Int              // order of the base point's subgroup
	X, Y     *big.Int              // base point
	Cofactor int                   // group order = Cofactor·Q

	size int
	ops  *curveOps // shared between aliases of the same curve
}

// Size is the length in bytes of a coordinate, a scalar and each half of a
// signature: 32 or 64.
func (c *Curve) Size() int { return c.size }

// curveParams are the coefficients of one curve as published (big-endian
// hex), shared by the parameter sets that name the same curve.
type curveParams struct {
	p, a, b, q, x, y string
	cofactor         int
	// e1 is, on the cofactor-4 curves, the x of the one point of order 2,
	// (e1, 0): the root of x³ + a·x + b in GF(p) (found as [q]R for points
	// R of the curve, and checked when the curve is set up). The subgroup
	// check needs it.
	e1 string
}

// Coefficients from RFC 7091 (the test sets), RFC 4357 (CryptoPro) and
// RFC 7836 / TC26 (paramSetA–C), as also listed in gost-engine's
// gost_params.c. Each set is checked in tests (base point on the curve,
// Q·G = O) and against OpenSSL.
var (
	paramsTest256 = &curveParams{
		p:        "8000000000000000000000000000000000000000000000000000000000000431",
		a:        "7",
		b:        "5FBFF498AA938CE739B8E022FBAFEF40563F6E6A3472FC2A514C0CE9DAE23B7E",
		q:        "8000000000000000000000000000000150FE8A1892976154C59CFC193ACCF5B3",
		x:        "2",
		y:        "08E2A8A0E65147D4BD6316030E16D19C85C97F0A9CA267122B96ABBCEA7E8FC8",
		cofactor: 1,
	}
	paramsCryptoProA = &curveParams{
		p:        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFD97",
		a:        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFD94",
		b:        "A6",
		q:        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF6C611070995AD10045841B09B761B893",
		x:        "1",
		y:        "8D91E471E0989CDA27DF505A453F2B7635294F2DDF23E3B122ACC99C9E9F1E14",
		cofactor: 1,
	}
	paramsCryptoProB = &curveParams{
		p:        "8000000000000000000000000000000000000000000000000000000000000C99",
		a:        "8000000000000000000000000000000000000000000000000000000000000C96",
		b:        "3E1AF419A269A5F866A7D3C25C3DF80AE979259373FF2B182F49D4CE7E1BBC8B",
		q:        "800000000000000000000000000000015F700CFFF1A624E5E497161BCC8A198F",
		x:        "1",
		y:        "3FA8124359F96680B83D1C3EB2C070E5C545C9858D03ECFB744BF8D717717EFC",
		cofactor: 1,
	}
	paramsCryptoProC = &curveParams{
		p:        "9B9F605F5A858107AB1EC85E6B41C8AACF846E86789051D37998F7B9022D759B",
		a:        "9B9F605F5A858107AB1EC85E6B41C8AACF846E86789051D37998F7B9022D7598",
		b:        "805A",
		q:        "9B9F605F5A858107AB1EC85E6B41C8AA582CA3511EDDFB74F02F3A6598980BB9",
		x:        "0",
		y:        "41ECE55743711A8C3CBF3783CD08C0EE4D4DC440D4641A8F366E550DFDB3BB67",
		cofactor: 1,
	}
	paramsTC26256A = &curveParams{
		p:        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFD97",
		a:        "C2173F1513981673AF4892C23035A27CE25E2013BF95AA33B22C656F277E7335",
		b:        "295F9BAE7428ED9CCC20E7C359A9D41A22FCCD9108E17BF7BA9337A6F8AE9513",
		q:        "400000000000000000000000000000000FD8CDDFC87B6635C115AF556C360C67",
		x:        "91E38443A5E82C0D880923425712B2BB658B9196932E02C78B2582FE742DAA28",
		y:        "32879423AB1A0375895786C4BB46E9565FDE0B5344766740AF268ADB32322E5C",
		cofactor: 4,
		e1:       "0100FE73F595FF158E974B44D478D9588744FE5C192AC47EA63075DCE7A14AAA",
	}
	paramsTest512 = &curveParams{
		p: "4531ACD1FE0023C7550D267B6B2FEE80922B14B2FFB90F04D4EB7C09B5D2D15D" +
			"F1D852741AF4704A0458047E80E4546D35B8336FAC224DD81664BBF528BE6373",
		a: "7",
		b: "1CFF0806A31116DA29D8CFA54E57EB748BC5F377E49400FDD788B649ECA1AC43" +
			"61834013B2AD7322480A89CA58E0CF74BC9E540C2ADD6897FAD0A3084F302ADC",
		q: "4531ACD1FE0023C7550D267B6B2FEE80922B14B2FFB90F04D4EB7C09B5D2D15D" +
			"A82F2D7ECB1DBAC719905C5EECC423F1D86E25EDBE23C595D644AAF187E6E6DF",
		x: "24D19CC64572EE30F396BF6EBBFD7A6C5213B3B3D7057CC825F91093A68CD762" +
			"FD60611262CD838DC6B60AA7EEE804E28BC849977FAC33B4B530F1B120248A9A",
		y: "2BB312A43BD2CE6E0D020613C857ACDDCFBF061E91E5F2C3F32447C259F39B2C" +
			"83AB156D77F1496BF7EB3351E1EE4E43DC1A18B91B24640B6DBB92CB1ADD371E",
		cofactor: 1,
	}
	paramsTC26512A = &curveParams{
		p: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" +
			"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFDC7",
		a: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" +
			"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFDC4",
		b: "E8C2505DEDFC86DDC1BD0B2B6667F1DA34B82574761CB0E879BD081CFD0B6265" +
			"EE3CB090F30D27614CB4574010DA90DD862EF9D4EBEE4761503190785A71C760",
		q: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" +
			"27E69532F48D89116FF22B8D4E0560609B4B38ABFAD2B85DCACDB1411F10B275",
		x: "3",
		y: "7503CFE87A836AE3A61B8816E25450E6CE5E1C93ACF1ABC1778064FDCBEFA921" +
			"DF1626BE4FD036E93D75E6A50E3A41E98028FE5FC235F5B889A589CB5215F2A4",
		cofactor: 1,
	}
	paramsTC26512B = &curveParams{
		p: "8000000000000000000000000000000000000000000000000000000000000000" +
			"000000000000000000000000000000000000000000000000000000000000006F",
		a: "8000000000000000000000000000000000000000000000000000000000000000" +
			"000000000000000000000000000000000000000000000000000000000000006C",
		b: "687D1B459DC841457E3E06CF6F5E2517B97C7D614AF138BCBF85DC806C4B289F" +
			"3E965D2DB1416D217F8B276FAD1AB69C50F78BEE1FA3106EFB8CCBC7C5140116",
		q: "8000000000000000000000000000000000000000000000000000000000000001" +
			"49A1EC142565A545ACFDB77BD9D40CFA8B996712101BEA0EC6346C54374F25BD",
		x: "2",
		y: "1A8F7EDA389B094C2C071E3647A8940F3C123B697578C213BE6DD9E6C8EC7335" +
			"DCB228FD1EDF4A39152CBCAAF8C0398828041055F94CEEEC7E21340780FE41BD",
		cofactor: 1,
	}
	paramsTC26512C = &curveParams{
		p: "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" +
			"FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFDC7",
		a: "DC9203E514A721875485A529D2C722FB187BC8980EB866644DE41C68E1430645" +
			"46E861C0E2C9EDD92ADE71F46FCF50FF2AD97F951FDA9F2A2EB6546F39689BD3",
		b: "B4C4EE28CEBC6C2C8AC12952CF37F16AC7EFB6A9F69F4B57FFDA2E4F0DE5ADE0" +
			"38CBC2FFF719D2C18DE0284B8BFEF3B52B8CC7A5F5BF0A3C8D2319A5312557E1",
		q: "3FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF" +
			"C98CDBA46506AB004C33A9FF5147502CC8EDA9E7A769A12694623CEF47F023ED",
		x: "E2E31EDFC23DE7BDEBE241CE593EF5DE2295B7A9CBAEF021D385F7074CEA043A" +
			"A27272A7AE602BF2A7B9033DB9ED3610C6FB85487EAE97AAC5BC7928C1950148",
		y: "F5CE40D95B5EB899ABBCCFF5911CB8577939804D6527378B8C108C3D2090FF9B" +
			"E18E2D33E3021ED2EF32D85822423B6304F726AA854BAE07D0396E9A9ADDC40F",
		cofactor: 4,
		e1: "9A628F975594ECEFD89BA28A2539FFB79C8AB238AEED0851FA5C1ABB02B80B44" +
			"C6734501B83A011DD625CD0B5145091A6D9ACD4B1F5C5B1E21B2B249DDFD1271",
	}
)

// The parameter sets. Sets that name the same curve (TC26-256-B/C/D =
// CryptoPro-A/B/C, XchA = CryptoPro-A, XchB = CryptoPro-C) are distinct
// values with their own OID, so that the OID read is the OID written; they
// share their arithmetic state.
var (
	CurveTC26256A      = newCurve("id-tc26-gost-3410-2012-256-paramSetA", oid(1, 2, 643, 7, 1, 2, 1, 1, 1), paramsTC26256A)
	CurveTC26256B      = newCurve("id-tc26-gost-3410-2012-256-paramSetB", oid(1, 2, 643, 7, 1, 2, 1, 1, 2), paramsCryptoProA)
	CurveTC26256C      = newCurve("id-tc26-gost-3410-2012-256-paramSetC", oid(1, 2, 643, 7, 1, 2, 1, 1, 3), paramsCryptoProB)
	CurveTC26256D      = newCurve("id-tc26-gost-3410-2012-256-paramSetD", oid(1, 2, 643, 7, 1, 2, 1, 1, 4), paramsCryptoProC)
	CurveCryptoProA    = newCurve("id-GostR3410-2001-CryptoPro-A-ParamSet", oid(1, 2, 643, 2, 2, 35, 1), paramsCryptoProA)
	CurveCryptoProB    = newCurve("id-GostR3410-2001-CryptoPro-B-ParamSet", oid(1, 2, 643, 2, 2, 35, 2), paramsCryptoProB)
	CurveCryptoProC    = newCurve("id-GostR3410-2001-CryptoPro-C-ParamSet", oid(1, 2, 643, 2, 2, 35, 3), paramsCryptoProC)
	CurveCryptoProXchA = newCurve("id-GostR3410-2001-CryptoPro-XchA-ParamSet", oid(1, 2, 643, 2, 2, 36, 0), paramsCryptoProA)
	CurveCryptoProXchB = newCurve("id-GostR3410-2001-CryptoPro-XchB-ParamSet", oid(1, 2, 643, 2, 2, 36, 1), paramsCryptoProC)
	CurveTest256       = newCurve("id-GostR3410-2001-TestParamSet", oid(1, 2, 643, 2, 2, 35, 0), paramsTest256)
	CurveTC26512A      = newCurve("id-tc26-gost-3410-2012-512-paramSetA", oid(1, 2, 643, 7, 1, 2, 1, 2, 1), paramsTC26512A)
	CurveTC26512B      = newCurve("id-tc26-gost-3410-2012-512-paramSetB", oid(1, 2, 643, 7, 1, 2, 1, 2, 2), paramsTC26512B)
	CurveTC26512C      = newCurve("id-tc26-gost-3410-2012-512-paramSetC", oid(1, 2, 643, 7, 1, 2, 1, 2, 3), paramsTC26512C)
	CurveTest512       = newCurve("id-tc26-gost-3410-2012-512-paramSetTest", oid(1, 2, 643, 7, 1, 2, 1, 2, 0), paramsTest512)
)

var allCurves = []*Curve{
	CurveTC26256A, CurveTC26256B, CurveTC26256C, CurveTC26256D,
	CurveCryptoProA, CurveCryptoProB, CurveCryptoProC, CurveCryptoProXchA, CurveCryptoProXchB,
	CurveTest256,
	CurveTC26512A, CurveTC26512B, CurveTC26512C, CurveTest512,
}

// Curves returns every parameter set, in a stable order: TC26-256 A–D,
// CryptoPro A, B, C, XchA, XchB, the 256-bit test set, TC26-512 A–C and the
// 512-bit test set.
func Curves() []*Curve {
	return append([]*Curve(nil), allCurves...)
}

// CurveByOID finds a parameter set by its publicKeyParamSet OID.
func CurveByOID(id asn1.ObjectIdentifier) (*Curve, bool) {
	for _, c := range allCurves {
		if c.OID.Equal(id) {
			return c, true
		}
	}
	return nil, false
}

func oid(arcs ...int) asn1.ObjectIdentifier { return asn1.ObjectIdentifier(arcs) }

// opsByParams makes aliases share one arithmetic state (and its tables).
var opsByParams = map[*curveParams]*curveOps{}

func newCurve(name string, id asn1.ObjectIdentifier, cp *curveParams) *Curve {
	c := &Curve{
		Name:     name,
		OID:      id,
		P:        curveHex(cp.p),
		A:        curveHex(cp.a),
		B:        curveHex(cp.b),
		Q:        curveHex(cp.q),
		X:        curveHex(cp.x),
		Y:        curveHex(cp.y),
		Cofactor: cp.cofactor,
	}
	c.size = (c.P.BitLen() + 7) / 8
	c.Hash = Streebog256
	if c.size > 32 {
		c.size = 64
		c.Hash = Streebog512
	} else {
		c.size = 32
	}
	ops, ok := opsByParams[cp]
	if !ok {
		ops = newCurveOps(c, cp.e1)
		opsByParams[cp] = ops
	}
	c.ops = ops
	return c
}

func curveHex(s string) *big.Int {
	v, ok := new(big.Int).SetString(s, 16)
	if !ok {
		panic("gost: bad curve constant " + s)
	}
	return v
}
