/*
 * GOST R 34.10-2012 keys and Streebog through OpenSSL's gost engine,
 * signatures computed here on the engine's curves (for a hedged nonce), plus
 * the PIN-derived key wrapping. The engine is reached by
 * explicit ENGINE pointers only: nothing here makes it a default for the host
 * process. The one global registration is ENGINE_register_pkey_asn1_meths,
 * because the engine's key generation stores its keys through
 * EVP_PKEY_assign, which finds the GOST key type only in that table; it
 * covers GOST key types only, which nothing else in OpenSSL 3.0 provides.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/engine.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/rand.h>

#include "st.h"

/* The engine stays loaded for the life of the process once loaded: unloading
 * the engine's shared object under OpenSSL's tables is unsafe, and a second
 * bind of the same object is refused by the engine. */
static ENGINE *g_eng;

/* The engine's scalar multiplication (gost_ec_point_mul, same arguments as
 * EC_POINT_mul), when its shared object exports it, as engine 3.0 does:
 * for the TC26 and CryptoPro curves it runs generated constant-time code,
 * about ten times faster than OpenSSL's generic ladder (≈35 µs against
 * ≈350 µs for a 256-bit k·P here), and it is what the engine's own signing
 * uses. Not found: EC_POINT_mul. */
typedef int (*point_mul_fn)(const EC_GROUP *, EC_POINT *, const BIGNUM *, const EC_POINT *, const BIGNUM *, BN_CTX *);
static point_mul_fn g_mul;

static void find_engine_mul(ENGINE *e)
{
	Dl_info info;
	ENGINE_GEN_INT_FUNC_PTR f = ENGINE_get_init_function(e);
	if (f == NULL || dladdr((void *)f, &info) == 0 || info.dli_fname == NULL)
		return;
	/* RTLD_NOLOAD: only the object the engine already runs from. The
	 * handle is kept, as the engine is. */
	void *h = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
	if (h != NULL)
		g_mul = (point_mul_fn)dlsym(h, "gost_ec_point_mul");
}

static int mul_g(const EC_GROUP *g, EC_POINT *r, const BIGNUM *k, BN_CTX *ctx)
{
	return g_mul != NULL ? g_mul(g, r, k, NULL, NULL, ctx) : EC_POINT_mul(g, r, k, NULL, NULL, ctx);
}

const unsigned char OID_STREEBOG256[10] = {0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x02, 0x02};
const unsigned char OID_STREEBOG512[10] = {0x06, 0x08, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x01, 0x02, 0x03};

#define TC26(a, b) {0x06, 0x09, 0x2a, 0x85, 0x03, 0x07, 0x01, 0x02, 0x01, a, b}, 11
#define CPRO(a, b) {0x06, 0x07, 0x2a, 0x85, 0x03, 0x02, 0x02, a, b}, 9

/* Each curve with the paramset name the engine takes: for 256-bit keys
 * "A".."C" are the CryptoPro sets and "TCA".."TCD" the TC26 ones (the
 * engine refuses TC26 D's dotted OID); the test sets go by OID only. */
static const paramset_t paramsets[] = {
	{TC26(1, 1), "TCA", 256}, /* id-tc26-gost-3410-2012-256-paramSetA */
	{TC26(1, 2), "TCB", 256}, /* id-tc26-gost-3410-2012-256-paramSetB */
	{TC26(1, 3), "TCC", 256}, /* id-tc26-gost-3410-2012-256-paramSetC */
	{TC26(1, 4), "TCD", 256}, /* id-tc26-gost-3410-2012-256-paramSetD */
	{CPRO(0x23, 1), "A", 256}, /* id-GostR3410-2001-CryptoPro-A-ParamSet */
	{CPRO(0x23, 2), "B", 256}, /* id-GostR3410-2001-CryptoPro-B-ParamSet */
	{CPRO(0x23, 3), "C", 256}, /* id-GostR3410-2001-CryptoPro-C-ParamSet */
	{CPRO(0x24, 0), "XA", 256}, /* id-GostR3410-2001-CryptoPro-XchA-ParamSet */
	{CPRO(0x24, 1), "XB", 256}, /* id-GostR3410-2001-CryptoPro-XchB-ParamSet */
	{CPRO(0x23, 0), "1.2.643.2.2.35.0", 256}, /* id-GostR3410-2001-TestParamSet */
	{TC26(2, 1), "A", 512}, /* id-tc26-gost-3410-2012-512-paramSetA */
	{TC26(2, 2), "B", 512}, /* id-tc26-gost-3410-2012-512-paramSetB */
	{TC26(2, 3), "C", 512}, /* id-tc26-gost-3410-2012-512-paramSetC */
	{TC26(2, 0), "1.2.643.7.1.2.1.2.0", 512}, /* id-tc26-gost-3410-2012-512-paramSetTest */
};

const paramset_t *paramset_by_der(const unsigned char *der, size_t len)
{
	for (size_t i = 0; i < sizeof(paramsets) / sizeof(paramsets[0]); i++)
		if (paramsets[i].der_len == len && memcmp(paramsets[i].der, der, len) == 0)
			return &paramsets[i];
	return NULL;
}

int gost_init(void)
{
	if (g_eng != NULL)
		return 0;
	ENGINE *e = ENGINE_by_id("gost");
	if (e == NULL)
		return -1;
	if (!ENGINE_init(e)) {
		ENGINE_free(e);
		return -1;
	}
	if (!ENGINE_register_pkey_asn1_meths(e)) {
		ENGINE_finish(e);
		ENGINE_free(e);
		return -1;
	}
	g_eng = e;
	find_engine_mul(e);
	return 0;
}

static int pkey_nid(int bits)
{
	return bits == 512 ? NID_id_GostR3410_2012_512 : NID_id_GostR3410_2012_256;
}

/* domain makes a parameters-only key for a paramset: the engine's EC_KEY
 * with the curve's group set. */
static EVP_PKEY *domain(const paramset_t *ps)
{
	EVP_PKEY *par = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(pkey_nid(ps->bits), g_eng);
	if (ctx == NULL)
		return NULL;
	if (EVP_PKEY_paramgen_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_ctrl_str(ctx, "paramset", ps->engine_name) <= 0 ||
	    EVP_PKEY_paramgen(ctx, &par) <= 0)
		par = NULL;
	EVP_PKEY_CTX_free(ctx);
	return par;
}

static int point_raw(const EC_KEY *ec, size_t size, unsigned char *pub)
{
	int ok = 0;
	BIGNUM *x = BN_new(), *y = BN_new();
	const EC_POINT *pt = EC_KEY_get0_public_key(ec);
	if (x != NULL && y != NULL && pt != NULL &&
	    EC_POINT_get_affine_coordinates(EC_KEY_get0_group(ec), pt, x, y, NULL) &&
	    BN_bn2lebinpad(x, pub, (int)size) == (int)size &&
	    BN_bn2lebinpad(y, pub + size, (int)size) == (int)size)
		ok = 1;
	BN_free(x);
	BN_free(y);
	return ok ? 0 : -1;
}

int gost_keygen(const paramset_t *ps, unsigned char *d, unsigned char *pub)
{
	int rc = -1;
	size_t size = (size_t)ps->bits / 8;
	EVP_PKEY *par = domain(ps), *key = NULL;
	EVP_PKEY_CTX *ctx = par != NULL ? EVP_PKEY_CTX_new(par, g_eng) : NULL;
	if (ctx == NULL || EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_keygen(ctx, &key) <= 0)
		goto out;
	const EC_KEY *ec = EVP_PKEY_get0(key);
	const BIGNUM *priv = ec != NULL ? EC_KEY_get0_private_key(ec) : NULL;
	if (priv == NULL || BN_bn2lebinpad(priv, d, (int)size) != (int)size)
		goto out;
	rc = point_raw(ec, size, pub);
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(key);
	EVP_PKEY_free(par);
	return rc;
}

EVP_PKEY *gost_private_key(const paramset_t *ps, const unsigned char *d, size_t dlen)
{
	size_t size = (size_t)ps->bits / 8;
	if (dlen != size)
		return NULL;
	EVP_PKEY *key = domain(ps);
	EC_KEY *ec = key != NULL ? EVP_PKEY_get0(key) : NULL;
	BIGNUM *k = BN_lebin2bn(d, (int)dlen, NULL);
	BN_CTX *ctx = BN_CTX_new();
	EC_POINT *pt = NULL;
	int ok = 0;
	if (ec != NULL && k != NULL && ctx != NULL && !BN_is_zero(k) &&
	    BN_cmp(k, EC_GROUP_get0_order(EC_KEY_get0_group(ec))) < 0) {
		const EC_GROUP *g = EC_KEY_get0_group(ec);
		BN_set_flags(k, BN_FLG_CONSTTIME);
		pt = EC_POINT_new(g);
		ok = pt != NULL && mul_g(g, pt, k, ctx) &&
		     EC_KEY_set_private_key(ec, k) && EC_KEY_set_public_key(ec, pt);
	}
	EC_POINT_free(pt);
	BN_CTX_free(ctx);
	BN_clear_free(k);
	if (!ok) {
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

EVP_PKEY *gost_public_key(const paramset_t *ps, const unsigned char *pub, size_t publen)
{
	size_t size = (size_t)ps->bits / 8;
	if (publen != 2 * size)
		return NULL;
	EVP_PKEY *key = domain(ps);
	EC_KEY *ec = key != NULL ? EVP_PKEY_get0(key) : NULL;
	BIGNUM *x = BN_lebin2bn(pub, (int)size, NULL), *y = BN_lebin2bn(pub + size, (int)size, NULL);
	int ok = ec != NULL && x != NULL && y != NULL &&
		 EC_KEY_set_public_key_affine_coordinates(ec, x, y);
	BN_free(x);
	BN_free(y);
	if (!ok) {
		EVP_PKEY_free(key);
		return NULL;
	}
	return key;
}

/* hedged_k derives a signature's nonce from the private key, the digest
 * and fresh randomness (the hedged construction of RFC 6979 §3.6, with
 * HMAC-SHA-512 as the PRF): k = 1 + (HMAC(d, "gostkey k" ‖ attempt ‖ block
 * ‖ digest ‖ rnd) blocks, size + 16 bytes) mod (q − 1). A weak or repeating
 * RNG then still gives distinct nonces for distinct digests (a repeated k
 * over two digests yields the key), and a good one keeps k unpredictable
 * even if the key and the digest were known; the 128 extra bits make the
 * reduction's bias negligible. */
static int hedged_k(const BIGNUM *d, const BIGNUM *q, size_t size, const unsigned char *dgst, size_t dlen,
		    const unsigned char rnd[32], uint32_t attempt, BIGNUM *k, BN_CTX *ctx)
{
	unsigned char key[64], msg[9 + 4 + 1 + 64 + 32], out[64 * 3];
	size_t need = size + 16, have = 0, mlen = 0;
	int ok = 0;
	if (size > 64 || dlen > 64 || BN_bn2binpad(d, key, (int)size) != (int)size)
		goto out;
	memcpy(msg, "gostkey k", 9);
	mlen = 9;
	for (int i = 3; i >= 0; i--)
		msg[mlen++] = (unsigned char)(attempt >> (8 * i));
	mlen++; /* the block number */
	memcpy(msg + mlen, dgst, dlen);
	mlen += dlen;
	memcpy(msg + mlen, rnd, 32);
	mlen += 32;
	for (unsigned char blk = 0; have < need; blk++) {
		unsigned int n = 0;
		msg[13] = blk;
		if (HMAC(EVP_sha512(), key, (int)size, msg, mlen, out + have, &n) == NULL || n != 64)
			goto out;
		have += n;
	}
	BN_CTX_start(ctx);
	BIGNUM *t = BN_CTX_get(ctx), *qm1 = BN_CTX_get(ctx);
	ok = qm1 != NULL && BN_bin2bn(out, (int)need, t) != NULL && BN_copy(qm1, q) != NULL && BN_sub_word(qm1, 1);
	if (ok) {
		/* The secret reduction through BN_div's constant-time path. */
		BN_set_flags(t, BN_FLG_CONSTTIME);
		ok = BN_mod(k, t, qm1, ctx) && BN_add_word(k, 1);
	}
	if (t != NULL)
		BN_clear(t);
	BN_CTX_end(ctx);
out:
	secure_zero(key, sizeof(key));
	secure_zero(msg, sizeof(msg));
	secure_zero(out, sizeof(out));
	return ok ? 0 : -1;
}

/* gost_sign computes the GOST R 34.10-2012 signature itself (§6.1) rather
 * than through the engine, whose EVP_PKEY_sign draws k from the RNG alone:
 * e = LE(digest) mod q (1 if 0), C = kP, r = x_C mod q, s = (rd + ke) mod q,
 * with k from hedged_k; r = 0 or s = 0 takes the next attempt. Output s‖r,
 * each half big-endian in *siglen/2 bytes. */
int gost_sign(EVP_PKEY *key, const unsigned char *dgst, size_t dlen, unsigned char *sig, size_t *siglen)
{
	const EC_KEY *ec = EVP_PKEY_get0(key);
	const EC_GROUP *g = ec != NULL ? EC_KEY_get0_group(ec) : NULL;
	const BIGNUM *d = ec != NULL ? EC_KEY_get0_private_key(ec) : NULL;
	const BIGNUM *q = g != NULL ? EC_GROUP_get0_order(g) : NULL;
	size_t size = *siglen / 2;
	if (d == NULL || q == NULL || size == 0 || (size_t)BN_num_bytes(q) > size)
		return -1;
	int rc = -1;
	unsigned char rnd[32];
	BN_CTX *ctx = BN_CTX_secure_new();
	EC_POINT *c = EC_POINT_new(g);
	if (ctx == NULL || c == NULL) {
		BN_CTX_free(ctx);
		EC_POINT_free(c);
		return -1;
	}
	BN_CTX_start(ctx);
	BIGNUM *e = BN_CTX_get(ctx), *k = BN_CTX_get(ctx), *x = BN_CTX_get(ctx);
	BIGNUM *r = BN_CTX_get(ctx), *sv = BN_CTX_get(ctx), *t = BN_CTX_get(ctx);
	if (t == NULL || RAND_priv_bytes(rnd, sizeof(rnd)) != 1 ||
	    BN_lebin2bn(dgst, (int)dlen, t) == NULL || !BN_mod(e, t, q, ctx) || (BN_is_zero(e) && !BN_one(e)))
		goto out;
	BN_set_flags(k, BN_FLG_CONSTTIME);
	for (uint32_t attempt = 0; attempt < 64; attempt++) {
		if (hedged_k(d, q, size, dgst, dlen, rnd, attempt, k, ctx) ||
		    !mul_g(g, c, k, ctx) ||
		    !EC_POINT_get_affine_coordinates(g, c, x, NULL, ctx) || !BN_nnmod(r, x, q, ctx))
			goto out;
		if (BN_is_zero(r))
			continue;
		if (!BN_mod_mul(t, r, d, q, ctx) || !BN_mod_mul(sv, k, e, q, ctx) || !BN_mod_add(sv, sv, t, q, ctx))
			goto out;
		if (BN_is_zero(sv))
			continue;
		if (BN_bn2binpad(sv, sig, (int)size) != (int)size || BN_bn2binpad(r, sig + size, (int)size) != (int)size)
			goto out;
		*siglen = 2 * size;
		rc = 0;
		break;
	}
out:
	/* k, and r·d in t, give the key away. */
	if (k != NULL)
		BN_clear(k);
	if (t != NULL)
		BN_clear(t);
	secure_zero(rnd, sizeof(rnd));
	BN_CTX_end(ctx);
	BN_CTX_free(ctx);
	EC_POINT_free(c);
	return rc;
}

int gost_verify(EVP_PKEY *key, const unsigned char *dgst, size_t dlen, const unsigned char *sig, size_t siglen)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, g_eng);
	int ok = ctx != NULL && EVP_PKEY_verify_init(ctx) > 0 &&
		 EVP_PKEY_verify(ctx, sig, siglen, dgst, dlen) == 1;
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

EVP_MD_CTX *gost_digest_new(int bits)
{
	const EVP_MD *md = ENGINE_get_digest(g_eng, bits == 512 ? NID_id_GostR3411_2012_512 : NID_id_GostR3411_2012_256);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	if (md == NULL || ctx == NULL || !EVP_DigestInit_ex(ctx, md, g_eng)) {
		EVP_MD_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int kek_derive(const unsigned char *pin, size_t pinlen, const unsigned char *salt, const kdf_t *kdf, unsigned char kek[32])
{
	/* OpenSSL's PBKDF2 takes an int: a longer PIN would be cut to its
	 * first (pinlen mod 2^32) bytes and a wrong PIN could pass. */
	if (!kdf_valid(kdf) || pinlen > INT_MAX)
		return -1;
	if (kdf->alg == KDF_PBKDF2_SHA256)
		return PKCS5_PBKDF2_HMAC((const char *)pin, (int)pinlen, salt, SALT_LEN, (int)kdf->iterations, EVP_sha256(), 32, kek) ? 0 : -1;
	/* OpenSSL refuses scrypt above maxmem (32 MiB unless given): allow
	 * exactly what these parameters need, 128·r·(N+2) + 128·r·p bytes. */
	uint64_t n = (uint64_t)1 << kdf->log2n;
	uint64_t maxmem = 128 * (uint64_t)kdf->r * (n + 2) + 128 * (uint64_t)kdf->r * kdf->p;
	return EVP_PBE_scrypt((const char *)pin, pinlen, salt, SALT_LEN, n, kdf->r, kdf->p, maxmem, kek, 32) ? 0 : -1;
}

int aead_seal(const unsigned char key[32], const unsigned char *aad, size_t aadlen, const unsigned char *pt, size_t ptlen, unsigned char *out)
{
	int len, ok = 0;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (ctx != NULL && RAND_bytes(out, 12) == 1 &&
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, out) &&
	    EVP_EncryptUpdate(ctx, NULL, &len, aad, (int)aadlen) &&
	    EVP_EncryptUpdate(ctx, out + 12, &len, pt, (int)ptlen) &&
	    EVP_EncryptFinal_ex(ctx, out + 12 + len, &len) &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, 16, out + 12 + ptlen))
		ok = 1;
	EVP_CIPHER_CTX_free(ctx);
	return ok ? 0 : -1;
}

int aead_open(const unsigned char key[32], const unsigned char *aad, size_t aadlen, const unsigned char *in, size_t inlen, unsigned char *pt)
{
	int len, ok = 0;
	if (inlen < AEAD_OVERHEAD)
		return -1;
	size_t ctlen = inlen - AEAD_OVERHEAD;
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	if (ctx != NULL &&
	    EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key, in) &&
	    EVP_DecryptUpdate(ctx, NULL, &len, aad, (int)aadlen) &&
	    EVP_DecryptUpdate(ctx, pt, &len, in + 12, (int)ctlen) &&
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16, (void *)(in + 12 + ctlen)) &&
	    EVP_DecryptFinal_ex(ctx, pt + len, &len) > 0)
		ok = 1;
	EVP_CIPHER_CTX_free(ctx);
	if (!ok)
		secure_zero(pt, ctlen);
	return ok ? 0 : -1;
}

/* random_bytes fills n bytes in chunks that fit RAND_bytes's int, so that a
 * C_GenerateRandom past INT_MAX fills the whole buffer rather than the
 * length cut to 32 bits (which may be 0, returning success untouched). */
int random_bytes(unsigned char *p, size_t n)
{
	while (n > 0) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n;
		if (RAND_bytes(p, chunk) != 1)
			return -1;
		p += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

/* random_seed mixes a caller's seed in, in int-sized chunks likewise. */
void random_seed(const unsigned char *p, size_t n)
{
	while (n > 0) {
		int chunk = n > INT_MAX ? INT_MAX : (int)n;
		RAND_seed(p, chunk);
		p += chunk;
		n -= (size_t)chunk;
	}
}
