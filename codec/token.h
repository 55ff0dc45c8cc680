/* msgport's pull reader of msgpack tokens, shared by the deserializer and
 * the dump tool. Header-only so the decoder's hot loop inlines it.
 *
 * Total on any input: a token is either read whole (its header and, for
 * str/bin/ext, its payload inside the buffer) or refused with a reason, and a
 * container's declared count is never larger than the bytes left could hold,
 * so a caller that allocates per element allocates O(input). */
#ifndef MSGPORT_CODEC_TOKEN_H
#define MSGPORT_CODEC_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

enum {
    MPI_TOK_NIL,
    MPI_TOK_BOOL,
    MPI_TOK_UINT,
    MPI_TOK_INT,
    MPI_TOK_FLOAT,
    MPI_TOK_STR,
    MPI_TOK_BIN,
    MPI_TOK_ARRAY,
    MPI_TOK_MAP,
    MPI_TOK_EXT
};

typedef struct mpi_tok {
    uint8_t t;
    int8_t ext; /* MPI_TOK_EXT: type */
    bool b;
    uint32_t n; /* STR/BIN/EXT: payload bytes; ARRAY/MAP: count */
    uint64_t u;
    int64_t i;
    double d;
    const uint8_t *data; /* payload */
    size_t at;           /* offset of the token; set by the caller */
} mpi_tok;

typedef enum mpi_tok_error {
    MPI_TOKE_OK,
    MPI_TOKE_END,    /* no bytes left */
    MPI_TOKE_C1,     /* the never-used byte 0xc1 */
    MPI_TOKE_HEADER, /* the header runs past the end */
    MPI_TOKE_LENGTH, /* a str/bin/ext payload runs past the end */
    MPI_TOKE_COUNT,  /* an array/map count the bytes left cannot hold */
} mpi_tok_error;

static inline uint16_t
mpi_be16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}
static inline uint32_t
mpi_be32(const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t
mpi_be64(const uint8_t *p)
{
    return ((uint64_t)mpi_be32(p) << 32) | mpi_be32(p + 4);
}
static inline uint32_t
mpi_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t
mpi_le64(const uint8_t *p)
{
    return (uint64_t)mpi_le32(p) | ((uint64_t)mpi_le32(p + 4) << 32);
}

/* Reads the token at *pp and advances *pp past its header and payload
 * (not past a container's children). Payloads are bounds-checked and
 * skipped; container counts are checked against the bytes left (one byte
 * per element at least, two per map pair). On failure *pp is unchanged and
 * mpi_tok_explain() says why. */
static inline mpi_tok_error
mpi_tok_next(const uint8_t **pp, const uint8_t *end, mpi_tok *t)
{
    const uint8_t *p = *pp;
    size_t left = (size_t)(end - p);
    /* Every token defines these, so callers (and gcc's flow analysis) never see them unset. */
    t->n = 0;
    t->data = NULL;
    if (left == 0) return MPI_TOKE_END;
    uint8_t b = *p++;
    left--;
    size_t need = 0; /* header bytes after the first */
    size_t len = 0;  /* payload bytes */
    if (b <= 0x7f) {
        t->t = MPI_TOK_UINT;
        t->u = b;
    } else if (b >= 0xe0) {
        t->t = MPI_TOK_INT;
        t->i = (int8_t)b;
    } else if (b <= 0x8f) {
        t->t = MPI_TOK_MAP;
        t->n = b & 0x0f;
    } else if (b <= 0x9f) {
        t->t = MPI_TOK_ARRAY;
        t->n = b & 0x0f;
    } else if (b <= 0xbf) {
        t->t = MPI_TOK_STR;
        len = b & 0x1f;
    } else {
        /* Header bytes after the first, for 0xc0..0xdf (fixext: type + data). */
        /* clang-format off */
        static const uint8_t hdr[0x20] = {
            0, 0, 0, 0,       /* c0 nil, c1 unused, c2 false, c3 true */
            1, 2, 4,          /* c4..c6 bin 8/16/32 */
            2, 3, 5,          /* c7..c9 ext 8/16/32 (length + type) */
            4, 8,             /* ca float 32, cb float 64 */
            1, 2, 4, 8,       /* cc..cf uint 8..64 */
            1, 2, 4, 8,       /* d0..d3 int 8..64 */
            2, 3, 5, 9, 17,   /* d4..d8 fixext 1..16 */
            1, 2, 4,          /* d9..db str 8/16/32 */
            2, 4,             /* dc, dd array 16/32 */
            2, 4,             /* de, df map 16/32 */
        };
        /* clang-format on */
        if (b == 0xc1) return MPI_TOKE_C1;
        need = hdr[b - 0xc0];
        /* fixext payloads are counted in `need` (type byte + data). */
        if (left < need) return MPI_TOKE_HEADER;
        switch (b) {
        case 0xc0:
            t->t = MPI_TOK_NIL;
            break;
        case 0xc2:
            t->t = MPI_TOK_BOOL;
            t->b = false;
            break;
        case 0xc3:
            t->t = MPI_TOK_BOOL;
            t->b = true;
            break;
        case 0xc4:
            t->t = MPI_TOK_BIN;
            len = p[0];
            break;
        case 0xc5:
            t->t = MPI_TOK_BIN;
            len = mpi_be16(p);
            break;
        case 0xc6:
            t->t = MPI_TOK_BIN;
            len = mpi_be32(p);
            break;
        case 0xc7:
            t->t = MPI_TOK_EXT;
            len = p[0];
            t->ext = (int8_t)p[1];
            break;
        case 0xc8:
            t->t = MPI_TOK_EXT;
            len = mpi_be16(p);
            t->ext = (int8_t)p[2];
            break;
        case 0xc9:
            t->t = MPI_TOK_EXT;
            len = mpi_be32(p);
            t->ext = (int8_t)p[4];
            break;
        case 0xca: {
            uint32_t u = mpi_be32(p);
            float f;
            memcpy(&f, &u, 4);
            t->t = MPI_TOK_FLOAT;
            t->d = f;
            break;
        }
        case 0xcb: {
            uint64_t u = mpi_be64(p);
            t->t = MPI_TOK_FLOAT;
            memcpy(&t->d, &u, 8);
            break;
        }
        case 0xcc:
            t->t = MPI_TOK_UINT;
            t->u = p[0];
            break;
        case 0xcd:
            t->t = MPI_TOK_UINT;
            t->u = mpi_be16(p);
            break;
        case 0xce:
            t->t = MPI_TOK_UINT;
            t->u = mpi_be32(p);
            break;
        case 0xcf:
            t->t = MPI_TOK_UINT;
            t->u = mpi_be64(p);
            break;
        case 0xd0:
            t->t = MPI_TOK_INT;
            t->i = (int8_t)p[0];
            break;
        case 0xd1:
            t->t = MPI_TOK_INT;
            t->i = (int16_t)mpi_be16(p);
            break;
        case 0xd2:
            t->t = MPI_TOK_INT;
            t->i = (int32_t)mpi_be32(p);
            break;
        case 0xd3:
            t->t = MPI_TOK_INT;
            t->i = (int64_t)mpi_be64(p);
            break;
        case 0xd4:
        case 0xd5:
        case 0xd6:
        case 0xd7:
        case 0xd8:
            t->t = MPI_TOK_EXT;
            t->ext = (int8_t)p[0];
            t->n = (uint32_t)(need - 1);
            t->data = p + 1;
            *pp = p + need;
            return MPI_TOKE_OK;
        case 0xd9:
            t->t = MPI_TOK_STR;
            len = p[0];
            break;
        case 0xda:
            t->t = MPI_TOK_STR;
            len = mpi_be16(p);
            break;
        case 0xdb:
            t->t = MPI_TOK_STR;
            len = mpi_be32(p);
            break;
        case 0xdc:
            t->t = MPI_TOK_ARRAY;
            t->n = mpi_be16(p);
            break;
        case 0xdd:
            t->t = MPI_TOK_ARRAY;
            t->n = mpi_be32(p);
            break;
        case 0xde:
            t->t = MPI_TOK_MAP;
            t->n = mpi_be16(p);
            break;
        case 0xdf:
            t->t = MPI_TOK_MAP;
            t->n = mpi_be32(p);
            break;
        default:
            break;
        }
        p += need;
        left -= need;
    }
    if (t->t == MPI_TOK_STR || t->t == MPI_TOK_BIN || t->t == MPI_TOK_EXT) {
        if (len > left) return MPI_TOKE_LENGTH;
        t->n = (uint32_t)len;
        t->data = p;
        p += len;
    } else if (t->t == MPI_TOK_ARRAY || t->t == MPI_TOK_MAP) {
        uint64_t min = (uint64_t)t->n * (t->t == MPI_TOK_MAP ? 2 : 1);
        if (min > left) return MPI_TOKE_COUNT;
    }
    *pp = p;
    return MPI_TOKE_OK;
}

/* Describes why mpi_tok_next refused the token at p (the same p it was
 * given), in a sentence without the offset. */
static inline void
mpi_tok_explain(mpi_tok_error e, const uint8_t *p, const uint8_t *end, char *buf, size_t size)
{
    size_t left = (size_t)(end - p);
    switch (e) {
    case MPI_TOKE_END:
        snprintf(buf, size, "unexpected end of message");
        return;
    case MPI_TOKE_C1:
        snprintf(buf, size, "byte 0xc1 is never used in msgpack");
        return;
    case MPI_TOKE_HEADER:
        snprintf(buf, size, "truncated token header (0x%02x)", p[0]);
        return;
    case MPI_TOKE_LENGTH:
    case MPI_TOKE_COUNT:
        break;
    case MPI_TOKE_OK:
        snprintf(buf, size, "no error");
        return;
    }
    /* Re-read the header alone (it fits: the refusal came later) for the declared size. */
    size_t hdr = 1;
    uint64_t declared = 0;
    uint8_t b = p[0];
    if (b >= 0x80 && b <= 0x8f)
        declared = b & 0x0f;
    else if (b >= 0x90 && b <= 0x9f)
        declared = b & 0x0f;
    else if (b >= 0xa0 && b <= 0xbf)
        declared = b & 0x1f;
    else if (b == 0xc4 || b == 0xc7 || b == 0xd9) {
        declared = p[1];
        hdr = b == 0xc7 ? 3 : 2;
    } else if (b == 0xc5 || b == 0xc8 || b == 0xda || b == 0xdc || b == 0xde) {
        declared = mpi_be16(p + 1);
        hdr = b == 0xc8 ? 4 : 3;
    } else if (b == 0xc6 || b == 0xc9 || b == 0xdb || b == 0xdd || b == 0xdf) {
        declared = mpi_be32(p + 1);
        hdr = b == 0xc9 ? 6 : 5;
    }
    if (e == MPI_TOKE_LENGTH)
        snprintf(buf, size, "declared length %llu exceeds the %zu bytes left", (unsigned long long)declared,
                 left - hdr);
    else
        snprintf(buf, size, "declared count %llu exceeds the %zu bytes left", (unsigned long long)declared, left - hdr);
}

#endif
