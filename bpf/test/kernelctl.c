/*
 * A command line over the C API of Sources/CTCPKeepBPF, for trying kernel
 * mode by hand and for bench/kernel-mode, until the Swift CLI has it.
 *
 *   kernelctl preflight CGROUP
 *   kernelctl attach CGROUP IDLE INTERVAL COUNT USER_TIMEOUT [enforce]   (- leaves a value unset)
 *   kernelctl status CGROUP
 *   kernelctl detach CGROUP
 *   kernelctl attach-empty CGROUP   a sock_ops program that does nothing, attached beside any
 *                                   other (BPF_F_ALLOW_MULTI) and never pinned: what running
 *                                   any sock_ops program costs, for bench/kernel-mode; it goes
 *                                   with the cgroup
 *   kernelctl attach-calls CGROUP IDLE INTERVAL COUNT USER_TIMEOUT
 *                                   the same with only the five bpf_setsockopt() calls, at
 *                                   connect and at listen: what setting the values costs
 *
 * Pins go to the default pin directory, /sys/fs/bpf/tcpkeep/<cgroup id>;
 * attach mounts bpffs at /sys/fs/bpf when nothing is mounted there.  The BPF
 * object comes from the folder TCPKEEP_BPF_OBJECTS names (objects.h).
 */
#include "CTCPKeepBPF.h"
#include "objects.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stddef.h>
#include <sys/socket.h>

#define INSN(c, d, s, o, i) ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})

/* Loads a sock_ops program made of raw instructions and attaches it to the cgroup: "return 1"
 * alone, or with `calls`, before it, at connect and at listen only, the five bpf_setsockopt()
 * calls of tcpkeep's values (IDLE INTERVAL COUNT USER_TIMEOUT, then SO_KEEPALIVE), nothing
 * else: the least any program that sets them can cost, accepted sockets inheriting them. */
static int attach_floor(const char *cgroup, int calls, const int32_t settings[4])
{
	const struct {
		int level, name;
		int32_t value;
	} options[] = {
		{IPPROTO_TCP, TCP_KEEPIDLE, settings[0]},     {IPPROTO_TCP, TCP_KEEPINTVL, settings[1]},
		{IPPROTO_TCP, TCP_KEEPCNT, settings[2]},      {IPPROTO_TCP, TCP_USER_TIMEOUT, settings[3]},
		{SOL_SOCKET, SO_KEEPALIVE, 1},
	};
	struct bpf_insn program[64];
	int n = 0;
	if (calls) {
		program[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_6, BPF_REG_1, 0, 0);
		program[n++] = INSN(BPF_LDX | BPF_MEM | BPF_W, BPF_REG_2, BPF_REG_1, offsetof(struct bpf_sock_ops, op), 0);
		program[n++] = INSN(BPF_JMP | BPF_JEQ | BPF_K, BPF_REG_2, 0, 1, BPF_SOCK_OPS_TCP_CONNECT_CB);
		int skip = n++; /* to the end unless listening */
		for (size_t i = 0; i < sizeof options / sizeof options[0]; i++) {
			program[n++] = INSN(BPF_ST | BPF_MEM | BPF_W, BPF_REG_10, 0, -4, options[i].value);
			program[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_1, BPF_REG_6, 0, 0);
			program[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_2, 0, 0, options[i].level);
			program[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_3, 0, 0, options[i].name);
			program[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_X, BPF_REG_4, BPF_REG_10, 0, 0);
			program[n++] = INSN(BPF_ALU64 | BPF_ADD | BPF_K, BPF_REG_4, 0, 0, -4);
			program[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_5, 0, 0, 4);
			program[n++] = INSN(BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_setsockopt);
		}
		program[skip] = INSN(BPF_JMP | BPF_JNE | BPF_K, BPF_REG_2, 0, (short)(n - skip - 1), BPF_SOCK_OPS_TCP_LISTEN_CB);
	}
	program[n++] = INSN(BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 1);
	program[n++] = INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0);
	union bpf_attr load = {.prog_type = BPF_PROG_TYPE_SOCK_OPS, .insns = (__u64)(uintptr_t)program,
			       .insn_cnt = (__u32)n, .license = (__u64)(uintptr_t) "GPL"};
	int fd = (int)syscall(SYS_bpf, BPF_PROG_LOAD, &load, sizeof load);
	int target = open(cgroup, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	union bpf_attr attach = {.target_fd = (__u32)target, .attach_bpf_fd = (__u32)fd,
				 .attach_type = BPF_CGROUP_SOCK_OPS, .attach_flags = BPF_F_ALLOW_MULTI};
	if (fd < 0 || target < 0 || syscall(SYS_bpf, BPF_PROG_ATTACH, &attach, sizeof attach) != 0) {
		fprintf(stderr, "kernelctl: attaching a%s sock_ops program to %s: %s\n", calls ? " five-call" : "n empty",
			cgroup, strerror(errno));
		return 1;
	}
	printf("attached a%s sock_ops program to %s\n", calls ? " five-call" : "n empty", cgroup);
	return 0;
}

static int value(const char *text, uint32_t bit, int32_t *out, uint32_t *mask)
{
	if (strcmp(text, "-") == 0)
		return 0;
	char *end;
	long number = strtol(text, &end, 10);
	if (*text == '\0' || *end != '\0' || number < INT32_MIN || number > INT32_MAX)
		return -1;
	*out = (int32_t)number;
	*mask |= bit;
	return 0;
}

int main(int argc, char **argv)
{
	char error[1024], pin[PATH_MAX], path[PATH_MAX];
	if (argc < 3) {
		fprintf(stderr, "usage: kernelctl preflight|attach|attach-empty|attach-calls|status|detach CGROUP [IDLE "
				"INTERVAL COUNT USER_TIMEOUT [enforce]]\n");
		return 2;
	}
	const char *command = argv[1], *cgroup = argv[2];
	int32_t floor_settings[4] = {0};
	if (strcmp(command, "attach-empty") == 0)
		return attach_floor(cgroup, 0, floor_settings);
	if (strcmp(command, "attach-calls") == 0) {
		for (int i = 0; i < 4; i++) {
			uint32_t mask = 0;
			if (argc < 7 || strcmp(argv[3 + i], "-") == 0 || value(argv[3 + i], 1, &floor_settings[i], &mask) != 0) {
				fprintf(stderr, "kernelctl: attach-calls needs four whole numbers\n");
				return 2;
			}
		}
		return attach_floor(cgroup, 1, floor_settings);
	}
	struct tcpkeep_bpf_object object = read_bpf_object("tcpkeep");
	if (strcmp(command, "preflight") == 0) {
		enum tcpkeep_bpf_problem problem = tcpkeep_bpf_preflight(object, cgroup, NULL, error, sizeof error);
		printf("%s\n", problem == TCPKEEP_BPF_READY ? "ready" : error);
		return problem == TCPKEEP_BPF_READY ? 0 : 1;
	}
	if (tcpkeep_bpf_default_pin_directory(cgroup, pin, sizeof pin, error, sizeof error) != 0) {
		fprintf(stderr, "kernelctl: %s\n", error);
		return 1;
	}
	int rc;
	if (strcmp(command, "attach") == 0 && argc >= 7) {
		struct tcpkeep_bpf_values values = {0};
		if (value(argv[3], TCPKEEP_BPF_IDLE, &values.idle, &values.configured_mask) != 0 ||
		    value(argv[4], TCPKEEP_BPF_INTERVAL, &values.interval, &values.configured_mask) != 0 ||
		    value(argv[5], TCPKEEP_BPF_COUNT, &values.count, &values.configured_mask) != 0 ||
		    value(argv[6], TCPKEEP_BPF_USER_TIMEOUT, &values.user_timeout, &values.configured_mask) != 0) {
			fprintf(stderr, "kernelctl: values are whole numbers or -\n");
			return 2;
		}
		values.enforce = argc >= 8 && strcmp(argv[7], "enforce") == 0;
		rc = tcpkeep_bpf_attach(object, cgroup, pin, &values, TCPKEEP_BPF_MOUNT_BPFFS, error, sizeof error);
		if (rc == 0)
			printf("attached to %s, pinned in %s\n", cgroup, pin);
	} else if (strcmp(command, "status") == 0) {
		struct tcpkeep_bpf_status status;
		rc = tcpkeep_bpf_get_status(pin, &status, path, sizeof path, error, sizeof error);
		if (rc == 0)
			printf("%s: cgroup %s (id %llu) mask 0x%x idle %d interval %d count %d user_timeout %d "
			       "enforce %u; sock_ops id %u attached %d, setsockopt id %u attached %d, map id %u; "
			       "configured active %llu passive %llu kept %llu enforced %llu timed_out %llu\n",
			       pin, path, (unsigned long long)status.cgroup_id, status.values.configured_mask,
			       status.values.idle, status.values.interval, status.values.count,
			       status.values.user_timeout, status.values.enforce, status.sockops_program_id,
			       status.sockops_attached, status.setsockopt_program_id, status.setsockopt_attached,
			       status.map_id, (unsigned long long)status.counters.configured_active,
			       (unsigned long long)status.counters.configured_passive,
			       (unsigned long long)status.counters.kept, (unsigned long long)status.counters.enforced,
			       (unsigned long long)status.counters.timed_out);
	} else if (strcmp(command, "detach") == 0) {
		rc = tcpkeep_bpf_detach(cgroup, pin, error, sizeof error);
		if (rc == 0)
			printf("detached from %s, removed %s\n", cgroup, pin);
	} else {
		fprintf(stderr, "kernelctl: unknown command or missing values\n");
		return 2;
	}
	if (rc != 0) {
		fprintf(stderr, "kernelctl: %s\n", error);
		return 1;
	}
	return 0;
}
