// text_error_test.cpp — the formatter and the error model's one handler.
#include <gtest/gtest.h>

#include <string>

#include "kernel/mm/error.hpp"
#include "kernel/mm/text.hpp"
#include "tests/unit/support.hpp"

namespace pf {
namespace {

TEST(Text, FormatsNumbersAndTruncates) {
  char buf[64];
  TextBuffer t(buf, sizeof buf);
  t.str("a=").dec(0).str(" b=").sdec(-42).str(" c=").hex(0xbeef).str(" d=").hex_padded(0x1f, 4);
  EXPECT_STREQ(buf, "a=0 b=-42 c=0xbeef d=0x001f");
  t.clear();
  t.dec_w(7, 4).str("|").dec_w(7, -4).str("|").str_w("ab", 4);
  EXPECT_STREQ(buf, "   7|7   |  ab");
  t.clear();
  t.size(4096).str(" ").size(3 * MiB / 2).str(" ").size(256 * GiB);
  EXPECT_STREQ(buf, "4 KiB 1.5 MiB 256 GiB");

  char small[8];
  TextBuffer s(small, sizeof small);
  s.str("0123456789");
  EXPECT_STREQ(small, "0123456");
  EXPECT_TRUE(s.truncated());
}

TEST(Error, HandlerReceivesNamedReportAndReturns) {
  test::ErrorRecorder rec;
  report({.code = ErrorCode::PageDoubleFree, .detail = "block is already free",
          .address = 0x5000, .pfn = 5});
  ASSERT_EQ(rec.count(), 1u);
  EXPECT_EQ(rec.last().code, ErrorCode::PageDoubleFree);
  EXPECT_NE(rec.last_message().find("page-double-free"), std::string::npos);
  EXPECT_NE(rec.last_message().find("frame=0x5"), std::string::npos);
}

TEST(ErrorDeathTest, DefaultHandlerIsFatalAndNamesTheError) {
  EXPECT_DEATH(report({.code = ErrorCode::SlabWrongCache, .detail = "x", .cache = "dentry"}),
               "slab-wrong-cache.*cache=dentry");
}

}  // namespace
}  // namespace pf
