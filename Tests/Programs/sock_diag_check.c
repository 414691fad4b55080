/*
 * Checks Sources/CLinux/sock_diag.c against this kernel's /proc/net/tcp and tcp6.
 * Needs root (network namespaces, nftables inside them). Build and run it with
 * sock_diag_check.sh beside it.
 *
 *   1. Loopback connections in this namespace (IPv4, IPv6, IPv4-mapped on both an AF_INET6
 *      and an AF_INET client; keepalive on and off; unread data; a closed receive window):
 *      every field of every one compared with the /proc row of the same inode, and the
 *      audit's verdict computed from both.
 *   2. The port filter on those sockets: what the kernel returns is exactly what the
 *      predicate "local or remote port in a range" picks among them.
 *   3. A namespace of its own (tcpkeep-diag-test, lo up, a helper started there with
 *      `ip netns exec`): a diag socket opened from /run/netns sees exactly the helper's
 *      sockets (as /proc/PID/net/tcp lists them) and the host one none; state masks and
 *      port filters compared exactly with the unfiltered dump; stopping from the callback;
 *      the error paths.
 *   4. Two namespaces joined by a veth pair (192.0.2.1 and 192.0.2.2, documentation
 *      addresses, only inside them): a keepalive client whose peer nftables blackholes shows
 *      probes > 0 on the keepalive timer in both sources, then, with data unacknowledged,
 *      the retransmit timer.
 *
 * Every namespace and helper is removed at exit, on failure, and on SIGINT / SIGTERM.
 *
 *   sock_diag_check            run the checks
 *   sock_diag_check --helper   (internal) what runs inside the namespaces
 */
#define _GNU_SOURCE
#include "sock_diag.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/netlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define NETNS_TEST "tcpkeep-diag-test"
#define NETNS_A "tcpkeep-diag-a"
#define NETNS_B "tcpkeep-diag-b"
#define ADDRESS_A "192.0.2.1"
#define ADDRESS_B "192.0.2.2"
#define BLACKHOLE_PORT 7000
#define LISTEN_BACKLOG 128

/* ---- Reporting ---------------------------------------------------------------------------- */

static int checks, failures;

static void check(int ok, int line, const char *format, ...)
{
	checks++;
	if (ok)
		return;
	failures++;
	va_list arguments;
	va_start(arguments, format);
	fprintf(stderr, "FAIL (line %d): ", line);
	vfprintf(stderr, format, arguments);
	fputc('\n', stderr);
	va_end(arguments);
}
#define CHECK(condition, ...) check((condition) != 0, __LINE__, __VA_ARGS__)

static void note(const char *format, ...)
{
	va_list arguments;
	va_start(arguments, format);
	fputs("  ", stdout);
	vprintf(format, arguments);
	fputc('\n', stdout);
	va_end(arguments);
	fflush(stdout);
}

static void cleanup(void);

static void die(const char *format, ...)
{
	va_list arguments;
	va_start(arguments, format);
	int error = errno;
	fputs("sock_diag_check: ", stderr);
	vfprintf(stderr, format, arguments);
	fprintf(stderr, " (errno %d: %s)\n", error, strerror(error));
	va_end(arguments);
	cleanup();
	exit(2);
}

static void sleep_ms(long ms)
{
	struct timespec time = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
	while (nanosleep(&time, &time) != 0 && errno == EINTR) {
	}
}

/* ---- Collecting records --------------------------------------------------------------------- */

struct records {
	struct tcpkeep_diag_socket *items;
	size_t count, capacity;
};

static int collect(const struct tcpkeep_diag_socket *socket, void *context)
{
	struct records *records = context;
	if (records->count == records->capacity) {
		records->capacity = records->capacity ? records->capacity * 2 : 256;
		records->items = realloc(records->items, records->capacity * sizeof *records->items);
		if (!records->items)
			die("realloc");
	}
	records->items[records->count++] = *socket;
	return 0;
}

static void reset(struct records *records)
{
	records->count = 0;
}

/* A dump that must succeed. */
static void dump(int fd, unsigned families, uint32_t states, const struct tcpkeep_diag_port_range *ranges, size_t count,
		 struct records *out)
{
	reset(out);
	int result = tcpkeep_diag_dump(fd, families, states, ranges, count, collect, out);
	if (result != 0)
		die("tcpkeep_diag_dump returned %d", result);
}

static const struct tcpkeep_diag_socket *find_inode(const struct records *records, uint32_t inode)
{
	const struct tcpkeep_diag_socket *found = NULL;
	for (size_t i = 0; i < records->count; i++) {
		if (records->items[i].inode == inode) {
			CHECK(found == NULL, "inode %u appears twice in one dump", inode);
			found = &records->items[i];
		}
	}
	return found;
}

/* ---- /proc/net/tcp ---------------------------------------------------------------------------- */

struct proc_row {
	uint8_t family, state, timer;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	unsigned tx_queue, rx_queue, retransmits, uid, timeout;
	unsigned long ticks, inode;
};

struct proc_rows {
	struct proc_row *items;
	size_t count, capacity;
};

/* The kernel prints each 32-bit word of the address as the number it is in memory, so on
 * this (little-endian) host its network-order bytes come back by storing the number. */
static int parse_address(const char *hex, uint8_t out[16])
{
	size_t length = strlen(hex);
	if (length != 8 && length != 32)
		return -1;
	memset(out, 0, 16);
	uint8_t *at = out;
	if (length == 8) {
		out[10] = out[11] = 0xff;
		at = out + 12;
	}
	for (size_t word = 0; word < length / 8; word++) {
		char digits[9];
		memcpy(digits, hex + 8 * word, 8);
		digits[8] = 0;
		uint32_t value = (uint32_t)strtoul(digits, NULL, 16);
		memcpy(at + 4 * word, &value, 4);
	}
	return 0;
}

static void read_proc_file(const char *path, uint8_t family, struct proc_rows *rows)
{
	FILE *file = fopen(path, "r");
	if (!file)
		die("open %s", path);
	char line[512];
	if (!fgets(line, sizeof line, file))
		die("read %s", path);
	while (fgets(line, sizeof line, file)) {
		char local[33], remote[33];
		struct proc_row row = {.family = family};
		unsigned sport, dport, state, timer;
		int fields = sscanf(line, " %*u: %32[0-9A-Fa-f]:%x %32[0-9A-Fa-f]:%x %x %x:%x %x:%lx %x %u %u %lu", local, &sport,
				    remote, &dport, &state, &row.tx_queue, &row.rx_queue, &timer, &row.ticks, &row.retransmits,
				    &row.uid, &row.timeout, &row.inode);
		if (fields != 13 || parse_address(local, row.src) != 0 || parse_address(remote, row.dst) != 0)
			die("malformed line in %s: %s", path, line);
		row.sport = (uint16_t)sport;
		row.dport = (uint16_t)dport;
		row.state = (uint8_t)state;
		row.timer = (uint8_t)timer;
		if (rows->count == rows->capacity) {
			rows->capacity = rows->capacity ? rows->capacity * 2 : 256;
			rows->items = realloc(rows->items, rows->capacity * sizeof *rows->items);
			if (!rows->items)
				die("realloc");
		}
		rows->items[rows->count++] = row;
	}
	fclose(file);
}

/* /proc/net/tcp and tcp6 of this namespace (pid 0) or of PID's. */
static void read_proc(pid_t pid, struct proc_rows *rows)
{
	char path[64];
	rows->count = 0;
	if (pid)
		snprintf(path, sizeof path, "/proc/%d/net/tcp", (int)pid);
	else
		snprintf(path, sizeof path, "/proc/net/tcp");
	read_proc_file(path, AF_INET, rows);
	strcat(path, "6");
	read_proc_file(path, AF_INET6, rows);
}

static const struct proc_row *find_proc_inode(const struct proc_rows *rows, unsigned long inode)
{
	for (size_t i = 0; i < rows->count; i++)
		if (rows->items[i].inode == inode)
			return &rows->items[i];
	return NULL;
}

/* ---- The audit's verdict, from either source ------------------------------------------------ */

/* Sources/TCPKeep/Audit/Classification.swift without --exact and --max-idle. */
static const char *verdict(uint8_t state, uint8_t timer, unsigned probes)
{
	int keepalive_state = state == TCPKEEP_DIAG_ESTABLISHED || state == TCPKEEP_DIAG_CLOSE_WAIT;
	if (keepalive_state && timer == TCPKEEP_DIAG_TIMER_KEEPALIVE && probes > 0)
		return "probing";
	if (!keepalive_state)
		return "unknown";
	if (timer == TCPKEEP_DIAG_TIMER_NONE)
		return "missing";
	if (timer == TCPKEEP_DIAG_TIMER_KEEPALIVE)
		return "ok";
	return "unknown";
}

static const char *endpoint(const uint8_t address[16], uint16_t port, char *buffer, size_t size)
{
	char text[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, address, text, sizeof text);
	snprintf(buffer, size, "[%s]:%u", text, port);
	return buffer;
}

/* Compares a diag record with the /proc row of the same socket, field by field, per the
 * mapping in sock_diag.h. `probe_slack` allows for a probe sent between the two reads. */
static void compare(const struct tcpkeep_diag_socket *d, const struct proc_row *p, unsigned probe_slack)
{
	char where[80];
	endpoint(d->src, d->sport, where, sizeof where);
	CHECK(d->family == p->family, "%s inode %u: family %u vs /proc file %u", where, d->inode, d->family, p->family);
	CHECK(d->state == p->state, "%s: state %u vs st %u", where, d->state, p->state);
	CHECK(d->timer == p->timer, "%s: timer %u vs tr %u", where, d->timer, p->timer);
	CHECK(d->inode == p->inode, "%s: inode %u vs %lu", where, d->inode, p->inode);
	CHECK(d->sport == p->sport && d->dport == p->dport, "%s: ports %u/%u vs %u/%u", where, d->sport, d->dport, p->sport,
	      p->dport);
	CHECK(memcmp(d->src, p->src, 16) == 0, "%s: local address differs from /proc", where);
	CHECK(memcmp(d->dst, p->dst, 16) == 0, "%s: remote address differs from /proc", where);
	CHECK(d->uid == p->uid, "%s: uid %u vs %u", where, d->uid, p->uid);
	CHECK(d->rqueue == p->rx_queue, "%s: rqueue %u vs rx_queue %u", where, d->rqueue, p->rx_queue);
	/* A listener's wqueue is its backlog limit (listen(2)'s, capped by somaxconn); /proc's
	 * tx_queue for it is write_seq - snd_una, 0. */
	if (d->state == TCPKEEP_DIAG_LISTEN)
		CHECK(d->wqueue == LISTEN_BACKLOG && p->tx_queue == 0, "%s: listener wqueue %u, tx_queue %u", where, d->wqueue,
		      p->tx_queue);
	else
		CHECK(d->wqueue == p->tx_queue, "%s: wqueue %u vs tx_queue %u", where, d->wqueue, p->tx_queue);
	if (d->timer == TCPKEEP_DIAG_TIMER_KEEPALIVE || d->timer == TCPKEEP_DIAG_TIMER_ZERO_WINDOW)
		CHECK(d->probes <= p->timeout + probe_slack && p->timeout <= d->probes + probe_slack,
		      "%s: probes %u vs timeout %u", where, d->probes, p->timeout);
	if (d->timer == TCPKEEP_DIAG_TIMER_RETRANSMIT)
		CHECK(d->retransmits <= p->retransmits + probe_slack && p->retransmits <= d->retransmits + probe_slack,
		      "%s: retransmits %u vs retrnsmt %u", where, d->retransmits, p->retransmits);
	/* ms against 1/100 s, read a few ms apart; a timer that fired in between re-arms. */
	long difference = (long)(d->expires_ms / 10) - (long)p->ticks;
	CHECK(labs(difference) <= 100 || d->timer == TCPKEEP_DIAG_TIMER_NONE,
	      "%s: expires %u ms vs tm->when %lu ticks", where, d->expires_ms, p->ticks);
	if (d->timer == TCPKEEP_DIAG_TIMER_NONE)
		CHECK(d->expires_ms == 0 && p->ticks == 0, "%s: no timer but expires %u / %lu", where, d->expires_ms, p->ticks);
	const char *from_diag = verdict(d->state, d->timer, d->probes);
	const char *from_proc = verdict(p->state, p->timer, p->timeout);
	CHECK(strcmp(from_diag, from_proc) == 0 || probe_slack > 0, "%s: verdict %s from netlink, %s from /proc", where,
	      from_diag, from_proc);
}

/* ---- Sockets ---------------------------------------------------------------------------------- */

static void set_int(int fd, int level, int name, int value)
{
	if (setsockopt(fd, level, name, &value, sizeof value) != 0)
		die("setsockopt %d/%d", level, name);
}

static void set_keepalive(int fd, int idle, int interval, int count)
{
	set_int(fd, SOL_SOCKET, SO_KEEPALIVE, 1);
	set_int(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle);
	if (interval)
		set_int(fd, IPPROTO_TCP, TCP_KEEPINTVL, interval);
	if (count)
		set_int(fd, IPPROTO_TCP, TCP_KEEPCNT, count);
}

static socklen_t make_address(int family, const char *text, uint16_t port, struct sockaddr_storage *out)
{
	memset(out, 0, sizeof *out);
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)out;
		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		if (inet_pton(AF_INET, text, &in->sin_addr) != 1)
			die("address %s", text);
		return sizeof *in;
	}
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)out;
	in6->sin6_family = AF_INET6;
	in6->sin6_port = htons(port);
	if (inet_pton(AF_INET6, text, &in6->sin6_addr) != 1)
		die("address %s", text);
	return sizeof *in6;
}

static uint16_t local_port(int fd)
{
	struct sockaddr_storage address;
	socklen_t length = sizeof address;
	if (getsockname(fd, (struct sockaddr *)&address, &length) != 0)
		die("getsockname");
	return ntohs(address.ss_family == AF_INET ? ((struct sockaddr_in *)&address)->sin_port
						  : ((struct sockaddr_in6 *)&address)->sin6_port);
}

/* A listener; an AF_INET6 one on an IPv4-mapped address has IPV6_V6ONLY off. */
static int listen_on(int family, const char *address, uint16_t port, int receive_buffer)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket");
	set_int(fd, SOL_SOCKET, SO_REUSEADDR, 1);
	if (family == AF_INET6)
		set_int(fd, IPPROTO_IPV6, IPV6_V6ONLY, strncmp(address, "::ffff:", 7) == 0 ? 0 : 1);
	if (receive_buffer)
		set_int(fd, SOL_SOCKET, SO_RCVBUF, receive_buffer);
	struct sockaddr_storage storage;
	socklen_t length = make_address(family, address, port, &storage);
	if (bind(fd, (struct sockaddr *)&storage, length) != 0)
		die("bind %s:%u", address, port);
	if (listen(fd, LISTEN_BACKLOG) != 0)
		die("listen");
	return fd;
}

/* Connects, retrying for a few seconds while a fresh veth link comes up. */
static int connect_to(int family, const char *address, uint16_t port, int keepalive_idle)
{
	struct sockaddr_storage storage;
	socklen_t length = make_address(family, address, port, &storage);
	for (int attempt = 0;; attempt++) {
		int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			die("socket");
		if (keepalive_idle > 0)
			set_keepalive(fd, keepalive_idle, 0, 0);
		if (connect(fd, (struct sockaddr *)&storage, length) == 0)
			return fd;
		if (attempt >= 50 || (errno != ECONNREFUSED && errno != ENETUNREACH && errno != EHOSTUNREACH))
			die("connect %s:%u", address, port);
		close(fd);
		sleep_ms(100);
	}
}

static int accept_one(int listener)
{
	int fd = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		die("accept");
	return fd;
}

static uint32_t inode_of(int fd)
{
	struct stat status;
	if (fstat(fd, &status) != 0)
		die("fstat");
	return (uint32_t)status.st_ino;
}

static uint64_t cookie_of(int fd)
{
	uint64_t cookie = 0;
	socklen_t length = sizeof cookie;
	if (getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &length) != 0)
		die("SO_COOKIE");
	return cookie;
}

/* ---- Helpers in other namespaces -------------------------------------------------------------- */

struct helper {
	pid_t pid;
	int to;     /* its standard input */
	FILE *from; /* its standard output */
};

#define MAX_HELPERS 8
static struct helper helpers[MAX_HELPERS];
static int helper_count;
static const char *namespaces[4];
static int namespace_count;
static char self_path[PATH_MAX];

static int run(const char *command)
{
	int status = system(command);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

static void run_or_die(const char *command)
{
	if (run(command) != 0) {
		errno = 0;
		die("command failed: %s", command);
	}
}

static void add_namespace(const char *name)
{
	char command[256];
	snprintf(command, sizeof command, "ip netns del %s 2>/dev/null", name);
	run(command);
	namespaces[namespace_count++] = name;
	snprintf(command, sizeof command, "ip netns add %s && ip -n %s link set lo up", name, name);
	run_or_die(command);
}

static void stop_helper(struct helper *helper)
{
	if (helper->pid <= 0)
		return;
	if (helper->to >= 0)
		close(helper->to);
	helper->to = -1;
	/* Closing its input ends it; a helper that hangs is killed after a second. */
	for (int waited = 0; waited < 20; waited++) {
		if (waitpid(helper->pid, NULL, WNOHANG) == helper->pid) {
			helper->pid = 0;
			break;
		}
		sleep_ms(50);
	}
	if (helper->pid > 0) {
		kill(helper->pid, SIGKILL);
		waitpid(helper->pid, NULL, 0);
		helper->pid = 0;
	}
	if (helper->from)
		fclose(helper->from);
	helper->from = NULL;
}

static void cleanup(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	for (int i = 0; i < helper_count; i++)
		stop_helper(&helpers[i]);
	for (int i = 0; i < namespace_count; i++) {
		char command[128];
		snprintf(command, sizeof command, "ip netns del %s 2>/dev/null", namespaces[i]);
		run(command);
	}
}

static void on_signal(int number)
{
	cleanup();
	signal(number, SIG_DFL);
	raise(number);
}

/* Starts `sock_diag_check --helper ARGS...` inside a namespace through `ip netns exec`. */
static struct helper *start_helper(const char *netns, const char *const arguments[])
{
	if (helper_count == MAX_HELPERS) {
		errno = 0;
		die("too many helpers");
	}
	int input[2], output[2];
	if (pipe2(input, O_CLOEXEC) != 0 || pipe2(output, O_CLOEXEC) != 0)
		die("pipe");
	const char *argv[16] = {"ip", "netns", "exec", netns, self_path, "--helper"};
	int argc = 6;
	for (int i = 0; arguments[i] && argc < 15; i++)
		argv[argc++] = arguments[i];
	argv[argc] = NULL;
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(input[0], 0);
		dup2(output[1], 1);
		execvp("ip", (char *const *)argv);
		_exit(127);
	}
	close(input[0]);
	close(output[1]);
	struct helper *helper = &helpers[helper_count++];
	helper->pid = pid;
	helper->to = input[1];
	helper->from = fdopen(output[0], "r");
	return helper;
}

/* Reads the helper's lines up to "ready": "sock INODE" ones fill `inodes`. */
static size_t read_until_ready(struct helper *helper, uint32_t *inodes, size_t capacity)
{
	char line[128];
	size_t count = 0;
	while (fgets(line, sizeof line, helper->from)) {
		unsigned long inode;
		if (strncmp(line, "ready", 5) == 0)
			return count;
		if (sscanf(line, "sock %lu", &inode) == 1 && count < capacity)
			inodes[count++] = (uint32_t)inode;
	}
	errno = 0;
	die("a helper ended before it was ready");
	return 0;
}

static void tell_helper(struct helper *helper, const char *line)
{
	if (write(helper->to, line, strlen(line)) != (ssize_t)strlen(line))
		die("write to helper");
}

/* ---- The helper's side ------------------------------------------------------------------------- */

static void print_socket(int fd)
{
	printf("sock %u\n", inode_of(fd));
}

/* Waits for standard input to close; a line "send" writes 4 KiB on `fd`. */
static void wait_for_input(int fd)
{
	char line[64];
	while (fgets(line, sizeof line, stdin)) {
		if (strncmp(line, "send", 4) == 0 && fd >= 0) {
			char data[4096];
			memset(data, 'x', sizeof data);
			if (write(fd, data, sizeof data) < 0)
				perror("helper write");
		}
	}
}

/* The namespace set: six listeners on fixed ports, two connections to each (the first client
 * with keepalive, the second without), four in TIME_WAIT, two half closed. */
static int helper_set(void)
{
	static const struct {
		int family;
		const char *address;
		uint16_t port;
	} listeners[] = {
		{AF_INET, "127.0.0.1", 6379},	   {AF_INET, "127.0.0.1", 17000}, {AF_INET6, "::1", 17001},
		{AF_INET6, "::ffff:127.0.0.1", 17002}, {AF_INET, "127.0.0.1", 17005}, {AF_INET, "127.0.0.1", 20000},
	};
	int fds[64];
	int count = 0;
	for (size_t i = 0; i < sizeof listeners / sizeof listeners[0]; i++) {
		int listener = listen_on(listeners[i].family, listeners[i].address, listeners[i].port, 0);
		fds[count++] = listener;
		for (int j = 0; j < 2; j++) {
			int family = listeners[i].family;
			const char *address = listeners[i].address;
			if (listeners[i].port == 17002 && j == 1) {
				family = AF_INET; /* an IPv4 client of the dual-stack listener */
				address = "127.0.0.1";
			}
			fds[count++] = connect_to(family, address, listeners[i].port, j == 0 ? 300 : 0);
			fds[count++] = accept_one(listener);
		}
	}
	/* TIME_WAIT: the client closes first, then the server; the client's side stays 60 s. */
	for (int i = 0; i < 4; i++) {
		uint16_t port = i < 3 ? 20000 : 6379;
		int client = connect_to(AF_INET, "127.0.0.1", port, 0);
		int server = accept_one(fds[i < 3 ? 25 : 0]); /* each listener and its 4 sockets take 5 */
		close(client);
		sleep_ms(20);
		close(server);
	}
	/* Half closed: the client closes, the server does not. The server's side waits in
	 * CLOSE_WAIT (with keepalive on the first), the orphaned client's becomes a time-wait
	 * entry in state FIN_WAIT2. */
	for (int i = 0; i < 2; i++) {
		int client = connect_to(AF_INET, "127.0.0.1", 17005, 0);
		int server = accept_one(fds[20]);
		if (i == 0)
			set_keepalive(server, 400, 0, 0);
		close(client);
		fds[count++] = server;
	}
	sleep_ms(100);
	for (int i = 0; i < count; i++)
		print_socket(fds[i]);
	printf("ready\n");
	fflush(stdout);
	wait_for_input(-1);
	return 0;
}

static int helper_main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc >= 3 && strcmp(argv[2], "set") == 0)
		return helper_set();
	if (argc >= 5 && strcmp(argv[2], "server") == 0) {
		/* "server ADDR PORT UID": the listener belongs to UID (a socket's uid is its creator's). */
		if (argc >= 6 && setresuid((uid_t)atoi(argv[5]), (uid_t)atoi(argv[5]), (uid_t)atoi(argv[5])) != 0)
			die("setresuid");
		int listener = listen_on(AF_INET, argv[3], (uint16_t)atoi(argv[4]), 0);
		printf("ready\n");
		int server = accept_one(listener);
		print_socket(server);
		printf("ready\n");
		wait_for_input(-1);
		return 0;
	}
	if (argc >= 5 && strcmp(argv[2], "client") == 0) {
		int fd = connect_to(AF_INET, argv[3], (uint16_t)atoi(argv[4]), 0);
		/* Idle 1 s, a probe a second, 60 before giving up: the test reads it long before. */
		set_keepalive(fd, 1, 1, 60);
		print_socket(fd);
		printf("ready\n");
		wait_for_input(fd);
		return 0;
	}
	if (argc >= 5 && strcmp(argv[2], "syn") == 0) {
		/* A connection attempt left hanging: the peer's SYN-ACK never arrives. */
		int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
		struct sockaddr_storage storage;
		socklen_t length = make_address(AF_INET, argv[3], (uint16_t)atoi(argv[4]), &storage);
		if (fd < 0 || (connect(fd, (struct sockaddr *)&storage, length) != 0 && errno != EINPROGRESS))
			die("connect");
		print_socket(fd);
		printf("ready\n");
		wait_for_input(-1);
		return 0;
	}
	fprintf(stderr, "sock_diag_check: unknown helper arguments\n");
	return 2;
}

/* ---- 1. This namespace, field by field ---------------------------------------------------------- */

struct mine {
	int fd;
	uint32_t inode;
	int keepalive_idle; /* 0: off */
	int listener;
	const char *what;
};

#define MAX_MINE 64
static struct mine host[MAX_MINE];
static int host_count;

static void remember(int fd, int keepalive_idle, int listener, const char *what)
{
	if (host_count == MAX_MINE) {
		errno = 0;
		die("too many sockets");
	}
	host[host_count++] = (struct mine){fd, inode_of(fd), keepalive_idle, listener, what};
}

/* The cgroup v2 id of this process (the inode of its cgroup directory), 0 if unknown. */
static uint64_t own_cgroup_id(void)
{
	char mount[256] = "", path[1400] = "", line[1024];
	FILE *mounts = fopen("/proc/self/mounts", "r");
	while (mounts && fgets(line, sizeof line, mounts)) {
		char device[128], where[256], type[64];
		if (sscanf(line, "%127s %255s %63s", device, where, type) == 3 && strcmp(type, "cgroup2") == 0) {
			snprintf(mount, sizeof mount, "%s", where);
			break;
		}
	}
	if (mounts)
		fclose(mounts);
	FILE *cgroup = fopen("/proc/self/cgroup", "r");
	while (cgroup && fgets(line, sizeof line, cgroup)) {
		if (strncmp(line, "0::", 3) == 0) {
			line[strcspn(line, "\n")] = 0;
			snprintf(path, sizeof path, "%s%s", mount, line + 3);
		}
	}
	if (cgroup)
		fclose(cgroup);
	struct stat status;
	if (!mount[0] || !path[0] || stat(path, &status) != 0)
		return 0;
	return status.st_ino;
}

static void check_host(int diag, struct records *all)
{
	printf("1. loopback sockets here against /proc/net/tcp and tcp6\n");
	static const struct {
		int family;
		const char *listen_address;
		int client_family;
		const char *connect_address;
		int listener_keepalive;
		const char *what;
	} kinds[] = {
		{AF_INET, "127.0.0.1", AF_INET, "127.0.0.1", 900, "IPv4"},
		{AF_INET6, "::1", AF_INET6, "::1", 0, "IPv6"},
		{AF_INET6, "::ffff:127.0.0.1", AF_INET6, "::ffff:127.0.0.1", 0, "IPv4-mapped, AF_INET6 client"},
		{AF_INET6, "::ffff:127.0.0.1", AF_INET, "127.0.0.1", 0, "IPv4-mapped server, AF_INET client"},
	};
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		int listener = listen_on(kinds[k].family, kinds[k].listen_address, 0, 0);
		if (kinds[k].listener_keepalive)
			set_keepalive(listener, kinds[k].listener_keepalive, 0, 0);
		remember(listener, 0, 1, kinds[k].what);
		uint16_t port = local_port(listener);
		for (int j = 0; j < 4; j++) {
			int client_idle = j % 2 == 0 ? 600 + 10 * j : 0;
			int client = connect_to(kinds[k].client_family, kinds[k].connect_address, port, client_idle);
			int server = accept_one(listener);
			int server_idle = kinds[k].listener_keepalive;
			if (!server_idle && j == 1) {
				server_idle = 1200;
				set_keepalive(server, server_idle, 0, 0);
			}
			if (j == 3 && write(client, "0123456789", 10) != 10)
				die("write");
			remember(client, client_idle, 0, kinds[k].what);
			remember(server, server_idle, 0, kinds[k].what);
		}
	}

	/* A closed window: the server never reads and has a small buffer; the client (with
	 * keepalive on) writes until it cannot, and the zero-window probe timer hides keepalive. */
	int listener = listen_on(AF_INET, "127.0.0.1", 0, 2048);
	remember(listener, 0, 1, "zero window");
	int client = connect_to(AF_INET, "127.0.0.1", local_port(listener), 600);
	int server = accept_one(listener);
	fcntl(client, F_SETFL, O_NONBLOCK);
	char chunk[4096];
	memset(chunk, 'z', sizeof chunk);
	while (write(client, chunk, sizeof chunk) > 0) {
	}
	remember(client, 600, 0, "zero window");
	int zero_window_client = host_count - 1;
	remember(server, 0, 0, "zero window");
	sleep_ms(1500);

	dump(diag, TCPKEEP_DIAG_IPV4 | TCPKEEP_DIAG_IPV6, TCPKEEP_DIAG_ALL_STATES, NULL, 0, all);
	struct proc_rows rows = {0};
	read_proc(0, &rows);
	uint64_t cgroup = own_cgroup_id();
	int cgroup_compared = 0;

	for (int i = 0; i < host_count; i++) {
		const struct tcpkeep_diag_socket *d = find_inode(all, host[i].inode);
		const struct proc_row *p = find_proc_inode(&rows, host[i].inode);
		CHECK(d != NULL, "%s: inode %u not in the netlink dump", host[i].what, host[i].inode);
		CHECK(p != NULL, "%s: inode %u not in /proc", host[i].what, host[i].inode);
		if (!d || !p)
			continue;
		compare(d, p, 0);
		CHECK(d->cookie == cookie_of(host[i].fd), "%s: cookie %llx vs SO_COOKIE", host[i].what,
		      (unsigned long long)d->cookie);
		CHECK(d->uid == getuid(), "%s: uid %u", host[i].what, d->uid);
		if (cgroup && d->cgroup_id) {
			CHECK(d->cgroup_id == cgroup, "%s: cgroup id %llu, expected %llu", host[i].what,
			      (unsigned long long)d->cgroup_id, (unsigned long long)cgroup);
			cgroup_compared++;
		}
		if (host[i].listener) {
			CHECK(d->state == TCPKEEP_DIAG_LISTEN && d->timer == TCPKEEP_DIAG_TIMER_NONE && d->dport == 0,
			      "%s: listener state %u timer %u", host[i].what, d->state, d->timer);
			continue;
		}
		CHECK(d->state == TCPKEEP_DIAG_ESTABLISHED, "%s: state %u", host[i].what, d->state);
		if (i == zero_window_client) {
			CHECK(d->timer == TCPKEEP_DIAG_TIMER_ZERO_WINDOW, "zero window: timer %u, expected 4", d->timer);
			CHECK(d->wqueue > 0, "zero window: nothing queued");
			note("zero-window client: timer %u expires %u ms probes %u wqueue %u; /proc tr %u when %lu timeout %u "
			     "tx_queue %u",
			     d->timer, d->expires_ms, d->probes, d->wqueue, p->timer, p->ticks, p->timeout, p->tx_queue);
		} else if (host[i].keepalive_idle) {
			CHECK(d->timer == TCPKEEP_DIAG_TIMER_KEEPALIVE, "%s: keepalive on, timer %u", host[i].what, d->timer);
			unsigned idle_ms = (unsigned)host[i].keepalive_idle * 1000;
			CHECK(d->expires_ms <= idle_ms && d->expires_ms + 10000 > idle_ms, "%s: expires %u ms for idle %u ms",
			      host[i].what, d->expires_ms, idle_ms);
			CHECK(d->probes == 0 && strcmp(verdict(d->state, d->timer, d->probes), "ok") == 0, "%s: not ok",
			      host[i].what);
		} else {
			CHECK(d->timer == TCPKEEP_DIAG_TIMER_NONE && strcmp(verdict(d->state, d->timer, d->probes), "missing") == 0,
			      "%s: keepalive off, timer %u", host[i].what, d->timer);
		}
	}
	/* The unread bytes sit in the receiving side's queue in both sources (compare() checked). */
	size_t mapped = 0, families[2] = {0, 0};
	for (int i = 0; i < host_count; i++) {
		const struct tcpkeep_diag_socket *d = find_inode(all, host[i].inode);
		if (!d)
			continue;
		families[d->family == AF_INET6]++;
		static const uint8_t prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		if (d->family == AF_INET6 && memcmp(d->src, prefix, 12) == 0)
			mapped++;
	}
	CHECK(mapped >= 8, "only %zu IPv4-mapped AF_INET6 sockets", mapped);
	note("%d sockets of this test compared (%zu AF_INET, %zu AF_INET6 of which %zu IPv4-mapped); cgroup id compared on %d",
	     host_count, families[0], families[1], mapped, cgroup_compared);
	free(rows.items);
}

/* ---- 2. The port filter -------------------------------------------------------------------------- */

static int in_ranges(const struct tcpkeep_diag_socket *s, const struct tcpkeep_diag_port_range *ranges, size_t count)
{
	for (size_t i = 0; i < count; i++) {
		if ((s->sport >= ranges[i].first && s->sport <= ranges[i].last) ||
		    (s->dport >= ranges[i].first && s->dport <= ranges[i].last))
			return 1;
	}
	return 0;
}

/* Everything returned matches; each of this test's sockets is returned exactly when it
 * matches. Sockets of other programs may come and go in this namespace, so only ours are
 * required; the namespace test below compares whole dumps. */
static void check_host_filter(int diag, const struct records *all, const struct tcpkeep_diag_port_range *ranges,
			      size_t count, const char *what)
{
	struct records filtered = {0};
	dump(diag, TCPKEEP_DIAG_IPV4 | TCPKEEP_DIAG_IPV6, TCPKEEP_DIAG_ALL_STATES, ranges, count, &filtered);
	for (size_t i = 0; i < filtered.count; i++)
		CHECK(in_ranges(&filtered.items[i], ranges, count), "filter %s returned port %u/%u", what,
		      filtered.items[i].sport, filtered.items[i].dport);
	size_t ours = 0;
	for (int i = 0; i < host_count; i++) {
		const struct tcpkeep_diag_socket *d = find_inode(all, host[i].inode);
		if (!d)
			continue;
		int expected = in_ranges(d, ranges, count);
		int found = find_inode(&filtered, host[i].inode) != NULL;
		CHECK(expected == found, "filter %s: port %u/%u %s", what, d->sport, d->dport,
		      expected ? "missing" : "returned");
		ours += (size_t)found;
	}
	note("filter %-40s %zu sockets returned, %zu of them this test's", what, filtered.count, ours);
	free(filtered.items);
}

static void check_host_filters(int diag, const struct records *all)
{
	printf("2. port filter on those sockets\n");
	const struct tcpkeep_diag_socket *listener4 = find_inode(all, host[0].inode);
	const struct tcpkeep_diag_socket *listener6 = find_inode(all, host[9].inode);
	const struct tcpkeep_diag_socket *listener_mapped = find_inode(all, host[18].inode);
	const struct tcpkeep_diag_socket *client = find_inode(all, host[3].inode);
	if (!listener4 || !listener6 || !listener_mapped || !client) {
		errno = 0;
		die("sockets of part 1 are missing");
	}
	char text[80];
	struct tcpkeep_diag_port_range one[1] = {{listener4->sport, listener4->sport}};
	snprintf(text, sizeof text, "%u", listener4->sport);
	check_host_filter(diag, all, one, 1, text);

	struct tcpkeep_diag_port_range several[3] = {
		{listener6->sport, listener6->sport}, {listener_mapped->sport, listener_mapped->sport}, {client->sport, client->sport}};
	snprintf(text, sizeof text, "%u,%u,%u (a client's port)", listener6->sport, listener_mapped->sport, client->sport);
	check_host_filter(diag, all, several, 3, text);

	uint16_t low = listener4->sport < listener6->sport ? listener4->sport : listener6->sport;
	uint16_t high = listener4->sport < listener6->sport ? listener6->sport : listener4->sport;
	struct tcpkeep_diag_port_range range[1] = {{low, high}};
	snprintf(text, sizeof text, "%u-%u", low, high);
	check_host_filter(diag, all, range, 1, text);
}

/* ---- 3. A namespace of our own ------------------------------------------------------------------- */

struct stop_after {
	size_t limit, seen;
};

static int stop_after(const struct tcpkeep_diag_socket *socket, void *context)
{
	(void)socket;
	struct stop_after *state = context;
	return ++state->seen >= state->limit;
}

static int same_socket(const struct tcpkeep_diag_socket *a, const struct tcpkeep_diag_socket *b)
{
	return a->family == b->family && a->state == b->state && a->sport == b->sport && a->dport == b->dport &&
	       a->inode == b->inode && a->cookie == b->cookie && memcmp(a->src, b->src, 16) == 0 &&
	       memcmp(a->dst, b->dst, 16) == 0;
}

/* `got` holds exactly the records of `all` that `keep` selects (each socket once). */
static void check_exact(const struct records *all, const struct records *got, int (*keep)(const struct tcpkeep_diag_socket *, const void *),
			const void *argument, const char *what)
{
	size_t expected = 0;
	for (size_t i = 0; i < all->count; i++) {
		if (!keep(&all->items[i], argument))
			continue;
		expected++;
		size_t found = 0;
		for (size_t j = 0; j < got->count; j++)
			found += (size_t)same_socket(&all->items[i], &got->items[j]);
		CHECK(found == 1, "%s: socket %u->%u state %u returned %zu times", what, all->items[i].sport,
		      all->items[i].dport, all->items[i].state, found);
	}
	CHECK(got->count == expected, "%s: %zu returned, %zu expected", what, got->count, expected);
	note("%-48s %zu sockets, as expected", what, got->count);
}

static int keep_state(const struct tcpkeep_diag_socket *s, const void *mask)
{
	return (*(const uint32_t *)mask >> s->state) & 1;
}

struct range_set {
	const struct tcpkeep_diag_port_range *ranges;
	size_t count;
};

static int keep_ports(const struct tcpkeep_diag_socket *s, const void *set)
{
	const struct range_set *ranges = set;
	return in_ranges(s, ranges->ranges, ranges->count);
}

static int keep_family(const struct tcpkeep_diag_socket *s, const void *family)
{
	return s->family == *(const int *)family;
}

static void check_namespace(int host_diag)
{
	printf("3. namespace " NETNS_TEST " through /run/netns\n");
	add_namespace(NETNS_TEST);
	const char *arguments[] = {"set", NULL};
	struct helper *helper = start_helper(NETNS_TEST, arguments);
	uint32_t inodes[64];
	size_t inode_count = read_until_ready(helper, inodes, 64);

	enum tcpkeep_diag_step step = TCPKEEP_DIAG_STEP_THREAD;
	errno = 4242;
	int diag = tcpkeep_diag_open_netns_path("/run/netns/" NETNS_TEST, &step);
	if (diag < 0)
		die("open in the namespace, step %d", step);
	CHECK(step == TCPKEEP_DIAG_STEP_NONE && errno == 4242, "success left step %d errno %d", step, errno);

	struct records all = {0}, got = {0};
	errno = 4242;
	dump(diag, TCPKEEP_DIAG_IPV4 | TCPKEEP_DIAG_IPV6, TCPKEEP_DIAG_ALL_STATES, NULL, 0, &all);
	CHECK(errno == 4242, "a successful dump changed errno to %d", errno);
	struct proc_rows rows = {0};
	read_proc(helper->pid, &rows);

	/* The namespace's whole table, both ways. */
	CHECK(all.count == rows.count, "netlink %zu sockets, /proc/%d/net %zu rows", all.count, (int)helper->pid, rows.count);
	size_t states[16] = {0};
	for (size_t i = 0; i < rows.count; i++) {
		const struct proc_row *p = &rows.items[i];
		const struct tcpkeep_diag_socket *match = NULL;
		for (size_t j = 0; j < all.count; j++) {
			const struct tcpkeep_diag_socket *d = &all.items[j];
			if (d->family == p->family && d->sport == p->sport && d->dport == p->dport && d->inode == p->inode &&
			    memcmp(d->src, p->src, 16) == 0 && memcmp(d->dst, p->dst, 16) == 0)
				match = d;
		}
		CHECK(match != NULL, "/proc row port %u->%u state %u missing from netlink", p->sport, p->dport, p->state);
		if (match)
			compare(match, p, 0);
		states[p->state & 15]++;
	}
	CHECK(states[TCPKEEP_DIAG_ESTABLISHED] == 24 && states[TCPKEEP_DIAG_LISTEN] == 6 && states[TCPKEEP_DIAG_TIME_WAIT] == 4 &&
		      states[TCPKEEP_DIAG_CLOSE_WAIT] == 2 && states[TCPKEEP_DIAG_FIN_WAIT2] == 2,
	      "namespace holds %zu established, %zu listening, %zu time-wait, %zu close-wait, %zu fin-wait2; "
	      "expected 24, 6, 4, 2, 2",
	      states[TCPKEEP_DIAG_ESTABLISHED], states[TCPKEEP_DIAG_LISTEN], states[TCPKEEP_DIAG_TIME_WAIT],
	      states[TCPKEEP_DIAG_CLOSE_WAIT], states[TCPKEEP_DIAG_FIN_WAIT2]);
	note("/proc/%d/net/tcp{,6}: %zu rows (%zu established, %zu listen, %zu time-wait, %zu close-wait, %zu fin-wait2), "
	     "each equal to its netlink record",
	     (int)helper->pid, rows.count, states[1], states[10], states[6], states[8], states[5]);
	size_t close_wait_verdicts[3] = {0, 0, 0};
	for (size_t i = 0; i < all.count; i++) {
		const struct tcpkeep_diag_socket *d = &all.items[i];
		/* Time-wait entries, the orphaned FIN_WAIT2 ones included (no inode: no file). */
		if (d->state == TCPKEEP_DIAG_TIME_WAIT || (d->state == TCPKEEP_DIAG_FIN_WAIT2 && d->inode == 0))
			CHECK(d->timer == TCPKEEP_DIAG_TIMER_TIME_WAIT && d->inode == 0 && d->uid == 0 && d->expires_ms <= 60000,
			      "time-wait entry in state %u: timer %u inode %u expires %u", d->state, d->timer, d->inode,
			      d->expires_ms);
		if (d->state == TCPKEEP_DIAG_CLOSE_WAIT)
			close_wait_verdicts[strcmp(verdict(d->state, d->timer, d->probes), "ok") == 0 ? 0
					    : strcmp(verdict(d->state, d->timer, d->probes), "missing") == 0 ? 1
														: 2]++;
	}
	CHECK(close_wait_verdicts[0] == 1 && close_wait_verdicts[1] == 1 && close_wait_verdicts[2] == 0,
	      "close-wait verdicts: %zu ok, %zu missing, %zu other; expected 1, 1, 0", close_wait_verdicts[0],
	      close_wait_verdicts[1], close_wait_verdicts[2]);

	/* Which namespace each diag socket sees. */
	struct records host_all = {0};
	dump(host_diag, TCPKEEP_DIAG_IPV4 | TCPKEEP_DIAG_IPV6, TCPKEEP_DIAG_ALL_STATES, NULL, 0, &host_all);
	size_t seen_here = 0, seen_there = 0;
	for (size_t i = 0; i < inode_count; i++) {
		seen_here += find_inode(&host_all, inodes[i]) != NULL;
		seen_there += find_inode(&all, inodes[i]) != NULL;
	}
	CHECK(inode_count == 32 && seen_there == inode_count, "the namespace's diag socket sees %zu of the helper's %zu sockets",
	      seen_there, inode_count);
	CHECK(seen_here == 0, "the host's diag socket sees %zu of the helper's sockets", seen_here);
	size_t host_there = 0;
	for (int i = 0; i < host_count; i++)
		host_there += find_inode(&all, host[i].inode) != NULL;
	CHECK(host_there == 0, "the namespace's diag socket sees %zu of this process's sockets", host_there);
	note("helper's %zu sockets: %zu seen through /run/netns, %zu through the host socket; host sockets seen there: %zu",
	     inode_count, seen_there, seen_here, host_there);

	/* State masks, sent to the kernel. */
	static const struct {
		uint32_t mask;
		const char *what;
	} masks[] = {
		{TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_ESTABLISHED), "states: ESTABLISHED"},
		{TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_LISTEN), "states: LISTEN"},
		{TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_TIME_WAIT), "states: TIME_WAIT"},
		{TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_ESTABLISHED) | TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_TIME_WAIT),
		 "states: ESTABLISHED, TIME_WAIT"},
		{TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_CLOSE_WAIT), "states: CLOSE_WAIT"},
		{TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_FIN_WAIT2), "states: FIN_WAIT2 (time-wait entries)"},
		{TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_SYN_SENT), "states: SYN_SENT (none)"},
	};
	for (size_t i = 0; i < sizeof masks / sizeof masks[0]; i++) {
		dump(diag, TCPKEEP_DIAG_IPV4 | TCPKEEP_DIAG_IPV6, masks[i].mask, NULL, 0, &got);
		check_exact(&all, &got, keep_state, &masks[i].mask, masks[i].what);
	}
	int inet = AF_INET, inet6 = AF_INET6;
	dump(diag, TCPKEEP_DIAG_IPV4, TCPKEEP_DIAG_ALL_STATES, NULL, 0, &got);
	check_exact(&all, &got, keep_family, &inet, "families: IPv4 only");
	dump(diag, TCPKEEP_DIAG_IPV6, TCPKEEP_DIAG_ALL_STATES, NULL, 0, &got);
	check_exact(&all, &got, keep_family, &inet6, "families: IPv6 only");

	/* Port filters, sent to the kernel as bytecode. */
	uint16_t client_port = 0;
	for (size_t i = 0; i < all.count; i++)
		if (all.items[i].dport == 17001)
			client_port = all.items[i].sport;
	static struct tcpkeep_diag_port_range many[TCPKEEP_DIAG_MAX_PORT_RANGES];
	for (size_t i = 0; i < TCPKEEP_DIAG_MAX_PORT_RANGES; i++)
		many[i] = (struct tcpkeep_diag_port_range){(uint16_t)(1000 + 3 * i), (uint16_t)(1001 + 3 * i)};
	many[100] = (struct tcpkeep_diag_port_range){6379, 6379};
	many[255] = (struct tcpkeep_diag_port_range){17005, 17005};
	struct {
		struct tcpkeep_diag_port_range ranges[4];
		size_t count;
		const char *what;
	} filters[] = {
		{{{6379, 6379}}, 1, "ports: 6379"},
		{{{17000, 17002}}, 1, "ports: 17000-17002"},
		{{{6379, 6379}, {17000, 17002}}, 2, "ports: 6379, 17000-17002"},
		{{{17002, 17002}, {6379, 6379}, {20000, 20000}, {17005, 17005}}, 4, "ports: 17002, 6379, 20000, 17005"},
		{{{client_port, client_port}}, 1, "ports: one client's ephemeral port"},
		{{{17001, 17001}, {client_port, client_port}}, 2, "ports: overlapping ranges"},
		{{{100, 200}}, 1, "ports: 100-200 (none)"},
		{{{0, 0}}, 1, "ports: 0 (every listener's remote port)"},
		{{{0, 65535}}, 1, "ports: 0-65535"},
		{{{65535, 65535}, {1, 6379}}, 2, "ports: 65535, 1-6379"},
	};
	for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
		dump(diag, TCPKEEP_DIAG_IPV4 | TCPKEEP_DIAG_IPV6, TCPKEEP_DIAG_ALL_STATES, filters[i].ranges, filters[i].count, &got);
		struct range_set set = {filters[i].ranges, filters[i].count};
		check_exact(&all, &got, keep_ports, &set, filters[i].what);
	}
	dump(diag, TCPKEEP_DIAG_IPV4 | TCPKEEP_DIAG_IPV6, TCPKEEP_DIAG_ALL_STATES, many, TCPKEEP_DIAG_MAX_PORT_RANGES, &got);
	struct range_set many_set = {many, TCPKEEP_DIAG_MAX_PORT_RANGES};
	check_exact(&all, &got, keep_ports, &many_set, "ports: 256 ranges (6379 and 17005 among them)");
	uint32_t established = TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_ESTABLISHED);
	dump(diag, TCPKEEP_DIAG_IPV4 | TCPKEEP_DIAG_IPV6, established, filters[2].ranges, 2, &got);
	size_t expected = 0;
	for (size_t i = 0; i < all.count; i++)
		expected += all.items[i].state == TCPKEEP_DIAG_ESTABLISHED && in_ranges(&all.items[i], filters[2].ranges, 2);
	CHECK(got.count == expected, "ESTABLISHED and ports 6379, 17000-17002: %zu, expected %zu", got.count, expected);
	note("%-48s %zu sockets, as expected", "ESTABLISHED and ports 6379, 17000-17002", got.count);

	/* Stopping from the callback, then the same socket again. */
	struct stop_after stop = {.limit = 3};
	int result = tcpkeep_diag_dump(diag, TCPKEEP_DIAG_IPV4 | TCPKEEP_DIAG_IPV6, TCPKEEP_DIAG_ALL_STATES, NULL, 0, stop_after, &stop);
	CHECK(result == 1 && stop.seen == 3, "stopped dump: result %d after %zu", result, stop.seen);
	dump(diag, TCPKEEP_DIAG_IPV4 | TCPKEEP_DIAG_IPV6, TCPKEEP_DIAG_ALL_STATES, NULL, 0, &got);
	CHECK(got.count == all.count, "after a stopped dump: %zu sockets, expected %zu", got.count, all.count);
	note("callback stopped after 3: result %d; the next dump on the same socket: %zu sockets", result, got.count);

	/* Only the kernel's answers count: messages another netlink socket sends to ours (root
	 * may) are dropped. One datagram holds "dump failed" for every sequence number the next
	 * dump could use; another is larger than the receive buffer. */
	struct sockaddr_nl own = {0};
	socklen_t own_length = sizeof own;
	/* In the namespace too: a netlink port number only names a socket within one. */
	int intruder = tcpkeep_diag_open_netns_path("/run/netns/" NETNS_TEST, &step);
	if (intruder < 0 || getsockname(diag, (struct sockaddr *)&own, &own_length) != 0)
		die("netlink intruder");
	struct forged {
		struct nlmsghdr header;
		int error;
	};
	size_t forged_count = 3000;
	struct forged *forged = calloc(forged_count, sizeof *forged);
	if (!forged)
		die("calloc");
	for (size_t i = 0; i < forged_count; i++)
		forged[i] = (struct forged){{.nlmsg_len = sizeof *forged, .nlmsg_type = NLMSG_DONE, .nlmsg_flags = NLM_F_MULTI,
					     .nlmsg_seq = (uint32_t)i},
					    -EIO};
	struct sockaddr_nl to = {.nl_family = AF_NETLINK, .nl_pid = own.nl_pid};
	size_t big_size = 70000;
	unsigned char *big = calloc(1, big_size);
	ssize_t sent_forged = sendto(intruder, forged, forged_count * sizeof *forged, 0, (struct sockaddr *)&to, sizeof to);
	ssize_t sent_big = big ? sendto(intruder, big, big_size, 0, (struct sockaddr *)&to, sizeof to) : -1;
	CHECK(sent_forged == (ssize_t)(forged_count * sizeof *forged) && sent_big == (ssize_t)big_size,
	      "forged datagrams not delivered: %zd, %zd (%s)", sent_forged, sent_big, strerror(errno));
	close(intruder);
	free(forged);
	free(big);
	dump(diag, TCPKEEP_DIAG_IPV4 | TCPKEEP_DIAG_IPV6, TCPKEEP_DIAG_ALL_STATES, NULL, 0, &got);
	CHECK(got.count == all.count, "after forged messages: %zu sockets, expected %zu", got.count, all.count);
	note("forged from another netlink socket: NLMSG_DONE(-EIO) for sequence numbers 0-%zu and a %zu-byte datagram; "
	     "the dump ignored them and gave %zu sockets",
	     forged_count - 1, big_size, got.count);

	/* Arguments refused before anything is sent. */
	struct tcpkeep_diag_port_range backwards = {5, 4};
	errno = 0;
	CHECK(tcpkeep_diag_dump(diag, 3, TCPKEEP_DIAG_ALL_STATES, &backwards, 1, collect, &got) == -1 && errno == EINVAL,
	      "a backwards range: errno %d", errno);
	static struct tcpkeep_diag_port_range too_many[TCPKEEP_DIAG_MAX_PORT_RANGES + 1];
	errno = 0;
	CHECK(tcpkeep_diag_dump(diag, 3, TCPKEEP_DIAG_ALL_STATES, too_many, TCPKEEP_DIAG_MAX_PORT_RANGES + 1, collect, &got) == -1 &&
		      errno == E2BIG,
	      "257 ranges: errno %d", errno);
	errno = 0;
	CHECK(tcpkeep_diag_dump(diag, 0, TCPKEEP_DIAG_ALL_STATES, NULL, 0, collect, &got) == -1 && errno == EINVAL,
	      "no family: errno %d", errno);
	errno = 0;
	CHECK(tcpkeep_diag_dump(diag, 3, 0, NULL, 0, collect, &got) == -1 && errno == EINVAL, "no state: errno %d", errno);
	errno = 0;
	CHECK(tcpkeep_diag_dump(-1, 3, TCPKEEP_DIAG_ALL_STATES, NULL, 0, collect, &got) == -1 && errno == EBADF,
	      "a bad fd: errno %d", errno);
	int not_netlink = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	errno = 0;
	result = tcpkeep_diag_dump(not_netlink, 3, TCPKEEP_DIAG_ALL_STATES, NULL, 0, collect, &got);
	CHECK(result == -1 && errno != 0, "a UDP socket as diag socket: result %d errno %d", result, errno);
	note("a UDP socket as diag socket: %s", strerror(errno));
	close(not_netlink);

	/* Opening errors name their step. */
	int uts = open("/proc/self/ns/uts", O_RDONLY | O_CLOEXEC);
	errno = 0;
	CHECK(tcpkeep_diag_open_in_netns(uts, &step) == -1 && step == TCPKEEP_DIAG_STEP_SETNS && errno == EINVAL,
	      "a UTS namespace fd: step %d errno %d", step, errno);
	close(uts);
	errno = 0;
	CHECK(tcpkeep_diag_open_in_netns(-1, &step) == -1 && step == TCPKEEP_DIAG_STEP_SETNS && errno == EBADF,
	      "fd -1: step %d errno %d", step, errno);
	errno = 0;
	CHECK(tcpkeep_diag_open_netns_path("/run/netns/tcpkeep-diag-absent", &step) == -1 && step == TCPKEEP_DIAG_STEP_OPEN &&
		      errno == ENOENT,
	      "a missing path: step %d errno %d", step, errno);
	note("errors: UTS namespace fd -> setns EINVAL, fd -1 -> setns EBADF, missing path -> open ENOENT");

	/* The calling thread stayed where it was. */
	struct stat before, after;
	CHECK(stat("/proc/self/ns/net", &before) == 0 && stat("/proc/thread-self/ns/net", &after) == 0 &&
		      before.st_ino == after.st_ino && before.st_ino != 0,
	      "the calling thread changed namespace");

	close(diag);
	stop_helper(helper);
	free(all.items);
	free(got.items);
	free(host_all.items);
	free(rows.items);
}

/* ---- 4. A blackholed peer ---------------------------------------------------------------------------- */

static int read_client(int diag, pid_t pid, uint32_t inode, struct tcpkeep_diag_socket *d, struct proc_row *p)
{
	struct records records = {0};
	struct proc_rows rows = {0};
	dump(diag, TCPKEEP_DIAG_IPV4, TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_ESTABLISHED), NULL, 0, &records);
	read_proc(pid, &rows);
	const struct tcpkeep_diag_socket *found = find_inode(&records, inode);
	const struct proc_row *row = find_proc_inode(&rows, inode);
	int ok = found && row;
	if (ok) {
		*d = *found;
		*p = *row;
	}
	free(records.items);
	free(rows.items);
	return ok;
}

static void check_blackhole(void)
{
	printf("4. a peer blackholed by nftables (namespaces " NETNS_A ", " NETNS_B ", veth, 192.0.2.0/24)\n");
	add_namespace(NETNS_A);
	add_namespace(NETNS_B);
	run_or_die("ip -n " NETNS_A " link add tkd-a type veth peer name tkd-b netns " NETNS_B
		   " && ip -n " NETNS_A " addr add " ADDRESS_A "/24 dev tkd-a && ip -n " NETNS_A " link set tkd-a up"
		   " && ip -n " NETNS_B " addr add " ADDRESS_B "/24 dev tkd-b && ip -n " NETNS_B " link set tkd-b up");
	char port[8];
	snprintf(port, sizeof port, "%d", BLACKHOLE_PORT);
	const char *server_arguments[] = {"server", ADDRESS_B, port, NULL};
	struct helper *server = start_helper(NETNS_B, server_arguments);
	read_until_ready(server, NULL, 0);
	const char *client_arguments[] = {"client", ADDRESS_B, port, NULL};
	struct helper *client = start_helper(NETNS_A, client_arguments);
	uint32_t inode;
	if (read_until_ready(client, &inode, 1) != 1) {
		errno = 0;
		die("the client helper reported no socket");
	}
	read_until_ready(server, NULL, 0);

	enum tcpkeep_diag_step step;
	int diag = tcpkeep_diag_open_netns_path("/run/netns/" NETNS_A, &step);
	if (diag < 0)
		die("open in " NETNS_A ", step %d", step);
	struct tcpkeep_diag_socket d;
	struct proc_row p;
	sleep_ms(2500);
	CHECK(read_client(diag, client->pid, inode, &d, &p), "client socket not found");
	compare(&d, &p, 0);
	CHECK(d.timer == TCPKEEP_DIAG_TIMER_KEEPALIVE && d.probes == 0, "answered peer: timer %u probes %u", d.timer, d.probes);
	note("peer answering: timer %u expires %u ms probes %u (verdict %s); /proc tr %u when %lu timeout %u (verdict %s)",
	     d.timer, d.expires_ms, d.probes, verdict(d.state, d.timer, d.probes), p.timer, p.ticks, p.timeout,
	     verdict(p.state, p.timer, p.timeout));

	run_or_die("ip netns exec " NETNS_B " nft 'add table inet tcpkeep_diag; "
		   "add chain inet tcpkeep_diag input { type filter hook input priority 0; policy accept; }; "
		   "add rule inet tcpkeep_diag input ip saddr " ADDRESS_A " drop'");
	sleep_ms(4500);
	CHECK(read_client(diag, client->pid, inode, &d, &p), "client socket not found");
	compare(&d, &p, 1);
	CHECK(d.timer == TCPKEEP_DIAG_TIMER_KEEPALIVE && d.probes >= 2, "blackholed peer: timer %u probes %u", d.timer, d.probes);
	CHECK(p.timer == 2 && p.timeout >= 2, "blackholed peer in /proc: tr %u timeout %u", p.timer, p.timeout);
	CHECK(strcmp(verdict(d.state, d.timer, d.probes), "probing") == 0 &&
		      strcmp(verdict(p.state, p.timer, p.timeout), "probing") == 0,
	      "blackholed peer: verdicts %s / %s", verdict(d.state, d.timer, d.probes), verdict(p.state, p.timer, p.timeout));
	note("peer blackholed: timer %u expires %u ms probes %u (verdict %s); /proc tr %u when %lu timeout %u (verdict %s)",
	     d.timer, d.expires_ms, d.probes, verdict(d.state, d.timer, d.probes), p.timer, p.ticks, p.timeout,
	     verdict(p.state, p.timer, p.timeout));
	unsigned probes_before = p.timeout;

	/* Data the peer never acknowledges: the retransmit timer takes over. */
	tell_helper(client, "send\n");
	sleep_ms(1500);
	CHECK(read_client(diag, client->pid, inode, &d, &p), "client socket not found");
	compare(&d, &p, 1);
	CHECK(d.timer == TCPKEEP_DIAG_TIMER_RETRANSMIT && d.retransmits >= 1 && d.probes == 0,
	      "unacknowledged data: timer %u retransmits %u probes %u", d.timer, d.retransmits, d.probes);
	CHECK(strcmp(verdict(d.state, d.timer, d.probes), "unknown") == 0 &&
		      strcmp(verdict(p.state, p.timer, p.timeout), "unknown") == 0,
	      "unacknowledged data: verdicts %s / %s", verdict(d.state, d.timer, d.probes), verdict(p.state, p.timer, p.timeout));
	note("data unacknowledged: timer %u expires %u ms retrans %u (verdict %s); /proc tr %u when %lu retrnsmt %u timeout %u "
	     "(was %u; verdict %s)",
	     d.timer, d.expires_ms, d.retrans, verdict(d.state, d.timer, d.probes), p.timer, p.ticks, p.retransmits, p.timeout,
	     probes_before, verdict(p.state, p.timer, p.timeout));

	/* The other way round: a client in B whose SYN reaches A, whose SYN-ACK B drops. A holds
	 * a request socket (SYN_RECV, no inode, retransmit timer); B a SYN_SENT socket. The
	 * listener in A belongs to uid 65534, to see which uid each source gives a request. */
	snprintf(port, sizeof port, "%d", BLACKHOLE_PORT + 1);
	const char *listener_arguments[] = {"server", ADDRESS_A, port, "65534", NULL};
	struct helper *listener = start_helper(NETNS_A, listener_arguments);
	read_until_ready(listener, NULL, 0);
	const char *syn_arguments[] = {"syn", ADDRESS_A, port, NULL};
	struct helper *syn = start_helper(NETNS_B, syn_arguments);
	uint32_t syn_inode;
	if (read_until_ready(syn, &syn_inode, 1) != 1) {
		errno = 0;
		die("the syn helper reported no socket");
	}
	sleep_ms(2500);
	struct records records = {0};
	struct proc_rows rows = {0};
	dump(diag, TCPKEEP_DIAG_IPV4, TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_SYN_RECV), NULL, 0, &records);
	read_proc(listener->pid, &rows);
	const struct proc_row *request_row = NULL;
	for (size_t i = 0; i < rows.count; i++)
		if (rows.items[i].state == TCPKEEP_DIAG_SYN_RECV && rows.items[i].sport == BLACKHOLE_PORT + 1)
			request_row = &rows.items[i];
	CHECK(records.count == 1 && request_row != NULL, "request sockets: %zu from netlink, %s in /proc", records.count,
	      request_row ? "one" : "none");
	if (records.count == 1 && request_row) {
		const struct tcpkeep_diag_socket *r = &records.items[0];
		CHECK(r->state == TCPKEEP_DIAG_SYN_RECV && r->timer == TCPKEEP_DIAG_TIMER_RETRANSMIT && r->inode == 0 &&
			      r->sport == request_row->sport && r->dport == request_row->dport &&
			      memcmp(r->src, request_row->src, 16) == 0 && memcmp(r->dst, request_row->dst, 16) == 0 &&
			      request_row->timer == 1 && request_row->inode == 0 && request_row->timeout == 0,
		      "request socket differs: state %u/%u timer %u/%u", r->state, request_row->state, r->timer, request_row->timer);
		/* netlink counts every SYN-ACK sent again (num_retrans), the client's repeated SYNs
		 * included; /proc the timer's expiries (num_timeout). */
		CHECK(r->retransmits >= request_row->retransmits && request_row->retransmits >= 1,
		      "request socket: retrans %u vs retrnsmt %u", r->retransmits, request_row->retransmits);
		CHECK(request_row->uid == 65534, "request socket: /proc uid %u, expected the listener's", request_row->uid);
		note("request socket (SYN_RECV): netlink timer %u expires %u ms retrans %u uid %u; /proc tr %u when %lu retrnsmt %u "
		     "uid %u timeout %u",
		     r->timer, r->expires_ms, r->retrans, r->uid, request_row->timer, request_row->ticks,
		     request_row->retransmits, request_row->uid, request_row->timeout);
	}
	int diag_b = tcpkeep_diag_open_netns_path("/run/netns/" NETNS_B, &step);
	if (diag_b < 0)
		die("open in " NETNS_B ", step %d", step);
	dump(diag_b, TCPKEEP_DIAG_IPV4, TCPKEEP_DIAG_STATE(TCPKEEP_DIAG_SYN_SENT), NULL, 0, &records);
	read_proc(syn->pid, &rows);
	const struct tcpkeep_diag_socket *sent = find_inode(&records, syn_inode);
	const struct proc_row *sent_row = find_proc_inode(&rows, syn_inode);
	CHECK(sent && sent_row, "SYN_SENT socket not found");
	if (sent && sent_row) {
		compare(sent, sent_row, 1);
		CHECK(sent->state == TCPKEEP_DIAG_SYN_SENT && sent->timer == TCPKEEP_DIAG_TIMER_RETRANSMIT,
		      "SYN_SENT: state %u timer %u", sent->state, sent->timer);
		note("SYN_SENT: netlink timer %u expires %u ms retrans %u; /proc tr %u when %lu retrnsmt %u timeout %u", sent->timer,
		     sent->expires_ms, sent->retrans, sent_row->timer, sent_row->ticks, sent_row->retransmits, sent_row->timeout);
	}
	free(records.items);
	free(rows.items);
	close(diag_b);
	close(diag);
	stop_helper(syn);
	stop_helper(listener);
	stop_helper(client);
	stop_helper(server);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "--helper") == 0)
		return helper_main(argc, argv);
	if (geteuid() != 0) {
		fprintf(stderr, "sock_diag_check: needs root (network namespaces, nftables)\n");
		return 2;
	}
	ssize_t length = readlink("/proc/self/exe", self_path, sizeof self_path - 1);
	if (length <= 0)
		die("readlink /proc/self/exe");
	self_path[length] = 0;
	setvbuf(stdout, NULL, _IOLBF, 0);
	atexit(cleanup);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);

	errno = 4242;
	int diag = tcpkeep_diag_open();
	if (diag < 0)
		die("tcpkeep_diag_open");
	CHECK(errno == 4242, "a successful open changed errno to %d", errno);
	struct records all = {0};
	check_host(diag, &all);
	check_host_filters(diag, &all);
	check_namespace(diag);
	check_blackhole();
	cleanup();
	close(diag);
	free(all.items);
	printf("%d checks, %d failed\n", checks, failures);
	return failures ? 1 : 0;
}
