// Inner-product kernels. A scan is bound by memory bandwidth: the AVX2 versions keep four
// independent FMA accumulators so the loads, not the arithmetic, set the pace.

#include "CFaceKernels.h"

#include <cpuid.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

// MARK: CPU detection

static int detect_avx2_fma(void) {
    unsigned int eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx)) return 0;
    const int fma = (ecx >> 12) & 1, osxsave = (ecx >> 27) & 1, avx = (ecx >> 28) & 1;
    if (!(fma && osxsave && avx)) return 0;
    // The OS must save the YMM registers across context switches (XCR0 bits 1 and 2).
    unsigned int xcr0_low, xcr0_high;
    __asm__ volatile("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & 6) != 6) return 0;
    if (!__get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx)) return 0;
    const int avx2 = (ebx >> 5) & 1;
    // ENFACE_KERNEL=portable forces the portable kernels (to test or compare them).
    const char *forced = getenv("ENFACE_KERNEL");
    if (forced && forced[0] == 'p') return 0;
    return avx2;
}

static int avx2_fma_state = -1;  // -1: not yet known; a racy first call computes the same value

int fk_has_avx2_fma(void) {
    int state = __atomic_load_n(&avx2_fma_state, __ATOMIC_RELAXED);
    if (state < 0) {
        state = detect_avx2_fma();
        __atomic_store_n(&avx2_fma_state, state, __ATOMIC_RELAXED);
    }
    return state;
}

const char *fk_kernel_name(void) { return fk_has_avx2_fma() ? "avx2-fma" : "portable"; }

// MARK: Portable kernels
// Eight separate partial sums: the compiler vectorises this without reassociating a single sum.

void fk_dot_rows_f32_portable(const float *rows, size_t count, size_t dimension, const float *query, float *scores) {
    for (size_t r = 0; r < count; r++) {
        const float *x = rows + r * dimension;
        float partial[8] = {0, 0, 0, 0, 0, 0, 0, 0};
        size_t i = 0;
        for (; i + 8 <= dimension; i += 8)
            for (size_t lane = 0; lane < 8; lane++) partial[lane] += x[i + lane] * query[i + lane];
        float sum = ((partial[0] + partial[1]) + (partial[2] + partial[3])) +
                    ((partial[4] + partial[5]) + (partial[6] + partial[7]));
        for (; i < dimension; i++) sum += x[i] * query[i];
        scores[r] = sum;
    }
}

void fk_dot_rows_i8_portable(const int8_t *codes, size_t count, size_t dimension, const int8_t *query, int32_t *dots) {
    for (size_t r = 0; r < count; r++) {
        const int8_t *x = codes + r * dimension;
        int32_t sum = 0;
        for (size_t i = 0; i < dimension; i++) sum += (int32_t)x[i] * (int32_t)query[i];
        dots[r] = sum;
    }
}

// MARK: Quantisation

// One body, compiled twice: for baseline x86-64 and, where the CPU has it, with AVX2 (twice the
// lanes; no FMA, which would round `vector[i] * inverse + round_to_integer` once instead of twice
// and change codes).
static inline __attribute__((always_inline)) void quantize_i8(
    const float *vector, size_t dimension, int8_t *codes, float *scale, float *error, float *norm) {
    float largest = 0;
    for (size_t i = 0; i < dimension; i++) {
        const float magnitude = fabsf(vector[i]);
        largest = magnitude > largest ? magnitude : largest;
    }
    const float s = largest > 0 ? largest / 127.0f : 1.0f;
    const float inverse = 1.0f / s;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer, ties to even, exactly for
    // |x| < 2^22, in two vectorisable additions (nearbyintf is a libm call on baseline x86-64).
    const float round_to_integer = 12582912.0f;
    // Eight running sums of each, not one: a single chain of dependent double additions was
    // most of a shard load's quantising. The order changes the sums by ~1e-16, far inside the
    // ulp that rounding the bounds up adds.
    enum { lanes = 8 };
    double error_lanes[lanes] = {0}, norm_lanes[lanes] = {0};
    for (size_t i = 0; i < dimension; i++) {
        float code = (vector[i] * inverse + round_to_integer) - round_to_integer;
        code = code > 127.0f ? 127.0f : (code < -127.0f ? -127.0f : code);
        codes[i] = (int8_t)code;
    }
    size_t i = 0;
    for (; i + lanes <= dimension; i += lanes) {
        for (size_t lane = 0; lane < lanes; lane++) {
            const double restored = (double)s * (double)codes[i + lane];
            const double difference = (double)vector[i + lane] - restored;
            error_lanes[lane] += difference * difference;
            norm_lanes[lane] += restored * restored;
        }
    }
    for (; i < dimension; i++) {
        const double restored = (double)s * (double)codes[i];
        const double difference = (double)vector[i] - restored;
        error_lanes[0] += difference * difference;
        norm_lanes[0] += restored * restored;
    }
    double error_squares = 0, norm_squares = 0;
    for (size_t lane = 0; lane < lanes; lane++) {
        error_squares += error_lanes[lane];
        norm_squares += norm_lanes[lane];
    }
    *scale = s;
    *error = nextafterf((float)sqrt(error_squares), INFINITY);
    *norm = nextafterf((float)sqrt(norm_squares), INFINITY);
}

static void quantize_i8_portable(const float *vector, size_t dimension, int8_t *codes, float *scale, float *error, float *norm) {
    quantize_i8(vector, dimension, codes, scale, error, norm);
}

__attribute__((target("avx2"))) static void quantize_i8_avx2(
    const float *vector, size_t dimension, int8_t *codes, float *scale, float *error, float *norm) {
    quantize_i8(vector, dimension, codes, scale, error, norm);
}

void fk_quantize_i8(const float *vector, size_t dimension, int8_t *codes, float *scale, float *error, float *norm) {
    if (fk_has_avx2_fma())
        quantize_i8_avx2(vector, dimension, codes, scale, error, norm);
    else
        quantize_i8_portable(vector, dimension, codes, scale, error, norm);
}

// MARK: AVX2 + FMA kernels

__attribute__((target("avx2,fma"))) static inline float horizontal_sum(__m256 v) {
    __m128 sum = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    sum = _mm_add_ps(sum, _mm_movehl_ps(sum, sum));
    sum = _mm_add_ss(sum, _mm_shuffle_ps(sum, sum, 1));
    return _mm_cvtss_f32(sum);
}

__attribute__((target("avx2,fma"))) static void dot_rows_f32_avx2(
    const float *rows, size_t count, size_t dimension, const float *query, float *scores) {
    for (size_t r = 0; r < count; r++) {
        const float *x = rows + r * dimension;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
        size_t i = 0;
        for (; i + 32 <= dimension; i += 32) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(query + i), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8), _mm256_loadu_ps(query + i + 8), a1);
            a2 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 16), _mm256_loadu_ps(query + i + 16), a2);
            a3 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 24), _mm256_loadu_ps(query + i + 24), a3);
        }
        for (; i + 8 <= dimension; i += 8)
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(x + i), _mm256_loadu_ps(query + i), a0);
        float sum = horizontal_sum(_mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
        for (; i < dimension; i++) sum += x[i] * query[i];
        scores[r] = sum;
    }
}

__attribute__((target("avx2,fma"))) static void dot_rows_i8_avx2(
    const int8_t *codes, size_t count, size_t dimension, const int8_t *query, int32_t *dots) {
    // The query, widened to int16 once; each row is widened 16 codes at a time and multiplied
    // pairwise into int32 (vpmaddwd), which cannot overflow for int8 inputs.
    int16_t wide_query[dimension + 16];
    for (size_t i = 0; i < dimension; i++) wide_query[i] = query[i];
    for (size_t r = 0; r < count; r++) {
        const int8_t *x = codes + r * dimension;
        __m256i a0 = _mm256_setzero_si256(), a1 = _mm256_setzero_si256();
        size_t i = 0;
        for (; i + 32 <= dimension; i += 32) {
            __m256i x0 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x + i)));
            __m256i x1 = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(x + i + 16)));
            a0 = _mm256_add_epi32(a0, _mm256_madd_epi16(x0, _mm256_loadu_si256((const __m256i *)(wide_query + i))));
            a1 = _mm256_add_epi32(a1, _mm256_madd_epi16(x1, _mm256_loadu_si256((const __m256i *)(wide_query + i + 16))));
        }
        __m256i a = _mm256_add_epi32(a0, a1);
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(a), _mm256_extracti128_si256(a, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(1, 0, 3, 2)));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, _MM_SHUFFLE(2, 3, 0, 1)));
        int32_t sum = _mm_cvtsi128_si32(s);
        for (; i < dimension; i++) sum += (int32_t)x[i] * (int32_t)query[i];
        dots[r] = sum;
    }
}

// MARK: Dispatch

void fk_dot_rows_f32(const float *rows, size_t count, size_t dimension, const float *query, float *scores) {
    if (fk_has_avx2_fma())
        dot_rows_f32_avx2(rows, count, dimension, query, scores);
    else
        fk_dot_rows_f32_portable(rows, count, dimension, query, scores);
}

void fk_dot_rows_i8(const int8_t *codes, size_t count, size_t dimension, const int8_t *query, int32_t *dots) {
    if (fk_has_avx2_fma())
        dot_rows_i8_avx2(codes, count, dimension, query, dots);
    else
        fk_dot_rows_i8_portable(codes, count, dimension, query, dots);
}

// MARK: Loading

static inline __attribute__((always_inline)) void load_big_endian_f32(const uint8_t *bytes, size_t count, float *out) {
    for (size_t i = 0; i < count; i++) {
        uint32_t word;
        memcpy(&word, bytes + 4 * i, 4);
        word = __builtin_bswap32(word);
        memcpy(out + i, &word, 4);
    }
}

static void load_big_endian_f32_portable(const uint8_t *bytes, size_t count, float *out) {
    load_big_endian_f32(bytes, count, out);
}

__attribute__((target("avx2"))) static void load_big_endian_f32_avx2(const uint8_t *bytes, size_t count, float *out) {
    load_big_endian_f32(bytes, count, out);
}

void fk_load_big_endian_f32(const void *bytes, size_t count, float *out) {
    if (fk_has_avx2_fma())
        load_big_endian_f32_avx2(bytes, count, out);
    else
        load_big_endian_f32_portable(bytes, count, out);
}

