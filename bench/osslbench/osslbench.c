/*
 * osslbench times GOST R 34.10-2012 sign and verify through OpenSSL's EVP
 * interface with the gost engine, the reference the bench command compares
 * gostkey against. The bench command builds it at run time.
 *
 * usage: osslbench sign KEY.pem DIGEST_LEN SECONDS
 * prints: sign_ns N / verify_ns N, the mean CPU time per operation, each
 * measured over SECONDS of CPU time
 * usage: osslbench hash DIGEST_NAME SIZE SECONDS
 * prints: hash_ns N, the mean CPU time of one EVP_Digest over SIZE bytes
 *
 * Times are process CPU time (CLOCK_PROCESS_CPUTIME_ID, the clock the
 * bench command reads for its own side), not wall time, so that a busy
 * machine skews both sides alike.
 *
 * The engine comes from the config named by OPENSSL_CONF (the bench command
 * points it at testdata/openssl-gost.cnf).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/conf.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(const char *what)
{
	fprintf(stderr, "osslbench: %s\n", what);
	ERR_print_errors_fp(stderr);
	exit(1);
}

static int hash(const char *name, size_t size, double seconds)
{
	const EVP_MD *md = EVP_get_digestbyname(name);
	if (md == NULL)
		fail("unknown digest (is the gost engine loaded?)");
	unsigned char *buf = malloc(size), out[EVP_MAX_MD_SIZE];
	if (buf == NULL)
		fail("out of memory");
	for (size_t i = 0; i < size; i++)
		buf[i] = (unsigned char)(i * 37 + 11);
	unsigned int outlen;
	long n = 0;
	double start = now(), elapsed;
	do {
		if (!EVP_Digest(buf, size, out, &outlen, md, NULL))
			fail("digest");
		n++;
	} while ((elapsed = now() - start) < seconds);
	printf("hash_ns %.0f\n", elapsed * 1e9 / n);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc != 5 || (strcmp(argv[1], "sign") != 0 && strcmp(argv[1], "hash") != 0))
		fail("usage: osslbench sign KEY.pem DIGEST_LEN SECONDS | hash DIGEST_NAME SIZE SECONDS");
	double seconds = atof(argv[4]);
	if (!(seconds > 0))
		fail("SECONDS must be positive");
	if (!OPENSSL_init_crypto(OPENSSL_INIT_LOAD_CONFIG | OPENSSL_INIT_ENGINE_ALL_BUILTIN, NULL))
		fail("cannot load the OpenSSL config");
	if (strcmp(argv[1], "hash") == 0) {
		long size = atol(argv[3]);
		if (size <= 0)
			fail("SIZE must be positive");
		return hash(argv[2], (size_t)size, seconds);
	}

	size_t dlen = (size_t)atoi(argv[3]);
	if (dlen != 32 && dlen != 64)
		fail("digest length must be 32 or 64");
	FILE *f = fopen(argv[2], "r");
	if (f == NULL)
		fail("cannot open the key");
	EVP_PKEY *key = PEM_read_PrivateKey(f, NULL, NULL, NULL);
	fclose(f);
	if (key == NULL)
		fail("cannot read the key (is the gost engine loaded?)");

	unsigned char digest[64], sig[128];
	for (size_t i = 0; i < dlen; i++)
		digest[i] = (unsigned char)(i * 37 + 11);

	EVP_PKEY_CTX *sctx = EVP_PKEY_CTX_new(key, NULL);
	if (sctx == NULL || EVP_PKEY_sign_init(sctx) <= 0)
		fail("sign init");
	EVP_PKEY_CTX *vctx = EVP_PKEY_CTX_new(key, NULL);
	if (vctx == NULL || EVP_PKEY_verify_init(vctx) <= 0)
		fail("verify init");

	size_t siglen = 0;
	long n = 0;
	double start = now(), elapsed;
	do {
		siglen = sizeof(sig);
		if (EVP_PKEY_sign(sctx, sig, &siglen, digest, dlen) <= 0)
			fail("sign");
		n++;
	} while ((elapsed = now() - start) < seconds);
	printf("sign_ns %.0f\n", elapsed * 1e9 / n);

	n = 0;
	start = now();
	do {
		if (EVP_PKEY_verify(vctx, sig, siglen, digest, dlen) != 1)
			fail("verify");
		n++;
	} while ((elapsed = now() - start) < seconds);
	printf("verify_ns %.0f\n", elapsed * 1e9 / n);

	EVP_PKEY_CTX_free(sctx);
	EVP_PKEY_CTX_free(vctx);
	EVP_PKEY_free(key);
	return 0;
}
