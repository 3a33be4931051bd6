/*
 * score.h - `swarm-producer score`: offline batch scoring of a whole file
 * through the worker fleet (docs/scoring.md).
 *
 *   swarm-producer score --model NAME[:VERSION] --input FILE --output FILE
 *
 * Reads CSV / Avro / .npy rows as a stream, sends many rows per request on
 * the scoring topic with a bounded in-flight window (rows and bytes), writes
 * an Avro object container (or CSV) in input order, checkpoints so that an
 * interrupted run resumes and produces the same bytes, and writes malformed
 * rows to a rejects file.
 *
 * Exit: 0 every row scored; 3 done, but some rows were rejected (see the
 * rejects file); 1 runtime error or interrupted (the checkpoint is kept:
 * run the same command again to continue); 2 usage.
 */
#ifndef SWARM_SCORE_H
#define SWARM_SCORE_H

#define SCORE_EXIT_REJECTS 3

/* The subcommand's main: argv[0] is "score". */
int score_main(int argc, char **argv);

#endif
