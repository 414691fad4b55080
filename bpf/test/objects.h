/*
 * The BPF objects bpf/build compiled, for the C programs under bpf/test and
 * bench/: read from the folder the environment variable TCPKEEP_BPF_OBJECTS
 * names (bpf/test/run.sh and bench/kernel-mode set it), and handed to
 * CTCPKeepBPF's functions as tcpkeep's executable hands its embedded ones.
 */
#ifndef TCPKEEP_TEST_OBJECTS_H
#define TCPKEEP_TEST_OBJECTS_H

#include "CTCPKeepBPF.h"

/* $TCPKEEP_BPF_OBJECTS/NAME.bpf.o, read whole; exits with status 2 and a
 * message when it cannot be read. */
struct tcpkeep_bpf_object read_bpf_object(const char *name);

#endif
