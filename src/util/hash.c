/* Keyed hashing for the hash tables that hostile input can fill (Map/Set
 * keys, property names): SipHash-1-3 under a key drawn once per process
 * from the kernel. An unkeyed or invertible hash lets a crafted message
 * put every key in one probe chain and make decoding quadratic. */
#include <sys/random.h>
#include <time.h>

#include "../internal.h"

static uint64_t hash_key[2];
static pthread_once_t hash_key_once = PTHREAD_ONCE_INIT;

static uint64_t
splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void
hash_key_init(void)
{
    if (getrandom(hash_key, sizeof hash_key, GRND_NONBLOCK) == (ssize_t)sizeof hash_key) return;
    /* No entropy yet (early boot): fall back to what varies per process. */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    uint64_t x =
        (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)(uintptr_t)&ts ^ (uint64_t)(uintptr_t)&hash_key;
    hash_key[0] = splitmix64(&x);
    hash_key[1] = splitmix64(&x);
}

#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                                                       \
    do {                                                                                                               \
        v0 += v1;                                                                                                      \
        v1 = ROTL(v1, 13);                                                                                             \
        v1 ^= v0;                                                                                                      \
        v0 = ROTL(v0, 32);                                                                                             \
        v2 += v3;                                                                                                      \
        v3 = ROTL(v3, 16);                                                                                             \
        v3 ^= v2;                                                                                                      \
        v0 += v3;                                                                                                      \
        v3 = ROTL(v3, 21);                                                                                             \
        v3 ^= v0;                                                                                                      \
        v2 += v1;                                                                                                      \
        v1 = ROTL(v1, 17);                                                                                             \
        v1 ^= v2;                                                                                                      \
        v2 = ROTL(v2, 32);                                                                                             \
    } while (0)

typedef struct sip {
    uint64_t v0, v1, v2, v3;
} sip;

static inline sip
sip_start(void)
{
    pthread_once(&hash_key_once, hash_key_init);
    sip s = {hash_key[0] ^ 0x736f6d6570736575ull, hash_key[1] ^ 0x646f72616e646f6dull,
             hash_key[0] ^ 0x6c7967656e657261ull, hash_key[1] ^ 0x7465646279746573ull};
    return s;
}

static inline void
sip_word(sip *s, uint64_t m)
{
    uint64_t v0 = s->v0, v1 = s->v1, v2 = s->v2, v3 = s->v3;
    v3 ^= m;
    SIPROUND;
    v0 ^= m;
    s->v0 = v0, s->v1 = v1, s->v2 = v2, s->v3 = v3;
}

/* tail: the last 0..7 message bytes, packed little-endian; len: all bytes. */
static inline uint32_t
sip_finish(sip *s, uint64_t tail, uint64_t len)
{
    sip_word(s, tail | (len << 56));
    uint64_t v0 = s->v0, v1 = s->v1, v2 = s->v2, v3 = s->v3;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    uint64_t h = v0 ^ v1 ^ v2 ^ v3;
    return (uint32_t)(h ^ (h >> 32));
}

uint32_t
mpi_hash_u64(uint64_t x)
{
    sip s = sip_start();
    sip_word(&s, x);
    return sip_finish(&s, 0, 8);
}

uint32_t
mpi_hash_words(uint64_t seed, const uint64_t *words, size_t n)
{
    sip s = sip_start();
    sip_word(&s, seed);
    for (size_t i = 0; i < n; i++)
        sip_word(&s, words[i]);
    return sip_finish(&s, 0, (uint64_t)(n + 1) * 8);
}

/* The message is the string's Latin-1 bytes when every unit fits in a
 * byte (eight per word), else its UTF-16 code units little-endian (four per
 * word). A wide string whose units all fit a byte hashes as the narrow one
 * with those bytes, so equal strings hash alike however they are stored. */
static uint32_t
hash_bytes(const uint8_t *p, size_t n)
{
    sip s = sip_start();
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const uint8_t *q = p + i; /* little-endian, which compilers make one load */
        sip_word(&s, (uint64_t)q[0] | (uint64_t)q[1] << 8 | (uint64_t)q[2] << 16 | (uint64_t)q[3] << 24 |
                         (uint64_t)q[4] << 32 | (uint64_t)q[5] << 40 | (uint64_t)q[6] << 48 | (uint64_t)q[7] << 56);
    }
    uint64_t tail = 0;
    for (unsigned k = 0; i < n; i++, k++)
        tail |= (uint64_t)p[i] << (8 * k);
    return sip_finish(&s, tail, (uint64_t)n);
}

uint32_t
mpi_hash_units(const uint8_t *narrow, const uint16_t *wide, size_t n)
{
    if (narrow) return hash_bytes(narrow, n);
    bool fits = true;
    for (size_t i = 0; i < n && fits; i++)
        fits = wide[i] <= 0xff;
    sip s = sip_start();
    size_t i = 0;
    if (fits) {
        for (; i + 8 <= n; i += 8) {
            uint64_t m = 0;
            for (unsigned k = 0; k < 8; k++)
                m |= (uint64_t)wide[i + k] << (8 * k);
            sip_word(&s, m);
        }
        uint64_t tail = 0;
        for (unsigned k = 0; i < n; i++, k++)
            tail |= (uint64_t)wide[i] << (8 * k);
        return sip_finish(&s, tail, (uint64_t)n);
    }
    for (; i + 4 <= n; i += 4)
        sip_word(&s, (uint64_t)wide[i] | (uint64_t)wide[i + 1] << 16 | (uint64_t)wide[i + 2] << 32 |
                         (uint64_t)wide[i + 3] << 48);
    uint64_t tail = 0;
    for (unsigned k = 0; i < n; i++, k++)
        tail |= (uint64_t)wide[i] << (16 * k);
    return sip_finish(&s, tail, (uint64_t)n * 2);
}
