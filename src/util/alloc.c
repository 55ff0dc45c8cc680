/* Allocator defaults and error reporting helpers. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "../internal.h"

static void *
libc_malloc(void *ctx, size_t n)
{
    (void)ctx;
    return malloc(n);
}

static void *
libc_realloc(void *ctx, void *p, size_t old_n, size_t n)
{
    (void)ctx;
    (void)old_n;
    return realloc(p, n);
}

static void
libc_free(void *ctx, void *p)
{
    (void)ctx;
    free(p);
}

const mp_allocator mpi_libc_allocator = {NULL, libc_malloc, libc_realloc, libc_free};

const mp_allocator *
mpi_allocator_or_default(const mp_allocator *alc)
{
    if (alc && alc->malloc && alc->realloc && alc->free) return alc;
    return &mpi_libc_allocator;
}

mp_status
mpi_vfail(mp_error_info *info, mp_status code, size_t offset, const char *path, const char *fmt, va_list ap)
{
    if (!info) return code;
    info->code = code;
    info->offset = offset;
    snprintf(info->path, sizeof info->path, "%s", path ? path : "");
    info->detail[0] = '\0';
    if (fmt) vsnprintf(info->detail, sizeof info->detail, fmt, ap);
    return code;
}

mp_status
mpi_fail(mp_error_info *info, mp_status code, size_t offset, const char *path, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    mpi_vfail(info, code, offset, path, fmt, ap);
    va_end(ap);
    return code;
}

static const char *const status_texts[MP_STATUS_COUNT_] = {
    [MP_OK] = "success",
    [MP_ENOMEM] = "out of memory",
    [MP_EINVAL] = "invalid argument",
    [MP_ETYPE] = "value is not of the required kind",
    [MP_ERANGE] = "index, length or offset out of range",
    [MP_ENOTFOUND] = "not found",
    [MP_EREALM] = "value belongs to another realm",
    [MP_EDETACHED] = "ArrayBuffer is detached",
    [MP_ENOTDETACHABLE] = "ArrayBuffer is not detachable",
    [MP_EDATACLONE] = "value could not be cloned (DataCloneError)",
    [MP_EDECODE] = "malformed message",
    [MP_ELIMIT] = "decode limit exceeded",
    [MP_EVERSION] = "unsupported message format version",
    [MP_EMESSAGE] = "message could not be deserialized (messageerror)",
    [MP_ECLOSED] = "port is closed",
    [MP_ENOPEER] = "port has no peer to deliver to",
    [MP_EAGAIN] = "no message available",
    [MP_ETIMEDOUT] = "timed out",
    [MP_ETHREAD] = "thread could not be created",
};

const char *
mp_strerror(mp_status code)
{
    if ((unsigned)code >= MP_STATUS_COUNT_) return "unknown status code";
    return status_texts[code];
}
