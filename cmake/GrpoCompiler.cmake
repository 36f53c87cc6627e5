# Compiler settings shared by every target: warnings on, ccache when present.
find_program(GRPO_CCACHE ccache)
if(GRPO_CCACHE)
  set(CMAKE_C_COMPILER_LAUNCHER ${GRPO_CCACHE})
  set(CMAKE_CXX_COMPILER_LAUNCHER ${GRPO_CCACHE})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${GRPO_CCACHE})
  # Precompiled headers and ccache: see docs/style.md.
  set(ENV{CCACHE_SLOPPINESS} "pch_defines,time_macros,include_file_mtime,include_file_ctime")
endif()

# grpo_warnings: an interface target every grpo library links privately.
add_library(grpo_warnings INTERFACE)
target_compile_options(grpo_warnings INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers>)
