// Minimal stand-in for the AICore context accessors the trivial kernels of a device bundle call, for
// ptocheck's syntax check (g++ -fsyntax-only -D__aicore__=). Checked by hand against
// hw-native-sys/simpler @ 6ebaf77156313aaeb5c9457c57b16c45b84ae7e8,
// src/a2a3/runtime/tensormap_and_ringbuffer/common/intrinsic.h: :180 get_sub_block_id(args) (AIV lane
// 0/1 inside a MIX cluster), :208 get_block_idx(args) (logical block of this dispatch).
#pragma once

#include <stdint.h>

#ifndef __gm__
#define __gm__
#endif
#ifndef __aicore__
#define __aicore__
#endif

__aicore__ int32_t get_sub_block_id(__gm__ int64_t *args);
__aicore__ int32_t get_block_idx(__gm__ int64_t *args);
