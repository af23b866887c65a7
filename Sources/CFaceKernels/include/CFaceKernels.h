// Scoring kernels of the face index: inner products of one query with many stored rows.
// Each has a portable version and, where the CPU has them, an AVX2 + FMA version chosen at run
// time, so one binary runs everywhere and is fast where it can be. The Swift side keeps plain
// reference implementations that the tests compare these against.

#ifndef CFACEKERNELS_H
#define CFACEKERNELS_H

#include <stddef.h>
#include <stdint.h>

/// scores[r] = <rows[r], query> for r in 0..<count; rows are `dimension` floats each, contiguous.
void fk_dot_rows_f32(const float *rows, size_t count, size_t dimension, const float *query, float *scores);
void fk_dot_rows_f32_portable(const float *rows, size_t count, size_t dimension, const float *query, float *scores);

/// dots[r] = <codes[r], query> over int8 codes, accumulated exactly in int32 (|dot| ≤ 127² × 4096).
void fk_dot_rows_i8(const int8_t *codes, size_t count, size_t dimension, const int8_t *query, int32_t *dots);
void fk_dot_rows_i8_portable(const int8_t *codes, size_t count, size_t dimension, const int8_t *query, int32_t *dots);

/// Quantises one vector symmetrically to int8: codes[i] = round(vector[i] / scale), scale =
/// max|vector| / 127. Writes the scale, ‖vector − scale·codes‖ and ‖scale·codes‖ (each rounded
/// up to the next float) to the out-parameters.
void fk_quantize_i8(const float *vector, size_t dimension, int8_t *codes, float *scale, float *error, float *norm);

/// `count` float32s stored big-endian (as PostgreSQL sends them), unaligned, into `out`.
void fk_load_big_endian_f32(const void *bytes, size_t count, float *out);

/// 1 when the running CPU (and OS) support AVX2 and FMA, so the fast kernels are in use.
int fk_has_avx2_fma(void);

/// "avx2-fma" or "portable": the kernels fk_dot_rows_* dispatch to on this CPU.
const char *fk_kernel_name(void);

#endif
