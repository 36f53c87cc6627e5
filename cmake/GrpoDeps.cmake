# Finds every third-party dependency. LibTorch comes from the torch wheel installed by
# scripts/setup.sh into ${GRPO_VENV}; a user with a LibTorch of their own passes
# -DCMAKE_PREFIX_PATH=/path/to/libtorch and that one wins.
find_package(Threads REQUIRED)
find_package(yaml-cpp REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(Protobuf REQUIRED)
find_package(gRPC CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
if(GRPO_BUILD_TESTS)
  find_package(GTest REQUIRED)
endif()

# --- LibTorch -------------------------------------------------------------------------
# Torch's CUDA probe wants an arch list (else it tries to detect a GPU, and on a re-run of
# CMake fails); we build our own kernels for sm_90 + PTX. Set it before any find_package.
if(NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(ENV{TORCH_CUDA_ARCH_LIST} "9.0")
endif()
find_package(Torch QUIET CONFIG)
if(NOT Torch_FOUND)
  set(_py "${GRPO_VENV}/bin/python")
  if(NOT EXISTS ${_py})
    message(FATAL_ERROR "LibTorch not found: no -DCMAKE_PREFIX_PATH to a LibTorch and no "
      "virtual environment at ${GRPO_VENV}. Run scripts/setup.sh first.")
  endif()
  execute_process(COMMAND ${_py} -c "import torch.utils; print(torch.utils.cmake_prefix_path)"
    OUTPUT_VARIABLE _torch_prefix OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _rc
    ERROR_QUIET)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "${_py} could not import torch; run scripts/setup.sh")
  endif()
  list(APPEND CMAKE_PREFIX_PATH ${_torch_prefix})
  find_package(Torch REQUIRED CONFIG)
endif()
set(GRPO_TORCH_CMAKE_DIR ${Torch_DIR})

# Does this LibTorch carry CUDA, and is nvcc here? Then GRPO_CUDA defaults to ON: the
# kernels compile and link even on a machine without a GPU.
set(_torch_has_cuda OFF)
if(TARGET torch_cuda OR EXISTS "${TORCH_INSTALL_PREFIX}/lib/libtorch_cuda.so")
  set(_torch_has_cuda ON)
endif()
include(CheckLanguage)
check_language(CUDA)
set(_cuda_default OFF)
if(CMAKE_CUDA_COMPILER AND _torch_has_cuda)
  set(_cuda_default ON)
endif()
option(GRPO_CUDA "Build the CUDA kernels (needs nvcc and a CUDA-enabled LibTorch)" ${_cuda_default})
if(GRPO_CUDA)
  if(NOT CMAKE_CUDA_ARCHITECTURES)
    # sm_90 (Hopper: H100/H200) plus PTX for a portable JIT target.
    set(CMAKE_CUDA_ARCHITECTURES 90-real 90-virtual)
  endif()
  enable_language(CUDA)
  # CMake 3.25 has no CUDA20 dialect flag for nvcc 13: .cu files are C++17 (they hold no torch code).
  set(CMAKE_CUDA_STANDARD 17)
  set(CMAKE_CUDA_STANDARD_REQUIRED ON)
  find_package(CUDAToolkit REQUIRED)
endif()

# grpo_torch: LibTorch for our targets, with per-operator headers so that a stray include
# of <torch/torch.h> or <ATen/ATen.h> in our code fails to compile (see STYLE.md).
# libstdc++ comes first: the torch wheel's libtorch.so exports its own std::filesystem
# functions (an older libstdc++fs), and when it precedes libstdc++ in the link order the
# dynamic linker binds our calls to those; mixed with GCC 12's inline code,
# std::filesystem::remove_all on a non-empty directory crashes. Listing stdc++ first
# makes libstdc++'s definitions win for the whole process.
add_library(grpo_torch INTERFACE)
target_link_libraries(grpo_torch INTERFACE stdc++ ${TORCH_LIBRARIES})
target_include_directories(grpo_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
target_compile_definitions(grpo_torch INTERFACE AT_PER_OPERATOR_HEADERS)

# grpo_torch_pch(target): attach the shared precompiled header of the torch-heavy
# libraries (models, rollout, learner, their tests). Pays off for incremental rebuilds.
function(grpo_torch_pch target)
  target_precompile_headers(${target} PRIVATE
    <ATen/core/Tensor.h> <torch/nn/module.h> <torch/nn/modules/linear.h>
    <vector> <string> <memory> <unordered_map>)
endfunction()
