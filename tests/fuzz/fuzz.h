/*
 * fuzz.h - what every fuzz target shares.  A target defines
 * LLVMFuzzerTestOneInput (and may define LLVMFuzzerInitialize or
 * LLVMFuzzerCustomMutator); built with SWARM_FUZZ it links libFuzzer,
 * without it replay.c's main runs it over the committed corpus.
 *
 * FUZZ_ASSERT is for invariants the code under test promises (a decoded
 * tensor's size matches its shape ...): a broken promise aborts, which
 * libFuzzer reports as a finding just like a sanitizer error.
 */
#ifndef SWARM_FUZZ_H
#define SWARM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define FUZZ_ASSERT(cond)                                                      \
        do {                                                                   \
                if (!(cond)) {                                                 \
                        fprintf(stderr, "%s:%d: invariant broken: %s\n",       \
                                __FILE__, __LINE__, #cond);                    \
                        abort();                                               \
                }                                                              \
        } while (0)

#endif
