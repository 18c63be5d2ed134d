// Serialises the two liborc entry points through which libvips compiles and frees vector code.
//
// liborc 0.4.33 allocates and frees executable code memory without a lock (its code regions
// are process-wide lists), and libvips compiles when it builds an operation with vector code
// (its resamplers, convolutions) and frees when that operation is disposed: on the thread that
// drops the last image using it, at any point of a request. Under load two image processors
// crash the process in `orc_code_allocate_codemem` or `orc_code_free`. Locking around libvips
// calls cannot cover the frees, nor a host program's own libvips calls.
//
// So loopbridge defines `orc_program_compile` and `orc_program_free` itself. The dynamic
// linker resolves libvips' calls to the first definition in load order: the program's (when
// loopbridge is linked statically) or libloopbridge_actors' (when shared), both before liborc,
// which libvips loads. The definitions take one process-wide lock and call liborc's own, found
// with `dlsym(RTLD_NEXT)`. Compiling is rare and short (once per operation build); running the
// compiled code takes no lock. `orc_calls_serialised` checks that the interposition is in
// effect; the image processor turns libvips' vector code off when it is not.

#include "image/orc_serialiser.hpp"

#include <dlfcn.h>

#include <mutex>

// liborc's declarations, with the program type opaque (its headers are not needed here):
// `OrcCompileResult orc_program_compile(OrcProgram*)`, the enum returned as an int.
extern "C" {
struct _OrcProgram;
int orc_program_compile(_OrcProgram* program);
void orc_program_free(_OrcProgram* program);
}

namespace {

using compile_fn = int (*)(_OrcProgram*);
using free_fn = void (*)(_OrcProgram*);

/// Held across every compile and free. Recursive: liborc may call its own exported functions
/// through the same symbols.
std::recursive_mutex& orc_mutex() {
  static std::recursive_mutex m;
  return m;
}

/// liborc's definition of `name`: the next one after this object in the lookup order.
template <class Fn>
Fn next_definition(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

} // namespace

extern "C" {

/// Compiles `program` under the lock. If liborc cannot be found (not loaded: then nothing
/// calls this), the result says "could not compile", and libvips runs its C code instead.
__attribute__((visibility("default"))) int orc_program_compile(_OrcProgram* program) {
  static const auto real = next_definition<compile_fn>("orc_program_compile");
  constexpr int unknown_compile = 0x100; // ORC_COMPILE_RESULT_UNKNOWN_COMPILE
  if (real == nullptr)
    return unknown_compile;
  std::lock_guard<std::recursive_mutex> serialised{orc_mutex()};
  return real(program);
}

/// Frees `program` and its code under the lock.
__attribute__((visibility("default"))) void orc_program_free(_OrcProgram* program) {
  static const auto real = next_definition<free_fn>("orc_program_free");
  if (real == nullptr)
    return;
  std::lock_guard<std::recursive_mutex> serialised{orc_mutex()};
  real(program);
}

} // extern "C"

namespace loopbridge::actors::detail {

bool orc_calls_serialised() {
  auto* compile = dlsym(RTLD_DEFAULT, "orc_program_compile");
  auto* release = dlsym(RTLD_DEFAULT, "orc_program_free");
  return compile == reinterpret_cast<void*>(&::orc_program_compile) &&
         release == reinterpret_cast<void*>(&::orc_program_free);
}

} // namespace loopbridge::actors::detail
