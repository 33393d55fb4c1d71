// error.cpp — see error.hpp. The handler slot is a pair of atomics so that a
// test can swap it while other threads allocate.
#include "error.hpp"

#include <atomic>

#include "platform.hpp"
#include "text.hpp"

namespace pf {

namespace {
const char* const kNames[] = {
#define PF_X(id, name) name,
    PF_ERROR_CODES(PF_X)
#undef PF_X
};
static_assert(sizeof kNames / sizeof kNames[0] == static_cast<size_t>(ErrorCode::Count));

std::atomic<ErrorHandler> g_handler{nullptr};
std::atomic<void*> g_context{nullptr};
std::atomic<uint64_t> g_warnings{0};
}  // namespace

const char* error_name(ErrorCode code) {
  auto i = static_cast<size_t>(code);
  return i < static_cast<size_t>(ErrorCode::Count) ? kNames[i] : "unknown-error";
}

ErrorHandlerSlot set_error_handler(ErrorHandler handler, void* context) {
  ErrorHandlerSlot old{g_handler.load(), g_context.load()};
  g_context.store(context);
  g_handler.store(handler);
  return old;
}

void report(ErrorReport r) {
  char storage[320];
  TextBuffer t(storage, sizeof storage);
  t.str("pfalloc: ").str(error_name(r.code)).str(": ").str(r.detail ? r.detail : "");
  if (r.address != 0) t.str(r.address_is_virtual ? " addr=" : " phys=").hex(r.address);
  if (r.pfn != ~uint64_t{0}) t.str(" frame=").hex(r.pfn);
  if (r.cache != nullptr) t.str(" cache=").str(r.cache);
  if (r.caller != nullptr) t.str(" caller=").hex(reinterpret_cast<uintptr_t>(r.caller));
  r.message = t.c_str();

  // The fatal default: the hook prints the line itself (pfalloc.h), so it is
  // not logged first (it showed twice: "pfalloc: ..." then "pfalloc fatal:
  // pfalloc: ...").
  ErrorHandler h = g_handler.load();
  if (h == nullptr) platform::fatal(r.message);
  t.nl();
  platform::log(t.c_str(), t.length());
  storage[t.length() - 1] = '\0';  // drop the newline from the handler's copy
  h(r, g_context.load());
}

void warn(ErrorCode code, const char* detail, uint64_t a, uint64_t b) {
  g_warnings.fetch_add(1, std::memory_order_relaxed);
  LogLine line;
  line->str("pfalloc: warning: ").str(error_name(code)).str(": ").str(detail);
  line->str(" [").hex(a).str(", ").hex(b).str(")").nl();
}

uint64_t warning_count() { return g_warnings.load(std::memory_order_relaxed); }

[[noreturn]] void assert_failed(const char* cond, const char* file, int line) {
  char storage[256];
  TextBuffer t(storage, sizeof storage);
  t.str("pfalloc: internal assertion failed: ").str(cond).str(" at ").str(file).ch(':').dec(
      static_cast<uint64_t>(line));
  platform::fatal(t.c_str());  // which prints it (not logged too: it would show twice)
}

}  // namespace pf
