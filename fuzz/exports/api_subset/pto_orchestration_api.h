// Minimal stand-in for the TRB orchestration API, written for ptocheck's syntax check of generated
// device bundles (g++ -fsyntax-only). It declares exactly the subset the bundle generator emits; it
// has no implementation and is never shipped in a bundle (a real build uses the runtime's header).
//
// Every declaration below was checked by hand against hw-native-sys/simpler at the pinned commit
// 6ebaf77156313aaeb5c9457c57b16c45b84ae7e8; each cites file:line of its counterpart there. Paths:
//   ORCH = src/a2a3/runtime/tensormap_and_ringbuffer/orchestration/pto_orchestration_api.h
//   RT   = src/a2a3/runtime/tensormap_and_ringbuffer/runtime/
//   TI   = src/common/task_interface/
// Where the real API constrains template arguments with static_assert, the same constraint is
// restated here so misuse fails the check too.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <type_traits>

// TI/data_type.h:34
constexpr int MAX_TENSOR_DIMS = 5;

// TI/data_type.h:39 (enumerators as there)
enum class AddressSpace : uint8_t { HOST = 0, DEVICE = 1 };

// TI/data_type.h:47 (the enumerators the scenario format can name, in the header's order)
enum class DataType : uint8_t {
    FLOAT32,
    FLOAT16,
    INT32,
    INT16,
    INT8,
    UINT8,
    BFLOAT16,
    INT64,
    UINT64,
    UINT16,
    UINT32,
    BOOL,
};

// TI/pto_task_id.h:33 (raw encoding (ring << 32) | local), :40 invalid()
struct PTO2TaskId {
    uint64_t raw;
    static constexpr PTO2TaskId invalid() { return PTO2TaskId{UINT64_MAX}; }
};

// TI/tensor.h:32
struct PTOBufferHandle {
    uint64_t addr;
    uint64_t size;
};

// TI/tensor.h:95 struct alignas(64) ChipTensor; fields the generated code and kernels read:
// :97 buffer, :99 start_offset, :101 ndims, :106 shapes. Public members used by the bundle:
// :120 default constructor, copy constructor and assignment (:128-129, defaulted), :169 data_as<T>(),
// :283 view(), :348 slice(), :381 reshape().
struct alignas(64) ChipTensor {
    PTOBufferHandle buffer;
    PTO2TaskId owner_task_id;
    uint64_t start_offset;
    int32_t version;
    uint32_t ndims;
    DataType dtype;
    bool manual_dep;
    bool is_contiguous;
    AddressSpace address_space;
    uint32_t shapes[MAX_TENSOR_DIMS];

    ChipTensor() = default;
    ChipTensor(const ChipTensor &) = default;
    ChipTensor &operator=(const ChipTensor &) = default;

    template <typename T>
    T *data_as() const;
    ChipTensor view(const uint32_t view_shapes[], const uint32_t view_offsets[], bool in_manual_dep = false) const;
    ChipTensor slice(uint32_t dim, uint32_t start, uint32_t end, uint32_t step = 1, bool in_manual_dep = false) const;
    ChipTensor reshape(const uint32_t new_shapes[], uint32_t new_ndims, bool in_manual_dep = false) const;
};

// TI/tensor.h:509
ChipTensor make_tensor_external(
    void *addr, const uint32_t shapes[], uint32_t ndims, DataType dtype = DataType::FLOAT32, bool manual_dep = false,
    int32_t version = 0, AddressSpace address_space = AddressSpace::HOST
);

// RT/tensor_create_info.h:31 class alignas(64) TensorCreateInfo, constructor :33-34
class alignas(64) TensorCreateInfo {
public:
    TensorCreateInfo(
        const uint32_t shapes_in[], uint32_t ndims_in, DataType dtype_in = DataType::FLOAT32, bool manual_dep_in = false
    );
};

// RT/pto_types.h:68
enum class PTO2ScopeMode : uint8_t { AUTO = 0, MANUAL = 1 };

// RT/pto_types.h:90 (DEP_WAIT = 1 << 0, DEP_RETAIN = 1 << 1), operator| :96
enum DepFlags : uint8_t { DEP_NONE = 0, DEP_WAIT = 1u << 0, DEP_RETAIN = 1u << 1 };
constexpr DepFlags operator|(DepFlags a, DepFlags b) {
    return static_cast<DepFlags>(static_cast<uint8_t>(a) | static_cast<uint8_t>(b));
}

// RT/pto_types.h:138 class TaskOutputTensors: :148 get_ref (lvalue only; :152 deletes the rvalue
// overload), :162 task_id()
class TaskOutputTensors {
public:
    const ChipTensor &get_ref(uint32_t index) const &;
    const ChipTensor &get_ref(uint32_t index) const && = delete;
    PTO2TaskId task_id() const;
};

// RT/pto_submit_types.h:257 class PTO2LaunchSpec: :262 set_block_num, :265 set_require_sync_start
class PTO2LaunchSpec {
public:
    void set_block_num(int16_t n);
    void set_require_sync_start(bool v);
};

// RT/pto_submit_types.h:236 struct MixedKernels, fields :237-239 default to INVALID_KERNEL_ID (:23)
inline constexpr int32_t INVALID_KERNEL_ID = -1;
struct MixedKernels {
    int32_t aic_kernel_id{INVALID_KERNEL_ID};
    int32_t aiv0_kernel_id{INVALID_KERNEL_ID};
    int32_t aiv1_kernel_id{INVALID_KERNEL_ID};
};

// RT/pto_types.h:262 struct Arg (via `using CoreTaskArgs = Arg<MAX_TENSOR_ARGS, MAX_SCALAR_ARGS>`,
// :717). Members used: :283 launch_spec, :291 set_allow_early_resolve, :374 add_input, :386
// add_output (all TensorCreateInfo -> OUTPUT, all ChipTensor -> OUTPUT_EXISTING), :398 add_inout,
// :408 add_no_dep, :460 set_dependencies_with_kinds, :507 add_scalar. Arg is neither copyable nor
// movable there (deleted special members); tensor adders take lvalues only (assert_add_tensor_args).
class CoreTaskArgs {
public:
    CoreTaskArgs() = default;
    CoreTaskArgs(const CoreTaskArgs &) = delete;
    CoreTaskArgs &operator=(const CoreTaskArgs &) = delete;

    PTO2LaunchSpec launch_spec;
    void set_allow_early_resolve(bool v = true);

    template <typename... Args>
    void add_input(Args &&...args) {
        check_tensors<false, Args...>();
        ((void)args, ...);
    }
    template <typename... Args>
    void add_output(Args &&...args) {
        check_tensors<true, Args...>();
        ((void)args, ...);
    }
    template <typename... Args>
    void add_inout(Args &&...args) {
        check_tensors<false, Args...>();
        ((void)args, ...);
    }
    template <typename... Args>
    void add_no_dep(Args &&...args) {
        check_tensors<false, Args...>();
        ((void)args, ...);
    }
    template <typename... Args>
    void add_scalar(Args &&...args) {
        static_assert(sizeof...(Args) >= 1, "add_scalar: at least one argument");
        static_assert(
            ((std::is_arithmetic_v<std::remove_cv_t<std::remove_reference_t<Args>>> ||
              std::is_enum_v<std::remove_cv_t<std::remove_reference_t<Args>>>) &&
             ...),
            "add_scalar: arithmetic or enum values only"
        );
        ((void)args, ...);
    }
    void set_dependencies_with_kinds(const PTO2TaskId *deps, const DepFlags *kinds, uint32_t count);

private:
    template <bool is_output, typename... Args>
    static void check_tensors() {
        static_assert(sizeof...(Args) >= 1, "at least one tensor");
        static_assert((std::is_lvalue_reference_v<Args> && ...), "tensor arguments must be lvalues");
        if constexpr (is_output) {
            static_assert(
                (std::is_same_v<std::decay_t<Args>, ChipTensor> && ...) ||
                    (std::is_same_v<std::decay_t<Args>, TensorCreateInfo> && ...),
                "add_output: all ChipTensor or all TensorCreateInfo"
            );
        } else {
            static_assert((std::is_same_v<std::decay_t<Args>, ChipTensor> && ...), "ChipTensor arguments only");
        }
    }
};

// RT/pto_types.h:188 class TensorRef: :211 ref()
class TensorRef {
public:
    const ChipTensor &ref() const;
};

// RT/pto_types.h:722 struct ChipTaskArgs (an Arg over TaskArgsTpl: TI/task_args.h:103 tensor(i),
// :106 scalar(i))
struct ChipTaskArgs {
    const TensorRef &tensor(int32_t i) const;
    uint64_t scalar(int32_t i) const;
};

// alloc_tensors: the bundle calls the variadic form (ORCH:147-148, TensorCreateInfo lvalues only).
// The other two overloads (ORCH:120 CoreTaskArgs, ORCH:128 array + count) are declared too because
// they take part in overload resolution: e.g. `alloc_tensors(array, 3)` picks the variadic template
// (int count), which then fails its static_assert, in the real header as here.
TaskOutputTensors alloc_tensors(const CoreTaskArgs &args);
TaskOutputTensors alloc_tensors(const TensorCreateInfo create_infos[], uint32_t count);
template <typename... CIs>
TaskOutputTensors alloc_tensors(const CIs &...cis) {
    static_assert(sizeof...(cis) > 0, "alloc_tensors requires at least one TensorCreateInfo");
    static_assert(
        (std::is_same_v<std::decay_t<CIs>, TensorCreateInfo> && ...), "alloc_tensors: TensorCreateInfo only"
    );
    ((void)cis, ...);
    return TaskOutputTensors{};
}
// ORCH:170
TaskOutputTensors rt_submit_task(const MixedKernels &mixed_kernels, const CoreTaskArgs &args);
// ORCH:203
TaskOutputTensors rt_submit_dummy_task(const CoreTaskArgs &args);
// ORCH:234, :240
int32_t rt_available_cluster_count();
int32_t rt_available_aiv_count();

// ORCH:283-284 (T defaults to uint64_t)
template <typename T = uint64_t>
T get_tensor_data(const ChipTensor &tensor, uint32_t ndims, const uint32_t indices[]);
// ORCH:319-320 (T deduced from the value)
template <typename T = uint64_t>
void set_tensor_data(const ChipTensor &tensor, uint32_t ndims, const uint32_t indices[], T value);

// ORCH:263 LOG_INFO(fmt, ...) forwards a printf-style format to the runtime's logger; declared here
// with a format attribute so the check also validates the format strings.
void ptocheck_subset_log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
#define LOG_INFO(fmt, ...) ptocheck_subset_log_info(fmt, ##__VA_ARGS__)

// ORCH:335 class PTO2ScopeGuard, constructor :337 (mode defaults to AUTO; call-site file/line
// defaults), destructor :347; macro PTO2_SCOPE_GUARD(...) :360 declares one guard named with
// __COUNTER__ (:357-358) and brace-initialised with the macro's arguments.
class PTO2ScopeGuard {
public:
    explicit PTO2ScopeGuard(
        PTO2ScopeMode mode = PTO2ScopeMode::AUTO, const char *file = __builtin_FILE(), int line = __builtin_LINE()
    );
    ~PTO2ScopeGuard();
};
#define PTOCHECK_SUBSET_CAT_IMPL(x, y) x##y
#define PTOCHECK_SUBSET_CAT(x, y) PTOCHECK_SUBSET_CAT_IMPL(x, y)
#define PTO2_SCOPE_GUARD(...) \
    [[maybe_unused]] PTO2ScopeGuard PTOCHECK_SUBSET_CAT(scope_guard_, __COUNTER__) { __VA_ARGS__ }

// ORCH:384
struct PTO2OrchestrationConfig {
    int expected_arg_count;
};
