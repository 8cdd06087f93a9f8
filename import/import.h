// `vnet import ifupdown FILE` and `vnet import networkd DIR`: another tool's network
// configuration as host.toml. Each parser reads its format into what that configuration
// makes the kernel hold (a plan::Snapshot of one namespace) and `vnet show`'s writer
// (plan/show.h) turns that into host.toml: one writer, the same inverse of the model's
// rules, so the output applies to the state the other tool would have built.
//
// What the schema cannot say is never guessed: each stanza, option or key left out is a
// warning (FILE:LINE) and a comment in the output. Malformed input is an error
// (FILE:LINE: error: ...) and no output at all. Pure apart from reading the files.
#pragma once

#include <string>
#include <vector>

#include "base/error.h"

namespace vnet::import {

struct Warning {
  SourceLoc loc;     // file and line (col 0: the whole line)
  std::string what;  // "post-up: a command; vnet runs none"
  std::string str() const;  // "FILE:LINE: warning: WHAT"
};

struct Imported {
  std::string toml;
  std::vector<Warning> warnings;
};

struct ImportOptions {
  std::string host = "imported";  // [host] name
};

// Errors: every malformed line, each "FILE:LINE: error: WHAT" (Error::what holds them
// all, one per line; exit kBadInput).
Result<Imported> ifupdown(const std::string& text, const std::string& file,
                          const ImportOptions& options = {});
Result<Imported> ifupdown_file(const std::string& path, const ImportOptions& options = {});

struct NamedText {
  std::string name;  // "10-vnet-br0.netdev": as it appears in messages
  std::string text;
};
// The .netdev and .network files of one folder (others are ignored), in any order.
Result<Imported> networkd(const std::vector<NamedText>& files, const ImportOptions& options = {});
Result<Imported> networkd_dir(const std::string& dir, const ImportOptions& options = {});

}  // namespace vnet::import
