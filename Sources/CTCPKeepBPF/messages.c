/*
 * The one-line messages of CTCPKeepBPF's functions, and the capability check
 * they share (internal.h).
 */
#define _GNU_SOURCE
#include "internal.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

char libbpf_line[256];
static int libbpf_verbose;

static int libbpf_print(enum libbpf_print_level level, const char *format, va_list args)
{
	if (libbpf_verbose)
		return vfprintf(stderr, format, args);
	if (level == LIBBPF_WARN && libbpf_line[0] == '\0') {
		vsnprintf(libbpf_line, sizeof libbpf_line, format, args);
		libbpf_line[strcspn(libbpf_line, "\n")] = '\0';
	}
	return 0;
}

libbpf_print_fn_t capture_libbpf(int verbose)
{
	libbpf_line[0] = '\0';
	libbpf_verbose = verbose;
	return libbpf.libbpf_set_print(libbpf_print);
}

void release_libbpf(libbpf_print_fn_t previous)
{
	libbpf.libbpf_set_print(previous);
}

static void vwrite_message(char *error, size_t size, int errnum, const char *format, va_list args)
{
	if (error == NULL || size == 0)
		return;
	int used = vsnprintf(error, size, format, args);
	if (used >= 0 && (size_t)used < size && errnum != 0)
		used += snprintf(error + used, size - (size_t)used, ": %s", strerror(errnum));
	if (used >= 0 && (size_t)used < size && libbpf_line[0] != '\0')
		snprintf(error + used, size - (size_t)used, " (%s)", libbpf_line);
}

int fail(char *error, size_t size, int errnum, const char *format, ...)
{
	va_list args;
	va_start(args, format);
	vwrite_message(error, size, errnum, format, args);
	va_end(args);
	errno = errnum;
	return -1;
}

int refuse(char *error, size_t size, int errnum, const char *format, ...)
{
	va_list args;
	va_start(args, format);
	vwrite_message(error, size, 0, format, args);
	va_end(args);
	errno = errnum;
	return -1;
}

static int has_capability(const struct __user_cap_data_struct data[2], int capability)
{
	return (data[capability / 32].effective >> (capability % 32)) & 1;
}

int holds_capabilities(unsigned long long mask, char *error, size_t size)
{
	struct __user_cap_header_struct header = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof data);
	if (syscall(SYS_capget, &header, data) != 0)
		return fail(error, size, errno, "reading this process's capabilities (capget)");
	if (has_capability(data, CAP_SYS_ADMIN))
		return 1;
	for (int capability = 0; capability < 64; capability++)
		if ((mask & CAPABILITY(capability)) && !has_capability(data, capability))
			return 0;
	return 1;
}
