/* Embedding vectors in C, bit for bit what fastmock.embeddings computes in Python.
 *
 * embeddings.embedding(key, dims) seeds CPython's Mersenne Twister (_random.Random)
 * with two CRC-32s of the key, draws dims doubles in [-1, 1), scales them to unit
 * length with sum(v * v) ** 0.5 and stores them as float32; the answer shows each as
 * b"%.9g" % x or as base64 of the little-endian float32 bytes. Each step below is the
 * same arithmetic, in the same order:
 *
 * - CRC-32: zlib's (binascii.crc32), table driven.
 * - MT19937: CPython's Modules/_randommodule.c (init_by_array with the seed's 32-bit
 *   words, least significant first, as random_seed() passes an int; genrand_res53).
 * - sum(): CPython 3.12 made sum() of floats compensated (Neumaier); 3.10 and 3.11 add
 *   plainly. Both are here, chosen by the Python this is compiled for.
 * - %.9g: the float32 value times a power of ten, exactly, in 64-bit integers, rounded
 *   half to even like CPython's dtoa; what that cannot hold exactly (|x| < 1e-8 or
 *   >= 1e8, never seen in a unit vector but possible) goes to PyOS_double_to_string.
 *
 * Compiled with -ffp-contract=off: a fused multiply-add (v * v + s) would round once
 * where Python rounds twice.
 */
#ifndef FASTMOCK_VECTORS_H
#define FASTMOCK_VECTORS_H

#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

/* These loops run thousands of times per answer, and are about twice as fast at -O3 as at
 * the extension's -O2 or -Os (the twist and the tempering vectorise). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("O3")
#endif

/* -- CRC-32 ----------------------------------------------------------------------- */

static uint32_t fm_crc_table[256];

/* binascii.crc32(data, start) */
static uint32_t fm_crc32(const unsigned char *data, Py_ssize_t n, uint32_t start) {
    uint32_t c = ~start;
    for (Py_ssize_t i = 0; i < n; i++)
        c = fm_crc_table[(c ^ data[i]) & 0xFF] ^ (c >> 8);
    return ~c;
}

/* -- MT19937 (CPython's _randommodule.c) ------------------------------------------ */

#define FM_MT_N 624
#define FM_MT_M 397

typedef struct {
    uint32_t state[FM_MT_N];
    int index;
} fm_mt;

/* init_genrand(19650218): where init_by_array starts for every seed, computed once. */
static uint32_t fm_mt_base[FM_MT_N];

/* random.Random(seed) for 0 <= seed < 2**64: init_by_array(), its loops unrolled around
 * their wrap-around, each step's input kept in a register (one long dependency chain). */
static void fm_mt_seed(fm_mt *self, uint64_t seed) {
    uint32_t *mt = self->state, prev, add[2];
    int mask, step = 0, i;
    /* key[j] + j for j = step % key_length; the int needs one 32-bit word or two */
    if (seed >> 32) {
        add[0] = (uint32_t)seed;
        add[1] = (uint32_t)(seed >> 32) + 1U;
        mask = 1;
    } else {
        add[0] = add[1] = (uint32_t)seed;
        mask = 0;
    }
    memcpy(mt, fm_mt_base, sizeof(fm_mt_base));
    prev = mt[0];
    for (i = 1; i < FM_MT_N; i++, step++)
        mt[i] = prev = (mt[i] ^ ((prev ^ (prev >> 30)) * 1664525U)) + add[step & mask];
    mt[0] = prev;
    mt[1] = prev = (mt[1] ^ ((prev ^ (prev >> 30)) * 1664525U)) + add[step & mask];
    for (i = 2; i < FM_MT_N; i++)
        mt[i] = prev = (mt[i] ^ ((prev ^ (prev >> 30)) * 1566083941U)) - (uint32_t)i;
    mt[0] = prev;
    mt[1] = (mt[1] ^ ((prev ^ (prev >> 30)) * 1566083941U)) - 1U;
    mt[0] = 0x80000000U;
    self->index = FM_MT_N;
}

static void fm_mt_twist(fm_mt *self) {
    /* the reference code's mag01[y & 1], without the table: the loops vectorise */
    uint32_t *mt = self->state, y;
    int kk;
    for (kk = 0; kk < FM_MT_N - FM_MT_M; kk++) {
        y = (mt[kk] & 0x80000000U) | (mt[kk + 1] & 0x7fffffffU);
        mt[kk] = mt[kk + FM_MT_M] ^ (y >> 1) ^ (-(y & 1U) & 0x9908b0dfU);
    }
    for (; kk < FM_MT_N - 1; kk++) {
        y = (mt[kk] & 0x80000000U) | (mt[kk + 1] & 0x7fffffffU);
        mt[kk] = mt[kk + (FM_MT_M - FM_MT_N)] ^ (y >> 1) ^ (-(y & 1U) & 0x9908b0dfU);
    }
    y = (mt[FM_MT_N - 1] & 0x80000000U) | (mt[0] & 0x7fffffffU);
    mt[FM_MT_N - 1] = mt[FM_MT_M - 1] ^ (y >> 1) ^ (-(y & 1U) & 0x9908b0dfU);
    self->index = 0;
}

/* The next n outputs of genrand_uint32(), into out. */
static void fm_mt_words(fm_mt *self, uint32_t *out, Py_ssize_t n) {
    while (n > 0) {
        Py_ssize_t take;
        const uint32_t *mt;
        if (self->index >= FM_MT_N)
            fm_mt_twist(self);
        take = FM_MT_N - self->index;
        if (take > n)
            take = n;
        mt = self->state + self->index;
        for (Py_ssize_t i = 0; i < take; i++) {
            uint32_t y = mt[i];
            y ^= (y >> 11);
            y ^= (y << 7) & 0x9d2c5680U;
            y ^= (y << 15) & 0xefc60000U;
            y ^= (y >> 18);
            out[i] = y;
        }
        self->index += (int)take;
        out += take;
        n -= take;
    }
}

/* -- the unit vector ------------------------------------------------------------- */

/* sum(v * v for v in values), as the builtin adds floats (the first term starts it). */
static double fm_sum_squares(const double *v, Py_ssize_t n) {
    double f = v[0] * v[0];
#if PY_VERSION_HEX >= 0x030C0000
    double c = 0.0;
    for (Py_ssize_t i = 1; i < n; i++) {
        double x = v[i] * v[i];
        double t = f + x;
        if (fabs(f) >= fabs(x))
            c += (f - t) + x;
        else
            c += (x - t) + f;
        f = t;
    }
    if (c && isfinite(c))
        f += c;
#else
    for (Py_ssize_t i = 1; i < n; i++)
        f += v[i] * v[i];
#endif
    return f;
}

/* embeddings.embedding(key, dims) into out[0:dims]; work holds dims doubles and words
 * 2 * dims uint32s. */
static void fm_embedding(const unsigned char *key, Py_ssize_t size, Py_ssize_t dims,
                         float *out, double *work, uint32_t *words, fm_mt *mt) {
    uint64_t seed = ((uint64_t)fm_crc32(key, size, 0) << 32) | fm_crc32(key, size, 0x9E3779B9U);
    double norm, scale;
    fm_mt_seed(mt, seed);
    fm_mt_words(mt, words, 2 * dims);
    for (Py_ssize_t i = 0; i < dims; i++) {
        /* random() * 2.0 - 1.0, every step of which is exact: (a * 2**26 + b) / 2**52 - 1 */
        int64_t k = ((int64_t)(words[2 * i] >> 5) << 26) | (words[2 * i + 1] >> 6);
        work[i] = (double)(k - (1LL << 52)) * (1.0 / 4503599627370496.0);
    }
    norm = fm_sum_squares(work, dims);
    norm = norm == 0.0 ? 0.0 : pow(norm, 0.5);  /* float.__pow__ answers 0.0 ** 0.5 itself */
    scale = 1.0 / (norm != 0.0 ? norm : 1.0);
    for (Py_ssize_t i = 0; i < dims; i++)
        out[i] = (float)(work[i] * scale);
}

/* -- b"%.9g" % x for a float32 x ---------------------------------------------------- */

static const char fm_digit_pairs[201] =
    "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
    "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
    "8081828384858687888990919293949596979899";

static const uint64_t fm_pow5[17] = {
    1ULL, 5ULL, 25ULL, 125ULL, 625ULL, 3125ULL, 15625ULL, 78125ULL, 390625ULL,
    1953125ULL, 9765625ULL, 48828125ULL, 244140625ULL, 1220703125ULL, 6103515625ULL,
    30517578125ULL, 152587890625ULL};

/* floor(log10(2 ** (e - 127))) for a float32's biased exponent e: for |x| in that binade,
 * floor(log10 |x|) is this or one more. */
static const signed char fm_log10_pow2[256] = {
    0, -38, -38, -38, -38, -37, -37, -37, -36, -36, -36, -35, -35, -35, -35, -34,
    -34, -34, -33, -33, -33, -32, -32, -32, -32, -31, -31, -31, -30, -30, -30, -29,
    -29, -29, -28, -28, -28, -28, -27, -27, -27, -26, -26, -26, -25, -25, -25, -25,
    -24, -24, -24, -23, -23, -23, -22, -22, -22, -22, -21, -21, -21, -20, -20, -20,
    -19, -19, -19, -19, -18, -18, -18, -17, -17, -17, -16, -16, -16, -16, -15, -15,
    -15, -14, -14, -14, -13, -13, -13, -13, -12, -12, -12, -11, -11, -11, -10, -10,
    -10, -10, -9, -9, -9, -8, -8, -8, -7, -7, -7, -7, -6, -6, -6, -5,
    -5, -5, -4, -4, -4, -4, -3, -3, -3, -2, -2, -2, -1, -1, -1, 0,
    0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4,
    5, 5, 5, 6, 6, 6, 6, 7, 7, 7, 8, 8, 8, 9, 9, 9,
    9, 10, 10, 10, 11, 11, 11, 12, 12, 12, 12, 13, 13, 13, 14, 14,
    14, 15, 15, 15, 15, 16, 16, 16, 17, 17, 17, 18, 18, 18, 18, 19,
    19, 19, 20, 20, 20, 21, 21, 21, 21, 22, 22, 22, 23, 23, 23, 24,
    24, 24, 24, 25, 25, 25, 26, 26, 26, 27, 27, 27, 27, 28, 28, 28,
    29, 29, 29, 30, 30, 30, 31, 31, 31, 31, 32, 32, 32, 33, 33, 33,
    34, 34, 34, 34, 35, 35, 35, 36, 36, 36, 37, 37, 37, 37, 38, 0,
};

/* The slow and always right way: CPython's own formatting. Returns the length. */
static int fm_g9_python(double x, char *out) {
    char *s = PyOS_double_to_string(x, 'g', 9, 0, NULL);
    int n;
    if (s == NULL) {             /* out of memory: what %g cannot fail to give */
        PyErr_Clear();
        out[0] = '0';
        return 1;
    }
    n = (int)strlen(s);
    memcpy(out, s, (size_t)n);
    PyMem_Free(s);
    return n;
}

/* q (nine digits) as ASCII at out[0:9]. */
static inline void fm_nine_digits(char *out, uint32_t q) {
    uint32_t first = q / 100000000U, rest = q - first * 100000000U;
    uint32_t high = rest / 10000U, low = rest - high * 10000U;
    out[0] = (char)('0' + first);
    memcpy(out + 1, fm_digit_pairs + 2 * (high / 100U), 2);
    memcpy(out + 3, fm_digit_pairs + 2 * (high % 100U), 2);
    memcpy(out + 5, fm_digit_pairs + 2 * (low / 100U), 2);
    memcpy(out + 7, fm_digit_pairs + 2 * (low % 100U), 2);
}

/* Writes b"%.9g" % x into out, which has room for 32 bytes; returns the length. */
static inline __attribute__((always_inline)) int fm_g9(float value, char *out) {
    uint32_t bits, exponent, q;
    uint64_t m, scaled, rem, half;
    int e2, k, p, shift, n, pos = 0;
    char digits[16];
    memcpy(&bits, &value, 4);
    exponent = (bits >> 23) & 0xFF;
    if ((bits & 0x7fffffffU) == 0) {                        /* "0", "-0" */
        if (bits)
            out[pos++] = '-';
        out[pos++] = '0';
        return pos;
    }
    if (exponent == 0 || exponent == 0xFF)
        return fm_g9_python((double)value, out);           /* subnormal, inf, nan */
    /* |x| = m * 2**e2, and |x| * 10**p = m * 5**p / 2**shift: nine digits before the point */
    m = (bits & 0x7fffffU) | 0x800000U;
    e2 = (int)exponent - 150;
    k = fm_log10_pow2[exponent];
    p = 8 - k;
    shift = -e2 - p;
    if (p < 1 || p > 16 || shift <= 1 || shift >= 63)
        return fm_g9_python((double)value, out);           /* |x| < 1e-8 or >= 1e8 */
    scaled = m * fm_pow5[p];                                /* < 2**24 * 5**16 < 2**62 */
    {   /* k was one too small (no branch: which way it goes is anyone's guess) */
        int more = (scaled >> shift) >= 1000000000ULL;
        k += more;
        p -= more;
        shift += more;
        scaled = m * fm_pow5[p];
    }
    /* round half to even, as CPython's dtoa does */
    rem = scaled & ((1ULL << shift) - 1);
    half = 1ULL << (shift - 1);
    q = (uint32_t)(scaled >> shift);
    q += (rem > half) | ((rem == half) & (q & 1U));
    if (q == 1000000000U) {
        q = 100000000U;
        k++;
    }
    n = 9;                                                  /* %g drops trailing zeros */
    if (q % 10U == 0) {
        uint32_t t = q;
        while (t % 10U == 0) {
            t /= 10U;
            n--;
        }
    }
    out[0] = '-';
    pos = (int)(bits >> 31);
    if (k < 0 && k >= -4) {                                 /* 0.000ddd: the common case */
        memcpy(out + pos, "0.000000", 8);
        pos += 1 - k;                                       /* "0." and -k - 1 zeros */
        fm_nine_digits(out + pos, q);
        return pos + n;
    }
    fm_nine_digits(digits, q);
    if (k >= 0 && k < 9) {                                  /* ddd.ddd */
        int point = k + 1;
        if (n <= point) {
            memcpy(out + pos, digits, 9);
            return pos + point;
        }
        memcpy(out + pos, digits, (size_t)point);
        out[pos + point] = '.';
        memcpy(out + pos + point + 1, digits + point, (size_t)(9 - point));
        return pos + n + 1;
    }
    out[pos++] = digits[0];                                 /* d.ddde-XX */
    if (n > 1) {
        out[pos++] = '.';
        memcpy(out + pos, digits + 1, 8);
        pos += n - 1;
    }
    out[pos++] = 'e';
    out[pos++] = k < 0 ? '-' : '+';
    if (k < 0)
        k = -k;
    memcpy(out + pos, fm_digit_pairs + 2 * k, 2);          /* |k| <= 9 here */
    return pos + 2;
}

/* -- b"%.9g" % x for every x of a float32 vector ------------------------------------------- */

/* Per biased exponent e: the mantissa (with its hidden bit) from which floor(log10 |x|) is one
 * more than fm_log10_pow2[e] (2**24: never), and whether the exact 64-bit way applies to the
 * whole binade (1e-8 <= |x| < 1e8, with room for the rounding bits). */
static const uint32_t fm_k_threshold[256] = {
    0x1000000, 0x1000000, 0x1000000, 0x1000000, 0x0881ceb, 0x1000000, 0x1000000, 0x0aa2425,
    0x1000000, 0x1000000, 0x0d4ad2e, 0x1000000, 0x1000000, 0x1000000, 0x084ec3d, 0x1000000,
    0x1000000, 0x0a6274c, 0x1000000, 0x1000000, 0x0cfb11f, 0x1000000, 0x1000000, 0x1000000,
    0x081ceb4, 0x1000000, 0x1000000, 0x0a24260, 0x1000000, 0x1000000, 0x0cad2f8, 0x1000000,
    0x1000000, 0x0fd87b6, 0x1000000, 0x1000000, 0x1000000, 0x09e74d2, 0x1000000, 0x1000000,
    0x0c61207, 0x1000000, 0x1000000, 0x0f79688, 0x1000000, 0x1000000, 0x1000000, 0x09abe15,
    0x1000000, 0x1000000, 0x0c16d9b, 0x1000000, 0x1000000, 0x0f1c901, 0x1000000, 0x1000000,
    0x1000000, 0x0971da1, 0x1000000, 0x1000000, 0x0bce509, 0x1000000, 0x1000000, 0x0ec1e4b,
    0x1000000, 0x1000000, 0x1000000, 0x09392ef, 0x1000000, 0x1000000, 0x0b877ab, 0x1000000,
    0x1000000, 0x0e69595, 0x1000000, 0x1000000, 0x1000000, 0x0901d7d, 0x1000000, 0x1000000,
    0x0b424dd, 0x1000000, 0x1000000, 0x0e12e14, 0x1000000, 0x1000000, 0x1000000, 0x08cbccd,
    0x1000000, 0x1000000, 0x0afec00, 0x1000000, 0x1000000, 0x0dbe6ff, 0x1000000, 0x1000000,
    0x1000000, 0x0897060, 0x1000000, 0x1000000, 0x0abcc78, 0x1000000, 0x1000000, 0x0d6bf95,
    0x1000000, 0x1000000, 0x1000000, 0x08637be, 0x1000000, 0x1000000, 0x0a7c5ad, 0x1000000,
    0x1000000, 0x0d1b718, 0x1000000, 0x1000000, 0x1000000, 0x083126f, 0x1000000, 0x1000000,
    0x0a3d70b, 0x1000000, 0x1000000, 0x0cccccd, 0x1000000, 0x1000000, 0x1000000, 0x1000000,
    0x1000000, 0x1000000, 0x0a00000, 0x1000000, 0x1000000, 0x0c80000, 0x1000000, 0x1000000,
    0x0fa0000, 0x1000000, 0x1000000, 0x1000000, 0x09c4000, 0x1000000, 0x1000000, 0x0c35000,
    0x1000000, 0x1000000, 0x0f42400, 0x1000000, 0x1000000, 0x1000000, 0x0989680, 0x1000000,
    0x1000000, 0x0bebc20, 0x1000000, 0x1000000, 0x0ee6b28, 0x1000000, 0x1000000, 0x1000000,
    0x09502f9, 0x1000000, 0x1000000, 0x0ba43b8, 0x1000000, 0x1000000, 0x0e8d4a6, 0x1000000,
    0x1000000, 0x1000000, 0x09184e8, 0x1000000, 0x1000000, 0x0b5e621, 0x1000000, 0x1000000,
    0x0e35faa, 0x1000000, 0x1000000, 0x1000000, 0x08e1bca, 0x1000000, 0x1000000, 0x0b1a2bd,
    0x1000000, 0x1000000, 0x0de0b6c, 0x1000000, 0x1000000, 0x1000000, 0x08ac724, 0x1000000,
    0x1000000, 0x0ad78ec, 0x1000000, 0x1000000, 0x0d8d727, 0x1000000, 0x1000000, 0x1000000,
    0x0878679, 0x1000000, 0x1000000, 0x0a96817, 0x1000000, 0x1000000, 0x0d3c21c, 0x1000000,
    0x1000000, 0x1000000, 0x0845952, 0x1000000, 0x1000000, 0x0a56fa6, 0x1000000, 0x1000000,
    0x0cecb90, 0x1000000, 0x1000000, 0x1000000, 0x0813f3a, 0x1000000, 0x1000000, 0x0a18f08,
    0x1000000, 0x1000000, 0x0c9f2ca, 0x1000000, 0x1000000, 0x0fc6f7d, 0x1000000, 0x1000000,
    0x1000000, 0x09dc5ae, 0x1000000, 0x1000000, 0x0c5371a, 0x1000000, 0x1000000, 0x0f684e0,
    0x1000000, 0x1000000, 0x1000000, 0x09a130c, 0x1000000, 0x1000000, 0x0c097cf, 0x1000000,
    0x1000000, 0x0f0bdc3, 0x1000000, 0x1000000, 0x1000000, 0x096769a, 0x1000000, 0x1000000,
};
static const unsigned char fm_exact_binade[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
};
static char fm_triples[1000][4];            /* "000" to "999" (and a spare byte) */
static unsigned char fm_triple_zeros[1000]; /* the trailing zeros of each */

/* "[x0,x1,...]" with each number as b"%.9g"; out has room for 25 * n + 16 bytes; q and k are
 * scratch for n numbers. In two passes: the nine digits and the exponent of every number
 * (independent of each other, so the processor overlaps them), then the text. */
static Py_ssize_t fm_float_array(const float *restrict values, Py_ssize_t n,
                                 char *restrict out, uint32_t *restrict q,
                                 signed char *restrict k) {
    char *o = out;
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t bits, exponent, m, digits;
        uint64_t scaled;
        int e10, p, shift;
        memcpy(&bits, values + i, 4);
        exponent = (bits >> 23) & 0xFF;
        m = (bits & 0x7fffffU) | 0x800000U;
        e10 = fm_log10_pow2[exponent] + (m >= fm_k_threshold[exponent]);
        if (!fm_exact_binade[exponent]) {
            k[i] = 127;                                     /* fm_g9 below */
            continue;
        }
        /* |x| * 10**p = m * 5**p / 2**shift, rounded half to even */
        p = 8 - e10;
        shift = 150 - (int)exponent - p;
        scaled = (uint64_t)m * fm_pow5[p];
        scaled += (1ULL << (shift - 1)) - 1 + ((scaled >> shift) & 1);
        digits = (uint32_t)(scaled >> shift);
        if (digits == 1000000000U) {                        /* 999999999.5 and up */
            digits = 100000000U;
            e10++;
        }
        q[i] = digits;
        k[i] = (signed char)e10;
    }
    *o++ = '[';
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t bits, a, b, c, r;
        int pos;
        memcpy(&bits, values + i, 4);
        if (k[i] < -4 || k[i] > -1) {
            o += fm_g9(values[i], o);                       /* rare: not 0.000ddd */
            *o++ = ',';
            continue;
        }
        o[0] = '-';
        pos = (int)(bits >> 31);
        memcpy(o + pos, "0.000000", 8);
        pos += 1 - k[i];                                    /* "0." and -k - 1 zeros */
        a = q[i] / 1000000U;
        r = q[i] - a * 1000000U;
        b = r / 1000U;
        c = r - b * 1000U;
        memcpy(o + pos, fm_triples[a], 4);
        memcpy(o + pos + 3, fm_triples[b], 4);
        memcpy(o + pos + 6, fm_triples[c], 4);
        /* %g drops trailing zeros (a >= 100: never all of them) */
        pos += c ? 9 - fm_triple_zeros[c] : b ? 6 - fm_triple_zeros[b] : 3 - fm_triple_zeros[a];
        o += pos;
        *o++ = ',';
    }
    if (n)
        o--;
    *o++ = ']';
    return o - out;
}

/* -- base64 (binascii.b2a_base64, no newline) ---------------------------------------- */

static const char fm_b64[65] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static char fm_b64_pairs[4096][2];          /* 12 bits -> two characters */

/* Writes the base64 of data[0:n] into out (4 * ceil(n / 3) bytes); returns the length. */
static Py_ssize_t fm_base64(const unsigned char *data, Py_ssize_t n, char *out) {
    Py_ssize_t i = 0, pos = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = ((uint32_t)data[i] << 16) | ((uint32_t)data[i + 1] << 8) | data[i + 2];
        memcpy(out + pos, fm_b64_pairs[v >> 12], 2);
        memcpy(out + pos + 2, fm_b64_pairs[v & 4095], 2);
        pos += 4;
    }
    if (i < n) {
        uint32_t v = (uint32_t)data[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)data[i + 1] << 8;
        out[pos] = fm_b64[v >> 18];
        out[pos + 1] = fm_b64[(v >> 12) & 63];
        out[pos + 2] = i + 1 < n ? fm_b64[(v >> 6) & 63] : '=';
        out[pos + 3] = '=';
        pos += 4;
    }
    return pos;
}

/* The float32 values as little-endian bytes (the array's bytes after byteswap()). */
static void fm_float32_le(const float *values, Py_ssize_t n, unsigned char *out) {
#if PY_LITTLE_ENDIAN
    memcpy(out, values, (size_t)(4 * n));
#else
    for (Py_ssize_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, values + i, 4);
        out[4 * i] = (unsigned char)bits;
        out[4 * i + 1] = (unsigned char)(bits >> 8);
        out[4 * i + 2] = (unsigned char)(bits >> 16);
        out[4 * i + 3] = (unsigned char)(bits >> 24);
    }
#endif
}

/* -- the tables, made once ------------------------------------------------------------ */

static void fm_vectors_init(void) {
    uint32_t *mt = fm_mt_base;
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320U ^ (c >> 1) : c >> 1;
        fm_crc_table[i] = c;
    }
    mt[0] = 19650218U;
    for (int i = 1; i < FM_MT_N; i++)
        mt[i] = 1812433253U * (mt[i - 1] ^ (mt[i - 1] >> 30)) + (uint32_t)i;
    for (int i = 0; i < 4096; i++) {
        fm_b64_pairs[i][0] = fm_b64[i >> 6];
        fm_b64_pairs[i][1] = fm_b64[i & 63];
    }
    for (int i = 0; i < 1000; i++) {
        fm_triples[i][0] = (char)('0' + i / 100);
        fm_triples[i][1] = (char)('0' + i / 10 % 10);
        fm_triples[i][2] = (char)('0' + i % 10);
        fm_triple_zeros[i] = i % 10 ? 0 : i % 100 ? 1 : i ? 2 : 3;
    }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

#endif
