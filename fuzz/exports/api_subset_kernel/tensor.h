// Minimal stand-in for the kernel-side view of a tensor argument, for ptocheck's syntax check of the
// trivial kernels of a device bundle (g++ -fsyntax-only -D__aicore__=). Checked by hand against
// hw-native-sys/simpler @ 6ebaf77156313aaeb5c9457c57b16c45b84ae7e8, src/common/task_interface/tensor.h:
// :32 struct PTOBufferHandle {addr, size}; :95 struct alignas(64) ChipTensor, whose first fields are
// :97 buffer and :99 start_offset (an element offset into buffer), the two the kernels read.
#pragma once

#include <stdint.h>

struct PTOBufferHandle {
    uint64_t addr;
    uint64_t size;
};

struct alignas(64) ChipTensor {
    PTOBufferHandle buffer;
    uint64_t owner_task_id_raw;  // tensor.h:98 PTO2TaskId owner_task_id (8 bytes); unused by the kernels
    uint64_t start_offset;
};
