/*
 * Proves tcpkeep's kernel mode on the running kernel, through the C API of
 * Sources/CTCPKeepBPF, in fresh cgroups under the cgroup v2 mount.  Prints one
 * "ok"/"not ok" line per check (TAP) and notes ("# ...") with what it
 * measured; exits 1 if any check failed.  bpf/test/run.sh builds everything
 * and runs it as root in a private mount namespace, which it requires: it
 * mounts and unmounts bpffs at /sys/fs/bpf there.
 *
 *   attach_check PROBE GOCLIENT           every check
 *   attach_check unprivileged CGROUP      (internal) the refusals seen by a user without privileges
 *   attach_check without-bpf CGROUP       (internal) the refusals under a seccomp filter that
 *                                         fails bpf() with EPERM
 *
 * The BPF object comes from the folder TCPKEEP_BPF_OBJECTS names (objects.h).
 *
 * Only loopback is used, and 10.0.0.1-2 inside a network namespace of its own.
 * Every cgroup, pin and namespace it makes is removed before it exits.
 */
#define _GNU_SOURCE
#include "CTCPKeepBPF.h"
#include "objects.h"
#include "tap.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <mntent.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/filter.h>
#include <linux/magic.h>
#include <linux/seccomp.h>

#ifndef IPPROTO_MPTCP
#define IPPROTO_MPTCP 262
#endif

#define VALUES_A "keepalive=1 idle=30 interval=5 count=3 user_timeout=10000"
#define VALUES_B "keepalive=1 idle=40 interval=6 count=4 user_timeout=20000"

static const struct tcpkeep_bpf_values values_a = {
	.configured_mask = TCPKEEP_BPF_IDLE | TCPKEEP_BPF_INTERVAL | TCPKEEP_BPF_COUNT | TCPKEEP_BPF_USER_TIMEOUT,
	.idle = 30, .interval = 5, .count = 3, .user_timeout = 10000, .enforce = 0,
};
static const struct tcpkeep_bpf_values values_b = {
	.configured_mask = TCPKEEP_BPF_IDLE | TCPKEEP_BPF_INTERVAL | TCPKEEP_BPF_COUNT | TCPKEEP_BPF_USER_TIMEOUT,
	.idle = 40, .interval = 6, .count = 4, .user_timeout = 20000, .enforce = 0,
};

static const char *probe, *goclient;
/* bpf/tcpkeep.bpf.c, compiled. */
static struct tcpkeep_bpf_object kernel_object;
static char cgroup2_mount[1024];
static char cgroups[4][PATH_MAX]; /* the test cgroups, removed at exit */
static char pins[4][PATH_MAX];    /* their pin directories */
static char error[1024];

static int contains(const char *text, const char *part)
{
	return text != NULL && strstr(text, part) != NULL;
}

/* ---- processes ---------------------------------------------------------- */

struct child {
	pid_t pid;
	int out; /* its stdout */
	int in;  /* its stdin */
};

/* Starts argv, inside `cgroup` when not NULL (the child moves itself before
 * exec, so every socket it makes belongs to the cgroup). */
static int spawn(struct child *child, const char *cgroup, char *const argv[])
{
	int out[2], in[2];
	if (pipe2(out, O_CLOEXEC) != 0 || pipe2(in, O_CLOEXEC) != 0)
		return -1;
	child->pid = fork();
	if (child->pid < 0)
		return -1;
	if (child->pid == 0) {
		if (cgroup != NULL) {
			char procs[PATH_MAX];
			snprintf(procs, sizeof procs, "%s/cgroup.procs", cgroup);
			int fd = open(procs, O_WRONLY | O_CLOEXEC);
			if (fd < 0 || write(fd, "0", 1) != 1)
				_exit(126);
			close(fd);
		}
		dup2(out[1], STDOUT_FILENO);
		dup2(in[0], STDIN_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	close(out[1]);
	close(in[0]);
	child->out = out[0];
	child->in = in[1];
	return 0;
}

/* One line of the child's output, without its newline; "" at EOF or after 10 s. */
static void read_line(struct child *child, char *line, size_t size)
{
	size_t used = 0;
	while (used + 1 < size) {
		struct pollfd p = {.fd = child->out, .events = POLLIN};
		if (poll(&p, 1, 10000) <= 0)
			break;
		char c;
		if (read(child->out, &c, 1) != 1 || c == '\n')
			break;
		line[used++] = c;
	}
	line[used] = '\0';
}

/* Closes its stdin, collects the rest of its output, and reaps it. */
static int finish(struct child *child, char *rest, size_t size)
{
	close(child->in);
	size_t used = 0;
	for (;;) {
		struct pollfd p = {.fd = child->out, .events = POLLIN};
		if (poll(&p, 1, 10000) <= 0)
			break;
		char buffer[512];
		ssize_t n = read(child->out, buffer, sizeof buffer);
		if (n <= 0)
			break;
		if (rest != NULL && used + 1 < size) {
			size_t take = (size_t)n < size - 1 - used ? (size_t)n : size - 1 - used;
			memcpy(rest + used, buffer, take);
			used += take;
		}
	}
	if (rest != NULL && size > 0)
		rest[used] = '\0';
	close(child->out);
	int status;
	if (waitpid(child->pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs argv to completion; its output in `output`. */
static int run(const char *cgroup, char *const argv[], char *output, size_t size)
{
	struct child child;
	if (spawn(&child, cgroup, argv) != 0) {
		snprintf(output, size, "spawn failed: %s", strerror(errno));
		return -1;
	}
	int status = finish(&child, output, size);
	size_t length = strlen(output);
	while (length > 0 && output[length - 1] == '\n')
		output[--length] = '\0';
	return status;
}

/* A command's output through the shell (bpftool, ss, ip). */
static void shell(const char *command, char *output, size_t size)
{
	FILE *pipe = popen(command, "r");
	size_t used = 0;
	output[0] = '\0';
	if (pipe == NULL)
		return;
	while (used + 1 < size) {
		size_t n = fread(output + used, 1, size - 1 - used, pipe);
		if (n == 0)
			break;
		used += n;
	}
	output[used] = '\0';
	pclose(pipe);
}

/* The output on one line, for a message. */
static const char *one_line(char *text)
{
	for (char *p = text; *p != '\0'; p++)
		if (*p == '\n')
			*p = ' ';
	return text;
}

/* ---- sockets ------------------------------------------------------------ */

static int listen_loopback(int protocol, const char *host, int *port)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, protocol);
	struct sockaddr_in address = {.sin_family = AF_INET};
	inet_pton(AF_INET, host, &address.sin_addr);
	socklen_t length = sizeof address;
	if (fd < 0 || bind(fd, (struct sockaddr *)&address, sizeof address) != 0 || listen(fd, 16) != 0 ||
	    getsockname(fd, (struct sockaddr *)&address, &length) != 0) {
		perror("listen");
		exit(2);
	}
	*port = ntohs(address.sin_port);
	return fd;
}

static int accept_one(int listener)
{
	struct pollfd p = {.fd = listener, .events = POLLIN};
	if (poll(&p, 1, 10000) <= 0)
		return -1;
	return accept4(listener, NULL, NULL, SOCK_CLOEXEC);
}

static int connect_loopback(int port, int protocol)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, protocol);
	struct sockaddr_in address = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
	address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&address, sizeof address) != 0) {
		perror("connect");
		exit(2);
	}
	return fd;
}

/* The options of a socket of this process, in probe.c's format. */
static void options_of(int fd, char *out, size_t size)
{
	int keepalive = -1, idle = -1, interval = -1, count = -1, user_timeout = -1;
	socklen_t length = sizeof(int);
	getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &keepalive, &length);
	getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, &length);
	getsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &interval, &length);
	getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &count, &length);
	getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &user_timeout, &length);
	snprintf(out, size, "keepalive=%d idle=%d interval=%d count=%d user_timeout=%d", keepalive, idle, interval,
		 count, user_timeout);
}

/* ---- cgroups and bpffs ---------------------------------------------------- */

static int is_bpffs(const char *path)
{
	struct statfs fs;
	return statfs(path, &fs) == 0 && (unsigned long)fs.f_type == BPF_FS_MAGIC;
}

/* Whether this process has a mount namespace of its own, apart from its
 * parent's (run.sh starts it with unshare, which execs it). */
static int private_mount_namespace(void)
{
	char mine[64] = "", parents[64] = "", path[64];
	snprintf(path, sizeof path, "/proc/%d/ns/mnt", (int)getppid());
	ssize_t a = readlink("/proc/self/ns/mnt", mine, sizeof mine - 1);
	ssize_t b = readlink(path, parents, sizeof parents - 1);
	return a > 0 && b > 0 && strcmp(mine, parents) != 0;
}

static void make_cgroup(int index, const char *suffix)
{
	snprintf(cgroups[index], sizeof cgroups[index], "%s/tcpkeep-test-%d%s", cgroup2_mount, (int)getpid(),
		 suffix);
	if (mkdir(cgroups[index], 0755) != 0) {
		perror(cgroups[index]);
		exit(2);
	}
	if (tcpkeep_bpf_default_pin_directory(cgroups[index], pins[index], sizeof pins[index], error,
					      sizeof error) != 0) {
		fprintf(stderr, "%s\n", error);
		exit(2);
	}
}

static void cleanup(void)
{
	for (int i = 0; i < 4; i++) {
		if (cgroups[i][0] == '\0')
			continue;
		struct stat st;
		if (pins[i][0] != '\0' && stat(pins[i], &st) == 0)
			tcpkeep_bpf_detach(cgroups[i], pins[i], error, sizeof error);
		/* Removing a cgroup releases whatever is still attached to it. */
		for (int attempt = 0; attempt < 50 && rmdir(cgroups[i]) != 0 && errno == EBUSY; attempt++)
			usleep(100000);
	}
	rmdir(TCPKEEP_BPF_PIN_ROOT); /* only if empty */
}

static void on_signal(int signal)
{
	(void)signal;
	cleanup();
	_exit(1);
}

static __u32 program_id(const char *pin)
{
	struct tcpkeep_bpf_status status;
	if (tcpkeep_bpf_get_status(pin, &status, NULL, 0, error, sizeof error) != 0)
		return 0;
	return status.sockops_program_id;
}

/* How many loaded programs, anywhere, have this name. */
static int programs_named(const char *name)
{
	__u32 id = 0;
	int count = 0;
	while (bpf_prog_get_next_id(id, &id) == 0) {
		int fd = bpf_prog_get_fd_by_id(id);
		if (fd < 0)
			continue;
		struct bpf_prog_info info;
		__u32 length = sizeof info;
		memset(&info, 0, sizeof info);
		if (bpf_obj_get_info_by_fd(fd, &info, &length) == 0 && strcmp(info.name, name) == 0)
			count++;
		close(fd);
	}
	return count;
}

/* programs_named(name) once it is `expected`, or after a second: a program
 * goes when its last reference does, after an RCU grace period. */
static int programs_named_settled(const char *name, int expected)
{
	int count = programs_named(name);
	for (int attempt = 0; attempt < 20 && count != expected; attempt++) {
		usleep(50000);
		count = programs_named(name);
	}
	return count;
}

/* A sock_ops program that does nothing, standing in for another tool's. */
static int load_other_program(void)
{
	struct bpf_insn instructions[] = {
		{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = 1},
		{.code = BPF_JMP | BPF_EXIT},
	};
	LIBBPF_OPTS(bpf_prog_load_opts, options, .expected_attach_type = BPF_CGROUP_SOCK_OPS);
	return bpf_prog_load(BPF_PROG_TYPE_SOCK_OPS, "other_sockops", "GPL", instructions, 2, &options);
}

/* ---- the checks ------------------------------------------------------------ */

static void probe_connect(const char *cgroup, const char *own_idle, char *client, size_t size,
			  char *server, size_t server_size)
{
	int port;
	int listener = listen_loopback(IPPROTO_TCP, "127.0.0.1", &port);
	char port_text[16];
	snprintf(port_text, sizeof port_text, "%d", port);
	char *argv[] = {(char *)probe, "connect", port_text, (char *)own_idle, NULL};
	run(cgroup, argv, client, size);
	int accepted = accept_one(listener);
	if (server != NULL)
		options_of(accepted, server, server_size);
	if (accepted >= 0)
		close(accepted);
	close(listener);
}

static void go_connect(const char *cgroup, const char *mode, char *client, size_t size)
{
	int port;
	int listener = listen_loopback(IPPROTO_TCP, "127.0.0.1", &port);
	char port_text[16];
	snprintf(port_text, sizeof port_text, "%d", port);
	char *argv[] = {(char *)goclient, port_text, (char *)mode, NULL};
	run(cgroup, argv, client, size);
	int accepted = accept_one(listener);
	if (accepted >= 0)
		close(accepted);
	close(listener);
}

/* A server in `cgroup` accepts a connection this process (outside) makes. */
static void probe_serve(const char *cgroup, char *accepted, size_t size, char *ours, size_t ours_size)
{
	struct child child;
	char *argv[] = {(char *)probe, "serve", NULL};
	char line[256];
	accepted[0] = ours[0] = '\0';
	if (spawn(&child, cgroup, argv) != 0)
		return;
	read_line(&child, line, sizeof line);
	int port = 0;
	if (sscanf(line, "port %d", &port) == 1) {
		int fd = connect_loopback(port, IPPROTO_TCP);
		options_of(fd, ours, ours_size);
		read_line(&child, accepted, size);
		close(fd);
	}
	finish(&child, NULL, 0);
}

/* probe enforce in `cgroup`, against a listener of this process; its output. */
static void probe_enforce(const char *cgroup, char *output, size_t size)
{
	int port;
	int listener = listen_loopback(IPPROTO_TCP, "127.0.0.1", &port);
	char port_text[16];
	snprintf(port_text, sizeof port_text, "%d", port);
	char *argv[] = {(char *)probe, "enforce", port_text, NULL};
	run(cgroup, argv, output, size);
	int accepted = accept_one(listener);
	if (accepted >= 0)
		close(accepted);
	close(listener);
}

static void refusals(void)
{
	char output[4096];
	struct tcpkeep_bpf_values values = values_a;

	/* As nobody, without capabilities. */
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	self[n > 0 ? n : 0] = '\0';
	char *argv[] = {"/usr/bin/setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all",
			self, "unprivileged", cgroups[0], NULL};
	int status = run(NULL, argv, output, sizeof output);
	note("as nobody: %s", output);
	check(status == 0 && contains(output, "preflight=1") && contains(output, "attach=-1 EPERM"),
	      "refused without privileges: preflight says not privileged, attach fails with EPERM");

	/* As root, but with bpf() forbidden, as systemd-nspawn's seccomp filter does. */
	char *without_bpf_argv[] = {self, "without-bpf", cgroups[0], NULL};
	status = run(NULL, without_bpf_argv, output, sizeof output);
	note("bpf() forbidden: %s", output);
	check(status == 0 && contains(output, "preflight=1") && contains(output, "Operation not permitted") &&
		      !contains(output, "Linux 4.13") && contains(output, "attach=-1"),
	      "bpf() forbidden by seccomp: preflight reports the kernel's EPERM as a permission, not a kernel "
	      "version");

	/* A cgroup that does not exist. */
	char missing[PATH_MAX];
	snprintf(missing, sizeof missing, "%s/tcpkeep-no-such-cgroup", cgroup2_mount);
	enum tcpkeep_bpf_problem problem = tcpkeep_bpf_preflight(kernel_object, missing, NULL, error, sizeof error);
	note("missing cgroup: %s", error);
	check(problem == TCPKEEP_BPF_CGROUP_MISSING && errno == ENOENT, "refused: missing cgroup (problem %d)",
	      problem);
	int rc = tcpkeep_bpf_attach(kernel_object, missing, "/sys/fs/bpf/tcpkeep/none", &values, TCPKEEP_BPF_MOUNT_BPFFS, error,
				    sizeof error);
	check(rc == -1 && errno == ENOENT && contains(error, "does not exist"),
	      "attach to a missing cgroup fails with ENOENT: %s", error);

	/* A cgroup v1 hierarchy. */
	struct statfs fs;
	if (statfs("/sys/fs/cgroup/memory", &fs) == 0 && (unsigned long)fs.f_type == CGROUP_SUPER_MAGIC) {
		problem = tcpkeep_bpf_preflight(kernel_object, "/sys/fs/cgroup/memory", NULL, error, sizeof error);
		note("cgroup v1: %s", error);
		check(problem == TCPKEEP_BPF_NOT_CGROUP2 && contains(error, "cgroup v1"),
		      "refused: a cgroup v1 path (problem %d)", problem);
		rc = tcpkeep_bpf_attach(kernel_object, "/sys/fs/cgroup/memory", "/sys/fs/bpf/tcpkeep/v1", &values, 0, error,
					sizeof error);
		check(rc == -1 && errno == EINVAL, "attach to a cgroup v1 path fails with EINVAL");
	} else {
		note("no cgroup v1 hierarchy at /sys/fs/cgroup/memory: skipped");
	}
	problem = tcpkeep_bpf_preflight(kernel_object, "/tmp", NULL, error, sizeof error);
	note("not a cgroup: %s", error);
	check(problem == TCPKEEP_BPF_NOT_CGROUP2, "refused: a directory that is no cgroup (problem %d)", problem);

	/* A pin directory that is not on bpffs. */
	problem = tcpkeep_bpf_preflight(kernel_object, cgroups[0], "/tmp/tcpkeep-pins", error, sizeof error);
	note("pins on tmpfs: %s", error);
	check(problem == TCPKEEP_BPF_NO_BPFFS, "refused: pin directory not on bpffs (problem %d)", problem);

	/* Nothing mounted at /sys/fs/bpf (in this private mount namespace). */
	if (!private_mount_namespace()) {
		note("not in a private mount namespace: the unmounted-bpffs checks are skipped");
		return;
	}
	while (is_bpffs("/sys/fs/bpf"))
		if (umount2("/sys/fs/bpf", MNT_DETACH) != 0)
			break;
	problem = tcpkeep_bpf_preflight(kernel_object, cgroups[0], pins[0], error, sizeof error);
	note("bpffs unmounted: %s", error);
	check(problem == TCPKEEP_BPF_NO_BPFFS && contains(error, "mount -t bpf bpf /sys/fs/bpf"),
	      "refused: bpffs not mounted at /sys/fs/bpf, the message says how to mount it");
	rc = tcpkeep_bpf_attach(kernel_object, cgroups[0], pins[0], &values, 0, error, sizeof error);
	check(rc == -1 && errno == ENOENT && !is_bpffs("/sys/fs/bpf"),
	      "attach without TCPKEEP_BPF_MOUNT_BPFFS refuses and mounts nothing");
	rc = tcpkeep_bpf_attach(kernel_object, cgroups[0], pins[0], &values, TCPKEEP_BPF_MOUNT_BPFFS, error, sizeof error);
	check(rc == 0 && is_bpffs("/sys/fs/bpf"), "attach with TCPKEEP_BPF_MOUNT_BPFFS mounts bpffs and attaches%s%s",
	      rc ? ": " : "", rc ? error : "");
	rc = tcpkeep_bpf_detach(cgroups[0], pins[0], error, sizeof error);
	check(rc == 0, "detached again%s%s", rc ? ": " : "", rc ? error : "");
}

static void connections(void)
{
	char client[512], server[512];
	struct tcpkeep_bpf_values values = values_a;
	struct tcpkeep_bpf_status status;
	char path[PATH_MAX], output[8192];

	enum tcpkeep_bpf_problem problem = tcpkeep_bpf_preflight(kernel_object, cgroups[0], pins[0], error, sizeof error);
	check(problem == TCPKEEP_BPF_READY, "preflight: ready%s%s", problem ? ": " : "", problem ? error : "");
	int rc = tcpkeep_bpf_attach(kernel_object, cgroups[0], pins[0], &values, 0, error, sizeof error);
	check(rc == 0, "attach %s to %s%s%s", VALUES_A, cgroups[0], rc ? ": " : "", rc ? error : "");
	rc = tcpkeep_bpf_get_status(pins[0], &status, path, sizeof path, error, sizeof error);
	check(rc == 0 && status.sockops_attached == 1 && status.setsockopt_attached == 0 &&
		      strcmp(path, cgroups[0]) == 0 && status.values.idle == 30 && status.values.enforce == 0,
	      "status: sock_ops attached (id %u), setsockopt not, cgroup %s (id %llu)", status.sockops_program_id,
	      path, (unsigned long long)status.cgroup_id);
	char command[PATH_MAX + 64];
	snprintf(command, sizeof command, "bpftool cgroup show '%s' 2>&1", cgroups[0]);
	shell(command, output, sizeof output);
	check(contains(output, "tcpkeep_sockops") && contains(output, "multi"),
	      "bpftool cgroup show lists tcpkeep_sockops, attached with BPF_F_ALLOW_MULTI");

	probe_connect(cgroups[0], NULL, client, sizeof client, server, sizeof server);
	check(contains(client, VALUES_A), "static client in the cgroup: %s", client);
	check(contains(server, "keepalive=0"), "its peer outside the cgroup is untouched: %s", server);
	probe_connect(NULL, NULL, client, sizeof client, NULL, 0);
	check(contains(client, "keepalive=0") && contains(client, "user_timeout=0"),
	      "static client outside the cgroup is untouched: %s", client);
	go_connect(cgroups[0], "plain", client, sizeof client);
	check(contains(client, VALUES_A), "Go client (CGO_ENABLED=0, KeepAlive -1) in the cgroup: %s", client);
	go_connect(cgroups[0], "default", client, sizeof client);
	check(contains(client, "keepalive=1"), "Go client with Go's own keepalive defaults: %s", client);
	note("Go sets its own keepalive after connect, which wins without enforce");
	probe_serve(cgroups[0], server, sizeof server, client, sizeof client);
	check(contains(server, VALUES_A), "accepted by a server in the cgroup: %s", server);
	check(contains(client, "keepalive=0"), "the connecting side, outside, is untouched: %s", client);
	probe_connect(cgroups[0], "100", client, sizeof client, NULL, 0);
	check(contains(client, "keepalive=1 idle=100") && contains(client, "user_timeout=0"),
	      "without enforce, a program that turned keepalive on itself keeps its own values: %s", client);

	/* A live update: the map changes in place, the programs stay. */
	__u32 before = program_id(pins[0]);
	values = values_b;
	rc = tcpkeep_bpf_attach(kernel_object, cgroups[0], pins[0], &values, 0, error, sizeof error);
	check(rc == 0 && program_id(pins[0]) == before && before != 0,
	      "attach again with new values updates the pinned map in place (program id %u kept)", before);
	probe_connect(cgroups[0], NULL, client, sizeof client, NULL, 0);
	check(contains(client, VALUES_B), "new connection after the update: %s", client);
	go_connect(cgroups[0], "plain", client, sizeof client);
	check(contains(client, VALUES_B), "Go client after the update: %s", client);

	/* Enforce. */
	values.enforce = 1;
	rc = tcpkeep_bpf_attach(kernel_object, cgroups[0], pins[0], &values, 0, error, sizeof error);
	rc |= tcpkeep_bpf_get_status(pins[0], &status, NULL, 0, error, sizeof error);
	check(rc == 0 && status.setsockopt_attached == 1 && status.values.enforce == 1 &&
		      program_id(pins[0]) == before,
	      "enforce on: the setsockopt program is attached, same sock_ops program");
	snprintf(command, sizeof command, "bpftool cgroup show '%s' 2>&1", cgroups[0]);
	shell(command, output, sizeof output);
	check(contains(output, "tcpkeep_setopt"), "bpftool cgroup show lists tcpkeep_setopt");
	probe_enforce(cgroups[0], output, sizeof output);
	for (char *line = strtok(output, "\n"); line != NULL; line = strtok(NULL, "\n")) {
		char label[64] = "";
		sscanf(line, "%63s", label);
		if (strcmp(label, "connected") == 0)
			check(contains(line, VALUES_B), "enforce: %s", line);
		else if (strncmp(label, "loosen-", 7) == 0)
			check(contains(line, "rc=0 " VALUES_B), "enforce rewrites: %s", line);
		else if (strcmp(label, "stricter-idle-5") == 0)
			check(contains(line, "rc=0 keepalive=1 idle=5 "), "enforce keeps a stricter value: %s", line);
		else if (strncmp(label, "range-", 6) == 0)
			check(contains(line, "rc=-1 errno=EINVAL"), "enforce leaves the kernel's EINVAL: %s", line);
		else if (strcmp(label, "bigbuf-idle-600") == 0)
			check(contains(line, "rc=0 keepalive=1 idle=40 "), "enforce, buffer larger than a page: %s",
			      line);
		else if (strcmp(label, "bigbuf-rcvbuf") == 0)
			check(contains(line, "rc=0"), "another option with a buffer larger than a page passes: %s", line);
		else if (strcmp(label, "short-keepalive") == 0)
			check(contains(line, "rc=-1 errno=EINVAL keepalive=1"), "a too-short optlen keeps EINVAL: %s",
			      line);
		else if (strcmp(label, "udp") == 0)
			check(contains(line, "keepalive=0"), "a UDP socket is untouched: %s", line);
		else
			check(0, "unexpected line from probe enforce: %s", line);
	}
	probe_connect(cgroups[0], "100", client, sizeof client, NULL, 0);
	check(contains(client, VALUES_B), "enforce: looser own values set before connect are tightened: %s", client);
	probe_connect(cgroups[0], "10", client, sizeof client, NULL, 0);
	check(contains(client, "keepalive=1 idle=10 interval=6 count=4 user_timeout=20000"),
	      "enforce: a stricter own idle set before connect is kept: %s", client);
	go_connect(cgroups[0], "default", client, sizeof client);
	note("enforce, Go client with Go's defaults (15 s idle and interval): %s", client);
	check(contains(client, "keepalive=1 idle=15 interval=6"),
	      "enforce: Go's stricter idle stays, its looser interval is rewritten");

	/* Enforce off again: the hook goes, a program's own values win again. */
	values.enforce = 0;
	rc = tcpkeep_bpf_attach(kernel_object, cgroups[0], pins[0], &values, 0, error, sizeof error);
	rc |= tcpkeep_bpf_get_status(pins[0], &status, NULL, 0, error, sizeof error);
	check(rc == 0 && status.setsockopt_attached == 0 && status.sockops_attached == 1,
	      "enforce off: the setsockopt program is detached, sock_ops stays");

	/* A second tcpkeep attachment to the same cgroup is refused. */
	rc = tcpkeep_bpf_attach(kernel_object, cgroups[0], "/sys/fs/bpf/tcpkeep-elsewhere", &values, 0, error, sizeof error);
	struct stat st;
	check(rc == -1 && errno == EEXIST && stat("/sys/fs/bpf/tcpkeep-elsewhere", &st) != 0,
	      "a second attachment from another pin directory is refused: %s", error);
	/* Pins of one cgroup are not used for another. */
	rc = tcpkeep_bpf_attach(kernel_object, cgroups[1], pins[0], &values, 0, error, sizeof error);
	check(rc == -1 && errno == EINVAL, "the pins of one cgroup are refused for another: %s", error);
	rc = tcpkeep_bpf_detach(cgroups[1], pins[0], error, sizeof error);
	check(rc == -1 && errno == EINVAL, "detach with the wrong cgroup is refused: %s", error);

	/* Detach. */
	rc = tcpkeep_bpf_detach(cgroups[0], pins[0], error, sizeof error);
	check(rc == 0, "detach%s%s", rc ? ": " : "", rc ? error : "");
	snprintf(command, sizeof command, "bpftool cgroup show '%s' 2>&1", cgroups[0]);
	shell(command, output, sizeof output);
	check(!contains(output, "tcpkeep"), "after detach bpftool cgroup show lists no tcpkeep program: [%s]",
	      one_line(output));
	check(stat(pins[0], &st) != 0 && errno == ENOENT, "after detach the pin directory %s is gone", pins[0]);
	probe_connect(cgroups[0], NULL, client, sizeof client, NULL, 0);
	check(contains(client, "keepalive=0"), "after detach a client in the cgroup is untouched: %s", client);
	rc = tcpkeep_bpf_get_status(pins[0], &status, NULL, 0, error, sizeof error);
	check(rc == -1 && errno == ENOENT, "status of a detached pin directory fails with ENOENT");
}

/* The counters, and the listeners: one configured when it listens hands
 * keepalive to what it accepts; one older than the attachment gets it set on
 * each accepted connection. */
static void counting(void)
{
	struct tcpkeep_bpf_values values = values_a;
	struct tcpkeep_bpf_status status;
	char client[512], server[512], line[512], output[8192];

	struct child older;
	char *serve[] = {(char *)probe, "serve", NULL};
	int port = 0;
	if (spawn(&older, cgroups[0], serve) == 0) {
		read_line(&older, line, sizeof line);
		sscanf(line, "port %d", &port);
	}
	int rc = tcpkeep_bpf_attach(kernel_object, cgroups[0], pins[0], &values, 0, error, sizeof error);
	check(rc == 0 && port != 0, "attach beside a server that listened before%s%s", rc ? ": " : "", rc ? error : "");
	if (port != 0) {
		int fd = connect_loopback(port, IPPROTO_TCP);
		read_line(&older, line, sizeof line);
		close(fd);
		check(contains(line, VALUES_A), "a listener older than the attachment: what it accepts is configured when "
						"accepted: %s",
		      line);
	}
	finish(&older, NULL, 0);
	probe_serve(cgroups[0], server, sizeof server, client, sizeof client);
	check(contains(server, VALUES_A), "a listener configured at listen(): what it accepts inherits: %s", server);
	probe_connect(cgroups[0], NULL, client, sizeof client, NULL, 0);
	probe_connect(cgroups[0], "100", client, sizeof client, NULL, 0);
	rc = tcpkeep_bpf_get_status(pins[0], &status, NULL, 0, error, sizeof error);
	const struct tcpkeep_bpf_counters *c = &status.counters;
	note("counters: configured %llu active, %llu passive; kept %llu; enforced %llu; timed out %llu",
	     (unsigned long long)c->configured_active, (unsigned long long)c->configured_passive,
	     (unsigned long long)c->kept, (unsigned long long)c->enforced, (unsigned long long)c->timed_out);
	check(rc == 0 && status.counters_known == 1 && c->configured_active == 1 && c->configured_passive == 2 &&
		      c->kept == 1 && c->enforced == 0 && c->timed_out == 0,
	      "counters: 1 connection configured at connect, 2 accepted, 1 kept (its own keepalive), no timeout");
	/* The kernel keeps 15 characters of a program's name. */
	int timeouts_loaded = programs_named("tcpkeep_timeout");
	check(rc == 0 && status.timeouts_counted == 1 && timeouts_loaded >= 1,
	      "the timeouts program is attached to its tracepoint, its link pinned (timeouts_counted %d, %d loaded)",
	      (int)status.timeouts_counted, timeouts_loaded);

	values.enforce = 1;
	rc = tcpkeep_bpf_attach(kernel_object, cgroups[0], pins[0], &values, 0, error, sizeof error);
	probe_enforce(cgroups[0], output, sizeof output);
	rc |= tcpkeep_bpf_get_status(pins[0], &status, NULL, 0, error, sizeof error);
	check(rc == 0 && c->enforced == 7 && c->configured_active == 2,
	      "counters: the 7 setsockopt() calls enforce rewrote are counted (%llu), the values' change kept the counts",
	      (unsigned long long)c->enforced);
	rc = tcpkeep_bpf_detach(cgroups[0], pins[0], error, sizeof error);
	check(rc == 0, "detached%s%s", rc ? ": " : "", rc ? error : "");
	int timeouts_after = programs_named_settled("tcpkeep_timeout", timeouts_loaded - 1);
	check(timeouts_after == timeouts_loaded - 1, "detach unloads the timeouts program (%d loaded before, %d after)",
	      timeouts_loaded, timeouts_after);

	/* A kernel that refuses the timeouts program (before Linux 5.15). */
	setenv("TCPKEEP_BPF_WITHOUT_TIMEOUTS", "1", 1);
	rc = tcpkeep_bpf_attach(kernel_object, cgroups[0], pins[0], &values_a, 0, error, sizeof error);
	unsetenv("TCPKEEP_BPF_WITHOUT_TIMEOUTS");
	probe_connect(cgroups[0], NULL, client, sizeof client, NULL, 0);
	rc |= tcpkeep_bpf_get_status(pins[0], &status, NULL, 0, error, sizeof error);
	check(rc == 0 && status.timeouts_counted == 0 && contains(client, VALUES_A) &&
		      programs_named("tcpkeep_timeout") == timeouts_after,
	      "without the timeouts program, connections are configured and status says timeouts are not counted: %s",
	      client);
	/* Pins without `self` are an earlier tcpkeep's, whose program counted timeouts itself. */
	char self_pin[PATH_MAX];
	int length = snprintf(self_pin, sizeof self_pin, "%s/self", pins[0]);
	rc = length < 0 || (size_t)length >= sizeof self_pin ? -1 : unlink(self_pin);
	rc |= tcpkeep_bpf_get_status(pins[0], &status, NULL, 0, error, sizeof error);
	check(rc == 0 && status.timeouts_counted == 1, "pins of an earlier tcpkeep (no self pin): their timed_out counts");
	rc = tcpkeep_bpf_detach(cgroups[0], pins[0], error, sizeof error);
	check(rc == 0, "detached%s%s", rc ? ": " : "", rc ? error : "");
}

/* Failures leave nothing behind; other tools' programs stay. */
static void coexistence(void)
{
	struct tcpkeep_bpf_values values = values_a;
	char output[8192], command[PATH_MAX + 64];
	struct stat st;
	int cgroup_fd = open(cgroups[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int other = load_other_program();
	if (cgroup_fd < 0 || other < 0) {
		check(0, "loading a stand-in program: %s", strerror(errno));
		return;
	}

	/* Attached without BPF_F_ALLOW_MULTI, the other program excludes ours:
	 * the attach step fails after loading and pinning, and must undo both. */
	int had_root = stat(TCPKEEP_BPF_PIN_ROOT, &st) == 0;
	int loaded_before = programs_named("tcpkeep_sockops");
	int rc = bpf_prog_attach(other, cgroup_fd, BPF_CGROUP_SOCK_OPS, 0);
	rc = rc == 0 ? tcpkeep_bpf_attach(kernel_object, cgroups[1], pins[1], &values, 0, error, sizeof error) : -2;
	note("attach beside an exclusive program: %s", error);
	check(rc == -1 && contains(error, "attaching tcpkeep_sockops"),
	      "attach fails at the attach step when another program holds the cgroup exclusively");
	check(stat(pins[1], &st) != 0 && (stat(TCPKEEP_BPF_PIN_ROOT, &st) == 0) == had_root,
	      "the failed attach left no pin directory (and no parent it created)");
	int loaded_after = programs_named_settled("tcpkeep_sockops", loaded_before);
	check(loaded_after == loaded_before, "the failed attach left no program loaded (%d before, %d after)",
	      loaded_before, loaded_after);
	bpf_prog_detach2(other, cgroup_fd, BPF_CGROUP_SOCK_OPS);

	/* Attached with BPF_F_ALLOW_MULTI (as systemd and Cilium do), both run. */
	rc = bpf_prog_attach(other, cgroup_fd, BPF_CGROUP_SOCK_OPS, BPF_F_ALLOW_MULTI);
	rc = rc == 0 ? tcpkeep_bpf_attach(kernel_object, cgroups[1], pins[1], &values, 0, error, sizeof error) : -2;
	check(rc == 0, "attach beside another multi program%s%s", rc ? ": " : "", rc ? error : "");
	char client[512];
	probe_connect(cgroups[1], NULL, client, sizeof client, NULL, 0);
	check(contains(client, VALUES_A), "client in that cgroup: %s", client);
	rc = tcpkeep_bpf_detach(cgroups[1], pins[1], error, sizeof error);
	snprintf(command, sizeof command, "bpftool cgroup show '%s' 2>&1", cgroups[1]);
	shell(command, output, sizeof output);
	check(rc == 0 && !contains(output, "tcpkeep") && contains(output, "other_sockops"),
	      "detach removes tcpkeep's program and leaves the other attached: [%s]", one_line(output));
	bpf_prog_detach2(other, cgroup_fd, BPF_CGROUP_SOCK_OPS);
	close(other);
	close(cgroup_fd);
}

/* An attach again re-attaches a program someone detached; a removed cgroup
 * takes its attachment along, and detach then removes the pins alone. */
static void repair_and_removal(void)
{
	struct tcpkeep_bpf_values values = values_a;
	struct tcpkeep_bpf_status status;
	char path[PATH_MAX], client[512];
	int rc = tcpkeep_bpf_attach(kernel_object, cgroups[3], pins[3], &values, 0, error, sizeof error);
	char pin[PATH_MAX + 16];
	snprintf(pin, sizeof pin, "%s/sock_ops", pins[3]);
	int program = bpf_obj_get(pin);
	int cgroup_fd = open(cgroups[3], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc |= bpf_prog_detach2(program, cgroup_fd, BPF_CGROUP_SOCK_OPS);
	rc |= tcpkeep_bpf_get_status(pins[3], &status, NULL, 0, error, sizeof error);
	check(rc == 0 && status.sockops_attached == 0, "status sees the sock_ops program detached behind its back");
	rc = tcpkeep_bpf_attach(kernel_object, cgroups[3], pins[3], &values, 0, error, sizeof error);
	rc |= tcpkeep_bpf_get_status(pins[3], &status, NULL, 0, error, sizeof error);
	check(rc == 0 && status.sockops_attached == 1, "attach again re-attaches it");
	probe_connect(cgroups[3], NULL, client, sizeof client, NULL, 0);
	check(contains(client, VALUES_A), "and it works again: %s", client);
	close(program);
	close(cgroup_fd);

	rc = rmdir(cgroups[3]);
	check(rc == 0, "a cgroup with tcpkeep attached can be removed%s%s", rc ? ": " : "", rc ? strerror(errno) : "");
	rc = tcpkeep_bpf_get_status(pins[3], &status, path, sizeof path, error, sizeof error);
	check(rc == 0 && status.sockops_attached == -1 && path[0] == '\0',
	      "status of the pins of a removed cgroup: no path, attachment unknown (-1)");
	rc = tcpkeep_bpf_detach(cgroups[3], pins[3], error, sizeof error);
	struct stat st;
	check(rc == 0 && stat(pins[3], &st) != 0, "detach with the removed cgroup's path removes the pins%s%s",
	      rc ? ": " : "", rc ? error : "");
}

/* The MPTCP subflows (TCP sockets with the mptcp ULP) of connections to
 * `port`, counted by end, and how many have a keepalive timer. */
struct subflow_count {
	int client, client_keepalive; /* the connecting end's subflows */
	int server, server_keepalive; /* the accepting end's */
};

static struct subflow_count count_subflows(int port, char *output, size_t size)
{
	char command[256], local[128], peer[128], suffix[16];
	struct subflow_count count = {0, 0, 0, 0};
	snprintf(command, sizeof command,
		 "ss -tnoiOH state established '( sport = :%d or dport = :%d )' 2>&1", port, port);
	shell(command, output, size);
	snprintf(suffix, sizeof suffix, ":%d", port);
	for (char *line = output; line != NULL && *line != '\0';) {
		char *end = strchr(line, '\n');
		if (end != NULL)
			*end = '\0';
		if (contains(line, "tcp-ulp-mptcp") && sscanf(line, "%*s %*s %127s %127s", local, peer) == 2) {
			int keepalive = contains(line, "timer:(keepalive,");
			size_t n = strlen(suffix), l = strlen(local);
			if (l >= n && strcmp(local + l - n, suffix) == 0) {
				count.server++;
				count.server_keepalive += keepalive;
			} else {
				count.client++;
				count.client_keepalive += keepalive;
			}
		}
		if (end == NULL)
			break;
		*end = ' ';
		line = end + 1;
	}
	return count;
}

/* MPTCP: what the sock_ops program reaches.  A measurement: the notes are
 * the finding, the checks pin down what was seen on Linux 6.18. */
static void mptcp(void)
{
	char line[512], output[8192];
	struct tcpkeep_bpf_values values = values_a;
	int rc = tcpkeep_bpf_attach(kernel_object, cgroups[2], pins[2], &values, 0, error, sizeof error);
	check(rc == 0, "attach to the MPTCP cgroup%s%s", rc ? ": " : "", rc ? error : "");
	int probe_fd = socket(AF_INET, SOCK_STREAM, IPPROTO_MPTCP);
	if (probe_fd < 0) {
		note("MPTCP sockets unavailable here (%s): skipped", strerror(errno));
		return;
	}
	close(probe_fd);

	/* Client in the cgroup, server outside. */
	int port;
	int listener = listen_loopback(IPPROTO_MPTCP, "127.0.0.1", &port);
	char port_text[16];
	snprintf(port_text, sizeof port_text, "%d", port);
	struct child child;
	char *argv[] = {(char *)probe, "mptcp-connect", port_text, NULL};
	spawn(&child, cgroups[2], argv);
	read_line(&child, line, sizeof line);
	int accepted = accept_one(listener);
	char server_side[256] = "";
	if (accepted >= 0)
		options_of(accepted, server_side, sizeof server_side);
	usleep(200000);
	struct subflow_count count = count_subflows(port, output, sizeof output);
	note("MPTCP client in the cgroup; its MPTCP socket: %s", line);
	note("the accepted MPTCP socket, outside: %s", server_side);
	note("ss: %s", one_line(output));
	check(contains(line, "keepalive=0"), "MPTCP: the client's MPTCP socket itself reports SO_KEEPALIVE=0");
	check(count.client == 1 && count.client_keepalive == 1,
	      "MPTCP: sock_ops ran for the client's subflow: keepalive timer on %d of %d", count.client_keepalive,
	      count.client);
	check(count.server == 1 && count.server_keepalive == 0, "MPTCP: the server's subflow, outside, has none");
	finish(&child, NULL, 0);
	if (accepted >= 0)
		close(accepted);
	close(listener);

	/* Server in the cgroup, client outside. */
	char *serve[] = {(char *)probe, "mptcp-serve", NULL};
	spawn(&child, cgroups[2], serve);
	read_line(&child, line, sizeof line);
	port = 0;
	sscanf(line, "port %d", &port);
	int fd = connect_loopback(port, IPPROTO_MPTCP);
	read_line(&child, line, sizeof line);
	usleep(200000);
	count = count_subflows(port, output, sizeof output);
	note("MPTCP server in the cgroup; the accepted MPTCP socket: %s", line);
	note("ss: %s", one_line(output));
	check(contains(line, "keepalive=0"), "MPTCP: the accepted MPTCP socket itself reports SO_KEEPALIVE=0");
	check(count.server == 1 && count.server_keepalive == 1 && count.client_keepalive == 0,
	      "MPTCP: sock_ops ran for the accepted subflow only: keepalive timer on %d of %d",
	      count.server_keepalive, count.server);
	close(fd);
	finish(&child, NULL, 0);

	/* A program that turns keepalive off on its MPTCP socket: the MPTCP
	 * socket passes that on to its subflows; enforce rewrites it first. */
	for (int enforce = 0; enforce <= 1; enforce++) {
		values.enforce = (uint32_t)enforce;
		rc = tcpkeep_bpf_attach(kernel_object, cgroups[2], pins[2], &values, 0, error, sizeof error);
		listener = listen_loopback(IPPROTO_MPTCP, "127.0.0.1", &port);
		snprintf(port_text, sizeof port_text, "%d", port);
		char *loosen[] = {(char *)probe, "mptcp-loosen", port_text, NULL};
		spawn(&child, cgroups[2], loosen);
		read_line(&child, line, sizeof line);
		accepted = accept_one(listener);
		usleep(200000);
		count = count_subflows(port, output, sizeof output);
		note("MPTCP socket set to SO_KEEPALIVE=0, TCP_KEEPIDLE=600 %s enforce: %s; ss: %s",
		     enforce ? "with" : "without", line, one_line(output));
		if (enforce)
			check(rc == 0 && contains(line, "loosened keepalive=1 idle=30 ") && count.client == 1 &&
				      count.client_keepalive == 1 && contains(output, "timer:(keepalive,29sec"),
			      "MPTCP with enforce: the MPTCP socket and its subflow keep keepalive at idle 30");
		else
			check(rc == 0 && contains(line, "loosened keepalive=0 idle=600") && count.client == 1 &&
				      count.client_keepalive == 0,
			      "MPTCP without enforce: the program's SO_KEEPALIVE=0 reaches the subflow (no timer)");
		finish(&child, NULL, 0);
		if (accepted >= 0)
			close(accepted);
		close(listener);
	}
}

/* Additional subflows (MP_JOIN), in a network namespace of its own (gone
 * when the child exits): two addresses on its loopback, and a subflow
 * endpoint for the second. */
static void mptcp_join(void)
{
	int report[2];
	if (pipe(report) != 0)
		return;
	pid_t pid = fork();
	if (pid == 0) {
		struct subflow_count count = {-1, -1, -1, -1};
		char output[8192] = "", line[512] = "";
		if (unshare(CLONE_NEWNET) == 0 &&
		    system("ip link set lo up && ip addr add 10.0.0.1/32 dev lo && ip addr add 10.0.0.2/32 dev lo && "
			   "ip mptcp limits set subflow 2 add_addr_accepted 2 && "
			   "ip mptcp endpoint add 10.0.0.2 dev lo subflow") == 0) {
			int port;
			int listener = listen_loopback(IPPROTO_MPTCP, "10.0.0.1", &port);
			char port_text[16];
			snprintf(port_text, sizeof port_text, "%d", port);
			struct child child;
			char *argv[] = {(char *)probe, "mptcp-connect", port_text, "10.0.0.1", NULL};
			spawn(&child, cgroups[2], argv);
			read_line(&child, line, sizeof line);
			int accepted = accept_one(listener);
			/* The path manager adds subflows once the connection is fully
			 * established, which takes a data-level exchange. */
			if (accepted >= 0 && write(accepted, "x", 1) != 1)
				printf("# write: %s\n", strerror(errno));
			for (int attempt = 0; attempt < 30; attempt++) {
				usleep(100000);
				count = count_subflows(port, output, sizeof output);
				if (count.client >= 2)
					break;
			}
			finish(&child, NULL, 0);
			if (accepted >= 0)
				close(accepted);
		}
		dprintf(report[1], "%d %d %d %d\n%s\n%s", count.client, count.client_keepalive, count.server,
			count.server_keepalive, line, output);
		_exit(0);
	}
	close(report[1]);
	char text[8192];
	ssize_t n = read(report[0], text, sizeof text - 1);
	text[n > 0 ? n : 0] = '\0';
	close(report[0]);
	waitpid(pid, NULL, 0);
	struct subflow_count count = {-1, -1, -1, -1};
	sscanf(text, "%d %d %d %d", &count.client, &count.client_keepalive, &count.server, &count.server_keepalive);
	char *rest = strchr(text, '\n');
	note("MP_JOIN, client in the cgroup, 2 addresses: MPTCP socket and ss: %s", rest ? one_line(rest + 1) : "");
	check(count.client == 2 && count.client_keepalive == 2,
	      "MPTCP: sock_ops ran for the joined subflow too: keepalive timer on %d of %d client subflows",
	      count.client_keepalive, count.client);
	check(count.server == 2 && count.server_keepalive == 0, "MPTCP: none on the %d server subflows (outside)",
	      count.server);
}

/* Run as nobody by refusals(), and under seccomp by without_bpf(). */
static int unprivileged(const char *cgroup)
{
	struct tcpkeep_bpf_values values = values_a;
	enum tcpkeep_bpf_problem problem = tcpkeep_bpf_preflight(kernel_object, cgroup, NULL, error, sizeof error);
	printf("preflight=%d (%s)", problem, error);
	int rc = tcpkeep_bpf_attach(kernel_object, cgroup, "/sys/fs/bpf/tcpkeep/unprivileged", &values, 0, error, sizeof error);
	printf(" attach=%d %s (%s)\n", rc, rc ? strerrorname_np(errno) : "", error);
	return 0;
}

/* Run by refusals() under a seccomp filter that fails every bpf() with EPERM. */
static int without_bpf(const char *cgroup)
{
	struct sock_filter filter[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_bpf, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog program = {.len = sizeof filter / sizeof filter[0], .filter = filter};
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
		printf("seccomp: %s\n", strerror(errno));
		return 1;
	}
	return unprivileged(cgroup);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	kernel_object = read_bpf_object("tcpkeep");
	if (argc == 3 && strcmp(argv[1], "unprivileged") == 0)
		return unprivileged(argv[2]);
	if (argc == 3 && strcmp(argv[1], "without-bpf") == 0)
		return without_bpf(argv[2]);
	if (argc != 3) {
		fprintf(stderr, "usage: attach_check PROBE GOCLIENT   (as root; see bpf/test/run.sh)\n");
		return 2;
	}
	probe = argv[1];
	goclient = argv[2];
	if (geteuid() != 0) {
		fprintf(stderr, "attach_check: run as root (bpf/test/run.sh does)\n");
		return 2;
	}
	FILE *mounts = setmntent("/proc/self/mounts", "re");
	struct mntent *entry;
	while (mounts != NULL && (entry = getmntent(mounts)) != NULL)
		if (strcmp(entry->mnt_type, "cgroup2") == 0 && cgroup2_mount[0] == '\0')
			snprintf(cgroup2_mount, sizeof cgroup2_mount, "%s", entry->mnt_dir);
	if (mounts != NULL)
		endmntent(mounts);
	if (cgroup2_mount[0] == '\0') {
		fprintf(stderr, "attach_check: no cgroup2 mount\n");
		return 2;
	}
	note("cgroup v2 at %s; BPF object %zu bytes", cgroup2_mount, kernel_object.size);
	make_cgroup(0, "");
	make_cgroup(1, "-other");
	make_cgroup(2, "-mptcp");
	make_cgroup(3, "-gone");
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	refusals();
	if (!is_bpffs("/sys/fs/bpf") && private_mount_namespace())
		mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700");
	connections();
	counting();
	coexistence();
	repair_and_removal();
	mptcp();
	mptcp_join();

	cleanup();
	struct stat st;
	int left = 0;
	for (int i = 0; i < 4; i++)
		left += stat(cgroups[i], &st) == 0 || stat(pins[i], &st) == 0;
	check(left == 0, "every test cgroup and pin directory removed");
	return finish_checks();
}
