/*
 * socket()+close() in a loop, timed inside the process so that start-up and
 * the preload's loading stay out of the figure.
 *
 *   socket_loop plain N    N x socket(AF_INET, SOCK_STREAM, 0) + close()
 *   socket_loop inline N   the same plus the four setsockopt calls a shim makes
 *                          (SO_KEEPALIVE, TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT):
 *                          the least any socket() shim can cost
 *
 * Prints the elapsed nanoseconds per iteration.
 */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static void set(int fd, int level, int option, int value)
{
	if (setsockopt(fd, level, option, &value, sizeof value) != 0) {
		perror("socket_loop: setsockopt");
		exit(1);
	}
}

int main(int argc, char **argv)
{
	if (argc != 3 || (strcmp(argv[1], "plain") != 0 && strcmp(argv[1], "inline") != 0)) {
		fprintf(stderr, "usage: socket_loop plain|inline N\n");
		return 2;
	}
	int with_options = strcmp(argv[1], "inline") == 0;
	long count = atol(argv[2]);
	struct timespec start, end;
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (long i = 0; i < count; i++) {
		int fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0) {
			perror("socket_loop: socket");
			return 1;
		}
		if (with_options) {
			set(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
			set(fd, IPPROTO_TCP, TCP_KEEPIDLE, 60);
			set(fd, IPPROTO_TCP, TCP_KEEPINTVL, 10);
			set(fd, IPPROTO_TCP, TCP_KEEPCNT, 3);
		}
		close(fd);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	double elapsed = (double)(end.tv_sec - start.tv_sec) * 1e9 + (double)(end.tv_nsec - start.tv_nsec);
	printf("%.1f\n", elapsed / (double)count);
	return 0;
}
