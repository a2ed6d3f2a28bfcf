/*
 * crashshim is an LD_PRELOAD library that simulates a crash in the middle of
 * writing a token's files: it counts rename(2) calls whose target contains
 * CRASHSHIM_MATCH (default "/objects/") and SIGKILLs the process before or
 * after the one numbered CRASHSHIM_AT (CRASHSHIM_WHEN=before|after). The
 * module is unchanged: the same test runs against any version of it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int count;

int rename(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);
	if (real == NULL)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	const char *at = getenv("CRASHSHIM_AT"), *when = getenv("CRASHSHIM_WHEN"), *match = getenv("CRASHSHIM_MATCH");
	int hit = at != NULL && strstr(to, match != NULL ? match : "/objects/") != NULL && ++count == atoi(at);
	int after = when != NULL && strcmp(when, "after") == 0;
	if (hit && !after)
		raise(SIGKILL);
	int rc = real(from, to);
	if (hit)
		raise(SIGKILL);
	return rc;
}
