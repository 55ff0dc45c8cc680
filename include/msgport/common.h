/* msgport — status codes, error details, allocator hooks, export macro.
 *
 * Included by <msgport.h>; do not include directly. */
#ifndef MSGPORT_COMMON_H
#define MSGPORT_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define MSGPORT_VERSION_MAJOR 0
#define MSGPORT_VERSION_MINOR 1
#define MSGPORT_VERSION_PATCH 0
#define MSGPORT_VERSION ((MSGPORT_VERSION_MAJOR * 10000) + (MSGPORT_VERSION_MINOR * 100) + MSGPORT_VERSION_PATCH)

/* MP_API marks the exported symbols. The library builds with hidden
 * visibility, so only what carries MP_API is part of the ABI. Define
 * MSGPORT_STATIC when linking the static library (the CMake target
 * msgport::msgport_static does); MSGPORT_BUILDING is the library's own. */
#if defined(MSGPORT_STATIC)
#define MP_API
#elif defined(_WIN32)
#ifdef MSGPORT_BUILDING
#define MP_API __declspec(dllexport)
#else
#define MP_API __declspec(dllimport)
#endif
#else
#define MP_API __attribute__((visibility("default")))
#endif

/* Every fallible call returns an mp_status; MP_OK is 0. */
typedef enum mp_status {
    MP_OK = 0,
    MP_ENOMEM,          /* an allocation failed */
    MP_EINVAL,          /* an argument is malformed (NULL where a value is needed, bad flags, bad UTF-8) */
    MP_ETYPE,           /* a value is not of the kind the call needs */
    MP_ERANGE,          /* an index, length, offset or alignment is out of range */
    MP_ENOTFOUND,       /* no such property, element, entry or name */
    MP_EREALM,          /* a value belongs to another realm than the one the call works in */
    MP_EDETACHED,       /* the ArrayBuffer (or the view's buffer) is detached */
    MP_ENOTDETACHABLE,  /* the ArrayBuffer is marked non-detachable */
    MP_EDATACLONE,      /* DataCloneError: the value or the transfer list cannot be cloned */
    MP_EDECODE,         /* malformed message bytes */
    MP_ELIMIT,          /* a decode limit was exceeded */
    MP_EVERSION,        /* unknown wire-format version */
    MP_EMESSAGE,        /* a received message could not be decoded (the standard's messageerror) */
    MP_ECLOSED,         /* the port is closed */
    MP_ENOPEER,         /* the port has no sibling left to deliver to */
    MP_EAGAIN,          /* nothing to receive right now */
    MP_ETIMEDOUT,       /* the wait ran out of time */
    MP_ETHREAD,         /* a thread or a synchronisation object could not be created */
    MP_STATUS_COUNT_    /* not a status: one past the last */
} mp_status;

/* A constant, never-NULL text for any code (unknown codes included).
 * Thread-safe. */
MP_API const char *mp_strerror(mp_status code);

/* Optional error details, filled by the calls that take an mp_error_info *.
 * Pass NULL to skip. On MP_OK the struct is left untouched. */
#define MP_NO_OFFSET ((size_t)-1)
typedef struct mp_error_info {
    mp_status code;     /* same as the returned status */
    size_t offset;      /* byte offset into the input for decode errors, else MP_NO_OFFSET */
    char path[192];     /* where in the value graph, e.g. "root.items[3].handle"; "" if n/a */
    char detail[256];   /* what went wrong, human-readable; "" if nothing beyond mp_strerror */
} mp_error_info;

/* Allocator hooks (yyjson's shape). NULL wherever an allocator is taken
 * means libc, and so does an allocator with any of the three hooks NULL;
 * the struct is copied. Byte stores (ArrayBuffer data) keep the allocator
 * they were made with and may be freed on another thread, after the realm
 * that made them is gone: the hooks must therefore be thread-safe and must
 * outlive every store allocated through them. `realloc` gets the old
 * size. */
typedef struct mp_allocator {
    void *ctx;
    void *(*malloc)(void *ctx, size_t size);
    void *(*realloc)(void *ctx, void *ptr, size_t old_size, size_t size);
    void (*free)(void *ctx, void *ptr);
} mp_allocator;

#ifdef __cplusplus
}
#endif
#endif
