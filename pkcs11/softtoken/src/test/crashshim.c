/*
 * crashshim is an LD_PRELOAD library that simulates a crash in the middle of
 * writing a token's files: it counts rename(2) calls (unlink(2) with
 * CRASHSHIM_CALL=unlink) whose target contains CRASHSHIM_MATCH (default
 * "/objects/") and SIGKILLs the process before or after the one numbered
 * CRASHSHIM_AT (CRASHSHIM_WHEN=before|after). The module is unchanged: the
 * same test runs against any version of it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int count;

/* hit counts a call of kind on path and tells whether it is the one to
 * crash at. */
static int hit(const char *kind, const char *path)
{
	const char *at = getenv("CRASHSHIM_AT"), *call = getenv("CRASHSHIM_CALL"), *match = getenv("CRASHSHIM_MATCH");
	if (at == NULL || strcmp(call != NULL ? call : "rename", kind) != 0)
		return 0;
	return strstr(path, match != NULL ? match : "/objects/") != NULL && ++count == atoi(at);
}

static int after(void)
{
	const char *when = getenv("CRASHSHIM_WHEN");
	return when != NULL && strcmp(when, "after") == 0;
}

int rename(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);
	if (real == NULL)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	int h = hit("rename", to);
	if (h && !after())
		raise(SIGKILL);
	int rc = real(from, to);
	if (h)
		raise(SIGKILL);
	return rc;
}

int unlink(const char *path)
{
	static int (*real)(const char *);
	if (real == NULL)
		real = (int (*)(const char *))dlsym(RTLD_NEXT, "unlink");
	int h = hit("unlink", path);
	if (h && !after())
		raise(SIGKILL);
	int rc = real(path);
	if (h)
		raise(SIGKILL);
	return rc;
}
