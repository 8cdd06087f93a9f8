// Build step: writes the installed unit templates (units::templates) into DIR as
// NAME.in, naming the binary "@VNET_BINDIR@/vnet" for the install step to fill in.
#include <fstream>
#include <iostream>

#include "units/units.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: vnet_unit_templates DIR\n";
    return 2;
  }
  for (const vnet::units::Unit& u : vnet::units::templates("@VNET_BINDIR@/vnet")) {
    std::string path = std::string(argv[1]) + "/" + u.name + ".in";
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << vnet::units::unit_text(u);
    out.close();
    if (!out) {
      std::cerr << "vnet_unit_templates: cannot write " << path << "\n";
      return 1;
    }
  }
  return 0;
}
