// text.hpp — freestanding text formatting into a caller's buffer: the core's
// stand-in for snprintf, used by reports, buddyinfo/slabinfo and errors.
//
// Invariant: length() <= capacity - 1 and the buffer is NUL-terminated after
// every call; output that does not fit is dropped and truncated() turns true.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pf {

class TextBuffer {
 public:
  TextBuffer(char* buffer, size_t capacity) : buf_(buffer), cap_(capacity) {
    if (cap_ != 0) buf_[0] = '\0';
  }

  TextBuffer& str(const char* s);
  TextBuffer& str(const char* s, size_t n);
  TextBuffer& ch(char c);
  TextBuffer& dec(uint64_t v);
  TextBuffer& sdec(int64_t v);
  TextBuffer& hex(uint64_t v);                 // 0x-prefixed, no padding
  TextBuffer& hex_padded(uint64_t v, int digits);
  // Right-aligns (width > 0) or left-aligns (width < 0) what `fn` writes.
  TextBuffer& dec_w(uint64_t v, int width);
  TextBuffer& str_w(const char* s, int width);
  // Human-readable size: "4 KiB", "2 MiB", "1.5 GiB".
  TextBuffer& size(uint64_t bytes);
  TextBuffer& nl() { return ch('\n'); }

  const char* c_str() const { return cap_ ? buf_ : ""; }
  size_t length() const { return len_; }
  bool truncated() const { return truncated_; }
  void clear() {
    len_ = 0;
    truncated_ = false;
    if (cap_) buf_[0] = '\0';
  }

 private:
  void put(char c);
  char* buf_;
  size_t cap_;
  size_t len_ = 0;
  bool truncated_ = false;
};

// A TextBuffer with its own storage that sends its text to the log hook when
// flushed or destroyed: `LogLine().str("zone ").dec(n).nl();`
class LogLine {
 public:
  LogLine() : text_(storage_, sizeof storage_) {}
  ~LogLine() { flush(); }
  TextBuffer* operator->() { return &text_; }
  TextBuffer& text() { return text_; }
  void flush();

 private:
  char storage_[256];
  TextBuffer text_;
};

size_t string_length(const char* s);

}  // namespace pf
