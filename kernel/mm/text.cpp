// text.cpp — see text.hpp.
#include "text.hpp"

#include "platform.hpp"

namespace pf {

size_t string_length(const char* s) {
  size_t n = 0;
  while (s[n] != '\0') ++n;
  return n;
}

void TextBuffer::put(char c) {
  if (len_ + 1 < cap_) {
    buf_[len_++] = c;
    buf_[len_] = '\0';
  } else {
    truncated_ = true;
  }
}

TextBuffer& TextBuffer::str(const char* s) {
  if (s == nullptr) s = "(null)";
  while (*s != '\0') put(*s++);
  return *this;
}

TextBuffer& TextBuffer::str(const char* s, size_t n) {
  for (size_t i = 0; i < n; ++i) put(s[i]);
  return *this;
}

TextBuffer& TextBuffer::ch(char c) {
  put(c);
  return *this;
}

namespace {
// Digits of v in `base`, least significant first; returns the count.
int digits_of(uint64_t v, unsigned base, char* out) {
  int n = 0;
  do {
    unsigned d = static_cast<unsigned>(v % base);
    out[n++] = static_cast<char>(d < 10 ? '0' + d : 'a' + d - 10);
    v /= base;
  } while (v != 0);
  return n;
}
}  // namespace

TextBuffer& TextBuffer::dec(uint64_t v) {
  char d[24];
  for (int n = digits_of(v, 10, d); n > 0;) put(d[--n]);
  return *this;
}

TextBuffer& TextBuffer::sdec(int64_t v) {
  if (v < 0) {
    put('-');
    return dec(~static_cast<uint64_t>(v) + 1);
  }
  return dec(static_cast<uint64_t>(v));
}

TextBuffer& TextBuffer::hex(uint64_t v) { return hex_padded(v, 1); }

TextBuffer& TextBuffer::hex_padded(uint64_t v, int digits) {
  char d[24];
  int n = digits_of(v, 16, d);
  put('0');
  put('x');
  for (int i = n; i < digits; ++i) put('0');
  while (n > 0) put(d[--n]);
  return *this;
}

TextBuffer& TextBuffer::dec_w(uint64_t v, int width) {
  char d[24];
  int n = digits_of(v, 10, d);
  for (int i = n; i < width; ++i) put(' ');
  for (int i = n; i > 0;) put(d[--i]);
  for (int i = n; i < -width; ++i) put(' ');
  return *this;
}

TextBuffer& TextBuffer::str_w(const char* s, int width) {
  int n = static_cast<int>(string_length(s));
  for (int i = n; i < width; ++i) put(' ');
  str(s);
  for (int i = n; i < -width; ++i) put(' ');
  return *this;
}

TextBuffer& TextBuffer::size(uint64_t bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  unsigned u = 0;
  uint64_t scale = 1;
  while (u + 1 < sizeof kUnits / sizeof kUnits[0] && bytes >= scale * 1024) {
    scale *= 1024;
    ++u;
  }
  dec(bytes / scale);
  uint64_t tenths = (bytes % scale) * 10 / scale;
  if (tenths != 0) ch('.').dec(tenths);
  return ch(' ').str(kUnits[u]);
}

void LogLine::flush() {
  if (text_.length() != 0) platform::log(text_.c_str(), text_.length());
  text_.clear();
}

}  // namespace pf
