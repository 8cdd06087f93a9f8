// libFuzzer target: arbitrary bytes through the control protocol (control_proto.h), on
// both sides. The switch's side: the bytes, cut into reads where the first byte says,
// framed into lines, each parsed as a request and answered with the line echoed back (as
// an error echoes a client's text). The CLI's side: the bytes as a switch's answer,
// rendered as each table. And printable() on the bytes. Checks what the event loop and
// the terminal rely on: bounded lines, one valid JSON line per answer, no control byte
// in a table, nothing thrown.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "base/text.h"
#include "switch/control_proto.h"

using namespace vnet::sw;
using nlohmann::json;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  size_t chunk = data[0] % 64 + 1;

  ControlLines lines;
  for (size_t off = 0; off < in.size(); off += chunk) {
    if (!lines.append(in.substr(off, chunk))) break;  // the switch drops the client
    while (auto line = lines.next()) {
      if (line->size() > kMaxControlLine + chunk || line->find('\n') != std::string::npos)
        std::abort();
      auto req = parse_control_request(*line);
      if (req && req->changes()) {
        if (req->pvid > 4094) std::abort();
        for (uint16_t v : req->tagged)
          if (v < 1 || v > 4094) std::abort();
      }
      json answer = req ? json{{"ok", true}, {"echo", *line}} : control_error(req.error().what);
      std::string out = control_line(answer);
      if (out.find('\n') != out.size() - 1 || !json::accept(out)) std::abort();
    }
  }

  if (json_depth_within(in, 64)) {
    json a = json::parse(in, nullptr, false);
    if (!a.is_discarded()) {
      for (const char* what : {"ports", "fdb", "stats"})
        for (char c : format_control_answer(what, a))
          if (c != '\n' && static_cast<unsigned char>(c) < 0x20) std::abort();
      (void)answer_ok(a);
      (void)answer_denied(a);
      for (char c : answer_error(a))
        if (static_cast<unsigned char>(c) < 0x20) std::abort();
    }
  }

  // Escaped text is valid UTF-8: a strict dump must not throw.
  (void)json(vnet::printable(in)).dump();
  return 0;
}
