/*
 * The output of the C checks under bpf/test: the Test Anything Protocol, one
 * "ok N - ..." or "not ok N - ..." line a check, "# ..." notes, and the plan
 * line at the end.
 */
#ifndef TCPKEEP_TAP_H
#define TCPKEEP_TAP_H

/* Records one check and prints its line. */
void check(int ok, const char *format, ...) __attribute__((format(printf, 2, 3)));

/* A line that is not a check. */
void note(const char *format, ...) __attribute__((format(printf, 1, 2)));

/* Prints the plan and the count of failures; the exit status: 1 if any failed. */
int finish_checks(void);

#endif
