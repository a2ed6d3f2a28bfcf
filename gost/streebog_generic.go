package gost

// xlps sets out = L(P(S(x ⊕ y))). out may alias x or y: the inputs are
// read in full before out is written.
func xlps(out, x, y *[8]uint64) {
	r0, r1, r2, r3 := x[0]^y[0], x[1]^y[1], x[2]^y[2], x[3]^y[3]
	r4, r5, r6, r7 := x[4]^y[4], x[5]^y[5], x[6]^y[6], x[7]^y[7]
	out[0] = lps[0][uint8(r0)] ^
		lps[1][uint8(r1)] ^
		lps[2][uint8(r2)] ^
		lps[3][uint8(r3)] ^
		lps[4][uint8(r4)] ^
		lps[5][uint8(r5)] ^
		lps[6][uint8(r6)] ^
		lps[7][uint8(r7)]
	out[1] = lps[0][uint8(r0>>8)] ^
		lps[1][uint8(r1>>8)] ^
		lps[2][uint8(r2>>8)] ^
		lps[3][uint8(r3>>8)] ^
		lps[4][uint8(r4>>8)] ^
		lps[5][uint8(r5>>8)] ^
		lps[6][uint8(r6>>8)] ^
		lps[7][uint8(r7>>8)]
	out[2] = lps[0][uint8(r0>>16)] ^
		lps[1][uint8(r1>>16)] ^
		lps[2][uint8(r2>>16)] ^
		lps[3][uint8(r3>>16)] ^
		lps[4][uint8(r4>>16)] ^
		lps[5][uint8(r5>>16)] ^
		lps[6][uint8(r6>>16)] ^
		lps[7][uint8(r7>>16)]
	out[3] = lps[0][uint8(r0>>24)] ^
		lps[1][uint8(r1>>24)] ^
		lps[2][uint8(r2>>24)] ^
		lps[3][uint8(r3>>24)] ^
		lps[4][uint8(r4>>24)] ^
		lps[5][uint8(r5>>24)] ^
		lps[6][uint8(r6>>24)] ^
		lps[7][uint8(r7>>24)]
	out[4] = lps[0][uint8(r0>>32)] ^
		lps[1][uint8(r1>>32)] ^
		lps[2][uint8(r2>>32)] ^
		lps[3][uint8(r3>>32)] ^
		lps[4][uint8(r4>>32)] ^
		lps[5][uint8(r5>>32)] ^
		lps[6][uint8(r6>>32)] ^
		lps[7][uint8(r7>>32)]
	out[5] = lps[0][uint8(r0>>40)] ^
		lps[1][uint8(r1>>40)] ^
		lps[2][uint8(r2>>40)] ^
		lps[3][uint8(r3>>40)] ^
		lps[4][uint8(r4>>40)] ^
		lps[5][uint8(r5>>40)] ^
		lps[6][uint8(r6>>40)] ^
		lps[7][uint8(r7>>40)]
	out[6] = lps[0][uint8(r0>>48)] ^
		lps[1][uint8(r1>>48)] ^
		lps[2][uint8(r2>>48)] ^
		lps[3][uint8(r3>>48)] ^
		lps[4][uint8(r4>>48)] ^
		lps[5][uint8(r5>>48)] ^
		lps[6][uint8(r6>>48)] ^
		lps[7][uint8(r7>>48)]
	out[7] = lps[0][uint8(r0>>56)] ^
		lps[1][uint8(r1>>56)] ^
		lps[2][uint8(r2>>56)] ^
		lps[3][uint8(r3>>56)] ^
		lps[4][uint8(r4>>56)] ^
		lps[5][uint8(r5>>56)] ^
		lps[6][uint8(r6>>56)] ^
		lps[7][uint8(r7>>56)]
}

// gGeneric is the compression function g_N (RFC 6986 §7): h = E(LPS(h⊕N),
// m) ⊕ h ⊕ m, with the twelve rounds of E and its key schedule unrolled
// into straight calls.
func gGeneric(h, n, m *[8]uint64) {
	var k, s [8]uint64
	xlps(&k, h, n)
	xlps(&s, &k, m)
	xlps(&k, &k, &streebogC[0])
	xlps(&s, &s, &k)
	xlps(&k, &k, &streebogC[1])
	xlps(&s, &s, &k)
	xlps(&k, &k, &streebogC[2])
	xlps(&s, &s, &k)
	xlps(&k, &k, &streebogC[3])
	xlps(&s, &s, &k)
	xlps(&k, &k, &streebogC[4])
	xlps(&s, &s, &k)
	xlps(&k, &k, &streebogC[5])
	xlps(&s, &s, &k)
	xlps(&k, &k, &streebogC[6])
	xlps(&s, &s, &k)
	xlps(&k, &k, &streebogC[7])
	xlps(&s, &s, &k)
	xlps(&k, &k, &streebogC[8])
	xlps(&s, &s, &k)
	xlps(&k, &k, &streebogC[9])
	xlps(&s, &s, &k)
	xlps(&k, &k, &streebogC[10])
	xlps(&s, &s, &k)
	xlps(&k, &k, &streebogC[11])
	for i := range 8 {
		h[i] ^= s[i] ^ k[i] ^ m[i]
	}
}
