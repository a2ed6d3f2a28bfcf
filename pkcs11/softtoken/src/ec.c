/*
 * ECDSA on the NIST curves through OpenSSL's default provider (no engine),
 * for keys such as a service's TLS key that live on the softtoken beside
 * the GOST ones. PKCS#11 conventions: CKA_EC_PARAMS is the DER curve OID,
 * CKA_EC_POINT a DER OCTET STRING around 04‖X‖Y, the private CKA_VALUE the
 * big-endian scalar, and a signature r‖s with fixed-length halves.
 */
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "st.h"

static const eccurve_t eccurves[] = {
	{"prime256v1", NID_X9_62_prime256v1, {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}, 10, 32},
	{"secp384r1", NID_secp384r1, {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x22}, 7, 48},
	{"secp521r1", NID_secp521r1, {0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23}, 7, 66},
};

const eccurve_t *eccurve_by_der(const unsigned char *der, size_t len)
{
	for (size_t i = 0; i < sizeof(eccurves) / sizeof(eccurves[0]); i++)
		if (eccurves[i].der_len == len && memcmp(eccurves[i].der, der, len) == 0)
			return &eccurves[i];
	return NULL;
}

/* build makes a key from its parts; priv may be NULL for a public key. */
static EVP_PKEY *build(const eccurve_t *c, const BIGNUM *priv, const unsigned char *pt, size_t ptlen)
{
	EVP_PKEY *key = NULL;
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (b == NULL || ctx == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, c->name, 0) ||
	    !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pt, ptlen) ||
	    (priv != NULL && !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, priv)) ||
	    (params = OSSL_PARAM_BLD_to_param(b)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &key, priv != NULL ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) <= 0)
		key = NULL;
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

/* check refuses a point that is not on the curve (fromdata does not). */
static int check(EVP_PKEY *key)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	int ok = ctx != NULL && EVP_PKEY_public_check(ctx) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok;
}

int ec_keygen(const eccurve_t *c, unsigned char *d, unsigned char *pt)
{
	EVP_PKEY *key = NULL;
	BIGNUM *priv = NULL;
	size_t ptlen = 0;
	int rc = -1;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_group_name(ctx, c->name) <= 0 || EVP_PKEY_keygen(ctx, &key) <= 0)
		goto out;
	if (!EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_PRIV_KEY, &priv) ||
	    BN_bn2binpad(priv, d, (int)c->size) != (int)c->size ||
	    !EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_PUB_KEY, pt, 1 + 2 * c->size, &ptlen) ||
	    ptlen != 1 + 2 * c->size || pt[0] != 4)
		goto out;
	rc = 0;
out:
	BN_clear_free(priv);
	EVP_PKEY_free(key);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

EVP_PKEY *ec_private_key(const eccurve_t *c, const unsigned char *d, size_t dlen)
{
	/* Importers may drop the scalar's leading zero bytes. */
	if (dlen == 0 || dlen > c->size)
		return NULL;
	unsigned char pt[1 + 2 * 66];
	size_t ptlen = 1 + 2 * c->size;
	BIGNUM *k = BN_bin2bn(d, (int)dlen, NULL);
	EC_GROUP *g = EC_GROUP_new_by_curve_name(c->nid);
	EC_POINT *p = g != NULL ? EC_POINT_new(g) : NULL;
	EVP_PKEY *key = NULL;
	if (k != NULL && p != NULL && !BN_is_zero(k) && BN_cmp(k, EC_GROUP_get0_order(g)) < 0 &&
	    EC_POINT_mul(g, p, k, NULL, NULL, NULL) &&
	    EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, pt, ptlen, NULL) == ptlen)
		key = build(c, k, pt, ptlen);
	EC_POINT_free(p);
	EC_GROUP_free(g);
	BN_clear_free(k);
	return key;
}

EVP_PKEY *ec_public_key(const eccurve_t *c, const unsigned char *pt, size_t ptlen)
{
	if (ptlen != 1 + 2 * c->size || pt[0] != 4)
		return NULL;
	EVP_PKEY *key = build(c, NULL, pt, ptlen);
	if (key != NULL && !check(key)) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

int ec_sign(EVP_PKEY *key, size_t size, const unsigned char *h, size_t hlen, unsigned char *sig)
{
	unsigned char der[160];
	size_t derlen = sizeof(der);
	const unsigned char *p = der;
	ECDSA_SIG *es = NULL;
	int rc = -1;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	if (ctx != NULL && EVP_PKEY_sign_init(ctx) > 0 && EVP_PKEY_sign(ctx, der, &derlen, h, hlen) > 0 &&
	    (es = d2i_ECDSA_SIG(NULL, &p, (long)derlen)) != NULL &&
	    BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, (int)size) == (int)size &&
	    BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + size, (int)size) == (int)size)
		rc = 0;
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(ctx);
	return rc;
}

int ec_verify(EVP_PKEY *key, size_t size, const unsigned char *h, size_t hlen, const unsigned char *sig)
{
	ECDSA_SIG *es = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(sig, (int)size, NULL), *s = BN_bin2bn(sig + size, (int)size, NULL);
	unsigned char *der = NULL;
	int derlen = -1, ok = 0;
	if (es != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(es, r, s)) {
		r = s = NULL;
		derlen = i2d_ECDSA_SIG(es, &der);
	}
	EVP_PKEY_CTX *ctx = derlen > 0 ? EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL) : NULL;
	if (ctx != NULL && EVP_PKEY_verify_init(ctx) > 0)
		ok = EVP_PKEY_verify(ctx, der, (size_t)derlen, h, hlen) == 1;
	EVP_PKEY_CTX_free(ctx);
	OPENSSL_free(der);
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return ok ? 0 : -1;
}

EVP_MD_CTX *sha_new(int bits)
{
	const EVP_MD *md = bits == 512 ? EVP_sha512() : bits == 384 ? EVP_sha384() : EVP_sha256();
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (ctx == NULL || !EVP_DigestInit_ex(ctx, md, NULL)) {
		EVP_MD_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}
