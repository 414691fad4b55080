/*
 * Another preload library for the shim's tests, standing for jemalloc or a
 * tracing shim: it hooks socket() too, chaining to the next definition, and
 * its constructor creates a socket, which may run before libtcpkeep's own
 * constructor has.  With OTHER_PRELOAD_REPORT set it reports on stdout what
 * that socket got and, at exit, how many socket() calls passed through it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

static int calls;

__attribute__((visibility("default"))) int socket(int domain, int type, int protocol)
{
	int (*next)(int, int, int) = (int (*)(int, int, int))dlsym(RTLD_NEXT, "socket");
	__atomic_add_fetch(&calls, 1, __ATOMIC_RELAXED);
	return next(domain, type, protocol);
}

/* Looked up globally, as any other library's call to socket() resolves: a direct call
 * could be bound to the definition above at link time, bypassing the preloaded ones. */
__attribute__((constructor)) static void create_early_socket(void)
{
	int (*global_socket)(int, int, int) = (int (*)(int, int, int))dlsym(RTLD_DEFAULT, "socket");
	int fd = global_socket(AF_INET, SOCK_STREAM, 0);
	int keepalive = -1;
	socklen_t length = sizeof keepalive;
	getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &keepalive, &length);
	if (getenv("OTHER_PRELOAD_REPORT"))
		dprintf(STDOUT_FILENO, "other-constructor keepalive=%d\n", keepalive);
	close(fd);
}

__attribute__((destructor)) static void report_calls(void)
{
	if (getenv("OTHER_PRELOAD_REPORT"))
		dprintf(STDOUT_FILENO, "other-calls count=%d\n", calls);
}
