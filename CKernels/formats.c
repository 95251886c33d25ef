// formats.c: the one table of weight formats (CK_FORMATS in ckernels.h), what CKernels can do with each, and row
// sizes. Sources/GPTCore/WeightFormat.swift mirrors the table; a test compares the two entry by entry.
#include "ck_internal.h"

#define CK_FORMAT_ENTRY_(e, id, nm, bs, bytes) {id, nm, bs, bytes},
static const ck_format_info table[] = {CK_FORMATS(CK_FORMAT_ENTRY_)};
#undef CK_FORMAT_ENTRY_

// The block structs are the table's sizes.
_Static_assert(sizeof(ck_block_q4_0) == 18, "q4_0");
_Static_assert(sizeof(ck_block_q4_1) == 20, "q4_1");
_Static_assert(sizeof(ck_block_q5_0) == 22, "q5_0");
_Static_assert(sizeof(ck_block_q5_1) == 24, "q5_1");
_Static_assert(sizeof(ck_block_q8_0) == 34, "q8_0");
_Static_assert(sizeof(ck_block_q2_K) == 84, "q2_K");
_Static_assert(sizeof(ck_block_q3_K) == 110, "q3_K");
_Static_assert(sizeof(ck_block_q4_K) == 144, "q4_K");
_Static_assert(sizeof(ck_block_q5_K) == 176, "q5_K");
_Static_assert(sizeof(ck_block_q6_K) == 210, "q6_K");
_Static_assert(sizeof(ck_block_iq4_nl) == 18, "iq4_nl");
_Static_assert(sizeof(ck_block_iq4_xs) == 136, "iq4_xs");

const int8_t ck_iq4_values[16] = {-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113};

const ck_format_info *ck_format_at(int i) {
    return i >= 0 && i < (int)(sizeof table / sizeof table[0]) ? &table[i] : NULL;
}

const ck_format_info *ck_format_find(int fmt) {
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (table[i].type == fmt) return &table[i];
    return NULL;
}

int ck_format_supports(int fmt, int what) {
    if (ck_format_find(fmt) == NULL) return 0;
    switch (what) {
    case CK_CAN_DEQUANTIZE: return 1;  // ref/dequantize.c has every format of the table
    case CK_CAN_QUANTIZE: return 1;    // quants.c, quantize.c: every format of the table
    case CK_CAN_MATMUL: return 1;  // cpu/matmul.c: every format at the scalar level, the common ones in SIMD
    default: return 0;
    }
}

size_t ck_row_bytes(int fmt, int64_t n) {
    const ck_format_info *f = ck_format_find(fmt);
    if (f == NULL || n < 0 || n % f->block_size != 0) return 0;
    return (size_t)(n / f->block_size) * (size_t)f->block_bytes;
}
