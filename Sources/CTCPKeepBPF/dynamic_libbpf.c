/*
 * libbpf, opened at run time: see dynamic_libbpf.h.
 */
#include "dynamic_libbpf.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

struct libbpf_functions libbpf;

static pthread_once_t resolved = PTHREAD_ONCE_INIT;
/* Why libbpf cannot be used; empty once every function is resolved. */
static char unavailable[256];

static void resolve(void)
{
	static const struct {
		const char *name;
		size_t offset;
	} symbols[] = {
#define LIBBPF_SYMBOL(result, name, parameters) {#name, offsetof(struct libbpf_functions, name)},
		LIBBPF_FUNCTIONS(LIBBPF_SYMBOL)
#undef LIBBPF_SYMBOL
	};
	void *handle = dlopen(LIBBPF_SONAME, RTLD_NOW | RTLD_LOCAL);
	if (handle == NULL) {
		snprintf(unavailable, sizeof unavailable, "%s", dlerror());
		return;
	}
	struct libbpf_functions found;
	for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
		void *symbol = dlsym(handle, symbols[i].name);
		if (symbol == NULL) {
			snprintf(unavailable, sizeof unavailable, "%s has no %s (libbpf 0.7 or later has them all)",
				 LIBBPF_SONAME, symbols[i].name);
			dlclose(handle);
			return;
		}
		memcpy((char *)&found + symbols[i].offset, &symbol, sizeof symbol);
	}
	libbpf = found;
}

int open_libbpf(const char *user, char *error, size_t size)
{
	pthread_once(&resolved, resolve);
	if (unavailable[0] == '\0')
		return 0;
	return refuse(error, size, ELIBACC, "%s needs libbpf (Debian/Ubuntu package libbpf1): %s", user, unavailable);
}
