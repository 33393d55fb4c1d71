// support.hpp — helpers shared by the host test suites: an error recorder
// that turns the fatal handler into a list, log capture, and shorthands for
// hand-written memory maps.
#pragma once

#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "hosted/hosted.hpp"
#include "kernel/mm/error.hpp"
#include "kernel/mm/memmap.hpp"

namespace pf::test {

// The TSan flavour (-DPFALLOC_TSAN) runs the thread suites ~10x slower:
// they scale their rounds down by this.
#ifdef PFALLOC_TSAN
inline constexpr bool kUnderTsan = true;
#else
inline constexpr bool kUnderTsan = false;
#endif

constexpr Region usable(uint64_t base, uint64_t length) {
  return Region{.base = base, .length = length, .type = RegionType::Usable};
}

// One letter per region type, for maps written out as tables.
namespace region_letters {
constexpr RegionType U = RegionType::Usable;
constexpr RegionType R = RegionType::Reserved;
constexpr RegionType A = RegionType::AcpiReclaimable;
constexpr RegionType N = RegionType::AcpiNvs;
constexpr RegionType B = RegionType::Bad;
constexpr RegionType L = RegionType::BootloaderReclaimable;
constexpr RegionType K = RegionType::Kernel;
}  // namespace region_letters

// While alive, log output is collected (and not printed).
class LogCapture {
 public:
  LogCapture() { old_ = hosted::set_log_sink({&LogCapture::sink, this}); }
  ~LogCapture() { hosted::set_log_sink(old_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;
  const std::string& text() const { return text_; }

 private:
  static void sink(const char* t, size_t n, void* self) {
    static_cast<LogCapture*>(self)->text_.append(t, n);
  }
  hosted::LogSinkSlot old_;
  std::string text_;
};

// While alive, errors are recorded instead of being fatal, and the log
// (where report() writes each one) is captured instead of printed.
class ErrorRecorder {
 public:
  ErrorRecorder() { old_ = set_error_handler(&ErrorRecorder::record, this); }
  ~ErrorRecorder() { set_error_handler(old_.handler, old_.context); }
  ErrorRecorder(const ErrorRecorder&) = delete;
  ErrorRecorder& operator=(const ErrorRecorder&) = delete;

  size_t count() const { return reports_.size(); }
  const ErrorReport& last() const { return reports_.back(); }
  const std::string& last_message() const { return messages_.back(); }
  ErrorCode last_code() const { return reports_.empty() ? ErrorCode::Count : reports_.back().code; }
  const std::string& log() const { return log_.text(); }
  void clear() {
    reports_.clear();
    messages_.clear();
  }

 private:
  static void record(const ErrorReport& r, void* self) {
    auto* me = static_cast<ErrorRecorder*>(self);
    me->reports_.push_back(r);
    me->messages_.emplace_back(r.message ? r.message : "");
    me->reports_.back().message = nullptr;  // points into report()'s stack
  }
  LogCapture log_;
  ErrorHandlerSlot old_{};
  std::vector<ErrorReport> reports_;
  std::vector<std::string> messages_;
};

// checked.verify() with its report captured, as a gtest assertion:
// EXPECT_TRUE(VerifiedBy(pages, "verify()")).
template <typename Checked>
::testing::AssertionResult VerifiedBy(const Checked& checked, const char* what) {
  ErrorRecorder rec;
  const bool ok = checked.verify();
  if (ok && rec.count() == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << what << " failed: " << (rec.count() ? rec.last_message() : std::string("(no report)"));
}

}  // namespace pf::test
