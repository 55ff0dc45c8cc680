/* Text formatting shared by the printer (print.c) and by graph equality's
 * failure reports (equal.c), so that a difference is described in the same
 * notation mp_print uses. Private to src/value/. */
#ifndef MSGPORT_VALUE_PRINT_H
#define MSGPORT_VALUE_PRINT_H

#include "value_internal.h"

/* Enough for any mpi_format_number result, NUL included. */
#define MPI_NUMBER_BUF 32

/* JavaScript's Number::toString (shortest round-trip digits, exponent
 * form outside 1e-7 .. 1e21), except that -0 gives "-0" as in
 * util.inspect. Writes a NUL-terminated text into buf (MPI_NUMBER_BUF
 * bytes) and returns its length. Cannot fail. */
size_t mpi_format_number(double d, char *buf);

/* A short rendering of v into buf (cap > 0, always NUL-terminated):
 * primitives as mp_print writes them, a long text cut with "...", an
 * object as its kind name. Cannot fail; never allocates. */
void mpi_format_brief(mp_value v, char *buf, size_t cap);

/* A property key as a path step: ".name" for an identifier, else
 * "['key text']" (quoted as mp_print quotes strings). Cut with "..." to
 * fit cap (> 0), always NUL-terminated. Cannot fail; never allocates. */
void mpi_format_key_step(const mpi_string *key, char *buf, size_t cap);

#endif
