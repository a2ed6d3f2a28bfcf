/*
 * locktest checks that a PIN check does not hold the module up: one thread
 * logs in with a wrong PIN to a token whose user PIN copy takes hours to
 * derive (the caller rewrote its KDF as PBKDF2 with 2·10⁹ iterations), and
 * once the attempt is on disk the main thread uses the module — slot and
 * token information, a session, a digest. It prints "locktest: all checks
 * passed" and exits without waiting for the login; a module that keeps its
 * lock for the KDF hangs instead. Usage: locktest MODULE TOKENDIR.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

static void *slow_login(void *arg)
{
	(void)arg;
	CK_SESSION_HANDLE s;
	OK(p->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s));
	p->C_Login(s, CKU_USER, (CK_UTF8CHAR_PTR)"wrong-pin-0", 11);
	fprintf(stderr, "the slow login returned\n");
	exit(1);
}

/* attempt_counted tells whether token.conf shows the login's attempt. */
static int attempt_counted(const char *dir)
{
	char path[4096], buf[4096];
	snprintf(path, sizeof(path), "%s/token.conf", dir);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	return strstr(buf, "\nuser_fail 1\n") != NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: locktest MODULE TOKENDIR\n");
		return 2;
	}
	void *lib = dlopen(argv[1], RTLD_NOW);
	if (lib == NULL) {
		fprintf(stderr, "dlopen: %s\n", dlerror());
		return 1;
	}
	CK_C_GetFunctionList gfl = (CK_C_GetFunctionList)dlsym(lib, "C_GetFunctionList");
	OK(gfl(&p));
	OK(p->C_Initialize(NULL));
	pthread_t th;
	if (pthread_create(&th, NULL, slow_login, NULL) != 0)
		return 1;
	while (!attempt_counted(argv[2]))
		nanosleep(&(struct timespec){0, 10 * 1000 * 1000}, NULL);

	CK_SLOT_ID slots[8];
	CK_ULONG ns = 8;
	OK(p->C_GetSlotList(CK_TRUE, slots, &ns));
	CK_TOKEN_INFO ti;
	OK(p->C_GetTokenInfo(0, &ti));
	CK_SESSION_HANDLE s;
	OK(p->C_OpenSession(0, CKF_SERIAL_SESSION, NULL, NULL, &s));
	CK_MECHANISM m = {CKM_GOSTR3411_12_256, NULL, 0};
	unsigned char d[32];
	CK_ULONG dlen = sizeof(d);
	OK(p->C_DigestInit(s, &m));
	OK(p->C_Digest(s, (CK_BYTE_PTR) "abc", 3, d, &dlen));
	OK(p->C_CloseSession(s));
	printf("locktest: all checks passed\n");
	fflush(stdout);
	_exit(0);
}
