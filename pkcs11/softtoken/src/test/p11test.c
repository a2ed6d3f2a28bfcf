/*
 * p11test drives libgostkey-softtoken.so through its PKCS#11 function list:
 * token and PIN life cycle, every curve, signatures checked against the
 * RFC 7091 examples, objects, persistence, simulated removal, slot events
 * and threads. Usage: p11test MODULE BASEDIR; the caller points
 * GOSTKEY_SOFTTOKEN_CONF at a config with `directory = BASEDIR` and
 * `pin_retries = 3`. P11TEST_QUICK=1 trims the curve loop (for valgrind).
 * Exit status 0 means every check passed; a failure prints its line.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <p11-kit/pkcs11.h>

#include "../tc26.h"

static CK_FUNCTION_LIST *p;
static const char *base;

#define CK(call, want)                                                                        \
	do {                                                                                  \
		CK_RV r_ = (call);                                                            \
		if (r_ != (CK_RV)(want)) {                                                    \
			fprintf(stderr, "%s:%d: %s = 0x%lx, want 0x%lx\n", __FILE__, __LINE__, \
				#call, (unsigned long)r_, (unsigned long)(want));             \
			exit(1);                                                              \
		}                                                                             \
	} while (0)
#define OK(call) CK(call, CKR_OK)
#define EXPECT(cond)                                                                   \
	do {                                                                           \
		if (!(cond)) {                                                         \
			fprintf(stderr, "%s:%d: expected %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                       \
		}                                                                      \
	} while (0)

static CK_BBOOL yes = CK_TRUE;
static const char *SO_PIN = "so-secret", *USER_PIN = "user-pin";

static size_t unhex(const char *h, unsigned char *out)
{
	size_t n = strlen(h) / 2;
	for (size_t i = 0; i < n; i++)
		sscanf(h + 2 * i, "%2hhx", &out[i]);
	return n;
}

/* unhex_le turns a big-endian hex integer into little-endian bytes. */
static size_t unhex_le(const char *h, unsigned char *out)
{
	size_t n = unhex(h, out);
	for (size_t i = 0; i < n / 2; i++) {
		unsigned char t = out[i];
		out[i] = out[n - 1 - i];
		out[n - 1 - i] = t;
	}
	return n;
}

static CK_FLAGS token_flags(CK_SLOT_ID slot)
{
	CK_TOKEN_INFO ti;
	OK(p->C_GetTokenInfo(slot, &ti));
	return ti.flags;
}

static CK_SESSION_HANDLE open_rw(CK_SLOT_ID slot)
{
	CK_SESSION_HANDLE s;
	OK(p->C_OpenSession(slot, CKF_SERIAL_SESSION | CKF_RW_SESSION, NULL, NULL, &s));
	return s;
}

static CK_RV login(CK_SESSION_HANDLE s, CK_USER_TYPE who, const char *pin)
{
	return p->C_Login(s, who, (CK_UTF8CHAR_PTR)pin, strlen(pin));
}

static void init_args(void)
{
	CK_C_INITIALIZE_ARGS a;
	memset(&a, 0, sizeof(a));
	a.flags = CKF_OS_LOCKING_OK;
	OK(p->C_Initialize(&a));
}

static void touch(const char *dir, const char *name, int create)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (create) {
		FILE *f = fopen(path, "w");
		EXPECT(f != NULL);
		fclose(f);
	} else
		EXPECT(unlink(path) == 0);
}

/* token_dir finds the directory C_InitToken created (there is one). */
static void token_dir(char *out, size_t n)
{
	DIR *d = opendir(base);
	struct dirent *de;
	EXPECT(d != NULL);
	out[0] = 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			snprintf(out, n, "%s/%s", base, de->d_name);
	closedir(d);
	EXPECT(out[0] != 0);
}

static CK_OBJECT_HANDLE find_one(CK_SESSION_HANDLE s, CK_ATTRIBUTE *t, CK_ULONG n)
{
	CK_OBJECT_HANDLE h[4];
	CK_ULONG count;
	OK(p->C_FindObjectsInit(s, t, n));
	OK(p->C_FindObjects(s, h, 4, &count));
	OK(p->C_FindObjectsFinal(s));
	EXPECT(count == 1);
	return h[0];
}

static void sign_verify(CK_SESSION_HANDLE s, CK_OBJECT_HANDLE pub, CK_OBJECT_HANDLE priv, int bits)
{
	CK_MECHANISM raw = {bits == 512 ? CKM_GOSTR3410_512 : CKM_GOSTR3410, NULL, 0};
	CK_MECHANISM with = {bits == 512 ? CKM_GOSTR3410_WITH_GOSTR3411_12_512 : CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0};
	CK_MECHANISM dig = {bits == 512 ? CKM_GOSTR3411_12_512 : CKM_GOSTR3411_12_256, NULL, 0};
	unsigned char msg[300], d[64], sig[128], sig2[128], sig3[128];
	CK_ULONG dlen = sizeof(d), n, size = (CK_ULONG)bits / 8;
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (unsigned char)(i * 7);

	OK(p->C_DigestInit(s, &dig));
	OK(p->C_Digest(s, msg, sizeof(msg), d, &dlen));
	EXPECT(dlen == size);

	/* raw: length query, too small, then the signature */
	OK(p->C_SignInit(s, &raw, priv));
	OK(p->C_Sign(s, d, dlen, NULL, &n));
	EXPECT(n == 2 * size);
	n = 10;
	CK(p->C_Sign(s, d, dlen, sig, &n), CKR_BUFFER_TOO_SMALL);
	n = sizeof(sig);
	OK(p->C_Sign(s, d, dlen, sig, &n));
	EXPECT(n == 2 * size);
	OK(p->C_VerifyInit(s, &raw, pub));
	OK(p->C_Verify(s, d, dlen, sig, n));
	sig[5] ^= 1;
	OK(p->C_VerifyInit(s, &raw, pub));
	CK(p->C_Verify(s, d, dlen, sig, n), CKR_SIGNATURE_INVALID);
	OK(p->C_SignInit(s, &raw, priv));
	CK(p->C_Sign(s, d, dlen - 1, sig, &n), CKR_DATA_LEN_RANGE);
	OK(p->C_SignInit(s, &raw, priv));
	CK(p->C_SignUpdate(s, d, dlen), CKR_FUNCTION_NOT_SUPPORTED);

	/* hashing mechanism, single- and multi-part; the result must verify as
	 * a raw signature over C_Digest's output: the digest convention. */
	n = sizeof(sig2);
	OK(p->C_SignInit(s, &with, priv));
	OK(p->C_Sign(s, msg, sizeof(msg), sig2, &n));
	OK(p->C_VerifyInit(s, &raw, pub));
	OK(p->C_Verify(s, d, dlen, sig2, n));
	OK(p->C_SignInit(s, &with, priv));
	OK(p->C_SignUpdate(s, msg, 100));
	OK(p->C_SignUpdate(s, msg + 100, sizeof(msg) - 100));
	n = sizeof(sig3);
	OK(p->C_SignFinal(s, sig3, &n));
	EXPECT(memcmp(sig2, sig3, n) != 0); /* fresh k each time */
	OK(p->C_VerifyInit(s, &with, pub));
	OK(p->C_VerifyUpdate(s, msg, 1));
	OK(p->C_VerifyUpdate(s, msg + 1, sizeof(msg) - 1));
	OK(p->C_VerifyFinal(s, sig3, n));
	OK(p->C_VerifyInit(s, &with, pub));
	CK(p->C_Verify(s, msg, sizeof(msg) - 1, sig3, n), CKR_SIGNATURE_INVALID);
	OK(p->C_VerifyInit(s, &with, pub));
	CK(p->C_Verify(s, msg, sizeof(msg), sig3, n - 1), CKR_SIGNATURE_LEN_RANGE);

	/* operation state codes (v2.40 5.12): a fed multi-part operation cannot
	 * be finished single-part, a raw one has no final part, and an ended
	 * operation is not initialized any more */
	OK(p->C_SignInit(s, &with, priv));
	CK(p->C_SignInit(s, &with, priv), CKR_OPERATION_ACTIVE);
	OK(p->C_SignUpdate(s, msg, 10));
	n = sizeof(sig3);
	CK(p->C_Sign(s, msg, sizeof(msg), sig3, &n), CKR_OPERATION_ACTIVE);
	CK(p->C_SignFinal(s, sig3, &n), CKR_OPERATION_NOT_INITIALIZED);
	OK(p->C_SignInit(s, &raw, priv));
	CK(p->C_SignFinal(s, sig3, &n), CKR_FUNCTION_NOT_SUPPORTED);
	CK(p->C_Sign(s, d, dlen, sig3, &n), CKR_OPERATION_NOT_INITIALIZED);
	OK(p->C_VerifyInit(s, &raw, pub));
	CK(p->C_VerifyFinal(s, sig, 2 * size), CKR_FUNCTION_NOT_SUPPORTED);
	CK(p->C_VerifyUpdate(s, msg, 1), CKR_OPERATION_NOT_INITIALIZED);
	OK(p->C_VerifyInit(s, &with, pub));
	OK(p->C_VerifyUpdate(s, msg, 1));
	CK(p->C_Verify(s, msg, sizeof(msg), sig3, 2 * size), CKR_OPERATION_ACTIVE);
	CK(p->C_DigestUpdate(s, msg, 1), CKR_OPERATION_NOT_INITIALIZED);
	CK_MECHANISM rsa = {CKM_SHA256_RSA_PKCS, NULL, 0};
	CK(p->C_SignInit(s, &rsa, priv), CKR_MECHANISM_INVALID);
	CK(p->C_SignInit(s, &raw, pub), CKR_KEY_TYPE_INCONSISTENT);
	CK(p->C_Sign(0, d, dlen, sig3, &n), CKR_SESSION_HANDLE_INVALID);

	/* the other size's mechanism is refused */
	CK_MECHANISM other = {bits == 512 ? CKM_GOSTR3410 : CKM_GOSTR3410_512, NULL, 0};
	CK(p->C_SignInit(s, &other, priv), CKR_KEY_TYPE_INCONSISTENT);
}

static const struct {
	const char *oid;
	int bits;
} curves[] = {
	{"06092a8503070102010101", 256}, /* TC26 256 A */
	{"06072a850302022301", 256},     /* CryptoPro A = TC26 256 B */
	{"06092a8503070102010104", 256}, /* TC26 256 D */
	{"06072a850302022401", 256},     /* CryptoPro XchB */
	{"06072a850302022300", 256},     /* 2001 test set */
	{"06092a8503070102010202", 512}, /* TC26 512 B */
	{"06092a8503070102010203", 512}, /* TC26 512 C */
	{"06092a8503070102010200", 512}, /* TC26 512 test */
	{"06092a8503070102010102", 256}, /* TC26 256 B */
	{"06092a8503070102010103", 256}, /* TC26 256 C */
	{"06072a850302022302", 256},     /* CryptoPro B */
	{"06072a850302022303", 256},     /* CryptoPro C */
	{"06072a850302022400", 256},     /* CryptoPro XchA */
	{"06092a8503070102010201", 512}, /* TC26 512 A */
};

static void genkey(CK_SESSION_HANDLE s, const char *oid_hex, int bits, CK_BBOOL token, const char *label,
		   CK_OBJECT_HANDLE *pub, CK_OBJECT_HANDLE *priv)
{
	unsigned char oid[16];
	size_t oidlen = unhex(oid_hex, oid);
	CK_MECHANISM m = {bits == 512 ? CKM_GOSTR3410_512_KEY_PAIR_GEN : CKM_GOSTR3410_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE pubt[] = {
		{CKA_TOKEN, &token, 1},
		{CKA_LABEL, (void *)label, strlen(label)},
		{CKA_GOSTR3410_PARAMS, oid, oidlen},
	};
	CK_ATTRIBUTE privt[] = {
		{CKA_TOKEN, &token, 1},
		{CKA_LABEL, (void *)label, strlen(label)},
		{CKA_ID, (void *)label, strlen(label)},
		{CKA_SENSITIVE, &yes, 1},
	};
	OK(p->C_GenerateKeyPair(s, &m, pubt, 3, privt, 4, pub, priv));
	unsigned char val[128], params[16], hash[16];
	CK_KEY_TYPE kt;
	CK_ATTRIBUTE get[] = {
		{CKA_VALUE, val, sizeof(val)},
		{CKA_GOSTR3410_PARAMS, params, sizeof(params)},
		{CKA_GOSTR3411_PARAMS, hash, sizeof(hash)},
		{CKA_KEY_TYPE, &kt, sizeof(kt)},
	};
	OK(p->C_GetAttributeValue(s, *pub, get, 4));
	EXPECT(get[0].ulValueLen == (CK_ULONG)bits / 4);
	EXPECT(get[1].ulValueLen == oidlen && memcmp(params, oid, oidlen) == 0);
	EXPECT(get[2].ulValueLen == 10 && hash[9] == (bits == 512 ? 3 : 2));
	EXPECT(kt == (bits == 512 ? CKK_GOSTR3410_512 : CKK_GOSTR3410));
	CK_ATTRIBUTE secret[] = {{CKA_VALUE, val, sizeof(val)}, {CKA_ID, NULL, 0}};
	CK(p->C_GetAttributeValue(s, *priv, secret, 2), CKR_ATTRIBUTE_SENSITIVE);
	EXPECT(secret[0].ulValueLen == CK_UNAVAILABLE_INFORMATION);
	EXPECT(secret[1].ulValueLen == strlen(label));
	CK_BBOOL b[3];
	CK_ATTRIBUTE flags[] = {{CKA_SENSITIVE, &b[0], 1}, {CKA_EXTRACTABLE, &b[1], 1}, {CKA_NEVER_EXTRACTABLE, &b[2], 1}};
	OK(p->C_GetAttributeValue(s, *priv, flags, 3));
	EXPECT(b[0] && !b[1] && b[2]);
}

/* rfc7091 imports the RFC 7091 example key pair and checks that the
 * example signature verifies over the example e given as a digest (e =
 * LE(digest)), and that the imported private key signs verifiably. */
static void rfc7091(CK_SESSION_HANDLE s, int bits)
{
	const char *oid, *d, *qx, *qy, *e, *r, *sv;
	if (bits == 256) {
		oid = "06072a850302022300";
		d = "7A929ADE789BB9BE10ED359DD39A72C11B60961F49397EEE1D19CE9891EC3B28";
		qx = "7F2B49E270DB6D90D8595BEC458B50C58585BA1D4E9B788F6689DBD8E56FD80B";
		qy = "26F1B489D6701DD185C8413A977B3CBBAF64D1C593D26627DFFB101A87FF77DA";
		e = "2DFBC1B372D89A1188C09C52E0EEC61FCE52032AB1022E8E67ECE6672B043EE5";
		r = "41AA28D2F1AB148280CD9ED56FEDA41974053554A42767B83AD043FD39DC0493";
		sv = "01456C64BA4642A1653C235A98A60249BCD6D3F746B631DF928014F6C5BF9C40";
	} else {
		oid = "06092a8503070102010200";
		d = "0BA6048AADAE241BA40936D47756D7C93091A0E8514669700EE7508E508B102072E8123B2200A0563322DAD2827E2714A2636B7BFD18AADFC62967821FA18DD4";
		qx = "115DC5BC96760C7B48598D8AB9E740D4C4A85A65BE33C1815B5C320C854621DD5A515856D13314AF69BC5B924C8B4DDFF75C45415C1D9DD9DD33612CD530EFE1";
		qy = "37C7C90CD40B0F5621DC3AC1B751CFA0E2634FA0503B3D52639F5D7FB72AFD61EA199441D943FFE7F0C70A2759A3CDB84C114E1F9339FDF27F35ECA93677BEEC";
		e = "3754F3CFACC9E0615C4F4A7C4D8DAB531B09B6F9C170C533A71D147035B0C5917184EE536593F4414339976C647C5D5A407ADEDB1D560C4FC6777D2972075B8C";
		r = "2F86FA60A081091A23DD795E1E3C689EE512A3C82EE0DCC2643C78EEA8FCACD35492558486B20F1C9EC197C90699850260C93BCBCD9C5C3317E19344E173AE36";
		sv = "1081B394696FFE8E6585E7A9362D26B6325F56778AADBC081C0BFBE933D52FF5823CE288E8C4F362526080DF7F70CE406A6EEB1F56919CB92A9853BDE73E5B4A";
	}
	size_t size = (size_t)bits / 8;
	unsigned char oidb[16], dv[64], q[128], dg[64], sig[128];
	size_t oidlen = unhex(oid, oidb);
	unhex_le(d, dv);
	unhex_le(qx, q);
	unhex_le(qy, q + size);
	unhex_le(e, dg);
	unhex(sv, sig);
	unhex(r, sig + size);
	CK_OBJECT_CLASS pubc = CKO_PUBLIC_KEY, privc = CKO_PRIVATE_KEY;
	CK_KEY_TYPE kt = bits == 512 ? CKK_GOSTR3410_512 : CKK_GOSTR3410;
	CK_ATTRIBUTE pubt[] = {
		{CKA_CLASS, &pubc, sizeof(pubc)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_GOSTR3410_PARAMS, oidb, oidlen}, {CKA_VALUE, q, 2 * size},
	};
	CK_ATTRIBUTE privt[] = {
		{CKA_CLASS, &privc, sizeof(privc)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
		{CKA_GOSTR3410_PARAMS, oidb, oidlen}, {CKA_VALUE, dv, size},
	};
	CK_OBJECT_HANDLE pub, priv;
	OK(p->C_CreateObject(s, pubt, 4, &pub));
	OK(p->C_CreateObject(s, privt, 4, &priv));
	CK_MECHANISM raw = {bits == 512 ? CKM_GOSTR3410_512 : CKM_GOSTR3410, NULL, 0};
	OK(p->C_VerifyInit(s, &raw, pub));
	OK(p->C_Verify(s, dg, size, sig, 2 * size));
	/* the same digest read big-endian must not verify */
	for (size_t i = 0; i < size / 2; i++) {
		unsigned char t = dg[i];
		dg[i] = dg[size - 1 - i];
		dg[size - 1 - i] = t;
	}
	OK(p->C_VerifyInit(s, &raw, pub));
	CK(p->C_Verify(s, dg, size, sig, 2 * size), CKR_SIGNATURE_INVALID);
	sign_verify(s, pub, priv, bits);
	/* a point off the curve is refused */
	q[0] ^= 1;
	CK_OBJECT_HANDLE bad;
	CK(p->C_CreateObject(s, pubt, 4, &bad), CKR_ATTRIBUTE_VALUE_INVALID);
	OK(p->C_DestroyObject(s, pub));
	OK(p->C_DestroyObject(s, priv));
}

/* ecdsa makes a key pair on a NIST curve (CKA_EC_PARAMS in the public
 * template only, as most callers do) and signs with every ECDSA mechanism. */
static void ecdsa(CK_SESSION_HANDLE s, const char *oid_hex, CK_ULONG size)
{
	unsigned char oid[16], point[3 + 1 + 2 * 66], sig[2 * 66], h[64], msg[100];
	size_t oidlen = unhex(oid_hex, oid);
	CK_MECHANISM gen = {CKM_EC_KEY_PAIR_GEN, NULL, 0};
	CK_ATTRIBUTE pubt[] = {{CKA_EC_PARAMS, oid, oidlen}, {CKA_LABEL, "ec", 2}};
	CK_ATTRIBUTE privt[] = {{CKA_LABEL, "ec", 2}};
	CK_OBJECT_HANDLE pub, priv;
	OK(p->C_GenerateKeyPair(s, &gen, pubt, 2, privt, 1, &pub, &priv));
	CK_ATTRIBUTE get[] = {{CKA_EC_POINT, point, sizeof(point)}, {CKA_EC_PARAMS, NULL, 0}};
	OK(p->C_GetAttributeValue(s, pub, get, 2));
	EXPECT(point[0] == 4 && point[get[0].ulValueLen - 1 - 2 * size] == 4);
	EXPECT(get[0].ulValueLen == (size >= 64 ? 3 : 2) + 1 + 2 * size && get[1].ulValueLen == oidlen);
	OK(p->C_GetAttributeValue(s, priv, get + 1, 1));
	CK_ATTRIBUTE secret[] = {{CKA_VALUE, NULL, 0}};
	CK(p->C_GetAttributeValue(s, priv, secret, 1), CKR_ATTRIBUTE_SENSITIVE);
	memset(h, 0x42, sizeof(h));
	memset(msg, 0x17, sizeof(msg));
	CK_MECHANISM_TYPE mt[] = {CKM_ECDSA, CKM_ECDSA_SHA256, CKM_ECDSA_SHA384, CKM_ECDSA_SHA512};
	for (size_t i = 0; i < 4; i++) {
		CK_MECHANISM m = {mt[i], NULL, 0};
		unsigned char *data = i == 0 ? h : msg;
		CK_ULONG dlen = i == 0 ? 32 : sizeof(msg), n = sizeof(sig);
		OK(p->C_SignInit(s, &m, priv));
		OK(p->C_Sign(s, data, dlen, sig, &n));
		EXPECT(n == 2 * size);
		OK(p->C_VerifyInit(s, &m, pub));
		OK(p->C_Verify(s, data, dlen, sig, n));
		sig[n - 1] ^= 1;
		OK(p->C_VerifyInit(s, &m, pub));
		CK(p->C_Verify(s, data, dlen, sig, n), CKR_SIGNATURE_INVALID);
	}
	CK_MECHANISM gost = {CKM_GOSTR3410, NULL, 0};
	CK(p->C_SignInit(s, &gost, priv), CKR_KEY_TYPE_INCONSISTENT);
	/* the public key imports back; a point off the curve does not */
	CK_OBJECT_CLASS pc = CKO_PUBLIC_KEY;
	CK_KEY_TYPE kt = CKK_EC;
	CK_ATTRIBUTE imp[] = {{CKA_CLASS, &pc, sizeof(pc)}, {CKA_KEY_TYPE, &kt, sizeof(kt)},
			      {CKA_EC_PARAMS, oid, oidlen}, {CKA_EC_POINT, point, get[0].ulValueLen}};
	CK_OBJECT_HANDLE back;
	OK(p->C_CreateObject(s, imp, 4, &back));
	OK(p->C_DestroyObject(s, back));
	point[get[0].ulValueLen - 1] ^= 1;
	CK(p->C_CreateObject(s, imp, 4, &back), CKR_ATTRIBUTE_VALUE_INVALID);
	OK(p->C_DestroyObject(s, pub));
	OK(p->C_DestroyObject(s, priv));
}

static void digests(CK_SESSION_HANDLE s)
{
	/* fact sheet §6.1: M1, as openssl dgst prints the digests */
	const char *m1 = "012345678901234567890123456789012345678901234567890123456789012";
	const char *want[2] = {
		"9d151eefd8590b89daa6ba6cb74af9275dd051026bb149a452fd84e5e57b5500",
		"1b54d01a4af5b9d5cc3d86d68d285462b19abc2475222f35c085122be4ba1ffa00ad30f8767b3a82384c6574f024c311e2a481332b08ef7f41797891c1646f48",
	};
	CK_MECHANISM_TYPE mt[2] = {CKM_GOSTR3411_12_256, CKM_GOSTR3411_12_512};
	for (int i = 0; i < 2; i++) {
		CK_MECHANISM m = {mt[i], NULL, 0};
		unsigned char out[64], exp[64];
		size_t n = unhex(want[i], exp);
		CK_ULONG len = sizeof(out);
		OK(p->C_DigestInit(s, &m));
		CK(p->C_DigestInit(s, &m), CKR_OPERATION_ACTIVE);
		OK(p->C_Digest(s, (CK_BYTE_PTR)m1, strlen(m1), out, &len));
		EXPECT(len == n && memcmp(out, exp, n) == 0);
		OK(p->C_DigestInit(s, &m));
		OK(p->C_DigestUpdate(s, (CK_BYTE_PTR)m1, 10));
		OK(p->C_DigestUpdate(s, (CK_BYTE_PTR)m1 + 10, strlen(m1) - 10));
		len = 0;
		CK(p->C_DigestFinal(s, out, &len), CKR_BUFFER_TOO_SMALL);
		EXPECT(len == n);
		OK(p->C_DigestFinal(s, out, &len));
		EXPECT(len == n && memcmp(out, exp, n) == 0);
	}
	CK_MECHANISM bad = {CKM_SHA256, NULL, 0};
	CK(p->C_DigestInit(s, &bad), CKR_MECHANISM_INVALID);
}

static void objects(CK_SESSION_HANDLE s)
{
	CK_OBJECT_CLASS cc = CKO_CERTIFICATE, dc = CKO_DATA;
	CK_CERTIFICATE_TYPE x509 = CKC_X_509;
	unsigned char der[] = {0x30, 0x03, 0x02, 0x01, 0x05}, id[] = {0xc1}, subj[] = {0x30, 0x00};
	CK_ATTRIBUTE cert[] = {
		{CKA_CLASS, &cc, sizeof(cc)}, {CKA_CERTIFICATE_TYPE, &x509, sizeof(x509)},
		{CKA_TOKEN, &yes, 1}, {CKA_VALUE, der, sizeof(der)}, {CKA_ID, id, 1},
		{CKA_LABEL, "cert", 4}, {CKA_SUBJECT, subj, sizeof(subj)},
	};
	CK_OBJECT_HANDLE h, h2;
	OK(p->C_CreateObject(s, cert, 7, &h));
	CK_ATTRIBUTE byid[] = {{CKA_CLASS, &cc, sizeof(cc)}, {CKA_ID, id, 1}};
	EXPECT(find_one(s, byid, 2) == h);
	unsigned char buf[16];
	CK_ATTRIBUTE get[] = {{CKA_VALUE, buf, sizeof(buf)}, {CKA_SUBJECT, NULL, 0}, {CKA_START_DATE, NULL, 0}, {0x7fff0000UL, NULL, 0}};
	CK(p->C_GetAttributeValue(s, h, get, 4), CKR_ATTRIBUTE_TYPE_INVALID);
	EXPECT(get[0].ulValueLen == sizeof(der) && memcmp(buf, der, sizeof(der)) == 0);
	EXPECT(get[1].ulValueLen == 2 && get[2].ulValueLen == 0 && get[3].ulValueLen == CK_UNAVAILABLE_INFORMATION);
	/* a buffer too small: that attribute unavailable, the others still
	 * filled (v2.40 5.7, C_GetAttributeValue) */
	unsigned char small[2], lbl[8];
	CK_ATTRIBUTE tight[] = {{CKA_VALUE, small, sizeof(small)}, {CKA_LABEL, lbl, sizeof(lbl)}};
	CK(p->C_GetAttributeValue(s, h, tight, 2), CKR_BUFFER_TOO_SMALL);
	EXPECT(tight[0].ulValueLen == CK_UNAVAILABLE_INFORMATION);
	EXPECT(tight[1].ulValueLen == 4 && memcmp(lbl, "cert", 4) == 0);
	CK_ATTRIBUTE relabel[] = {{CKA_LABEL, "renamed", 7}};
	OK(p->C_SetAttributeValue(s, h, relabel, 1));
	CK_ATTRIBUTE bylabel[] = {{CKA_LABEL, "renamed", 7}};
	EXPECT(find_one(s, bylabel, 1) == h);
	CK_ATTRIBUTE ro[] = {{CKA_CLASS, &dc, sizeof(dc)}};
	CK(p->C_SetAttributeValue(s, h, ro, 1), CKR_ATTRIBUTE_READ_ONLY);
	CK_ATTRIBUTE noval[] = {{CKA_CLASS, &cc, sizeof(cc)}, {CKA_CERTIFICATE_TYPE, &x509, sizeof(x509)}};
	CK(p->C_CreateObject(s, noval, 2, &h2), CKR_TEMPLATE_INCOMPLETE);
	CK_ULONG shortcls = 1;
	CK_ATTRIBUTE badclass[] = {{CKA_CLASS, &shortcls, 4}, {CKA_VALUE, "v", 1}};
	CK(p->C_CreateObject(s, badclass, 2, &h2), CKR_ATTRIBUTE_VALUE_INVALID);
	CK_ATTRIBUTE noclass[] = {{CKA_VALUE, "v", 1}};
	CK(p->C_CreateObject(s, noclass, 1, &h2), CKR_TEMPLATE_INCOMPLETE);
	CK_ATTRIBUTE data[] = {
		{CKA_CLASS, &dc, sizeof(dc)}, {CKA_TOKEN, &yes, 1}, {CKA_PRIVATE, &yes, 1},
		{CKA_LABEL, "secret-data", 11}, {CKA_VALUE, "payload", 7},
	};
	OK(p->C_CreateObject(s, data, 5, &h2));
	CK_ATTRIBUTE dl[] = {{CKA_LABEL, "secret-data", 11}};
	EXPECT(find_one(s, dl, 1) == h2);
}

struct thread_arg {
	CK_SLOT_ID slot;
	int bits;
	int rounds;
	int ok;
};

static void *signer(void *v)
{
	struct thread_arg *a = v;
	CK_SESSION_HANDLE s;
	if (p->C_OpenSession(a->slot, CKF_SERIAL_SESSION, NULL, NULL, &s) != CKR_OK)
		return NULL;
	CK_ATTRIBUTE lab[] = {{CKA_LABEL, "persist", 7}};
	CK_OBJECT_CLASS pc = CKO_PRIVATE_KEY, uc = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE tp[] = {{CKA_CLASS, &pc, sizeof(pc)}, lab[0]}, tu[] = {{CKA_CLASS, &uc, sizeof(uc)}, lab[0]};
	CK_OBJECT_HANDLE priv = find_one(s, tp, 2), pub = find_one(s, tu, 2);
	CK_MECHANISM m = {CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0};
	int ok = 1;
	for (int i = 0; i < a->rounds && ok; i++) {
		unsigned char msg[8] = {(unsigned char)i}, sig[64];
		CK_ULONG n = sizeof(sig);
		ok = p->C_SignInit(s, &m, priv) == CKR_OK && p->C_Sign(s, msg, sizeof(msg), sig, &n) == CKR_OK &&
		     p->C_VerifyInit(s, &m, pub) == CKR_OK && p->C_Verify(s, msg, sizeof(msg), sig, n) == CKR_OK;
	}
	a->ok = ok && p->C_CloseSession(s) == CKR_OK;
	return NULL;
}

/* logger logs in on a session of its own: with C_Login deriving the key
 * unlocked, several such threads overlap. */
struct login_arg {
	CK_SLOT_ID slot;
	CK_SESSION_HANDLE s;
	CK_RV rv;
};

static void *logger(void *v)
{
	struct login_arg *a = v;
	a->rv = p->C_OpenSession(a->slot, CKF_SERIAL_SESSION, NULL, NULL, &a->s);
	if (a->rv == CKR_OK)
		a->rv = login(a->s, CKU_USER, USER_PIN);
	return NULL;
}

struct waiter {
	CK_RV rv;
	CK_SLOT_ID slot;
};

static void *wait_event(void *v)
{
	struct waiter *w = v;
	w->rv = p->C_WaitForSlotEvent(0, &w->slot, NULL);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: p11test MODULE BASEDIR\n");
		return 2;
	}
	base = argv[2];
	int quick = getenv("P11TEST_QUICK") != NULL;
	void *lib = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (lib == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
	EXPECT(gfl != NULL);
	OK(gfl(&p));
	EXPECT(p->version.major == 2 && p->version.minor == 40);

	CK(p->C_GetSlotList(CK_FALSE, NULL, &(CK_ULONG){0}), CKR_CRYPTOKI_NOT_INITIALIZED);
	init_args();
	CK(p->C_Initialize(NULL), CKR_CRYPTOKI_ALREADY_INITIALIZED);
	CK_INFO info;
	OK(p->C_GetInfo(&info));
	EXPECT(info.cryptokiVersion.major == 2 && info.cryptokiVersion.minor == 40);

	/* one spare slot, no token yet */
	CK_SLOT_ID slots[8];
	CK_ULONG ns = 8;
	OK(p->C_GetSlotList(CK_TRUE, slots, &ns));
	EXPECT(ns == 1);
	CK_SLOT_ID slot = slots[0];
	EXPECT(!(token_flags(slot) & CKF_TOKEN_INITIALIZED));
	CK_SESSION_HANDLE s;
	CK(p->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s), CKR_TOKEN_NOT_RECOGNIZED);
	CK_ULONG nm = 0;
	OK(p->C_GetMechanismList(slot, NULL, &nm));
	EXPECT(nm == 13);
	CK_MECHANISM_INFO mi;
	OK(p->C_GetMechanismInfo(slot, CKM_GOSTR3410_512, &mi));
	EXPECT(mi.flags == (CKF_SIGN | CKF_VERIFY) && mi.ulMinKeySize == 512);
	CK(p->C_GetMechanismInfo(slot, CKM_RSA_PKCS, &mi), CKR_MECHANISM_INVALID);

	/* init token and PINs */
	CK_UTF8CHAR label[32];
	memset(label, ' ', sizeof(label));
	memcpy(label, "ctest", 5);
	/* The default PIN length limits are 6..64. */
	CK(p->C_InitToken(slot, (CK_UTF8CHAR_PTR)"12345", 5, label), CKR_PIN_LEN_RANGE);
	OK(p->C_InitToken(slot, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), label));
	CK_TOKEN_INFO ti;
	OK(p->C_GetTokenInfo(slot, &ti));
	EXPECT(memcmp(ti.label, label, 32) == 0);
	EXPECT((ti.flags & CKF_TOKEN_INITIALIZED) && !(ti.flags & CKF_USER_PIN_INITIALIZED));
	EXPECT(ti.ulMinPinLen == 6 && ti.ulMaxPinLen == 64);
	ns = 8;
	OK(p->C_GetSlotList(CK_FALSE, slots, &ns));
	EXPECT(ns == 2);
	char dir[4096];
	token_dir(dir, sizeof(dir));

	s = open_rw(slot);
	CK(login(s, CKU_USER, USER_PIN), CKR_USER_PIN_NOT_INITIALIZED);
	CK(p->C_InitPIN(s, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)), CKR_USER_NOT_LOGGED_IN);
	OK(login(s, CKU_SO, SO_PIN));
	CK(login(s, CKU_USER, USER_PIN), CKR_USER_ANOTHER_ALREADY_LOGGED_IN);
	CK(p->C_InitPIN(s, (CK_UTF8CHAR_PTR)"12345", 5), CKR_PIN_LEN_RANGE);
	OK(p->C_InitPIN(s, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)));
	OK(p->C_Logout(s));
	EXPECT(token_flags(slot) & CKF_USER_PIN_INITIALIZED);
	/* A PIN length past INT_MAX must not shorten the PIN that is checked:
	 * the right PIN followed by 4 GiB of "rest" is a wrong PIN. */
	if (sizeof(CK_ULONG) > 4)
		CK(p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)USER_PIN, ((CK_ULONG)1 << 32) + strlen(USER_PIN)), CKR_PIN_INCORRECT);
	CK(login(s, CKU_USER, "wrong-pin"), CKR_PIN_INCORRECT);
	EXPECT(token_flags(slot) & CKF_USER_PIN_COUNT_LOW);
	OK(login(s, CKU_USER, USER_PIN));
	EXPECT(!(token_flags(slot) & CKF_USER_PIN_COUNT_LOW));
	CK_SESSION_INFO si;
	OK(p->C_GetSessionInfo(s, &si));
	EXPECT(si.state == CKS_RW_USER_FUNCTIONS && si.slotID == slot);
	CK(login(s, CKU_USER, USER_PIN), CKR_USER_ALREADY_LOGGED_IN);
	/* legacy functions: v2.40 §5.17 */
	CK(p->C_GetFunctionStatus(s), CKR_FUNCTION_NOT_PARALLEL);
	CK(p->C_CancelFunction(s), CKR_FUNCTION_NOT_PARALLEL);

	digests(s);
	unsigned char rnd[32] = {0}, zero[32] = {0};
	OK(p->C_SeedRandom(s, (CK_BYTE_PTR)"seed", 4));
	OK(p->C_GenerateRandom(s, rnd, sizeof(rnd)));
	EXPECT(memcmp(rnd, zero, sizeof(rnd)) != 0);

	rfc7091(s, 256);
	rfc7091(s, 512);
	ecdsa(s, "06082a8648ce3d030107", 32);
	if (!quick) {
		ecdsa(s, "06052b81040022", 48);
		ecdsa(s, "06052b81040023", 66);
	}

	size_t ncurves = quick ? 2 : sizeof(curves) / sizeof(curves[0]);
	for (size_t i = 0; i < ncurves; i++) {
		size_t k = quick ? i * 6 : i; /* quick: one 256 and one 512 curve */
		CK_OBJECT_HANDLE pub, priv;
		genkey(s, curves[k].oid, curves[k].bits, CK_FALSE, "session", &pub, &priv);
		sign_verify(s, pub, priv, curves[k].bits);
	}
	/* inconsistent templates */
	{
		unsigned char oid512[16], oid256[16];
		size_t l512 = unhex("06092a8503070102010201", oid512), l256 = unhex("06092a8503070102010101", oid256);
		CK_MECHANISM m = {CKM_GOSTR3410_KEY_PAIR_GEN, NULL, 0};
		CK_ATTRIBUTE t512[] = {{CKA_GOSTR3410_PARAMS, oid512, l512}};
		CK_ATTRIBUTE t256[] = {{CKA_GOSTR3410_PARAMS, oid256, l256}};
		CK_ATTRIBUTE ext[] = {{CKA_EXTRACTABLE, &yes, 1}};
		CK_OBJECT_HANDLE a, b;
		CK(p->C_GenerateKeyPair(s, &m, t512, 1, NULL, 0, &a, &b), CKR_TEMPLATE_INCONSISTENT);
		CK(p->C_GenerateKeyPair(s, &m, NULL, 0, NULL, 0, &a, &b), CKR_TEMPLATE_INCOMPLETE);
		CK(p->C_GenerateKeyPair(s, &m, t256, 1, ext, 1, &a, &b), CKR_TEMPLATE_INCONSISTENT);
	}

	/* a token key that must survive everything below */
	CK_OBJECT_HANDLE tpub, tpriv;
	genkey(s, "06092a8503070102010101", 256, CK_TRUE, "persist", &tpub, &tpriv);
	objects(s);
	CK_ATTRIBUTE setid[] = {{CKA_ID, "kid", 3}};
	OK(p->C_SetAttributeValue(s, tpriv, setid, 1));

	/* persistence: a new module instance sees token objects, not session ones */
	OK(p->C_Finalize(NULL));
	init_args();
	s = open_rw(slot);
	CK_OBJECT_CLASS pc = CKO_PRIVATE_KEY;
	CK_ATTRIBUTE privs[] = {{CKA_CLASS, &pc, sizeof(pc)}};
	CK_ULONG count;
	CK_OBJECT_HANDLE found[8];
	OK(p->C_FindObjectsInit(s, privs, 1));
	OK(p->C_FindObjects(s, found, 8, &count));
	OK(p->C_FindObjectsFinal(s));
	EXPECT(count == 0); /* private keys are private objects */
	CK_ATTRIBUTE dl[] = {{CKA_LABEL, "secret-data", 11}};
	OK(p->C_FindObjectsInit(s, dl, 1));
	OK(p->C_FindObjects(s, found, 8, &count));
	OK(p->C_FindObjectsFinal(s));
	EXPECT(count == 0);
	OK(login(s, CKU_USER, USER_PIN));
	CK_ATTRIBUTE byid[] = {{CKA_CLASS, &pc, sizeof(pc)}, {CKA_ID, "kid", 3}};
	tpriv = find_one(s, byid, 2);
	CK_OBJECT_CLASS uc = CKO_PUBLIC_KEY;
	CK_ATTRIBUTE publ[] = {{CKA_CLASS, &uc, sizeof(uc)}, {CKA_LABEL, "persist", 7}};
	tpub = find_one(s, publ, 2);
	sign_verify(s, tpub, tpriv, 256);

	/* another process renames the key: this one sees it, same handle */
	{
		pid_t pid = fork();
		EXPECT(pid >= 0);
		if (pid == 0) {
			/* the child inherited this module state: start afresh */
			OK(p->C_Finalize(NULL));
			init_args();
			CK_SESSION_HANDLE cs = open_rw(slot);
			OK(login(cs, CKU_USER, USER_PIN));
			CK_ATTRIBUTE nl[] = {{CKA_LABEL, "renamed-elsewhere", 17}};
			OK(p->C_SetAttributeValue(cs, find_one(cs, byid, 2), nl, 1));
			OK(p->C_Finalize(NULL));
			_exit(0);
		}
		int status;
		EXPECT(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0);
		CK_ATTRIBUTE nl[] = {{CKA_CLASS, &pc, sizeof(pc)}, {CKA_LABEL, "renamed-elsewhere", 17}};
		EXPECT(find_one(s, nl, 2) == tpriv);
		CK_ATTRIBUTE back[] = {{CKA_LABEL, "persist", 7}};
		OK(p->C_SetAttributeValue(s, tpriv, back, 1));
		sign_verify(s, tpub, tpriv, 256);
	}
	unsigned char payload[16];
	CK_ATTRIBUTE pv[] = {{CKA_VALUE, payload, sizeof(payload)}};
	OK(p->C_GetAttributeValue(s, find_one(s, dl, 1), pv, 1));
	EXPECT(pv[0].ulValueLen == 7 && memcmp(payload, "payload", 7) == 0);
	OK(p->C_Logout(s));
	CK(p->C_Logout(s), CKR_USER_NOT_LOGGED_IN);

	/* PIN life cycle: pin_retries = 3 */
	CK(login(s, CKU_USER, "bad-pin-1"), CKR_PIN_INCORRECT);
	OK(p->C_Finalize(NULL)); /* the counter is on disk */
	init_args();
	s = open_rw(slot);
	EXPECT(token_flags(slot) & CKF_USER_PIN_COUNT_LOW);
	CK(login(s, CKU_USER, "bad-pin-2"), CKR_PIN_INCORRECT);
	EXPECT(token_flags(slot) & CKF_USER_PIN_FINAL_TRY);
	CK(login(s, CKU_USER, "bad-pin-3"), CKR_PIN_INCORRECT);
	EXPECT(token_flags(slot) & CKF_USER_PIN_LOCKED);
	CK(login(s, CKU_USER, USER_PIN), CKR_PIN_LOCKED);
	OK(login(s, CKU_SO, SO_PIN));
	OK(p->C_InitPIN(s, (CK_UTF8CHAR_PTR)"new-user-pin", 12));
	OK(p->C_Logout(s));
	EXPECT(!(token_flags(slot) & (CKF_USER_PIN_LOCKED | CKF_USER_PIN_COUNT_LOW)));
	OK(login(s, CKU_USER, "new-user-pin"));
	tpriv = find_one(s, byid, 2);
	tpub = find_one(s, publ, 2);
	sign_verify(s, tpub, tpriv, 256); /* unblocking kept the key */
	CK(p->C_SetPIN(s, (CK_UTF8CHAR_PTR)"wrong-old", 9, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)), CKR_PIN_INCORRECT);
	CK(p->C_SetPIN(s, (CK_UTF8CHAR_PTR)"new-user-pin", 12, (CK_UTF8CHAR_PTR)"12345", 5), CKR_PIN_LEN_RANGE);
	OK(p->C_SetPIN(s, (CK_UTF8CHAR_PTR)"new-user-pin", 12, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN)));
	OK(p->C_Logout(s));
	CK(login(s, CKU_USER, "new-user-pin"), CKR_PIN_INCORRECT);
	OK(login(s, CKU_USER, USER_PIN));
	CK_SESSION_HANDLE ro;
	OK(p->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &ro));
	CK(p->C_SetPIN(ro, (CK_UTF8CHAR_PTR)USER_PIN, strlen(USER_PIN), (CK_UTF8CHAR_PTR)"x2345", 5), CKR_SESSION_READ_ONLY);
	OK(p->C_Logout(s));
	CK(login(s, CKU_SO, SO_PIN), CKR_SESSION_READ_ONLY_EXISTS);
	OK(p->C_CloseSession(ro));

	/* concurrent logins: exactly one logs the slot in, the others find it
	 * logged in (before or after their key derivation) */
	{
		pthread_t th[4];
		struct login_arg la[4];
		int oks = 0;
		for (int i = 0; i < 4; i++) {
			la[i] = (struct login_arg){slot, 0, CKR_GENERAL_ERROR};
			EXPECT(pthread_create(&th[i], NULL, logger, &la[i]) == 0);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			EXPECT(la[i].rv == CKR_OK || la[i].rv == CKR_USER_ALREADY_LOGGED_IN);
			oks += la[i].rv == CKR_OK;
		}
		EXPECT(oks == 1);
		EXPECT(!(token_flags(slot) & CKF_USER_PIN_COUNT_LOW));
		for (int i = 0; i < 4; i++)
			OK(p->C_CloseSession(la[i].s));
		CK(login(s, CKU_USER, USER_PIN), CKR_USER_ALREADY_LOGGED_IN);
		OK(p->C_Logout(s));
	}

	/* threads share the token */
	OK(login(s, CKU_USER, USER_PIN));
	{
		pthread_t th[4];
		struct thread_arg ta[4];
		for (int i = 0; i < 4; i++) {
			ta[i] = (struct thread_arg){slot, 256, quick ? 2 : 10, 0};
			EXPECT(pthread_create(&th[i], NULL, signer, &ta[i]) == 0);
		}
		for (int i = 0; i < 4; i++) {
			pthread_join(th[i], NULL);
			EXPECT(ta[i].ok);
		}
	}

	/* pulled out mid-signature */
	CK_SLOT_ID ev;
	CK(p->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL), CKR_NO_EVENT);
	CK_MECHANISM with = {CKM_GOSTR3410_WITH_GOSTR3411_12_256, NULL, 0};
	OK(p->C_SignInit(s, &with, tpriv));
	OK(p->C_SignUpdate(s, (CK_BYTE_PTR)"part", 4));
	touch(dir, ".removed", 1);
	unsigned char sig[64];
	CK_ULONG sl = sizeof(sig);
	CK(p->C_SignFinal(s, sig, &sl), CKR_DEVICE_REMOVED);
	CK(p->C_GetSessionInfo(s, &si), CKR_DEVICE_REMOVED);
	CK_SLOT_INFO sinfo;
	OK(p->C_GetSlotInfo(slot, &sinfo));
	EXPECT(!(sinfo.flags & CKF_TOKEN_PRESENT) && (sinfo.flags & CKF_REMOVABLE_DEVICE));
	CK(p->C_GetTokenInfo(slot, &ti), CKR_TOKEN_NOT_PRESENT);
	CK_SESSION_HANDLE s2;
	CK(p->C_OpenSession(slot, CKF_SERIAL_SESSION, NULL, NULL, &s2), CKR_TOKEN_NOT_PRESENT);
	ns = 8;
	OK(p->C_GetSlotList(CK_TRUE, slots, &ns));
	EXPECT(ns == 1 && slots[0] != slot);
	OK(p->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL));
	EXPECT(ev == slot);
	CK(p->C_WaitForSlotEvent(CKF_DONT_BLOCK, &ev, NULL), CKR_NO_EVENT);

	/* blocking wait sees the token come back */
	{
		struct waiter w = {0, 0};
		pthread_t th;
		EXPECT(pthread_create(&th, NULL, wait_event, &w) == 0);
		touch(dir, ".removed", 0);
		pthread_join(th, NULL);
		OK(w.rv);
		EXPECT(w.slot == slot);
	}
	CK(p->C_GetSessionInfo(s, &si), CKR_DEVICE_REMOVED);
	OK(p->C_CloseSession(s));
	CK(p->C_CloseSession(s), CKR_SESSION_HANDLE_INVALID);
	s = open_rw(slot);
	OK(login(s, CKU_USER, USER_PIN));
	tpriv = find_one(s, byid, 2);
	tpub = find_one(s, publ, 2);
	sign_verify(s, tpub, tpriv, 256); /* nothing was corrupted */

	/* re-initialization needs the SO PIN and wipes the token */
	OK(p->C_CloseAllSessions(slot));
	CK(p->C_InitToken(slot, (CK_UTF8CHAR_PTR)"not-the-so", 10, label), CKR_PIN_INCORRECT);
	EXPECT(token_flags(slot) & CKF_SO_PIN_COUNT_LOW);
	OK(p->C_InitToken(slot, (CK_UTF8CHAR_PTR)SO_PIN, strlen(SO_PIN), label));
	EXPECT(!(token_flags(slot) & (CKF_USER_PIN_INITIALIZED | CKF_SO_PIN_COUNT_LOW)));
	s = open_rw(slot);
	OK(p->C_FindObjectsInit(s, NULL, 0));
	OK(p->C_FindObjects(s, found, 8, &count));
	OK(p->C_FindObjectsFinal(s));
	EXPECT(count == 0);

	/* C_Finalize wakes a blocked C_WaitForSlotEvent */
	{
		struct waiter w = {0, 0};
		pthread_t th;
		EXPECT(pthread_create(&th, NULL, wait_event, &w) == 0);
		usleep(50000);
		OK(p->C_Finalize(NULL));
		pthread_join(th, NULL);
		CK(w.rv, CKR_CRYPTOKI_NOT_INITIALIZED);
	}
	CK(p->C_Finalize(NULL), CKR_CRYPTOKI_NOT_INITIALIZED);
	dlclose(lib);
	printf("p11test: all checks passed\n");
	return 0;
}
