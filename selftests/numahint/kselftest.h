/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A small stand-in for the kernel's tools/testing/selftests TAP helpers,
 * for the host-side tests (selftests/host/placement and fuzz), which
 * build without the cache's kernel headers.  Same names and semantics for
 * the parts they use: TAP version 13 on stdout, one "ok N - name",
 * "not ok N - name" or "ok N - name # SKIP reason" line per test, and the
 * kselftest exit codes (0 pass, 1 fail, 4 skip).  The guest tests in this
 * directory use the kernel's own kselftest.h and kselftest_harness.h
 * (see the Makefile).
 */
#ifndef NUMAHINT_KSELFTEST_H
#define NUMAHINT_KSELFTEST_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#ifndef __printf
#define __printf(a, b)	__attribute__((format(printf, a, b)))
#endif
#ifndef __noreturn
#define __noreturn	__attribute__((noreturn))
#endif

#define KSFT_PASS	0
#define KSFT_FAIL	1
#define KSFT_SKIP	4

/* Results so far, and the number of the next test. */
static struct {
	unsigned int pass;
	unsigned int fail;
	unsigned int skip;
	unsigned int planned;
} ksft_cnt;

static inline unsigned int ksft_test_num(void)
{
	return ksft_cnt.pass + ksft_cnt.fail + ksft_cnt.skip;
}

static inline void ksft_print_header(void)
{
	printf("TAP version 13\n");
	fflush(stdout);
}

static inline void ksft_set_plan(unsigned int plan)
{
	ksft_cnt.planned = plan;
	printf("1..%u\n", plan);
	fflush(stdout);
}

/* A diagnostic line: "# " then the message. */
static inline __printf(1, 2)
void ksft_print_msg(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	printf("# ");
	vprintf(fmt, args);
	va_end(args);
	fflush(stdout);
}

/* The test called @name passed (@cond true) or failed. */
static inline void ksft_test_result(int cond, const char *name)
{
	if (cond)
		ksft_cnt.pass++;
	else
		ksft_cnt.fail++;
	printf("%s %u - %s\n", cond ? "ok" : "not ok", ksft_test_num(), name);
	fflush(stdout);
}

#define ksft_test_result_pass(name)	ksft_test_result(1, name)
#define ksft_test_result_fail(name)	ksft_test_result(0, name)

/* The test called @name could not run; the reason follows as printf. */
static inline __printf(2, 3)
void ksft_test_result_skip(const char *name, const char *fmt, ...)
{
	va_list args;

	ksft_cnt.skip++;
	printf("ok %u - %s # SKIP ", ksft_test_num(), name);
	va_start(args, fmt);
	vprintf(fmt, args);
	va_end(args);
	printf("\n");
	fflush(stdout);
}

/* Stop before the plan is complete: the rest cannot run meaningfully. */
static inline __noreturn __printf(1, 2)
void ksft_exit_fail_msg(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	printf("Bail out! ");
	vprintf(fmt, args);
	va_end(args);
	fflush(stdout);
	exit(KSFT_FAIL);
}

/* Nothing can be tested here: an empty plan with the reason. */
static inline __noreturn __printf(1, 2)
void ksft_exit_skip(const char *fmt, ...)
{
	va_list args;

	va_start(args, fmt);
	printf("1..0 # SKIP ");
	vprintf(fmt, args);
	va_end(args);
	fflush(stdout);
	exit(KSFT_SKIP);
}

/* Print the totals and exit with the kselftest code for them. */
static inline __noreturn void ksft_finished(void)
{
	printf("# Totals: pass:%u fail:%u xfail:0 xpass:0 skip:%u error:0\n",
	       ksft_cnt.pass, ksft_cnt.fail, ksft_cnt.skip);
	if (ksft_test_num() != ksft_cnt.planned)
		printf("# Planned tests != run tests (%u != %u)\n",
		       ksft_cnt.planned, ksft_test_num());
	fflush(stdout);
	if (ksft_cnt.fail || ksft_test_num() != ksft_cnt.planned)
		exit(KSFT_FAIL);
	exit(ksft_cnt.pass ? KSFT_PASS : KSFT_SKIP);
}

#endif /* NUMAHINT_KSELFTEST_H */
