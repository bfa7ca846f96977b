/* SPDX-License-Identifier: GPL-2.0-or-later */
/*
 * The numahint fuzz target's entry point, for libFuzzer and for the
 * replay driver that runs the corpus without libFuzzer.
 */
#ifndef NUMAHINT_FUZZ_H
#define NUMAHINT_FUZZ_H

#include <stddef.h>
#include <stdint.h>

/* Run one input; aborts when an invariant breaks, returns 0 otherwise. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
