/*
 * Reads the BPF objects bpf/build compiled: see objects.h.
 */
#include "objects.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tcpkeep_bpf_object read_bpf_object(const char *name)
{
	const char *folder = getenv("TCPKEEP_BPF_OBJECTS");
	char path[4096];
	snprintf(path, sizeof path, "%s/%s.bpf.o", folder ? folder : ".", name);
	FILE *file = fopen(path, "rb");
	long size = -1;
	unsigned char *bytes = NULL;
	if (file != NULL && fseek(file, 0, SEEK_END) == 0 && (size = ftell(file)) > 0 && fseek(file, 0, SEEK_SET) == 0 &&
	    (bytes = malloc((size_t)size)) != NULL && fread(bytes, 1, (size_t)size, file) == (size_t)size) {
		fclose(file);
		return (struct tcpkeep_bpf_object){.bytes = bytes, .size = (size_t)size};
	}
	fprintf(stderr, "cannot read the BPF object %s (bpf/build writes it; TCPKEEP_BPF_OBJECTS names its folder): %s\n",
		path, strerror(errno ? errno : EIO));
	exit(2);
}
