/*
 * hedgetest checks that the module's GOST signatures do not depend on the
 * random number generator alone. It makes key pairs, then replaces
 * OpenSSL's RNG in the whole process by one that returns a constant (the
 * legacy RAND_METHOD hook, which every RAND_bytes and BN_rand_range call
 * reaches, the module's and the gost engine's alike) and signs two
 * different digests with each key: with a nonce taken from the RNG only,
 * both signatures share k and so r, and the key follows from the pair.
 * An ECDSA P-256 key is checked the same way.
 * It prints "key PARAMS VALUE" and "sig DIGEST SIGNATURE" lines (hex) for
 * the caller to check with openssl. Usage: hedgetest MODULE; the
 * environment names a config with an empty token directory.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>
#include <p11-kit/pkcs11.h>

#include "../tc26.h"

static CK_FUNCTION_LIST *p;

#define OK(call)                                                                                     \
	do {                                                                                         \
		CK_RV r_ = (call);                                                                   \
		if (r_ != CKR_OK) {                                                                  \
			fprintf(stderr, "%s:%d: %s = 0x%lx\n", __FILE__, __LINE__, #call, (unsigned long)r_); \
			exit(1);                                                                     \
		}                                                                                    \
	} while (0)
#define EXPECT(cond)                                                                   \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                       \
		}                                                                      \
	} while (0)

/* A constant stays below every curve order, so that BN_rand_range, which
 * draws until the value is in range, ends. */
static int broken_bytes(unsigned char *buf, int num)
{
	memset(buf, 0x11, (size_t)num);
	return 1;
}

static int broken_status(void)
{
	return 1;
}

static RAND_METHOD broken = {.bytes = broken_bytes, .pseudorand = broken_bytes, .status = broken_status};

static void hex(const char *tag, const unsigned char *b, size_t n, const char *end)
{
	printf("%s", tag);
	for (size_t i = 0; i < n; i++)
		printf("%02x", b[i]);
	printf("%s", end);
}

static size_t unhex(const char *h, unsigned char *out)
{
	size_t n = strlen(h) / 2;
	for (size_t i = 0; i < n; i++)
		sscanf(h + 2 * i, "%2hhx", &out[i]);
	return n;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: hedgetest MODULE\n");
		return 2;
	}
	void *lib = dlopen(argv[1], RTLD_NOW);
	EXPECT(lib != NULL);
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
	EXPECT(gfl != NULL);
	OK(gfl(&p));
	OK(p->C_Initialize(NULL));
	CK_UTF8CHAR label[32];
	memset(label, ' ', sizeof(label));
	OK(p->C_InitToken(0, (CK_UTF8CHAR_PTR)"so-secret", 9, label));
	CK_SESSION_HANDLE s;
	OK(p->C_OpenSession(0, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	OK(p->C_Login(s, CKU_SO, (CK_UTF8CHAR_PTR)"so-secret", 9));
	OK(p->C_InitPIN(s, (CK_UTF8CHAR_PTR)"user-pin", 8));
	OK(p->C_Logout(s));
	OK(p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)"user-pin", 8));

	/* TC26 256-A and 512-C have cofactor 4, CryptoPro A and TC26 512-A 1. */
	static const char *curves[] = {"06092a8503070102010101", "06072a850302022301", "06092a8503070102010201", "06092a8503070102010203"};
	CK_OBJECT_HANDLE pub[4], priv[4];
	unsigned char oid[4][16];
	CK_ULONG oidlen[4];
	for (int i = 0; i < 4; i++) {
		oidlen[i] = unhex(curves[i], oid[i]);
		int b512 = oidlen[i] == 11 && oid[i][9] == 2;
		CK_MECHANISM gen = {b512 ? CKM_GOSTR3410_512_KEY_PAIR_GEN : CKM_GOSTR3410_KEY_PAIR_GEN, NULL, 0};
		CK_ATTRIBUTE pubt[] = {{CKA_GOSTR3410_PARAMS, oid[i], oidlen[i]}};
		OK(p->C_GenerateKeyPair(s, &gen, pubt, 1, NULL, 0, &pub[i], &priv[i]));
	}
	/* ECDSA keeps OpenSSL's signing, whose nonce mixes in the key and the
	 * digest (BN_generate_dsa_nonce): checked the same way, on P-256. */
	unsigned char p256[] = {0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07};
	CK_MECHANISM ecgen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE ect[] = {{CKA_EC_PARAMS, p256, sizeof(p256)}};
	CK_OBJECT_HANDLE ecpub, ecpriv;
	OK(p->C_GenerateKeyPair(s, &ecgen, ect, 1, NULL, 0, &ecpub, &ecpriv));

	EXPECT(RAND_set_rand_method(&broken) == 1);
	unsigned char probe[8];
	EXPECT(RAND_bytes(probe, sizeof(probe)) == 1 && probe[0] == 0x11 && probe[7] == 0x11);
	for (int i = 0; i < 4; i++) {
		unsigned char value[128], dg[2][64], sig[2][128];
		CK_ATTRIBUTE get[] = {{CKA_VALUE, value, sizeof(value)}};
		OK(p->C_GetAttributeValue(s, pub[i], get, 1));
		CK_ULONG size = get[0].ulValueLen / 2, n;
		CK_MECHANISM raw = {size == 64 ? CKM_GOSTR3410_512 : CKM_GOSTR3410, NULL, 0};
		hex("key ", oid[i], oidlen[i], " ");
		hex("", value, get[0].ulValueLen, "\n");
		for (int j = 0; j < 2; j++) {
			memset(dg[j], 0x30 + j, size);
			n = sizeof(sig[j]);
			OK(p->C_SignInit(s, &raw, priv[i]));
			OK(p->C_Sign(s, dg[j], size, sig[j], &n));
			EXPECT(n == 2 * size);
			OK(p->C_VerifyInit(s, &raw, pub[i]));
			OK(p->C_Verify(s, dg[j], size, sig[j], n));
			hex("sig ", dg[j], size, " ");
			hex("", sig[j], n, "\n");
		}
		/* s‖r: r is the second half. */
		if (memcmp(sig[0] + size, sig[1] + size, size) == 0) {
			fprintf(stderr, "curve %s: two digests signed with the same r under a constant RNG\n", curves[i]);
			return 1;
		}
	}
	{
		unsigned char dg[2][32], sig[2][64];
		CK_MECHANISM m = {CKM_ECDSA, NULL, 0};
		for (int j = 0; j < 2; j++) {
			CK_ULONG n = sizeof(sig[j]);
			memset(dg[j], 0x30 + j, sizeof(dg[j]));
			OK(p->C_SignInit(s, &m, ecpriv));
			OK(p->C_Sign(s, dg[j], sizeof(dg[j]), sig[j], &n));
			EXPECT(n == 64);
			OK(p->C_VerifyInit(s, &m, ecpub));
			OK(p->C_Verify(s, dg[j], sizeof(dg[j]), sig[j], n));
		}
		/* r‖s: r is the first half. */
		if (memcmp(sig[0], sig[1], 32) == 0) {
			fprintf(stderr, "P-256: two digests signed with the same r under a constant RNG\n");
			return 1;
		}
	}
	OK(p->C_Logout(s));
	OK(p->C_CloseSession(s));
	OK(p->C_Finalize(NULL));
	printf("hedgetest: all checks passed\n");
	return 0;
}
