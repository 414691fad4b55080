/*
 * Proves the socket holders iterator (tcpkeep_bpf_open_socket_holders,
 * Sources/CTCPKeepBPF/socket_holders.c and bpf/socket_holders.bpf.c) on the
 * running kernel, against what /proc says about real processes and sockets.
 * Prints one "ok"/"not ok" line per check (TAP) and notes ("# ...") with what
 * it measured; exits 1 if any check failed.  bpf/test/run.sh builds it and
 * runs it as root.
 *
 *   holders_check           every check
 *   holders_check refusal   (internal) opens the iterator, reads it, prints the
 *                           outcome: re-run as nobody and in a PID namespace
 *
 * The test processes are children of this one, forked without exec: they make
 * their sockets (loopback only), report every descriptor of their file tables
 * with fstat's inode through a pipe, and wait until this process closes the
 * stop pipe.  They are gone before it exits.
 *
 * Measured on Linux 6.18, and what the own-table and leader-gone checks pin:
 *   - A thread that called unshare(CLONE_FILES) has its table listed as well
 *     as the leader's, under the process's tgid, never its own tid.  Every
 *     socket it inherited is therefore listed twice with the same pid, fd and
 *     inode, and a socket it opened afterwards can share its fd number with a
 *     different socket of the leader's table: /proc/PID/fd/N shows the
 *     leader's; only /proc/PID/task/TID/fd/N shows the thread's.
 *   - A thread created by that thread shares its table, and the kernel skips
 *     only threads whose table is the leader's: that table is listed once more
 *     (three records for an inherited socket, two for the thread's own).
 *   - When the main thread has exited (pthread_exit) and the process lives on
 *     in its other threads, the leader has no table, so every remaining
 *     thread is listed: each socket once per thread.  /proc/PID/fd is then
 *     empty, so a walk of /proc/PID/fd finds none of these sockets.
 * So records are not unique, and a (pid, fd) of the iterator need not name the
 * same socket as pidfd_getfd(pid, fd), which reads the leader's table; the
 * audit checks the inode of what it duplicates.
 */
#define _GNU_SOURCE
#include "CTCPKeepBPF.h"
#include "tap.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/kcmp.h>

#define PROGRAM_NAME "tcpkeep_holders"
/* The inode number of the initial PID namespace (PROC_PID_INIT_INO). */
#define INITIAL_PID_NAMESPACE 0xEFFFFFFCu
#define RECORD sizeof(struct tcpkeep_bpf_socket_holder)

static char error[1024];

static void die(const char *format, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *format, ...)
{
	va_list args;
	va_start(args, format);
	fprintf(stderr, "holders_check: ");
	vfprintf(stderr, format, args);
	fprintf(stderr, "\n");
	va_end(args);
	exit(2);
}

static int contains(const char *text, const char *part)
{
	return text != NULL && strstr(text, part) != NULL;
}

static double milliseconds_since(const struct timespec *start)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) * 1e3 + (double)(now.tv_nsec - start->tv_nsec) / 1e6;
}

/* ---- lists of (pid, fd, inode) --------------------------------------------- */

typedef struct tcpkeep_bpf_socket_holder holder;

struct holders {
	holder *items;
	size_t count, capacity;
};

static void push(struct holders *list, uint32_t pid, uint32_t fd, uint64_t inode)
{
	if (list->count == list->capacity) {
		list->capacity = list->capacity ? list->capacity * 2 : 1024;
		list->items = realloc(list->items, list->capacity * sizeof *list->items);
		if (list->items == NULL)
			die("out of memory");
	}
	list->items[list->count++] = (holder){.inode = inode, .pid = pid, .fd = fd};
}

static int compare(const holder *a, uint32_t pid, uint32_t fd, uint64_t inode)
{
	if (a->pid != pid)
		return a->pid < pid ? -1 : 1;
	if (a->fd != fd)
		return a->fd < fd ? -1 : 1;
	if (a->inode != inode)
		return a->inode < inode ? -1 : 1;
	return 0;
}

static int order(const void *a, const void *b)
{
	const holder *right = b;
	return compare(a, right->pid, right->fd, right->inode);
}

static void sort_holders(struct holders *list)
{
	if (list->count > 0)
		qsort(list->items, list->count, sizeof *list->items, order);
}

/* The first index at or after (pid, fd, inode) in a sorted list. */
static size_t lower_bound(const struct holders *sorted, uint32_t pid, uint32_t fd, uint64_t inode)
{
	size_t low = 0, high = sorted->count;
	while (low < high) {
		size_t middle = low + (high - low) / 2;
		if (compare(&sorted->items[middle], pid, fd, inode) < 0)
			low = middle + 1;
		else
			high = middle;
	}
	return low;
}

static size_t occurrences(const struct holders *sorted, uint32_t pid, uint32_t fd, uint64_t inode)
{
	size_t count = 0;
	for (size_t i = lower_bound(sorted, pid, fd, inode);
	     i < sorted->count && compare(&sorted->items[i], pid, fd, inode) == 0; i++)
		count++;
	return count;
}

/* The records of one process: [*first, *first + count) of a sorted list. */
static size_t records_of(const struct holders *sorted, uint32_t pid, size_t *first)
{
	size_t start = lower_bound(sorted, pid, 0, 0), end = start;
	while (end < sorted->count && sorted->items[end].pid == pid)
		end++;
	if (first != NULL)
		*first = start;
	return end - start;
}

/* ---- /proc ------------------------------------------------------------------- */

static int is_number(const char *name)
{
	return name[0] >= '1' && name[0] <= '9' && strspn(name, "0123456789") == strlen(name);
}

static int process_exists(uint32_t pid)
{
	char path[32];
	snprintf(path, sizeof path, "/proc/%u", pid);
	return access(path, F_OK) == 0;
}

static int is_socket_inode(const char *path, uint64_t inode)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (uint64_t)st.st_ino == inode;
}

/* Whether /proc shows socket `inode` at descriptor `fd` of process `pid` now:
 * in the leader's file table (/proc/PID/fd), or, failing that, in a thread's
 * own (/proc/PID/task/TID/fd): the iterator lists those too. */
static int shown_now(uint32_t pid, uint32_t fd, uint64_t inode)
{
	char path[96];
	snprintf(path, sizeof path, "/proc/%u/fd/%u", pid, fd);
	if (is_socket_inode(path, inode))
		return 1;
	snprintf(path, sizeof path, "/proc/%u/task", pid);
	DIR *tasks = opendir(path);
	int shown = 0;
	struct dirent *task;
	while (tasks != NULL && !shown && (task = readdir(tasks)) != NULL) {
		if (!is_number(task->d_name))
			continue;
		snprintf(path, sizeof path, "/proc/%u/task/%.16s/fd/%u", pid, task->d_name, fd);
		shown = is_socket_inode(path, inode);
	}
	if (tasks != NULL)
		closedir(tasks);
	return shown;
}

/* Adds every socket descriptor of one file table, /proc/PID/task/TID/fd.
 * readlink rather than stat: "socket:[N]" names the inode without following
 * the link, so a file on a hung file system cannot block the walk. */
static void walk_table(struct holders *walk, uint32_t pid, const char *tid)
{
	char path[96], link[64];
	snprintf(path, sizeof path, "/proc/%u/task/%.16s/fd", pid, tid);
	DIR *fds = opendir(path);
	struct dirent *entry;
	while (fds != NULL && (entry = readdir(fds)) != NULL) {
		if (!is_number(entry->d_name) && strcmp(entry->d_name, "0") != 0)
			continue;
		ssize_t length = readlinkat(dirfd(fds), entry->d_name, link, sizeof link - 1);
		unsigned long long inode;
		if (length <= 0)
			continue;
		link[length] = '\0';
		if (sscanf(link, "socket:[%llu]", &inode) == 1)
			push(walk, pid, (uint32_t)strtoul(entry->d_name, NULL, 10), inode);
	}
	if (fds != NULL)
		closedir(fds);
}

/* Every socket descriptor /proc shows, as (pid, fd, inode), sorted: every
 * process's leader table, and the table of each thread whose table is another
 * (kcmp says; where it cannot, the thread is walked anyway). */
static void walk_proc(struct holders *walk, size_t *processes)
{
	walk->count = 0;
	*processes = 0;
	DIR *proc = opendir("/proc");
	struct dirent *process;
	while (proc != NULL && (process = readdir(proc)) != NULL) {
		if (!is_number(process->d_name))
			continue;
		uint32_t pid = (uint32_t)strtoul(process->d_name, NULL, 10);
		char path[64];
		snprintf(path, sizeof path, "/proc/%u/task", pid);
		DIR *tasks = opendir(path);
		if (tasks == NULL)
			continue;
		(*processes)++;
		struct dirent *task;
		while ((task = readdir(tasks)) != NULL) {
			if (!is_number(task->d_name))
				continue;
			long tid = strtol(task->d_name, NULL, 10);
			if (tid != (long)pid && syscall(SYS_kcmp, (pid_t)pid, (pid_t)tid, KCMP_FILES, 0, 0) == 0)
				continue;
			walk_table(walk, pid, task->d_name);
		}
		closedir(tasks);
	}
	if (proc != NULL)
		closedir(proc);
	sort_holders(walk);
}

static int count_fds(void)
{
	DIR *dir = opendir("/proc/self/fd");
	int count = 0;
	while (dir != NULL && readdir(dir) != NULL)
		count++;
	if (dir != NULL)
		closedir(dir);
	return count - 3; /* ".", ".." and the directory's own */
}

/* ---- the test processes -------------------------------------------------------- */

/* One descriptor of a test process's file table, as the process saw it. */
struct fact {
	uint32_t pid;    /* the process (tgid) */
	uint32_t tid;    /* the thread whose file table it is in */
	int32_t fd;      /* -1: this reporter is done */
	uint32_t socket; /* S_ISSOCK */
	uint64_t inode;  /* fstat's st_ino */
	char label[32];  /* what the process made it as; "" for the rest */
};

static struct fact *facts;
static size_t fact_count, fact_capacity;
static int stop_pipe[2];  /* the test processes exit when the write end closes */
static pid_t children[8]; /* this process's children, reaped at the end */
static int child_count;
static int have_ipv6;
static int high_fd = 1000; /* lowered when the descriptor limit is lower */
static int bulk_sockets;   /* how many sockets the bulk process holds */

struct labels {
	int fd[32];
	const char *name[32];
	int count;
};

static int label(struct labels *labels, int fd, const char *name)
{
	if (fd < 0)
		_exit(3);
	if (labels->count < 32) {
		labels->fd[labels->count] = fd;
		labels->name[labels->count++] = name;
	}
	return fd;
}

static void write_fact(int out, const struct fact *fact)
{
	/* A pipe write this small is atomic: reporters sharing the pipe do not mix. */
	if (write(out, fact, sizeof *fact) != (ssize_t)sizeof *fact)
		_exit(3);
}

/* Reports every descriptor of the calling thread's file table (the one
 * /proc/thread-self/fd lists and fstat uses), then the end marker. */
static void report_table(int out, const struct labels *labels)
{
	DIR *dir = opendir("/proc/thread-self/fd");
	if (dir == NULL)
		_exit(3);
	struct fact fact;
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		if (entry->d_name[0] == '.')
			continue;
		int fd = atoi(entry->d_name);
		struct stat st;
		if (fd == dirfd(dir) || fstat(fd, &st) != 0)
			continue;
		memset(&fact, 0, sizeof fact);
		fact.pid = (uint32_t)getpid();
		fact.tid = (uint32_t)gettid();
		fact.fd = fd;
		fact.socket = S_ISSOCK(st.st_mode);
		fact.inode = st.st_ino;
		for (int i = 0; i < labels->count; i++)
			if (labels->fd[i] == fd)
				snprintf(fact.label, sizeof fact.label, "%s", labels->name[i]);
		write_fact(out, &fact);
	}
	closedir(dir);
	memset(&fact, 0, sizeof fact);
	fact.pid = (uint32_t)getpid();
	fact.tid = (uint32_t)gettid();
	fact.fd = -1;
	write_fact(out, &fact);
}

static void wait_for_stop(void)
{
	char byte;
	while (read(stop_pipe[0], &byte, 1) != 0 && errno == EINTR)
		;
}

static int listen_on(int family, int *port)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage address;
	socklen_t length = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	memset(&address, 0, sizeof address);
	address.ss_family = (sa_family_t)family;
	if (family == AF_INET)
		((struct sockaddr_in *)&address)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	else
		((struct sockaddr_in6 *)&address)->sin6_addr = in6addr_loopback;
	if (fd < 0 || bind(fd, (struct sockaddr *)&address, length) != 0 || listen(fd, 8) != 0 ||
	    getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	*port = ntohs(family == AF_INET ? ((struct sockaddr_in *)&address)->sin_port
					: ((struct sockaddr_in6 *)&address)->sin6_port);
	return fd;
}

static int connect_to(int family, int port)
{
	int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_storage address;
	socklen_t length = family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	memset(&address, 0, sizeof address);
	address.ss_family = (sa_family_t)family;
	if (family == AF_INET) {
		((struct sockaddr_in *)&address)->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		((struct sockaddr_in *)&address)->sin_port = htons((uint16_t)port);
	} else {
		((struct sockaddr_in6 *)&address)->sin6_addr = in6addr_loopback;
		((struct sockaddr_in6 *)&address)->sin6_port = htons((uint16_t)port);
	}
	if (fd >= 0 && connect(fd, (struct sockaddr *)&address, length) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static int accept_one(int listener)
{
	struct pollfd p = {.fd = listener, .events = POLLIN};
	if (listener < 0 || poll(&p, 1, 10000) <= 0)
		return -1;
	return accept4(listener, NULL, NULL, SOCK_CLOEXEC);
}

enum tcp_variant { PLAIN, SHARED, BULK };

/* TCP connections over IPv4 and IPv6 loopback (listener, client and accepted
 * end each), dup()ed descriptors, one at a high number, a UNIX pair, a UDP
 * socket, and a regular file and a pipe that must not be listed.  SHARED also
 * forks a process that keeps the IPv4 client alone; BULK adds more sockets than
 * one read of the kernel's 32 KiB buffer holds (2048 records). */
static void tcp_process(int out, enum tcp_variant variant)
{
	struct labels labels = {.count = 0};
	int port;
	int listener4 = label(&labels, listen_on(AF_INET, &port), "tcp4 listener");
	int client4 = label(&labels, connect_to(AF_INET, port), "tcp4 client");
	int accepted4 = label(&labels, accept_one(listener4), "tcp4 accepted");
	int accepted6 = accepted4;
	if (have_ipv6) {
		int listener6 = label(&labels, listen_on(AF_INET6, &port), "tcp6 listener");
		label(&labels, connect_to(AF_INET6, port), "tcp6 client");
		accepted6 = label(&labels, accept_one(listener6), "tcp6 accepted");
	}
	label(&labels, dup(client4), "dup of tcp4 client");
	label(&labels, dup(accepted6), "dup of tcp6 accepted");
	label(&labels, dup2(accepted4, high_fd), "tcp4 accepted at high fd");
	int pair[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
		_exit(3);
	label(&labels, pair[0], "unix pair");
	label(&labels, pair[1], "unix pair");
	label(&labels, socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "udp");
	label(&labels, open("/proc/self/exe", O_RDONLY | O_CLOEXEC), "regular file");
	int pipe_ends[2];
	if (pipe2(pipe_ends, O_CLOEXEC) != 0)
		_exit(3);
	label(&labels, pipe_ends[0], "pipe");
	if (variant == BULK)
		for (int i = 0; i < bulk_sockets / 2; i++)
			if (socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair) != 0)
				_exit(3);
	if (variant == SHARED) {
		pid_t sharer = fork();
		if (sharer < 0)
			_exit(3);
		if (sharer == 0) {
			/* Keeps the client alone, at the same number, beside stdio and the pipes. */
			DIR *dir = opendir("/proc/self/fd");
			struct dirent *entry;
			while (dir != NULL && (entry = readdir(dir)) != NULL) {
				int fd = atoi(entry->d_name);
				if (entry->d_name[0] != '.' && fd > 2 && fd != dirfd(dir) && fd != client4 && fd != out &&
				    fd != stop_pipe[0])
					close(fd);
			}
			if (dir != NULL)
				closedir(dir);
			struct labels kept = {.count = 0};
			label(&kept, client4, "shared tcp4 client");
			report_table(out, &kept);
			wait_for_stop();
			_exit(0);
		}
	}
	report_table(out, &labels);
	wait_for_stop();
	_exit(0);
}

/* Lets the threads of a test process take turns. */
static pthread_mutex_t turn_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn_changed = PTHREAD_COND_INITIALIZER;
static int turn;

static void pass_turn(int next)
{
	pthread_mutex_lock(&turn_lock);
	turn = next;
	pthread_cond_broadcast(&turn_changed);
	pthread_mutex_unlock(&turn_lock);
}

static void await_turn(int wanted)
{
	pthread_mutex_lock(&turn_lock);
	while (turn < wanted)
		pthread_cond_wait(&turn_changed, &turn_lock);
	pthread_mutex_unlock(&turn_lock);
}

static void *idle_thread(void *unused)
{
	(void)unused;
	for (;;)
		pause();
	return NULL;
}

struct own_table {
	int out;
	struct labels labels; /* the main thread's, as they were at the unshare */
};

/* Takes a file table of its own, opens a socket in it, starts a thread that
 * shares it, and reports it when the main thread has reported its own. */
static void *own_table_thread(void *argument)
{
	struct own_table *own = argument;
	struct labels labels = own->labels;
	if (unshare(CLONE_FILES) != 0)
		_exit(4);
	label(&labels, socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "thread's own");
	pthread_t inner;
	if (pthread_create(&inner, NULL, idle_thread, NULL) != 0)
		_exit(3);
	pass_turn(1);
	await_turn(2);
	report_table(own->out, &labels);
	return idle_thread(NULL);
}

/* A process with an ordinary thread (sharing the leader's table) and a thread
 * with a table of its own (unshare(CLONE_FILES)). */
static void own_table_process(int out)
{
	static struct own_table own;
	own.out = out;
	label(&own.labels, socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "before unshare");
	pthread_t sharer, owner;
	if (pthread_create(&sharer, NULL, idle_thread, NULL) != 0 ||
	    pthread_create(&owner, NULL, own_table_thread, &own) != 0)
		_exit(3);
	await_turn(1);
	struct labels labels = own.labels;
	label(&labels, socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "main after unshare");
	report_table(out, &labels);
	pass_turn(2);
	wait_for_stop();
	_exit(0);
}

/* The state letter of /proc/self/task/TID/stat ('Z' for a zombie), '?' if gone. */
static char thread_state(pid_t tid)
{
	char path[64], text[512];
	snprintf(path, sizeof path, "/proc/self/task/%d/stat", (int)tid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t length = fd >= 0 ? read(fd, text, sizeof text - 1) : -1;
	if (fd >= 0)
		close(fd);
	if (length <= 0)
		return '?';
	text[length] = '\0';
	char *end = strrchr(text, ')');
	return end != NULL && end[1] == ' ' ? end[2] : '?';
}

static void *leader_gone_reporter(void *argument)
{
	int out = *(int *)argument;
	for (int attempt = 0; attempt < 500 && thread_state(getpid()) != 'Z'; attempt++)
		usleep(10000);
	struct labels labels = {.count = 0};
	report_table(out, &labels);
	wait_for_stop();
	_exit(0);
}

/* A process whose main thread exits while two threads live on, sharing the
 * table. */
static void leader_gone_process(int out)
{
	static int report;
	report = out;
	int pair[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0)
		_exit(3);
	int port;
	if (listen_on(AF_INET, &port) < 0)
		_exit(3);
	pthread_t reporter, other;
	if (pthread_create(&other, NULL, idle_thread, NULL) != 0 ||
	    pthread_create(&reporter, NULL, leader_gone_reporter, &report) != 0)
		_exit(3);
	pthread_exit(NULL);
}

enum kind { TCP_PLAIN, TCP_SHARED, TCP_BULK, OWN_TABLE, LEADER_GONE };

/* Starts one test process and collects its facts (`reporters` end markers). */
static pid_t start(enum kind kind, int reporters)
{
	int report[2];
	if (pipe2(report, O_CLOEXEC) != 0)
		die("pipe: %s", strerror(errno));
	pid_t pid = fork();
	if (pid < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		close(report[0]);
		close(stop_pipe[1]);
		switch (kind) {
		case TCP_PLAIN:
			tcp_process(report[1], PLAIN);
			break;
		case TCP_SHARED:
			tcp_process(report[1], SHARED);
			break;
		case TCP_BULK:
			tcp_process(report[1], BULK);
			break;
		case OWN_TABLE:
			own_table_process(report[1]);
			break;
		case LEADER_GONE:
			leader_gone_process(report[1]);
			break;
		}
		_exit(0);
	}
	close(report[1]);
	children[child_count++] = pid;
	int done = 0;
	while (done < reporters) {
		struct pollfd p = {.fd = report[0], .events = POLLIN};
		struct fact fact;
		if (poll(&p, 1, 10000) <= 0 || read(report[0], &fact, sizeof fact) != (ssize_t)sizeof fact)
			die("test process %d (kind %d) did not report its descriptors", (int)pid, kind);
		if (fact.fd < 0) {
			done++;
			continue;
		}
		if (fact_count == fact_capacity) {
			fact_capacity = fact_capacity ? fact_capacity * 2 : 1024;
			facts = realloc(facts, fact_capacity * sizeof *facts);
			if (facts == NULL)
				die("out of memory");
		}
		facts[fact_count++] = fact;
	}
	close(report[0]);
	return pid;
}

static const struct fact *fact_labelled(uint32_t pid, uint32_t tid, const char *name)
{
	for (size_t i = 0; i < fact_count; i++)
		if (facts[i].pid == pid && (tid == 0 || facts[i].tid == tid) && strcmp(facts[i].label, name) == 0)
			return &facts[i];
	return NULL;
}

/* The thread of `pid` that reported a table other than `not_tid`'s; 0 if none. */
static uint32_t other_table(uint32_t pid, uint32_t not_tid)
{
	for (size_t i = 0; i < fact_count; i++)
		if (facts[i].pid == pid && facts[i].tid != not_tid)
			return facts[i].tid;
	return 0;
}

/* The process the sharing test process forked to share its client. */
static uint32_t sharer_pid(void)
{
	for (size_t i = 0; i < fact_count; i++)
		if (strcmp(facts[i].label, "shared tcp4 client") == 0)
			return facts[i].pid;
	return 0;
}

/* ---- reading the iterator ----------------------------------------------------------- */

struct pass {
	size_t buffer;          /* bytes asked of each read */
	struct holders records; /* sorted */
	size_t reads, largest;  /* reads that returned data; the most bytes one returned */
	size_t partial;         /* reads that returned part of a record, or more than asked */
	size_t again;           /* EAGAIN: a read stops after a million files with no output */
	int failed;             /* errno of the open or a read; 0 when none */
	double open_ms;
	char message[512];
};

static void read_pass(struct pass *pass)
{
	pass->records.count = 0;
	pass->reads = pass->largest = pass->partial = pass->again = 0;
	pass->failed = 0;
	pass->message[0] = '\0';
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int fd = tcpkeep_bpf_open_socket_holders(pass->message, sizeof pass->message);
	pass->open_ms = milliseconds_since(&start);
	if (fd < 0) {
		pass->failed = errno;
		return;
	}
	unsigned char *data = malloc(pass->buffer);
	if (data == NULL)
		die("out of memory");
	for (;;) {
		ssize_t got = read(fd, data, pass->buffer);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0 && errno == EAGAIN && pass->again++ < 1000)
			continue;
		if (got < 0) {
			pass->failed = errno;
			snprintf(pass->message, sizeof pass->message, "read: %s", strerror(errno));
			break;
		}
		if (got == 0)
			break;
		pass->reads++;
		if ((size_t)got > pass->largest)
			pass->largest = (size_t)got;
		if ((size_t)got % RECORD != 0 || (size_t)got > pass->buffer)
			pass->partial++;
		for (size_t at = 0; at + RECORD <= (size_t)got; at += RECORD) {
			holder record;
			memcpy(&record, data + at, sizeof record);
			push(&pass->records, record.pid, record.fd, record.inode);
		}
	}
	free(data);
	close(fd);
	sort_holders(&pass->records);
}

/* How a pass compares with /proc. */
struct verdict {
	size_t unconfirmed; /* records of live processes that /proc shows neither before nor after */
	size_t missing;     /* sockets /proc showed before and after that are not listed */
	size_t gone;        /* records of processes that exited since */
	size_t changing;    /* records of processes whose sockets changed during the reads */
	size_t repeated;    /* records listed more than once */
	char unconfirmed_examples[400], missing_examples[400];
};

/* Whether the walks before and after the reads found the same sockets in `pid`. */
static int unchanged(const struct holders *before, const struct holders *after, uint32_t pid)
{
	size_t first_before, first_after;
	size_t count = records_of(before, pid, &first_before);
	return records_of(after, pid, &first_after) == count &&
	       (count == 0 || memcmp(before->items + first_before, after->items + first_after, count * sizeof(holder)) == 0);
}

static void example(char examples[400], const char *what, const holder *h)
{
	size_t used = strlen(examples);
	if (used + 80 < 400)
		snprintf(examples + used, 400 - used, "%s%s pid %u fd %u inode %llu", used ? "; " : "", what, h->pid,
			 h->fd, (unsigned long long)h->inode);
}

/* Whether `pid` is a process (thread group) and not another thread's id:
 * /proc/TID/fd resolves for any thread, though /proc lists only processes. */
static int is_process(uint32_t pid)
{
	char path[32], line[128];
	snprintf(path, sizeof path, "/proc/%u/status", pid);
	FILE *status = fopen(path, "re");
	unsigned long tgid = 0;
	while (status != NULL && fgets(line, sizeof line, status) != NULL)
		if (sscanf(line, "Tgid: %lu", &tgid) == 1)
			break;
	if (status != NULL)
		fclose(status);
	return tgid == pid;
}

/* A record is right when /proc shows it now (stat of /proc/PID/fd/N, or of a
 * thread's own table) or showed it in the walk before the reads (closed
 * since).  A process whose sockets the walks before and after the reads found
 * different may have had any socket in between, so its records are not judged
 * (the test processes never change).  A socket the walk before found that /proc
 * still shows must be listed. */
static void verify(const struct holders *records, const struct holders *before, const struct holders *after,
		   struct verdict *verdict)
{
	memset(verdict, 0, sizeof *verdict);
	uint32_t known_pid = 0;
	int known_is_process = 0;
	for (size_t i = 0; i < records->count; i++) {
		const holder *r = &records->items[i];
		if (i > 0 && compare(r - 1, r->pid, r->fd, r->inode) == 0) {
			verdict->repeated++;
			continue;
		}
		if (!process_exists(r->pid)) {
			verdict->gone++;
			continue;
		}
		if (r->pid != known_pid) {
			known_pid = r->pid;
			known_is_process = is_process(r->pid);
		}
		if (!known_is_process) {
			verdict->unconfirmed++;
			example(verdict->unconfirmed_examples, "not a process:", r);
			continue;
		}
		if (occurrences(before, r->pid, r->fd, r->inode) > 0 || shown_now(r->pid, r->fd, r->inode))
			continue;
		if (!unchanged(before, after, r->pid)) {
			verdict->changing++;
			continue;
		}
		verdict->unconfirmed++;
		example(verdict->unconfirmed_examples, "unconfirmed", r);
	}
	for (size_t i = 0; i < before->count; i++) {
		const holder *w = &before->items[i];
		if (i > 0 && compare(w - 1, w->pid, w->fd, w->inode) == 0)
			continue;
		if (occurrences(records, w->pid, w->fd, w->inode) > 0 || !shown_now(w->pid, w->fd, w->inode))
			continue;
		verdict->missing++;
		example(verdict->missing_examples, "missing", w);
	}
}

/* ---- running this program again ---------------------------------------------------- */

/* Runs argv to completion; its output, without the last newline, in `output`. */
static int run(char *const argv[], char *output, size_t size)
{
	int out[2];
	output[0] = '\0';
	if (pipe2(out, O_CLOEXEC) != 0)
		return -1;
	pid_t pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		dup2(out[1], STDOUT_FILENO);
		dup2(out[1], STDERR_FILENO);
		execvp(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	size_t used = 0;
	for (;;) {
		struct pollfd p = {.fd = out[0], .events = POLLIN};
		if (poll(&p, 1, 20000) <= 0)
			break;
		ssize_t n = read(out[0], output + used, size - 1 - used);
		if (n <= 0)
			break;
		used += (size_t)n;
		if (used + 1 >= size)
			break;
	}
	output[used] = '\0';
	while (used > 0 && output[used - 1] == '\n')
		output[--used] = '\0';
	close(out[0]);
	int status;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* What `holders_check refusal` printed. */
struct outcome {
	int status, rc, fds_before, fds_after;
	size_t records;
	char errno_name[32];
	char message[600];
	char output[1200];
};

static void run_refusal(char *const argv[], struct outcome *outcome)
{
	memset(outcome, 0, sizeof *outcome);
	outcome->rc = -2;
	outcome->status = run(argv, outcome->output, sizeof outcome->output);
	const char *line = strstr(outcome->output, "rc=");
	if (line != NULL)
		sscanf(line, "rc=%d errno=%31s records=%zu fds=%d/%d", &outcome->rc, outcome->errno_name,
		       &outcome->records, &outcome->fds_before, &outcome->fds_after);
	const char *message = line != NULL ? strstr(line, "message=[") : NULL;
	if (message != NULL) {
		snprintf(outcome->message, sizeof outcome->message, "%s", message + 9);
		size_t length = strlen(outcome->message);
		if (length > 0 && outcome->message[length - 1] == ']')
			outcome->message[length - 1] = '\0';
	}
}

/* The refusal mode: one open, a full read when it succeeds, and the count of
 * this process's descriptors before and after (a refusal must leak none). */
static int refusal_mode(void)
{
	int before = count_fds();
	error[0] = '\0';
	int fd = tcpkeep_bpf_open_socket_holders(error, sizeof error);
	int saved = errno;
	size_t records = 0;
	if (fd >= 0) {
		holder buffer[256];
		ssize_t got;
		while ((got = read(fd, buffer, sizeof buffer)) > 0 || (got < 0 && errno == EINTR))
			records += got > 0 ? (size_t)got / RECORD : 0;
		close(fd);
	}
	printf("rc=%d errno=%s records=%zu fds=%d/%d message=[%s]\n", fd < 0 ? -1 : 0,
	       fd < 0 ? strerrorname_np(saved) : "0", records, before, count_fds(), fd < 0 ? error : "");
	return 0;
}

/* ---- bpftool --------------------------------------------------------------------- */

/* How many loaded programs bpftool prog show lists as tcpkeep_holders; -1 when
 * bpftool fails. */
static int programs_listed(void)
{
	FILE *pipe = popen("bpftool prog show 2>/dev/null", "r");
	if (pipe == NULL)
		return -1;
	char line[1024];
	int count = 0;
	while (fgets(line, sizeof line, pipe) != NULL)
		if (contains(line, " name " PROGRAM_NAME " "))
			count++;
	return pclose(pipe) == 0 ? count : -1;
}

/* Waits for the kernel to free the programs of closed iterators (it does so
 * after the last reference goes, not necessarily before close returns). */
static int programs_listed_settled(int expected, double *waited_ms)
{
	struct timespec start;
	clock_gettime(CLOCK_MONOTONIC, &start);
	int listed = programs_listed();
	for (int attempt = 0; attempt < 40 && listed != expected; attempt++) {
		usleep(50000);
		listed = programs_listed();
	}
	*waited_ms = milliseconds_since(&start);
	return listed;
}

/* ---- the checks ------------------------------------------------------------------ */

static const char *tcp_labels[] = {
	"tcp4 listener", "tcp4 client", "tcp4 accepted", "tcp6 listener", "tcp6 client", "tcp6 accepted",
	"dup of tcp4 client", "dup of tcp6 accepted", "tcp4 accepted at high fd", "unix pair", "udp",
};

/* Every socket descriptor of `pid`'s reported table is listed exactly once
 * with fstat's inode, and nothing else is listed under `pid`. */
static int exactly_its_sockets(const struct holders *records, uint32_t pid, size_t *sockets, size_t *listed)
{
	size_t expected = 0, once = 0;
	for (size_t i = 0; i < fact_count; i++) {
		if (facts[i].pid != pid || !facts[i].socket)
			continue;
		expected++;
		once += occurrences(records, pid, (uint32_t)facts[i].fd, facts[i].inode) == 1;
	}
	*sockets = expected;
	*listed = records_of(records, pid, NULL);
	return expected > 0 && once == expected && *listed == expected;
}

static int same_records(const struct holders *a, const struct holders *b, uint32_t pid)
{
	size_t first_a, first_b;
	size_t count_a = records_of(a, pid, &first_a), count_b = records_of(b, pid, &first_b);
	return count_a == count_b &&
	       (count_a == 0 || memcmp(a->items + first_a, b->items + first_b, count_a * sizeof(holder)) == 0);
}

static void tcp_checks(const struct holders *records, const pid_t tcp[3], uint32_t sharer)
{
	static const char *names[] = {"plain", "sharing", "bulk"};
	for (int c = 0; c < 3; c++) {
		size_t sockets, listed;
		int ok = exactly_its_sockets(records, (uint32_t)tcp[c], &sockets, &listed);
		check(ok, "%s test process %d: its %zu socket descriptors listed once each with fstat's inode, "
			  "nothing else under its pid (%zu records)",
		      names[c], (int)tcp[c], sockets, listed);
	}
	for (size_t l = 0; l < sizeof tcp_labels / sizeof tcp_labels[0]; l++) {
		if (!have_ipv6 && strncmp(tcp_labels[l], "tcp6", 4) == 0)
			continue;
		int found = 0, listed = 0;
		for (int c = 0; c < 3; c++) {
			for (size_t i = 0; i < fact_count; i++) {
				const struct fact *f = &facts[i];
				if (f->pid != (uint32_t)tcp[c] || strcmp(f->label, tcp_labels[l]) != 0)
					continue;
				found++;
				listed += f->socket && occurrences(records, f->pid, (uint32_t)f->fd, f->inode) == 1;
			}
		}
		check(found >= 3 && listed == found, "%s: listed in each test process with its fd and fstat's inode (%d of %d)",
		      tcp_labels[l], listed, found);
	}
	int unlisted = 0, found = 0;
	for (size_t i = 0; i < fact_count; i++) {
		const struct fact *f = &facts[i];
		if (strcmp(f->label, "regular file") != 0 && strcmp(f->label, "pipe") != 0)
			continue;
		found++;
		size_t first, count = records_of(records, f->pid, &first), at = 0;
		for (size_t r = first; r < first + count; r++)
			at += records->items[r].fd == (uint32_t)f->fd;
		unlisted += !f->socket && at == 0;
	}
	check(found == 6 && unlisted == found, "a regular file and a pipe are not listed (%d of %d descriptors unlisted)",
	      unlisted, found);

	const struct fact *client = fact_labelled((uint32_t)tcp[1], 0, "tcp4 client");
	const struct fact *kept = sharer ? fact_labelled(sharer, 0, "shared tcp4 client") : NULL;
	size_t sockets = 0, listed = 0;
	int exact = sharer && exactly_its_sockets(records, sharer, &sockets, &listed);
	check(client != NULL && kept != NULL && kept->inode == client->inode && kept->fd == client->fd &&
		      occurrences(records, sharer, (uint32_t)kept->fd, kept->inode) == 1 &&
		      occurrences(records, (uint32_t)tcp[1], (uint32_t)client->fd, client->inode) == 1 && exact,
	      "a socket shared with a forked child is listed under both pids, same fd and inode; the child "
	      "(pid %u) has %zu records for its %zu sockets",
	      sharer, listed, sockets);

	size_t bulk = records_of(records, (uint32_t)tcp[2], NULL);
	note("the bulk process holds %zu sockets: more than the 2048 records one 32 KiB kernel buffer holds", bulk);
}

/* How many of pid's records are none of the sockets it reported. */
static size_t foreign_records(const struct holders *records, uint32_t pid)
{
	size_t first, count = records_of(records, pid, &first), foreign = 0;
	for (size_t r = first; r < first + count; r++) {
		int known = 0;
		for (size_t i = 0; i < fact_count && !known; i++)
			known = facts[i].pid == pid && facts[i].socket && (uint32_t)facts[i].fd == records->items[r].fd &&
				facts[i].inode == records->items[r].inode;
		foreign += !known;
	}
	return foreign;
}

static void own_table_checks(const struct holders *records, pid_t process)
{
	uint32_t pid = (uint32_t)process, owner = other_table(pid, pid);
	const struct fact *before_main = fact_labelled(pid, pid, "before unshare");
	const struct fact *before_owner = fact_labelled(pid, owner, "before unshare");
	const struct fact *own = fact_labelled(pid, owner, "thread's own");
	const struct fact *after = fact_labelled(pid, pid, "main after unshare");
	if (owner == 0 || before_main == NULL || before_owner == NULL || own == NULL || after == NULL) {
		check(0, "the process with a thread of its own file table reported both tables");
		return;
	}
	size_t own_count = occurrences(records, pid, (uint32_t)own->fd, own->inode);
	check(own_count >= 1 && records_of(records, owner, NULL) == 0,
	      "a socket a thread opened after unshare(CLONE_FILES) is listed under the process's tgid %u (fd %d, "
	      "inode %llu), never under the thread's tid %u",
	      pid, own->fd, (unsigned long long)own->inode, owner);

	/* Every record is one of the two tables' sockets, and every socket of
	 * either table is listed. */
	size_t count = records_of(records, pid, NULL), foreign = foreign_records(records, pid), unlisted = 0;
	for (size_t i = 0; i < fact_count; i++)
		unlisted += facts[i].pid == pid && facts[i].socket &&
			    occurrences(records, pid, (uint32_t)facts[i].fd, facts[i].inode) == 0;
	check(foreign == 0 && unlisted == 0,
	      "with a thread's own table: every record is a socket of the leader's table or the thread's, and "
	      "every one of those is listed (%zu records, %zu foreign, %zu unlisted)",
	      count, foreign, unlisted);

	size_t after_count = occurrences(records, pid, (uint32_t)after->fd, after->inode);
	check(after_count == 1,
	      "the leader's table is listed once though an ordinary thread shares it: a socket only it holds "
	      "has %zu record(s)",
	      after_count);

	size_t before_count = occurrences(records, pid, (uint32_t)before_main->fd, before_main->inode);
	char path[64];
	struct stat st;
	snprintf(path, sizeof path, "/proc/%u/fd/%d", pid, own->fd);
	int proc_shows_main = stat(path, &st) == 0 && st.st_ino == after->inode;
	note("own table: the socket opened before the unshare (in both tables) has %zu records; the thread's own "
	     "socket %zu; the leader's socket opened after the unshare %zu",
	     before_count, own_count, after_count);
	note("own table: fd %d is inode %llu in the leader's table and inode %llu in the thread's; /proc/%u/fd/%d "
	     "shows %s",
	     own->fd, (unsigned long long)after->inode, (unsigned long long)own->inode, pid, own->fd,
	     proc_shows_main ? "the leader's" : "not the leader's");
	check(before_count == 3 && own_count == 2,
	      "measured on 6.18: the kernel skips only threads sharing the leader's table, so the thread's table "
	      "is listed for it and for the thread it started (an inherited socket 3 times, its own twice)");
}

static void leader_gone_checks(const struct holders *records, pid_t process)
{
	uint32_t pid = (uint32_t)process;
	size_t sockets = 0, unlisted = 0, listed_twice = 0;
	for (size_t i = 0; i < fact_count; i++) {
		if (facts[i].pid != pid || !facts[i].socket)
			continue;
		sockets++;
		size_t n = occurrences(records, pid, (uint32_t)facts[i].fd, facts[i].inode);
		unlisted += n == 0;
		listed_twice += n == 2;
	}
	size_t count = records_of(records, pid, NULL), foreign = foreign_records(records, pid);
	char path[64];
	snprintf(path, sizeof path, "/proc/%u/fd", pid);
	DIR *dir = opendir(path);
	int entries = 0;
	while (dir != NULL && readdir(dir) != NULL)
		entries++;
	if (dir != NULL)
		closedir(dir);
	check(sockets > 0 && unlisted == 0 && foreign == 0,
	      "main thread exited, two threads live on: its %zu sockets are listed under tgid %u, no other record "
	      "(%zu records)",
	      sockets, pid, count);
	note("leader gone: %zu of %zu sockets have 2 records (one per remaining thread); /proc/%u/fd lists %d "
	     "entries",
	     listed_twice, sockets, pid, entries > 2 ? entries - 2 : 0);
	check(listed_twice == sockets, "measured on 6.18: with the leader gone, each remaining thread's table is "
				       "listed, so each socket appears once per thread");
}

static void refusals(void)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = '\0';
	struct outcome outcome;

	char *nobody[] = {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all",
			  self, "refusal", NULL};
	run_refusal(nobody, &outcome);
	note("as nobody: %s", outcome.output);
	check(outcome.rc == -1 && strcmp(outcome.errno_name, "EPERM") == 0 && outcome.message[0] != '\0' &&
		      outcome.fds_before == outcome.fds_after,
	      "as nobody: -1 with EPERM, a message, and no descriptor left open");

	char *bpf_only[] = {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
			    "--inh-caps=-all,+bpf", "--ambient-caps=-all,+bpf", self, "refusal", NULL};
	run_refusal(bpf_only, &outcome);
	note("as nobody with CAP_BPF alone: %s", outcome.output);
	check(outcome.rc == -1 && strcmp(outcome.errno_name, "EPERM") == 0 && outcome.message[0] != '\0',
	      "as nobody with CAP_BPF but not CAP_PERFMON: -1 with EPERM");

	char *capable[] = {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
			   "--inh-caps=-all,+bpf,+perfmon", "--ambient-caps=-all,+bpf,+perfmon", self, "refusal", NULL};
	run_refusal(capable, &outcome);
	note("as nobody with CAP_BPF and CAP_PERFMON: %s", outcome.output);
	check(outcome.rc == 0 && outcome.records > 0 && outcome.fds_before == outcome.fds_after,
	      "as nobody with CAP_BPF and CAP_PERFMON: the iterator opens and lists %zu sockets", outcome.records);

	char *namespaced[] = {"unshare", "--pid", "--fork", "--", self, "refusal", NULL};
	run_refusal(namespaced, &outcome);
	note("in a PID namespace of its own: %s", outcome.output);
	check(outcome.rc == -1 && strcmp(outcome.errno_name, "EOPNOTSUPP") == 0 && outcome.message[0] != '\0' &&
		      outcome.fds_before == outcome.fds_after,
	      "as root in a PID namespace of its own: -1 with EOPNOTSUPP, a message, and no descriptor left open");

	/* Root of a user namespace holds every capability there, so the
	 * loader's own check passes and the kernel refuses the load. */
	char *user_namespace[] = {"unshare", "--user", "--map-root-user", "--", self, "refusal", NULL};
	run_refusal(user_namespace, &outcome);
	note("as root of a user namespace of its own: %s", outcome.output);
	if (outcome.rc == -2)
		note("no user namespace could be made here: skipped");
	else
		check(outcome.rc == -1 && strcmp(outcome.errno_name, "EPERM") == 0 && outcome.message[0] != '\0' &&
			      outcome.fds_before == outcome.fds_after,
		      "as root of a user namespace: -1 with EPERM (the kernel refuses the load), no descriptor left open");
}

/* Opens iterators and closes them unread or half read: the program is listed
 * while a descriptor holds it and goes with the last one.  (The link holds the
 * program, so a program that is gone means the link is gone too.) */
static int baseline; /* programs named tcpkeep_holders loaded before this check */

static void lifecycle(void)
{
	double waited;
	baseline = programs_listed();
	if (baseline != 0)
		note("%d programs named " PROGRAM_NAME " were loaded before this check (another audit?)", baseline);
	int first = tcpkeep_bpf_open_socket_holders(error, sizeof error);
	int second = tcpkeep_bpf_open_socket_holders(error, sizeof error);
	int listed = programs_listed();
	check(first >= 0 && second >= 0 && listed == baseline + 2,
	      "with two iterators open, bpftool prog show lists two programs named " PROGRAM_NAME
	      " (%d listed, %d before)",
	      listed, baseline);
	holder one[3];
	ssize_t got = second >= 0 ? read(second, one, sizeof one) : -1;
	check(got == (ssize_t)sizeof one, "a read of three records' size returns three records (%zd bytes)", got);
	if (first >= 0)
		close(first);
	if (second >= 0)
		close(second);
	listed = programs_listed_settled(baseline, &waited);
	check(listed == baseline,
	      "closed unread and half read, both programs go: bpftool prog show lists %s (%d, after %.0f ms)",
	      baseline == 0 ? "no program named " PROGRAM_NAME : "as many as before", listed, waited);
}

static void stop_children(void)
{
	close(stop_pipe[1]);
	/* Children exit at once; as the subreaper this process also reaps the
	 * forked child of the sharing process. */
	for (int attempt = 0; attempt < 100; attempt++) {
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		int alive = 0;
		for (int c = 0; c < child_count; c++)
			alive += kill(children[c], 0) == 0;
		if (alive == 0)
			break;
		usleep(50000);
	}
	for (int c = 0; c < child_count; c++)
		if (kill(children[c], 0) == 0)
			kill(children[c], SIGKILL);
	while (waitpid(-1, NULL, 0) > 0)
		;
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && strcmp(argv[1], "refusal") == 0)
		return refusal_mode();
	if (argc != 1) {
		fprintf(stderr, "usage: holders_check   (as root; see bpf/test/run.sh)\n");
		return 2;
	}
	if (geteuid() != 0)
		die("run as root (bpf/test/run.sh does)");
	struct stat namespace;
	if (stat("/proc/self/ns/pid", &namespace) != 0)
		die("reading /proc/self/ns/pid: %s", strerror(errno));
	if (namespace.st_ino != INITIAL_PID_NAMESPACE) {
		/* The iterator refuses here by design: only that can be checked. */
		note("not in the initial PID namespace: the iterator is refused here, the other checks are skipped");
		int fd = tcpkeep_bpf_open_socket_holders(error, sizeof error);
		check(fd == -1 && errno == EOPNOTSUPP && error[0] != '\0', "refused with EOPNOTSUPP: %s", error);
		return finish_checks();
	}

	/* Enough descriptors for the bulk process and the high descriptor. */
	struct rlimit limit;
	if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
		rlim_t wanted = limit.rlim_max == RLIM_INFINITY || limit.rlim_max > 4096 ? 4096 : limit.rlim_max;
		if (limit.rlim_cur < wanted) {
			limit.rlim_cur = wanted;
			setrlimit(RLIMIT_NOFILE, &limit);
		}
		getrlimit(RLIMIT_NOFILE, &limit);
		if (limit.rlim_cur <= (rlim_t)high_fd + 1)
			high_fd = (int)limit.rlim_cur - 2;
		bulk_sockets = limit.rlim_cur >= 3000 ? 2400 : (int)(limit.rlim_cur - 100) & ~1;
	}
	int probe_port;
	int probe = listen_on(AF_INET6, &probe_port);
	have_ipv6 = probe >= 0;
	if (probe >= 0)
		close(probe);
	else
		note("no IPv6 loopback here: the tcp6 checks are skipped");

	prctl(PR_SET_CHILD_SUBREAPER, 1);
	if (pipe2(stop_pipe, O_CLOEXEC) != 0)
		die("pipe: %s", strerror(errno));
	pid_t tcp[3];
	tcp[0] = start(TCP_PLAIN, 1);
	tcp[1] = start(TCP_SHARED, 2);
	tcp[2] = start(TCP_BULK, 1);
	pid_t own_table = start(OWN_TABLE, 2);
	pid_t leader_gone = start(LEADER_GONE, 1);
	uint32_t sharer = sharer_pid();
	note("test processes: tcp %d %d (and %u sharing its client) %d; own file table %d; leader gone %d",
	     (int)tcp[0], (int)tcp[1], sharer, (int)tcp[2], (int)own_table, (int)leader_gone);
	int fds_before = count_fds();

	/* Three reads of everything: a large buffer, one record's size, three
	 * records' size.  Other processes may open and close sockets meanwhile; a
	 * round in which /proc and the records disagree is read again, twice at
	 * most (a real fault disagrees every time). */
	struct pass passes[3] = {{.buffer = 4096 * RECORD}, {.buffer = RECORD}, {.buffer = 3 * RECORD}};
	struct verdict verdicts[3];
	struct holders before = {0}, after = {0};
	size_t processes = 0, processes_after = 0;
	for (int round = 1; round <= 3; round++) {
		walk_proc(&before, &processes);
		int clean = 1;
		for (int p = 0; p < 3; p++)
			read_pass(&passes[p]);
		walk_proc(&after, &processes_after);
		for (int p = 0; p < 3; p++) {
			verify(&passes[p].records, &before, &after, &verdicts[p]);
			clean &= passes[p].failed == 0 && verdicts[p].unconfirmed == 0 && verdicts[p].missing == 0;
		}
		if (clean)
			break;
		for (int p = 0; p < 3; p++)
			if (passes[p].failed || verdicts[p].unconfirmed || verdicts[p].missing)
				note("round %d, %zu-byte reads: %s%s%s%s%s", round, passes[p].buffer, passes[p].message,
				     passes[p].failed ? " " : "", verdicts[p].unconfirmed_examples,
				     verdicts[p].unconfirmed && verdicts[p].missing ? "; " : "", verdicts[p].missing_examples);
	}
	note("/proc before the reads: %zu socket descriptors in %zu processes; opening the iterator took %.1f, "
	     "%.1f and %.1f ms (not asserted)",
	     before.count, processes, passes[0].open_ms, passes[1].open_ms, passes[2].open_ms);
	for (int p = 0; p < 3; p++) {
		struct pass *pass = &passes[p];
		check(pass->failed == 0 && pass->reads > 0 && pass->partial == 0,
		      "%zu-byte reads: %zu records in %zu reads, each a whole number of records, the largest %zu bytes%s%s",
		      pass->buffer, pass->records.count, pass->reads, pass->largest, pass->failed ? ": " : "",
		      pass->message);
		if (pass->again)
			note("%zu-byte reads: %zu returned EAGAIN", pass->buffer, pass->again);
		struct verdict *verdict = &verdicts[p];
		check(verdict->unconfirmed == 0,
		      "%zu-byte reads: every record of a live process is a socket /proc shows at that pid and fd "
		      "(%zu records, %zu of exited processes, %zu of processes that changed, %zu repeated)%s%s",
		      pass->buffer, pass->records.count, verdict->gone, verdict->changing, verdict->repeated,
		      verdict->unconfirmed ? ": " : "", verdict->unconfirmed_examples);
		check(verdict->missing == 0,
		      "%zu-byte reads: every socket descriptor /proc showed before and after is listed (%zu)%s%s",
		      pass->buffer, before.count, verdict->missing ? ": " : "", verdict->missing_examples);
	}
	tcp_checks(&passes[0].records, tcp, sharer);
	own_table_checks(&passes[0].records, own_table);
	leader_gone_checks(&passes[0].records, leader_gone);
	for (int p = 1; p < 3; p++) {
		uint32_t pids[] = {(uint32_t)tcp[0], (uint32_t)tcp[1], sharer, (uint32_t)tcp[2], (uint32_t)own_table,
				   (uint32_t)leader_gone};
		int same = 1;
		for (size_t i = 0; i < sizeof pids / sizeof pids[0]; i++)
			same &= same_records(&passes[0].records, &passes[p].records, pids[i]);
		check(same, "%zu-byte reads list the same records for every test process as %zu-byte reads",
		      passes[p].buffer, passes[0].buffer);
	}

	lifecycle();
	refusals();

	double waited;
	int listed = programs_listed_settled(baseline, &waited);
	FILE *maps = fopen("/proc/self/maps", "re");
	int mapped = 0;
	char line[512];
	while (maps != NULL && fgets(line, sizeof line, maps) != NULL)
		mapped |= contains(line, "/sys/kernel/btf/vmlinux");
	if (maps != NULL)
		fclose(maps);
	int fds_after = count_fds();
	check(fds_after == fds_before && !mapped,
	      "after every iterator is closed this process has the descriptors it had before (%d, %d) and no "
	      "mapping of the kernel's BTF",
	      fds_before, fds_after);
	check(listed == baseline, "at the end bpftool prog show lists %s (%d)",
	      baseline == 0 ? "no program named " PROGRAM_NAME : "as many as before", listed);

	stop_children();
	int left = 0;
	for (int c = 0; c < child_count; c++)
		left += kill(children[c], 0) == 0;
	left += sharer != 0 && kill((pid_t)sharer, 0) == 0;
	check(left == 0, "every test process has exited");
	free(before.items);
	free(after.items);
	for (int p = 0; p < 3; p++)
		free(passes[p].records.items);
	free(facts);
	return finish_checks();
}
