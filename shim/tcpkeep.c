/*
 * libtcpkeep: give every TCP socket a process creates keepalive, without
 * recompiling the program.  Preloaded with LD_PRELOAD; configured by the
 * same environment variables as libkeepalive (KEEPIDLE, KEEPINTVL, KEEPCNT,
 * KEEPALIVE=off) plus TCPKEEP_USER_TIMEOUT, TCPKEEP_LOG and TCPKEEP_ENFORCE.
 *
 * This code runs inside other people's processes, so: the environment is read
 * once, the per-call path neither allocates nor locks, errno is left as the
 * real call left it, and nothing here ever exits or aborts the host.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tcpkeep_options.h"

#define EXPORT __attribute__((visibility("default")))

enum log_level { LOG_QUIET, LOG_ERROR, LOG_DEBUG };

/* Written once under init_once, read-only afterwards. */
static struct {
	int enabled;
	int enforce;
	enum log_level log;
	int values[TCPKEEP_OPTION_COUNT]; /* < 0: not configured */
} config = {
	.enabled = 1,
	.log = LOG_ERROR,
	.values = {-1, -1, -1, -1},
};

static int (*next_socket)(int, int, int);
static int (*next_setsockopt)(int, int, int, const void *, socklen_t);
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

/* Each option's setsockopt failure is reported once, not once per socket. */
static int failure_reported[TCPKEEP_OPTION_COUNT + 1];

static void say(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* One line to stderr, built on the stack: no stdio buffers, no allocation. */
static void say(const char *format, ...)
{
	char line[256];
	int saved_errno = errno;
	va_list args;
	va_start(args, format);
	int length = vsnprintf(line, sizeof line - 1, format, args);
	va_end(args);
	if (length > (int)sizeof line - 2)
		length = (int)sizeof line - 2;
	if (length >= 0) {
		line[length] = '\n';
		ssize_t ignored = write(STDERR_FILENO, line, (size_t)length + 1);
		(void)ignored;
	}
	errno = saved_errno;
}

/* A whole decimal number in [min, max], nothing before or after it. */
static int parse_number(const char *text, long min, long max, int *out)
{
	long value = 0;
	if (*text == '\0')
		return 0;
	for (const char *p = text; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return 0;
		value = value * 10 + (*p - '0');
		if (value > max)
			return 0;
	}
	if (value < min)
		return 0;
	*out = (int)value;
	return 1;
}

/* An empty value is unset, as systemd's `Environment=KEEPIDLE=` means. */
static void read_option(int index)
{
	const struct tcpkeep_option_spec *spec = &tcpkeep_option_specs[index];
	const char *text = getenv(spec->variable);
	if (text != NULL && *text != '\0' && !parse_number(text, spec->min, spec->max, &config.values[index]) &&
	    config.log >= LOG_ERROR)
		say("tcpkeep: ignoring %s='%.64s': expected a whole number of %s from %d to %d", spec->variable,
		    text, spec->unit, spec->min, spec->max);
}

/* Reads a yes/no variable; returns 1 or 0, or `fallback` when unset or invalid. */
static int read_switch(const char *variable, int fallback)
{
	static const char *const off[] = {"off", "0", "no", "false"};
	static const char *const on[] = {"on", "1", "yes", "true"};
	const char *text = getenv(variable);
	if (text == NULL || *text == '\0')
		return fallback;
	for (size_t i = 0; i < sizeof off / sizeof off[0]; i++) {
		if (strcasecmp(text, off[i]) == 0)
			return 0;
		if (strcasecmp(text, on[i]) == 0)
			return 1;
	}
	if (config.log >= LOG_ERROR)
		say("tcpkeep: ignoring %s='%.64s': expected on, off, 1, 0, yes, no, true or false",
		    variable, text);
	return fallback;
}

static void read_log_level(void)
{
	static const char *const names[] = {[LOG_QUIET] = "quiet", [LOG_ERROR] = "error", [LOG_DEBUG] = "debug"};
	const char *text = getenv("TCPKEEP_LOG");
	if (text == NULL || *text == '\0')
		return;
	for (int level = LOG_QUIET; level <= LOG_DEBUG; level++) {
		if (strcasecmp(text, names[level]) == 0) {
			config.log = (enum log_level)level;
			return;
		}
	}
	say("tcpkeep: ignoring TCPKEEP_LOG='%.64s': expected quiet, error or debug", text);
}

static void initialize(void)
{
	int saved_errno = errno;
	next_socket = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	next_setsockopt = (int (*)(int, int, int, const void *, socklen_t))dlsym(RTLD_NEXT, "setsockopt");
	read_log_level();
	config.enabled = read_switch(TCPKEEP_SWITCH_VARIABLE, 1);
	config.enforce = read_switch("TCPKEEP_ENFORCE", 0);
	for (int i = 0; i < TCPKEEP_OPTION_COUNT; i++)
		read_option(i);
	errno = saved_errno;
}

/* pthread_once costs one atomic load once done; it also covers a socket()
 * call from another library's constructor that runs before ours. */
static inline void ensure_initialized(void)
{
	pthread_once(&init_once, initialize);
}

__attribute__((constructor)) static void load(void)
{
	ensure_initialized();
}

static int is_tcp(int domain, int type, int protocol)
{
	return (domain == AF_INET || domain == AF_INET6) &&
	       (type & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) == SOCK_STREAM &&
	       (protocol == 0 || protocol == IPPROTO_TCP || protocol == IPPROTO_MPTCP);
}

/* The name of an errno setsockopt may return, as a constant string: strerror may format
 * into a buffer, and glibc's strerrorname_np exists in neither musl nor glibc before 2.32. */
static const char *error_name(int err)
{
	switch (err) {
	case EBADF: return "EBADF";
	case EFAULT: return "EFAULT";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case ENOPROTOOPT: return "ENOPROTOOPT";
	case ENOTSOCK: return "ENOTSOCK";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EPERM: return "EPERM";
	default: return NULL;
	}
}

static void report_failure(int fd, int protocol, int index, const char *name)
{
	int err = errno;
	if (config.log < LOG_ERROR || __atomic_exchange_n(&failure_reported[index], 1, __ATOMIC_RELAXED))
		return;
	const char *error = error_name(err);
	say("tcpkeep: fd %d (%s): setting %s failed: %s%.0d (reported once)", fd,
	    protocol == IPPROTO_MPTCP ? "MPTCP" : "TCP", name, error != NULL ? error : "errno ", error != NULL ? 0 : err);
}

static void report_configured(int fd, int domain)
{
	char line[192];
	size_t used = 0;
	for (int i = 0; i < TCPKEEP_OPTION_COUNT && used < sizeof line; i++) {
		if (config.values[i] >= 0)
			used += (size_t)snprintf(line + used, sizeof line - used, " %s=%d", tcpkeep_option_specs[i].name,
						 config.values[i]);
	}
	line[used < sizeof line ? used : sizeof line - 1] = '\0';
	say("tcpkeep: fd %d %s: SO_KEEPALIVE=1%s", fd, domain == AF_INET ? "AF_INET" : "AF_INET6", line);
}

static void configure(int fd, int domain, int protocol)
{
	static const int on = 1;
	if (next_setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof on) != 0)
		report_failure(fd, protocol, TCPKEEP_OPTION_COUNT, "SO_KEEPALIVE");
	for (int i = 0; i < TCPKEEP_OPTION_COUNT; i++) {
		const struct tcpkeep_option_spec *spec = &tcpkeep_option_specs[i];
		if (config.values[i] >= 0 &&
		    next_setsockopt(fd, spec->level, spec->optname, &config.values[i], sizeof config.values[i]) != 0)
			report_failure(fd, protocol, i, spec->name);
	}
	if (config.log >= LOG_DEBUG)
		report_configured(fd, domain);
}

EXPORT int socket(int domain, int type, int protocol)
{
	ensure_initialized();
	if (next_socket == NULL) {
		errno = ENOSYS;
		return -1;
	}
	int fd = next_socket(domain, type, protocol);
	if (fd < 0 || !config.enabled || !is_tcp(domain, type, protocol))
		return fd;
	int saved_errno = errno;
	configure(fd, domain, protocol);
	errno = saved_errno;
	return fd;
}

/* Whether fd is a TCP socket; asked only for the keepalive options in enforce mode. */
static int socket_is_tcp(int fd)
{
	int domain, type, protocol;
	socklen_t length = sizeof(int);
	int saved_errno = errno;
	int tcp = getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length) == 0 &&
		  getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &length) == 0 &&
		  getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &protocol, &length) == 0 &&
		  is_tcp(domain, type, protocol);
	errno = saved_errno;
	return tcp;
}

/* The index of the configured option that (level, optname) names, or -1. */
static int configured_option(int level, int optname)
{
	for (int i = 0; i < TCPKEEP_OPTION_COUNT; i++)
		if (tcpkeep_option_specs[i].level == level && tcpkeep_option_specs[i].optname == optname &&
		    config.values[i] >= 0)
			return i;
	return -1;
}

/* The value enforce mode puts in place of `requested`, or `requested` itself. */
static int enforced_value(int level, int optname, int requested)
{
	if (level == SOL_SOCKET && optname == SO_KEEPALIVE)
		return requested == 0 ? 1 : requested;
	int index = configured_option(level, optname);
	if (index < 0)
		return requested;
	const struct tcpkeep_option_spec *spec = &tcpkeep_option_specs[index];
	int value = config.values[index];
	/* A configured user timeout of 0 is the system's default: nothing to enforce. */
	if (value == 0 || requested < spec->min || requested > spec->max)
		return requested;
	int system_default = index == TCPKEEP_OPTION_USER_TIMEOUT && requested == 0;
	return requested > value || system_default ? value : requested;
}

/*
 * In enforce mode the application may tighten keepalive but not loosen it:
 * SO_KEEPALIVE=0 becomes 1, and a configured idle, interval, count or user
 * timeout replaces a longer one (or a user timeout of 0, the system's
 * default).  Values outside the kernel's range pass through untouched, so
 * the application gets the same EINVAL it would get without the shim.
 */
EXPORT int setsockopt(int fd, int level, int optname, const void *optval, socklen_t optlen)
{
	ensure_initialized();
	if (next_setsockopt == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (!config.enforce || !config.enabled || optval == NULL || optlen < (socklen_t)sizeof(int))
		return next_setsockopt(fd, level, optname, optval, optlen);
	int requested;
	memcpy(&requested, optval, sizeof requested);
	int replacement = enforced_value(level, optname, requested);
	if (replacement == requested || !socket_is_tcp(fd))
		return next_setsockopt(fd, level, optname, optval, optlen);
	if (config.log >= LOG_DEBUG)
		say("tcpkeep: fd %d: enforcing %d where the program asked for %d (level %d, option %d)", fd,
		    replacement, requested, level, optname);
	return next_setsockopt(fd, level, optname, &replacement, sizeof replacement);
}
