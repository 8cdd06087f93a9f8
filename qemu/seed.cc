#include "qemu/seed.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

// libisofs's copy of libburn's struct burn_source (we read the image from it ourselves
// and do not link libburn).
#define LIBISOFS_WITHOUT_LIBBURN 1
#include <libisofs/libisofs.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <set>

#include "base/unique_fd.h"
#include "qemu/argv.h"
#include "vmrun/sys.h"


namespace vnet::qemu {
namespace {

using topology::Guest;

uint64_t fnv1a(std::string_view s, uint64_t h = 0xcbf29ce484222325ull) {
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ull;
  }
  return h;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    lines.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return lines;
}

std::string rtrim(std::string s) {
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n'))
    s.pop_back();
  return s;
}

std::vector<std::string> all_keys(const Guest& g, const SeedOptions& o) {
  std::vector<std::string> keys;
  std::set<std::string> seen;
  auto add = [&](const std::string& k) {
    std::string t = rtrim(k);
    if (!t.empty() && seen.insert(t).second) keys.push_back(t);
  };
  add(o.ephemeral_public_key);
  if (g.cloud_init)
    for (const auto& k : g.cloud_init->ssh_authorized_keys) add(k);
  for (const auto& k : o.debug_ssh_keys) add(k);
  return keys;
}

std::string key_items(const std::vector<std::string>& keys, size_t indent) {
  std::string out;
  for (const auto& k : keys) out += std::string(indent, ' ') + "- " + yaml_quote(k) + "\n";
  return out;
}

// The user's #cloud-config with our keys merged in as text, or "" when that cannot be
// done safely without a YAML parser (then the caller falls back to MIME multipart).
std::string merge_cloud_config(const std::string& user, const std::vector<std::string>& keys) {
  std::vector<std::string> lines = split_lines(user);
  int key_line = -1;
  for (size_t i = 1; i < lines.size(); ++i) {
    std::string l = rtrim(lines[i]);
    // More than one document, or a flow mapping at the top: not plain block YAML.
    if (l == "---" || l == "..." || l.starts_with("--- ") || l.starts_with("{")) return "";
    if (l.starts_with("ssh_authorized_keys:")) {
      if (key_line >= 0) return "";
      key_line = int(i);
    }
  }
  if (key_line < 0) {
    std::string out = user;
    if (!out.empty() && out.back() != '\n') out += '\n';
    return out + "ssh_authorized_keys:\n" + key_items(keys, 2);
  }
  // `ssh_authorized_keys:` followed by a block list (or nothing, i.e. null): insert our
  // items first, at the indentation of the user's own items (one list, one indent).
  std::string rest = rtrim(lines[key_line].substr(std::strlen("ssh_authorized_keys:")));
  size_t lead = rest.find_first_not_of(" \t");
  if (lead != std::string::npos && rest[lead] != '#') return "";  // inline value ([...], "x")
  size_t indent = 2;
  for (size_t i = key_line + 1; i < lines.size(); ++i) {
    std::string l = rtrim(lines[i]);
    size_t first = l.find_first_not_of(' ');
    if (first == std::string::npos || l[first] == '#') continue;
    if (l[first] == '-' && (first + 1 == l.size() || l[first + 1] == ' ')) indent = first;
    break;
  }
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    out += lines[i] + "\n";
    if (int(i) == key_line) out += key_items(keys, indent);
  }
  if (!user.empty() && user.back() != '\n') out.pop_back();  // keep the file's own ending
  return out;
}

bool starts_with_ci(const std::string& s, std::string_view prefix) {
  if (s.size() < prefix.size()) return false;
  for (size_t i = 0; i < prefix.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
  return true;
}

// cloud-init's own content types, by the user-data's first line.
std::string content_type(const std::string& user) {
  struct Start { const char* prefix; const char* type; };
  static const Start starts[] = {
      {"#cloud-config-archive", "text/cloud-config-archive"},
      {"#cloud-config", "text/cloud-config"},
      {"#include-once", "text/x-include-once-url"},
      {"#include", "text/x-include-url"},
      {"#!", "text/x-shellscript"},
      {"#cloud-boothook", "text/cloud-boothook"},
      {"#part-handler", "text/part-handler"},
      {"#upstart-job", "text/upstart-job"},
      {"## template: jinja", "text/jinja2"},
  };
  for (const Start& s : starts)
    if (user.starts_with(s.prefix)) return s.type;
  return "text/plain";
}

std::string multipart(const std::string& user, const std::vector<std::string>& keys) {
  std::string boundary = "==vnet-seed==";
  for (int n = 1; user.find(boundary) != std::string::npos; ++n)
    boundary = "==vnet-seed-" + std::to_string(n) + "==";
  std::string body = user;
  if (!body.empty() && body.back() != '\n') body += '\n';
  std::string out = "Content-Type: multipart/mixed; boundary=\"" + boundary +
                    "\"\nMIME-Version: 1.0\n\n--" + boundary + "\n";
  // A MIME message of its own is the part as it is (its headers become the part's).
  if (starts_with_ci(user, "content-type:") || starts_with_ci(user, "mime-version:"))
    out += body;
  else
    out += "Content-Type: " + content_type(user) + "; charset=\"utf-8\"\nMIME-Version: 1.0\n\n" +
           body;
  // The second part is merged into the first; list(append) adds our keys to any the user
  // declared instead of replacing them (cloud-init's default merge replaces lists).
  out += "--" + boundary +
         "\nContent-Type: text/cloud-config; charset=\"utf-8\"\nMIME-Version: 1.0\n\n"
         "#cloud-config\n"
         "merge_how:\n"
         "  - name: list\n"
         "    settings: [append]\n"
         "  - name: dict\n"
         "    settings: [no_replace, recurse_list]\n"
         "ssh_authorized_keys:\n" +
         key_items(keys, 2) + "--" + boundary + "--\n";
  return out;
}

std::string iso_error(const std::string& what, int code) {
  return what + ": " + iso_error_to_msg(code);
}

void iso_init_once() {
  static std::once_flag once;
  // libisofs keeps process-wide message state; it lives until exit (no iso_finish).
  std::call_once(once, [] { iso_init_with_flag(1); });
}

struct ImageUnref { void operator()(IsoImage* i) const { iso_image_unref(i); } };
using ImagePtr = std::unique_ptr<IsoImage, ImageUnref>;

}  // namespace

std::string yaml_quote(const std::string& s) {
  std::string out = "\"";
  for (char ch : s) {
    unsigned char c = static_cast<unsigned char>(ch);
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          char buf[5];
          std::snprintf(buf, sizeof buf, "\\x%02x", c);
          out += buf;
        } else {
          out += ch;  // UTF-8 passes through: YAML documents are UTF-8
        }
    }
  }
  return out + "\"";
}

std::string render_meta_data(const Guest& g, const std::string& instance_id) {
  std::string host = g.cloud_init && !g.cloud_init->hostname.empty() ? g.cloud_init->hostname
                                                                      : g.name;
  return "instance-id: " + yaml_quote(instance_id) + "\nlocal-hostname: " + yaml_quote(host) +
         "\n";
}

std::string render_user_data(const Guest& g, const SeedOptions& o) {
  std::vector<std::string> keys = all_keys(g, o);
  const std::string& user = o.user_data;
  if (user.empty())
    return "#cloud-config\n" +
           (keys.empty() ? std::string() : "ssh_authorized_keys:\n" + key_items(keys, 2));
  if (keys.empty()) return user;
  if (rtrim(split_lines(user).front()) == "#cloud-config") {
    std::string merged = merge_cloud_config(user, keys);
    if (!merged.empty()) return merged;
  }
  return multipart(user, keys);
}

std::string render_network_config(const Guest& g) {
  std::string out = "version: 2\n";
  if (g.nics.empty()) return out;
  out += "ethernets:\n";
  for (size_t i = 0; i < g.nics.size(); ++i) {
    const topology::GuestNic& nic = g.nics[i];
    out += "  nic" + std::to_string(i) + ":\n";
    out += "    match:\n      macaddress: " + yaml_quote(nic_mac(g, i).str()) + "\n";
    if (!nic.name.empty()) out += "    set-name: " + yaml_quote(nic.name) + "\n";
    if (nic.addresses.empty()) {
      out += "    dhcp4: true\n";  // e.g. QEMU's user networking, which serves DHCP
    } else {
      out += "    addresses:\n";
      for (const auto& a : nic.addresses) out += "      - " + yaml_quote(a.str()) + "\n";
    }
    if (nic.gateway)
      out += "    routes:\n      - to: default\n        via: " + yaml_quote(nic.gateway->str()) +
             "\n";
  }
  return out;
}

std::vector<SeedFile> render_seed(const Guest& g, const SeedOptions& o) {
  std::string user = render_user_data(g, o);
  std::string net = render_network_config(g);
  std::string id = o.instance_id;
  if (id.empty()) {
    // A new seed is a new instance to cloud-init: its per-instance modules (keys, users)
    // run again only when the instance-id changes.
    uint64_t h = fnv1a(net, fnv1a(user, fnv1a(render_meta_data(g, ""))));
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
    id = "vnet-" + g.name + "-" + std::string(hex, 12);
  }
  return {{"meta-data", render_meta_data(g, id)}, {"user-data", user}, {"network-config", net}};
}

Status write_seed_iso(const std::string& path, const std::vector<SeedFile>& files) {
  iso_init_once();
  IsoImage* raw = nullptr;
  if (int r = iso_image_new("cidata", &raw); r < 0) return fail(iso_error("libisofs", r));
  ImagePtr image(raw);
  IsoDir* root = iso_image_get_root(image.get());
  for (const SeedFile& f : files) {
    // The stream owns the buffer and free()s it.
    auto* buf = static_cast<unsigned char*>(std::malloc(std::max<size_t>(f.content.size(), 1)));
    if (!buf) return fail("out of memory", ENOMEM);
    std::memcpy(buf, f.content.data(), f.content.size());
    IsoStream* stream = nullptr;
    if (int r = iso_memory_stream_new(buf, f.content.size(), &stream); r < 0) {
      std::free(buf);
      return fail(iso_error("seed " + f.name, r));
    }
    IsoFile* file = nullptr;
    if (int r = iso_tree_add_new_file(root, f.name.c_str(), stream, &file); r < 0) {
      iso_stream_unref(stream);
      return fail(iso_error("seed " + f.name, r));
    }
    iso_node_set_permissions(reinterpret_cast<IsoNode*>(file), 0444);
  }

  IsoWriteOpts* opts = nullptr;
  if (int r = iso_write_opts_new(&opts, 0); r < 0) return fail(iso_error("libisofs", r));
  iso_write_opts_set_rockridge(opts, 1);
  iso_write_opts_set_joliet(opts, 1);
  // The primary volume id as given ("cidata"), not ISO 9660's upper case: what
  // genisoimage -V cidata writes and what cloud-init's NoCloud docs show.
  iso_write_opts_set_relaxed_vol_atts(opts, 1);
  burn_source* src = nullptr;
  int r = iso_image_create_burn_source(image.get(), opts, &src);
  iso_write_opts_free(opts);
  if (r < 0) return fail(iso_error("cannot build the seed image", r));

  std::string tmp = path + ".tmp-XXXXXX";
  UniqueFd fd(::mkstemp(tmp.data()));
  Status st;
  if (!fd) st = fail_errno("cannot create " + tmp);
  unsigned char block[2048];
  while (st) {
    int n = src->read_xt(src, block, sizeof block);
    if (n == 0) break;
    if (n < 0) {
      st = fail("libisofs failed while writing " + path);
      break;
    }
    if (::write(fd.get(), block, size_t(n)) != n) st = fail_errno("cannot write " + tmp);
  }
  if (!st) src->cancel(src);  // stops libisofs's writer thread
  src->free_data(src);
  std::free(src);
  if (st && ::fchmod(fd.get(), 0644) != 0) st = fail_errno("cannot chmod " + tmp);
  if (st && ::fsync(fd.get()) != 0) st = fail_errno("cannot write " + tmp);
  fd.reset();
  if (st && ::rename(tmp.c_str(), path.c_str()) != 0) st = fail_errno("cannot rename to " + path);
  if (!st) ::unlink(tmp.c_str());
  return st;
}

Result<IsoContents> read_iso(const std::string& path, bool joliet) {
  iso_init_once();
  IsoDataSource* src = nullptr;
  if (int r = iso_data_source_new_from_file(path.c_str(), &src); r < 0)
    return fail(iso_error("cannot open " + path, r));
  IsoReadOpts* ro = nullptr;
  if (int r = iso_read_opts_new(&ro, 0); r < 0) {
    iso_data_source_unref(src);
    return fail(iso_error("libisofs", r));
  }
  // Rock Ridge is preferred when present; without it libisofs reads the Joliet tree.
  if (joliet) iso_read_opts_set_no_rockridge(ro, 1);
  IsoImage* raw = nullptr;
  iso_image_new("", &raw);
  ImagePtr image(raw);
  IsoReadImageFeatures* features = nullptr;
  int r = iso_image_import(image.get(), src, ro, &features);
  iso_read_opts_free(ro);
  iso_data_source_unref(src);
  if (r < 0) return fail(iso_error("cannot read " + path, r));
  iso_read_image_features_destroy(features);

  IsoContents out;
  if (const char* v = iso_image_get_volume_id(image.get())) out.volume_id = v;
  IsoDirIter* it = nullptr;
  if (int rr = iso_dir_get_children(iso_image_get_root(image.get()), &it); rr < 0)
    return fail(iso_error("cannot list " + path, rr));
  IsoNode* node = nullptr;
  Status st;
  while (st && iso_dir_iter_next(it, &node) == 1) {
    SeedFile f{iso_node_get_name(node), ""};
    if (iso_node_get_type(node) == LIBISO_FILE) {
      IsoStream* s = iso_file_get_stream(reinterpret_cast<IsoFile*>(node));
      if (int rr = iso_stream_open(s); rr < 0) {
        st = fail(iso_error("cannot read " + f.name + " in " + path, rr));
        break;
      }
      char buf[4096];
      int n;
      while ((n = iso_stream_read(s, buf, sizeof buf)) > 0) f.content.append(buf, size_t(n));
      iso_stream_close(s);
      if (n < 0) st = fail(iso_error("cannot read " + f.name + " in " + path, n));
    }
    out.files.push_back(std::move(f));
  }
  iso_dir_iter_free(it);
  if (!st) return tl::unexpected(st.error());
  std::sort(out.files.begin(), out.files.end(),
            [](const SeedFile& a, const SeedFile& b) { return a.name < b.name; });
  return out;
}

namespace {

// OpenSSH's wire encoding (RFC 4251): a string is a big-endian u32 length and bytes.
void put_u32(std::string& out, uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(char((v >> shift) & 0xff));
}
void put_string(std::string& out, const std::string& s) {
  put_u32(out, uint32_t(s.size()));
  out += s;
}

std::string base64(const std::string& in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16 | uint32_t(uint8_t(in[i + 1])) << 8 | uint8_t(in[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out.push_back(table[(v >> k) & 63]);
  }
  if (i < in.size()) {
    uint32_t v = uint32_t(uint8_t(in[i])) << 16;
    if (i + 1 < in.size()) v |= uint32_t(uint8_t(in[i + 1])) << 8;
    out.push_back(table[(v >> 18) & 63]);
    out.push_back(table[(v >> 12) & 63]);
    out.push_back(i + 1 < in.size() ? table[(v >> 6) & 63] : '=');
    out.push_back('=');
  }
  return out;
}

Status write_private(const std::string& path, const std::string& text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd) return fail_errno("cannot create " + path);
  if (::write(fd.get(), text.data(), text.size()) != ssize_t(text.size()))
    return fail_errno("cannot write " + path);
  return {};
}

}  // namespace

Result<std::string> generate_ssh_keypair(const std::string& dir, const std::string& comment) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
    return fail_errno("cannot create " + dir);
  std::string key = dir + "/id_ed25519";
  // The pair is per start: the old one goes.
  for (const std::string& p : {key, key + ".pub"})
    if (::unlink(p.c_str()) != 0 && errno != ENOENT) return fail_errno("cannot remove " + p);

  // libcrypto makes the key (in-process: running ssh-keygen cost a start 20-70 ms);
  // we only write it in OpenSSH's formats, which `ssh -i` reads.
  std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
      EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr), EVP_PKEY_CTX_free);
  EVP_PKEY* raw = nullptr;
  if (!ctx || EVP_PKEY_keygen_init(ctx.get()) <= 0 || EVP_PKEY_keygen(ctx.get(), &raw) <= 0)
    return fail("libcrypto could not generate an ed25519 key");
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> pkey(raw, EVP_PKEY_free);
  unsigned char pub[32], seed[32];
  size_t pub_len = sizeof pub, seed_len = sizeof seed;
  if (EVP_PKEY_get_raw_public_key(pkey.get(), pub, &pub_len) <= 0 ||
      EVP_PKEY_get_raw_private_key(pkey.get(), seed, &seed_len) <= 0 || pub_len != 32 ||
      seed_len != 32)
    return fail("libcrypto did not hand out the ed25519 key");
  std::string pub_raw(reinterpret_cast<char*>(pub), 32);
  std::string secret = std::string(reinterpret_cast<char*>(seed), 32) + pub_raw;  // OpenSSH's 64 bytes
  OPENSSL_cleanse(seed, sizeof seed);

  std::string blob;
  put_string(blob, "ssh-ed25519");
  put_string(blob, pub_raw);

  // openssh-key-v1 (OpenSSH's PROTOCOL.key), unencrypted: cipher and kdf "none".
  uint32_t check = 0;
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&check), sizeof check) != 1)
    return fail("libcrypto has no randomness");
  std::string priv;
  put_u32(priv, check);
  put_u32(priv, check);
  put_string(priv, "ssh-ed25519");
  put_string(priv, pub_raw);
  put_string(priv, secret);
  put_string(priv, comment);
  for (char pad = 1; priv.size() % 8 != 0; ++pad) priv.push_back(pad);
  std::string body = std::string("openssh-key-v1") + '\0';
  put_string(body, "none");
  put_string(body, "none");
  put_string(body, "");
  put_u32(body, 1);
  put_string(body, blob);
  put_string(body, priv);
  OPENSSL_cleanse(secret.data(), secret.size());
  OPENSSL_cleanse(priv.data(), priv.size());

  std::string b64 = base64(body);
  OPENSSL_cleanse(body.data(), body.size());
  std::string text = "-----BEGIN OPENSSH PRIVATE KEY-----\n";
  for (size_t i = 0; i < b64.size(); i += 70) text += b64.substr(i, 70) + "\n";
  text += "-----END OPENSSH PRIVATE KEY-----\n";
  OPENSSL_cleanse(b64.data(), b64.size());
  Status written = write_private(key, text);
  OPENSSL_cleanse(text.data(), text.size());
  if (!written) return tl::unexpected(written.error());

  std::string line = "ssh-ed25519 " + base64(blob) + (comment.empty() ? "" : " " + comment);
  if (auto s = vmrun::write_file(key + ".pub", line + "\n", 0644); !s) return tl::unexpected(s.error());
  return line;
}

}  // namespace vnet::qemu
