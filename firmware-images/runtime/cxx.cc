// What libstdc++'s headers expect from the library binary we do not link
// (Debian's libstdc++-arm-none-eabi-newlib costs 1.5 GB): allocation, the
// __throw_* helpers (no exceptions here: each one ends the run), the
// red-black tree of std::map, and std::string's members.
#include <cstdlib>
#include <new>
#include <string>

#include "board.h"

void* operator new(std::size_t n) {
  void* p = std::malloc(n ? n : 1);
  if (p == nullptr) board_fault("out of heap (operator new)");
  return p;
}
void* operator new[](std::size_t n) { return operator new(n); }
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n ? n : 1); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

extern "C" void __cxa_pure_virtual() { board_fault("pure virtual call"); }

namespace std {
[[noreturn]] void __throw_bad_alloc() { board_fault("bad_alloc"); }
[[noreturn]] void __throw_bad_array_new_length() { board_fault("bad_array_new_length"); }
[[noreturn]] void __throw_length_error(const char* s) { board_fault(s); }
[[noreturn]] void __throw_logic_error(const char* s) { board_fault(s); }
[[noreturn]] void __throw_out_of_range(const char* s) { board_fault(s); }
[[noreturn]] void __throw_out_of_range_fmt(const char* s, ...) { board_fault(s); }
[[noreturn]] void __throw_invalid_argument(const char* s) { board_fault(s); }
[[noreturn]] void __throw_bad_function_call() { board_fault("bad_function_call"); }
[[noreturn]] void __throw_bad_optional_access() { board_fault("bad_optional_access"); }

// std::string: the library's explicit instantiation, made here.
template class basic_string<char>;
}  // namespace std
