// printable(): text vnet did not write, made safe to print and to put in JSON.
#include "base/text.h"

#include <gtest/gtest.h>

namespace vnet {
namespace {

TEST(Printable, ControlBytesAreEscapedAndTextKept) {
  EXPECT_EQ(printable("vm 1\nforged: line\x1b[2J\x7f"), "vm 1\\nforged: line\\x1b[2J\\x7f");
  EXPECT_EQ(printable("J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x96\xa5"), "J\xc3\xbcrgen \xe2\x82\xac \xf0\x9f\x96\xa5");
  EXPECT_EQ(printable("\xc2\x9b" "31m"), "\\u009b31m");  // C1 CSI, as UTF-8
}

TEST(Printable, BytesThatAreNotUtf8AreEscaped) {
  EXPECT_EQ(printable("\x9b" "31m"), "\\x9b31m");  // CSI to a terminal that reads bytes
  EXPECT_EQ(printable("a\xff\xfe"), "a\\xff\\xfe");
  EXPECT_EQ(printable("\xc3"), "\\xc3");                      // cut short
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");             // overlong '/'
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");    // a UTF-16 surrogate
  EXPECT_EQ(printable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
}

}  // namespace
}  // namespace vnet
