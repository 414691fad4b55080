/*
 * A command line over the C API of Sources/CTCPKeepBPF, for trying kernel
 * mode by hand and for bench/kernel-mode, until the Swift CLI has it.
 *
 *   kernelctl preflight CGROUP
 *   kernelctl attach CGROUP IDLE INTERVAL COUNT USER_TIMEOUT [enforce]   (- leaves a value unset)
 *   kernelctl status CGROUP
 *   kernelctl detach CGROUP
 *
 * Pins go to the default pin directory, /sys/fs/bpf/tcpkeep/<cgroup id>;
 * attach mounts bpffs at /sys/fs/bpf when nothing is mounted there.  The BPF
 * object comes from the folder TCPKEEP_BPF_OBJECTS names (objects.h).
 */
#include "CTCPKeepBPF.h"
#include "objects.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		fprintf(stderr, "usage: kernelctl preflight|attach|status|detach CGROUP [IDLE INTERVAL COUNT "
				"USER_TIMEOUT [enforce]]\n");
		return 2;
	}
	const char *command = argv[1], *cgroup = argv[2];
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
			       "enforce %u; sock_ops id %u attached %d, setsockopt id %u attached %d, map id %u\n",
			       pin, path, (unsigned long long)status.cgroup_id, status.values.configured_mask,
			       status.values.idle, status.values.interval, status.values.count,
			       status.values.user_timeout, status.values.enforce, status.sockops_program_id,
			       status.sockops_attached, status.setsockopt_program_id, status.setsockopt_attached,
			       status.map_id);
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
