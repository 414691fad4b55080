/*
 * N x (socket + connect + accept + close) on loopback, in one thread: what a
 * connection costs, for bench/kernel-mode.  The client closes with an RST
 * (SO_LINGER 0), so no TIME_WAIT sockets pile up between runs and every run
 * meets the same kernel state.  Prints one line: the time per connection, and
 * the keepalive options of the first connection's two ends (to show what was
 * in effect).  Two times: wall clock, and this process's CPU time (user +
 * system, from getrusage), which leaves out the time other processes had the
 * core, so it is the steadier figure on a shared machine.  No timing is
 * judged here.
 *
 *   connect_loop N
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double cpu_seconds(void)
{
	struct rusage usage;
	getrusage(RUSAGE_SELF, &usage);
	return (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
	       (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static void options(int fd, int *keepalive, int *idle)
{
	socklen_t length = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, keepalive, &length);
	length = sizeof(int);
	getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle, &length);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 20000;
	struct sockaddr_in address = {.sin_family = AF_INET};
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t length = sizeof address;
	int listener = socket(AF_INET, SOCK_STREAM, 0);
	if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 ||
	    listen(listener, 128) != 0 || getsockname(listener, (struct sockaddr *)&address, &length) != 0) {
		perror("listen");
		return 1;
	}
	struct linger reset = {.l_onoff = 1, .l_linger = 0};
	int client_keepalive = -1, client_idle = -1, accepted_keepalive = -1, accepted_idle = -1;
	struct timespec start, end;
	double cpu_start = cpu_seconds();
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (long i = 0; i < n; i++) {
		int client = socket(AF_INET, SOCK_STREAM, 0);
		if (client < 0 || connect(client, (struct sockaddr *)&address, sizeof address) != 0) {
			perror("connect");
			return 1;
		}
		int accepted = accept(listener, NULL, NULL);
		if (accepted < 0) {
			perror("accept");
			return 1;
		}
		if (i == 0) {
			options(client, &client_keepalive, &client_idle);
			options(accepted, &accepted_keepalive, &accepted_idle);
		}
		setsockopt(client, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
		close(client);
		close(accepted);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	double cpu = cpu_seconds() - cpu_start;
	double seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
	printf("%.3f %.3f us/connection wall, cpu (%ld in %.3f s) client keepalive=%d idle=%d accepted "
	       "keepalive=%d idle=%d\n",
	       seconds * 1e6 / (double)n, cpu * 1e6 / (double)n, n, seconds, client_keepalive, client_idle,
	       accepted_keepalive, accepted_idle);
	return 0;
}
