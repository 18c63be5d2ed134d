# Imported targets for CAF 0.17 (Debian ships no CMake config, FindCAF or pkg-config file for it).
# Defines CAF::core, CAF::io and CAF::openssl. Included by the build and by the installed package config, so a
# consumer of loopbridge gets the same targets.
#
# LOOPBRIDGE_CAF_ROOT names the prefix of another CAF 0.17 build (scripts/tsan builds one with
# -fsanitize=thread). When set, headers and libraries come from that prefix only, never from the
# system, and binaries built here find its libraries through their build RPATH.
set(LOOPBRIDGE_CAF_ROOT "" CACHE PATH
  "Prefix of a CAF 0.17 build to use instead of the system's libcaf (empty: the system's)")
if(NOT TARGET CAF::core)
  # A different prefix than last time: find everything again rather than keep stale paths.
  if(NOT "${LOOPBRIDGE_CAF_ROOT}" STREQUAL "${_LOOPBRIDGE_CAF_ROOT_USED}")
    unset(CAF_INCLUDE_DIR CACHE)
    unset(CAF_CORE_LIBRARY CACHE)
    unset(CAF_IO_LIBRARY CACHE)
    unset(CAF_OPENSSL_LIBRARY CACHE)
    set(_LOOPBRIDGE_CAF_ROOT_USED "${LOOPBRIDGE_CAF_ROOT}" CACHE INTERNAL "")
  endif()
  if(LOOPBRIDGE_CAF_ROOT)
    find_path(CAF_INCLUDE_DIR caf/all.hpp PATHS "${LOOPBRIDGE_CAF_ROOT}/include" NO_DEFAULT_PATH)
    find_library(CAF_CORE_LIBRARY caf_core PATHS "${LOOPBRIDGE_CAF_ROOT}/lib" NO_DEFAULT_PATH)
    find_library(CAF_IO_LIBRARY caf_io PATHS "${LOOPBRIDGE_CAF_ROOT}/lib" NO_DEFAULT_PATH)
    find_library(CAF_OPENSSL_LIBRARY caf_openssl PATHS "${LOOPBRIDGE_CAF_ROOT}/lib"
      NO_DEFAULT_PATH)
    if(NOT CAF_INCLUDE_DIR OR NOT CAF_CORE_LIBRARY OR NOT CAF_IO_LIBRARY OR
       NOT CAF_OPENSSL_LIBRARY)
      message(FATAL_ERROR "CAF 0.17 not found in LOOPBRIDGE_CAF_ROOT=${LOOPBRIDGE_CAF_ROOT} "
        "(expected include/caf/all.hpp, lib/libcaf_core.so, lib/libcaf_io.so and "
        "lib/libcaf_openssl.so; for the tsan preset, scripts/tsan builds them there)")
    endif()
    # Binaries in the build tree must load these libraries, not the system's libcaf of the same
    # soname: put their directory in the build RPATH (DT_RUNPATH wins over ld.so.cache).
    get_filename_component(_loopbridge_caf_libdir "${CAF_CORE_LIBRARY}" DIRECTORY)
    list(APPEND CMAKE_BUILD_RPATH "${_loopbridge_caf_libdir}")
    list(REMOVE_DUPLICATES CMAKE_BUILD_RPATH)
    message(STATUS "CAF from LOOPBRIDGE_CAF_ROOT: ${CAF_CORE_LIBRARY}")
  else()
    find_path(CAF_INCLUDE_DIR caf/all.hpp)
    find_library(CAF_CORE_LIBRARY caf_core)
    find_library(CAF_IO_LIBRARY caf_io)
    find_library(CAF_OPENSSL_LIBRARY caf_openssl)
    if(NOT CAF_INCLUDE_DIR OR NOT CAF_CORE_LIBRARY OR NOT CAF_IO_LIBRARY OR
       NOT CAF_OPENSSL_LIBRARY)
      message(FATAL_ERROR "CAF 0.17 not found: install libcaf-dev (scripts/setup does)")
    endif()
    if(CMAKE_CXX_FLAGS MATCHES "-fsanitize=thread")
      message(WARNING "ThreadSanitizer build against the system's libcaf, which is not "
        "instrumented: TSan cannot see CAF's synchronisation. scripts/tsan builds an "
        "instrumented CAF and sets LOOPBRIDGE_CAF_ROOT to it.")
    endif()
  endif()
  find_package(Threads REQUIRED)
  add_library(CAF::core UNKNOWN IMPORTED)
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION "${CAF_CORE_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  add_library(CAF::io UNKNOWN IMPORTED)
  set_target_properties(CAF::io PROPERTIES
    IMPORTED_LOCATION "${CAF_IO_LIBRARY}"
    INTERFACE_LINK_LIBRARIES CAF::core)
  add_library(CAF::openssl UNKNOWN IMPORTED)
  set_target_properties(CAF::openssl PROPERTIES
    IMPORTED_LOCATION "${CAF_OPENSSL_LIBRARY}"
    INTERFACE_LINK_LIBRARIES CAF::io)
endif()
