# vnet as a conventional nixpkgs-style package:
#   vnet = pkgs.callPackage ./nix/package.nix { };
# The inputs are the libraries CMakeLists.txt looks for, by their nixpkgs attribute
# names. Not built here: nixpkgs is not reachable offline (docs/install.md).
{ lib
, stdenv
, cmake
, pkg-config
, scdoc
, libmnl
, libnl
, systemd
, boost
, tomlplusplus
, nlohmann_json
, tl-expected
, gtest
, liburing
, xz
}:

stdenv.mkDerivation {
  pname = "vnet";
  version = "0.1.0";

  src = lib.cleanSource ./..;

  nativeBuildInputs = [ cmake pkg-config scdoc ];
  buildInputs = [
    libmnl
    libnl # libnl-route-3
    systemd # libsystemd
    boost # program_options
    tomlplusplus
    nlohmann_json
    tl-expected
    gtest # the test binaries are part of the build
    liburing
    xz # liblzma (vm-run)
  ];

  cmakeFlags = [
    # Where zsh looks on NixOS (Debian's default is vendor-completions).
    "-DVNET_ZSH_COMPLETION_DIR=share/zsh/site-functions"
    "-DVNET_SYSTEMD_UNIT_DIR=lib/systemd/system"
  ];

  # The unit tier (ctest -L unit) needs no root, but it has not been run inside the Nix
  # sandbox yet; the other tiers need namespaces, QEMU or a kernel.
  doCheck = false;

  meta = {
    description = "Declarative Linux network links (bridges, veths, taps, VLANs) for VM and container hosts";
    platforms = lib.platforms.linux;
    mainProgram = "vnet";
  };
}
