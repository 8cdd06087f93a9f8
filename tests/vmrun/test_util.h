// Helpers shared by the vm-run tests: scratch folders removed at the end of a test.
#pragma once

#include <stdlib.h>

#include <string>

#include "vmrun/sys.h"

namespace vnet::vmrun::testing {

class TempDir {
 public:
  explicit TempDir(const char* base = "/tmp") {
    std::string t = std::string(base) + "/vnet-vmrun-test-XXXXXX";
    path_ = ::mkdtemp(t.data()) ? t : "";
  }
  ~TempDir() {
    if (!path_.empty()) (void)remove_tree(path_);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string all_bytes() {
  std::string s;
  for (int i = 0; i < 256; ++i) s.push_back(char(i));
  return s;
}

}  // namespace vnet::vmrun::testing
