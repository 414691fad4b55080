/*
 * Both ends of a request that is never answered, for the frozen-client tests.
 *
 *   peer serve ADDRESS PORT   accept one connection, read its request, never answer;
 *                             prints "ready" once listening, then holds on
 *   peer ask ADDRESS PORT     connect, print "connected", wait for a line on stdin,
 *                             send a request, print "sent", then block reading the
 *                             answer; when the read returns, print
 *                             "result read=N errno=E elapsed_ms=T" (T from the send)
 *
 * Neither end sets keepalive: that is for the shim, or nobody.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static struct sockaddr_in address_of(const char *host, const char *port)
{
	struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)atoi(port))};
	if (inet_pton(AF_INET, host, &address.sin_addr) != 1) {
		fprintf(stderr, "peer: bad address %s\n", host);
		exit(2);
	}
	return address;
}

static double now_ms(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec * 1000 + (double)now.tv_nsec / 1e6;
}

static int serve(struct sockaddr_in address)
{
	int listener = socket(AF_INET, SOCK_STREAM, 0), on = 1;
	setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
	if (listener < 0 || bind(listener, (struct sockaddr *)&address, sizeof address) != 0 || listen(listener, 4) != 0) {
		perror("peer: listen");
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	int connection = accept(listener, NULL, NULL);
	char request[256];
	if (connection < 0 || read(connection, request, sizeof request) < 0) {
		perror("peer: accept");
		return 1;
	}
	for (;;)
		pause();
}

static int ask(struct sockaddr_in address)
{
	int connection = socket(AF_INET, SOCK_STREAM, 0);
	if (connection < 0 || connect(connection, (struct sockaddr *)&address, sizeof address) != 0) {
		perror("peer: connect");
		return 1;
	}
	printf("connected\n");
	fflush(stdout);
	char line[64];
	if (fgets(line, sizeof line, stdin) == NULL)
		return 1;
	static const char request[] = "GET answer\r\n";
	if (write(connection, request, sizeof request - 1) != (ssize_t)(sizeof request - 1)) {
		perror("peer: write");
		return 1;
	}
	double sent = now_ms();
	printf("sent\n");
	fflush(stdout);
	char answer[256];
	ssize_t count = read(connection, answer, sizeof answer);
	int error = count < 0 ? errno : 0;
	printf("result read=%zd errno=%d elapsed_ms=%.0f\n", count, error, now_ms() - sent);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "serve") == 0)
		return serve(address_of(argv[2], argv[3]));
	if (argc == 4 && strcmp(argv[1], "ask") == 0)
		return ask(address_of(argv[2], argv[3]));
	fprintf(stderr, "usage: peer serve|ask ADDRESS PORT\n");
	return 2;
}
