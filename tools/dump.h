/* msgport-dump's two directions, as a library the CLI and its tests link:
 * message bytes (codec/FORMAT.md v1) -> a text listing, one token per line,
 * and a listing (dumped or written by hand) -> message bytes. The text
 * format is described in tools/README.md. */
#ifndef MSGPORT_TOOLS_DUMP_H
#define MSGPORT_TOOLS_DUMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MPD_NO_OFFSET ((size_t)-1)

typedef struct mpd_dump_result {
    size_t problems;     /* invalid things found (each marked in the listing) */
    size_t first_offset; /* byte offset of the first one, MPD_NO_OFFSET if none */
    char first[320];     /* "offset 17: declared length 300 exceeds the 12 bytes left" */
    bool complete;       /* every byte was listed (no unreadable token) */
    bool exact;          /* mpd_pack of the listing gives back these very bytes */
} mpd_dump_result;

/* Writes the listing of msg[0..len) to out. Each problem is marked in the
 * listing as a comment and, if diag is not NULL, reported there as one
 * "offset N: why" line (the first 20 of them). Never reads outside the
 * input, whatever the bytes. Returns 0 if the message is valid as far as
 * the listing can tell, 1 if a problem was found, -1 if writing to out
 * failed or memory ran out (res->first says which). */
int mpd_dump(const uint8_t *msg, size_t len, FILE *out, FILE *diag, mpd_dump_result *res);

typedef struct mpd_pack_result {
    size_t line, column; /* of the error (1-based), 0 if none */
    char error[320];     /* "line 3, column 5: ..." */
    size_t warnings;     /* e.g. containers left short of their declared count */
    char warning[320];   /* the first warning */
} mpd_pack_result;

/* Packs a listing into message bytes. On success returns 0 and *out holds
 * *out_len bytes from malloc (free() them). On failure returns -1, *out is
 * untouched, and res->error names the line and column (or says that memory
 * ran out). */
int mpd_pack(const char *text, size_t len, uint8_t **out, size_t *out_len, mpd_pack_result *res);

/* Reads f to its end into a buffer from malloc (free() it), *len bytes.
 * NULL with errno set on a read error or when memory runs out. */
uint8_t *mpd_read_all(FILE *f, size_t *len);

#endif
