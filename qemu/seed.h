// The cloud-init NoCloud seed of a guest: the files meta-data, user-data and
// network-config, rendered from the model as text (YAML written here, every scalar
// double-quoted), and an ISO 9660 image holding them with volume id "cidata" (what
// NoCloud looks for), attached as an IDE CD-ROM by argv.h. Also the ephemeral SSH key
// pair a start makes when the guest declares no keys. docs/guests.md "Cloud-init seed".
#pragma once

#include <string>
#include <vector>

#include "base/error.h"
#include "topology/model.h"

namespace vnet::qemu {

struct SeedOptions {
  std::string instance_id;               // "" = "vnet-<guest>-<hash of the seed's content>"
  std::string ephemeral_public_key;      // "" = none (generate_ssh_keypair's result)
  std::vector<std::string> debug_ssh_keys;  // the operator's own keys, added too
  std::string user_data;                 // the contents of cloud_init.user_data ("" = none)
};

struct SeedFile {
  std::string name;  // "meta-data", "user-data", "network-config"
  std::string content;
  bool operator==(const SeedFile&) const = default;
};

// YAML double-quoted scalar: "a\"b", control bytes as \n, \t, \xNN; UTF-8 kept.
std::string yaml_quote(const std::string& s);

// instance-id and local-hostname (cloud_init.hostname, else the guest's name).
std::string render_meta_data(const topology::Guest& guest, const std::string& instance_id);

// The keys of the default user: ephemeral, declared (cloud_init.ssh_authorized_keys),
// debug, in that order, without repeats. Without a user file: a #cloud-config with
// ssh_authorized_keys (and the hostname). With one, see docs/guests.md for the rule:
// a #cloud-config file keeps its text and gains the keys (inserted into its own top-level
// block `ssh_authorized_keys:` list, else appended as that key); any other file (a
// script, a MIME message, a #cloud-config whose keys cannot be merged as text) becomes
// the first part of a MIME multipart whose second part is vnet's #cloud-config, merged
// by cloud-init with list(append).
std::string render_user_data(const topology::Guest& guest, const SeedOptions& opts);

// network-config version 2: one ethernet per NIC, matched by MAC (argv.h nic_mac), with
// set-name when the NIC names its link, static addresses and the gateway as the default
// route (`to: default`), or DHCPv4 when the NIC has no addresses.
std::string render_network_config(const topology::Guest& guest);

// The three files, instance-id derived from their content unless given.
std::vector<SeedFile> render_seed(const topology::Guest& guest, const SeedOptions& opts);

// Writes an ISO 9660 image (Rock Ridge and Joliet, so names keep their case; volume id
// "cidata") holding `files` at its root; atomically (a temporary file renamed over path).
Status write_seed_iso(const std::string& path, const std::vector<SeedFile>& files);

// Reads the files at the root of an ISO image and its volume id (tests, `vnet guest`
// diagnostics). Names as Rock Ridge gives them, or Joliet's when `joliet`.
struct IsoContents {
  std::string volume_id;
  std::vector<SeedFile> files;  // sorted by name
};
Result<IsoContents> read_iso(const std::string& path, bool joliet = false);

// Makes a fresh ed25519 key pair DIR/id_ed25519 (mode 0600) and DIR/id_ed25519.pub with
// libcrypto, written in OpenSSH's formats (replacing an older pair); returns the public
// key line.
Result<std::string> generate_ssh_keypair(const std::string& dir,
                                         const std::string& comment = "vnet-ephemeral");

}  // namespace vnet::qemu
