/* The Test Anything Protocol output of the C checks (tap.h). */
#include "tap.h"

#include <stdarg.h>
#include <stdio.h>

static int checks, failures;

void check(int ok, const char *format, ...)
{
	va_list args;
	va_start(args, format);
	printf("%s %d - ", ok ? "ok" : "not ok", ++checks);
	vprintf(format, args);
	printf("\n");
	va_end(args);
	if (!ok)
		failures++;
	fflush(stdout);
}

void note(const char *format, ...)
{
	va_list args;
	va_start(args, format);
	printf("# ");
	vprintf(format, args);
	printf("\n");
	va_end(args);
	fflush(stdout);
}

int finish_checks(void)
{
	printf("1..%d\n", checks);
	printf("# %d of %d checks failed\n", failures, checks);
	return failures != 0;
}
