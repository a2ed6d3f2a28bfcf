package gost

// SignDigestWithK signs digest with the given nonce k (little-endian,
// 0 < k < Q), for reproducing the standard's examples, which fix k.
func SignDigestWithK(priv *PrivateKey, digest, k []byte) ([]byte, bool) {
	return priv.signWith(k, digestToE(priv.Curve, digest))
}
