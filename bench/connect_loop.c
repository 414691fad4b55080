/*
 * N x (socket + connect + accept + close) on loopback, in one thread: what a
 * connection costs, for bench/kernel-mode.  The client closes with an RST
 * (SO_LINGER 0), so no TIME_WAIT sockets pile up between runs and every run
 * meets the same kernel state.  Two times are printed: wall clock, and this
 * process's CPU time (user + system, from getrusage), which leaves out the
 * time other processes had the core, so it is the steadier figure on a shared
 * machine.  No timing is judged here.
 *
 *   connect_loop N
 *       One run; one line: wall and CPU microseconds per connection, then
 *       the keepalive options of the first connection's two ends.
 *
 *   connect_loop --alternate N ROUNDS CGROUP...
 *       Paired batches in one process: for each round, and for each cgroup
 *       (the order rotated every round), move this process into the cgroup
 *       and run N connections there.  Each cgroup has its own listener,
 *       created inside it, since an accepted socket belongs to its listener's
 *       cgroup.  Batches of different cgroups run a few milliseconds apart,
 *       so a slow drift of the machine's load hits them alike.  A cgroup
 *       written inline:CGROUP runs in CGROUP and makes, on each client socket
 *       and once on the listener, the five setsockopt() calls a socket() shim
 *       makes (SO_KEEPALIVE, idle 30, interval 5, count 3, user timeout
 *       10000): the shim's cost without its library.  One line per cgroup:
 *       median over rounds of wall and CPU microseconds per connection, the
 *       median over rounds of the paired ratio (this cgroup's time in a round
 *       over the first cgroup's time in the same round; wall, then CPU), and
 *       the first connection's keepalive options.  A ratio taken within a
 *       round cancels the load drift the round's batches share, so the
 *       median of these ratios moves less from run to run than a ratio of
 *       two medians.  Only getrusage's split between user and system time is
 *       sampled at ticks; their sum is the scheduler's runtime, so even a
 *       batch of a few milliseconds gets a fine CPU figure, and the CPU ratio
 *       (which leaves out preemption) was the steadier one on a noisy VM.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CGROUPS 8
#define MAX_ROUNDS 20000

struct setup {
	int inline_options; /* make the shim's setsockopt() calls in line */
	int listener;
	struct sockaddr_in address;
	int client_keepalive, client_idle, accepted_keepalive, accepted_idle;
};

static double cpu_seconds(void)
{
	struct rusage usage;
	getrusage(RUSAGE_SELF, &usage);
	return (double)(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
	       (double)(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

static double wall_seconds(void)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

static void options(int fd, int *keepalive, int *idle)
{
	socklen_t length = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, keepalive, &length);
	length = sizeof(int);
	getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle, &length);
}

/* What libtcpkeep does to each TCP socket. */
static void shim_options(int fd)
{
	static const struct {
		int level, name, value;
	} settings[] = {
		{SOL_SOCKET, SO_KEEPALIVE, 1},    {IPPROTO_TCP, TCP_KEEPIDLE, 30},
		{IPPROTO_TCP, TCP_KEEPINTVL, 5},  {IPPROTO_TCP, TCP_KEEPCNT, 3},
		{IPPROTO_TCP, TCP_USER_TIMEOUT, 10000},
	};
	for (size_t i = 0; i < sizeof settings / sizeof settings[0]; i++)
		setsockopt(fd, settings[i].level, settings[i].name, &settings[i].value, sizeof(int));
}

static int make_listener(struct setup *setup, int inline_options)
{
	memset(setup, 0, sizeof *setup);
	setup->inline_options = inline_options;
	setup->address.sin_family = AF_INET;
	setup->address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	socklen_t length = sizeof setup->address;
	setup->listener = socket(AF_INET, SOCK_STREAM, 0);
	if (setup->listener >= 0 && inline_options)
		shim_options(setup->listener);
	if (setup->listener < 0 ||
	    bind(setup->listener, (struct sockaddr *)&setup->address, sizeof setup->address) != 0 ||
	    listen(setup->listener, 128) != 0 ||
	    getsockname(setup->listener, (struct sockaddr *)&setup->address, &length) != 0) {
		perror("listen");
		return -1;
	}
	setup->client_keepalive = setup->client_idle = setup->accepted_keepalive = setup->accepted_idle = -1;
	return 0;
}

/* n connections; their wall and CPU seconds. */
static int connections(struct setup *setup, long n, int record, double *wall, double *cpu)
{
	struct linger reset = {.l_onoff = 1, .l_linger = 0};
	double cpu_start = cpu_seconds(), wall_start = wall_seconds();
	for (long i = 0; i < n; i++) {
		int client = socket(AF_INET, SOCK_STREAM, 0);
		if (client >= 0 && setup->inline_options)
			shim_options(client);
		if (client < 0 || connect(client, (struct sockaddr *)&setup->address, sizeof setup->address) != 0) {
			perror("connect");
			return -1;
		}
		int accepted = accept(setup->listener, NULL, NULL);
		if (accepted < 0) {
			perror("accept");
			return -1;
		}
		if (record && i == 0) {
			options(client, &setup->client_keepalive, &setup->client_idle);
			options(accepted, &setup->accepted_keepalive, &setup->accepted_idle);
		}
		setsockopt(client, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
		close(client);
		close(accepted);
	}
	*wall = wall_seconds() - wall_start;
	*cpu = cpu_seconds() - cpu_start;
	return 0;
}

static int enter_cgroup(const char *cgroup)
{
	char procs[4096];
	snprintf(procs, sizeof procs, "%s/cgroup.procs", cgroup);
	int fd = open(procs, O_WRONLY | O_CLOEXEC);
	int ok = fd >= 0 && write(fd, "0", 1) == 1;
	if (fd >= 0)
		close(fd);
	if (!ok)
		perror(procs);
	return ok ? 0 : -1;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *values, int n)
{
	qsort(values, (size_t)n, sizeof *values, by_value);
	return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

static int alternate(long n, int rounds, int count, char **cgroups)
{
	static struct setup setups[MAX_CGROUPS];
	static double walls[MAX_CGROUPS][MAX_ROUNDS], cpus[MAX_CGROUPS][MAX_ROUNDS];
	double wall, cpu;
	for (int k = 0; k < count; k++) {
		int inline_options = strncmp(cgroups[k], "inline:", 7) == 0;
		if (inline_options)
			cgroups[k] += 7;
		if (enter_cgroup(cgroups[k]) != 0 || make_listener(&setups[k], inline_options) != 0 ||
		    connections(&setups[k], n, 1, &wall, &cpu) != 0) /* warm-up, and what it sets */
			return 1;
	}
	for (int round = 0; round < rounds; round++) {
		for (int i = 0; i < count; i++) {
			int k = (i + round) % count;
			if (enter_cgroup(cgroups[k]) != 0 || connections(&setups[k], n, 0, &wall, &cpu) != 0)
				return 1;
			walls[k][round] = wall * 1e6 / (double)n;
			cpus[k][round] = cpu * 1e6 / (double)n;
		}
	}
	/* The paired ratios first: median() sorts what it is given, and the rounds must stay paired. */
	static double ratios[MAX_ROUNDS];
	double wall_ratios[MAX_CGROUPS], cpu_ratios[MAX_CGROUPS];
	for (int k = 0; k < count; k++) {
		for (int round = 0; round < rounds; round++)
			ratios[round] = walls[k][round] / walls[0][round];
		wall_ratios[k] = median(ratios, rounds);
		int paired = 0; /* no division by a zero CPU time */
		for (int round = 0; round < rounds; round++)
			if (cpus[0][round] > 0)
				ratios[paired++] = cpus[k][round] / cpus[0][round];
		cpu_ratios[k] = paired ? median(ratios, paired) : 0;
	}
	for (int k = 0; k < count; k++)
		printf("%.3f %.3f us/connection wall, cpu; %.3fx %.3fx; client keepalive=%d idle=%d accepted "
		       "keepalive=%d idle=%d\n",
		       median(walls[k], rounds), median(cpus[k], rounds), wall_ratios[k], cpu_ratios[k],
		       setups[k].client_keepalive, setups[k].client_idle, setups[k].accepted_keepalive,
		       setups[k].accepted_idle);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 5 && strcmp(argv[1], "--alternate") == 0) {
		int rounds = atoi(argv[3]), count = argc - 4;
		if (rounds < 1 || rounds > MAX_ROUNDS || count > MAX_CGROUPS) {
			fprintf(stderr, "connect_loop: 1..%d rounds, at most %d cgroups\n", MAX_ROUNDS, MAX_CGROUPS);
			return 2;
		}
		return alternate(atol(argv[2]), rounds, count, argv + 4);
	}
	long n = argc > 1 ? atol(argv[1]) : 20000;
	struct setup setup;
	double wall, cpu;
	if (make_listener(&setup, 0) != 0 || connections(&setup, n, 1, &wall, &cpu) != 0)
		return 1;
	printf("%.3f %.3f us/connection wall, cpu (%ld in %.3f s) client keepalive=%d idle=%d accepted "
	       "keepalive=%d idle=%d\n",
	       wall * 1e6 / (double)n, cpu * 1e6 / (double)n, n, wall, setup.client_keepalive, setup.client_idle,
	       setup.accepted_keepalive, setup.accepted_idle);
	return 0;
}
