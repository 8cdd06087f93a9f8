// Unit tier: the control protocol without a switch (control_proto.h): requests, the
// answer line, framing, and the tables the CLI prints from another process's answer.
#include "switch/control_proto.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace vnet::sw {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

TEST(ControlProto, ParsesQueriesAndAChange) {
  auto q = parse_control_request(R"({"cmd":"fdb"})");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->cmd, ControlRequest::Cmd::kFdb);
  EXPECT_FALSE(q->changes());
  auto c = parse_control_request(R"({"cmd":"set-port-vlan","port":3,"pvid":40,"tagged":[10,4094]})");
  ASSERT_TRUE(c);
  EXPECT_TRUE(c->changes());
  EXPECT_EQ(c->port, "3");
  EXPECT_EQ(c->pvid, 40);
  EXPECT_EQ(c->tagged, (std::vector<uint16_t>{10, 4094}));
}

TEST(ControlProto, ParsesAddAndRemovePortByNameOnly) {
  auto a = parse_control_request(R"({"cmd":"add-port","port":"vm-dev-0","pvid":40,"tagged":[10]})");
  ASSERT_TRUE(a) << a.error().what;
  EXPECT_EQ(a->cmd, ControlRequest::Cmd::kAddPort);
  EXPECT_TRUE(a->changes());
  EXPECT_EQ(a->port, "vm-dev-0");
  EXPECT_EQ(a->pvid, 40);
  EXPECT_EQ(a->tagged, (std::vector<uint16_t>{10}));
  auto r = parse_control_request(R"({"cmd":"remove-port","port":"vm-dev-0"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->cmd, ControlRequest::Cmd::kRemovePort);
  EXPECT_TRUE(r->changes());
  // The switch makes DIR/NAME.sock of the name: nothing that leaves DIR or reads as a
  // port number, and a VLAN is required.
  for (const char* bad :
       {R"({"cmd":"add-port","port":"../../etc/x","pvid":1})",
        R"({"cmd":"add-port","port":"a/b","pvid":1})", R"({"cmd":"add-port","port":".x","pvid":1})",
        R"({"cmd":"add-port","port":"7","pvid":1})", R"({"cmd":"add-port","port":7,"pvid":1})",
        R"({"cmd":"add-port","port":"vm"})", R"({"cmd":"remove-port","port":3})",
        R"({"cmd":"add-port","port":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","pvid":1})"})
    EXPECT_FALSE(parse_control_request(bad)) << bad;
  EXPECT_TRUE(valid_added_port_name(std::string(64, 'a')));
}

TEST(ControlProto, RefusesWhatIsNotARequest) {
  for (const char* bad :
       {"", "[]", "{}", R"({"cmd":1})", R"({"cmd":"set-port-vlan","port":"a"})",
        R"({"cmd":"set-port-vlan","port":"a","pvid":4095})",
        R"({"cmd":"set-port-vlan","port":"a","tagged":[0]})",
        R"({"cmd":"set-port-vlan","port":-1,"pvid":1})",
        R"({"cmd":"ports","x":[[1]]})"})
    EXPECT_FALSE(parse_control_request(bad)) << bad;
  std::string deep = R"({"cmd":"ports","x":)" + std::string(100000, '[') +
                     std::string(100000, ']') + "}";
  EXPECT_FALSE(parse_control_request(deep));
}

TEST(ControlProto, UnknownCommandIsEchoedEscaped) {
  auto r = parse_control_request("{\"cmd\":\"x\\n\\u001b[31m\"}");
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().what, HasSubstr("unknown cmd 'x\\n\\x1b[31m'"));
}

TEST(ControlProto, AnswerIsOneLineWhateverTheBytesInIt) {
  json a = {{"ok", true}, {"ports", {{{"peer", std::string("vm\n\xff\xfe\x1b")}}}}};
  std::string line;
  ASSERT_NO_THROW(line = control_line(a));
  EXPECT_EQ(line.find('\n'), line.size() - 1);
  EXPECT_TRUE(json::accept(line));
}

TEST(ControlProto, LinesAreSplitAndAnEndlessLineRefused) {
  ControlLines in;
  ASSERT_TRUE(in.append("{\"cmd\":\"ports\"}\n{\"cmd\":"));
  EXPECT_EQ(in.next(), "{\"cmd\":\"ports\"}");
  EXPECT_FALSE(in.next());
  ASSERT_TRUE(in.append("\"fdb\"}\n"));
  EXPECT_EQ(in.next(), "{\"cmd\":\"fdb\"}");
  ControlLines endless;
  EXPECT_TRUE(endless.append(std::string(kMaxControlLine, 'x')));
  EXPECT_FALSE(endless.append("x"));
}

// The CLI prints what a switch (another process, maybe another user's) answered:
// client descriptions with escape sequences, and answers of any shape.
TEST(ControlProto, TablesEscapeClientTextAndTakeAnyAnswer) {
  json a = {{"ok", true},
            {"ports", {{{"id", 1}, {"kind", "vde"}, {"peer", "vm\n\x1b]0;pwned\x07"}, {"pvid", 1}}}}};
  std::string t = format_control_answer("ports", a);
  EXPECT_THAT(t, HasSubstr("vm\\n\\x1b]0;pwned\\x07"));
  EXPECT_THAT(t, Not(HasSubstr("\x1b")));
  for (const char* odd : {R"({"ports":5})", R"({"ports":[1,"x",{"id":[[]],"tagged":{"a":1}}]})",
                          R"({"fdb":[null,{"vlan":"\u0007"}]})", R"({"stats":[1]})",
                          R"({"stats":{"a\nb":{"x":1},"c":"\u001b"}})", "[]", "null"})
    for (const char* what : {"ports", "fdb", "stats"}) {
      std::string out;
      ASSERT_NO_THROW(out = format_control_answer(what, json::parse(odd))) << odd;
      for (char c : out) EXPECT_TRUE(c == '\n' || static_cast<unsigned char>(c) >= 0x20) << odd;
    }
  EXPECT_FALSE(answer_ok(json::parse(R"({"ok":"yes"})")));
  EXPECT_EQ(answer_error(json::parse(R"({"ok":false,"error":["x"]})")), "failed without saying why");
}

}  // namespace
}  // namespace vnet::sw
