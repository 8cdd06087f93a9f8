#include "vmrun/kvm_cache.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "vmrun/kernel.h"
#include "vmrun/sys.h"

namespace vnet::vmrun {
namespace {

// First line of the file: a format marker, so text that is not ours is never a verdict.
constexpr const char* kMagic = "vnet-kvm-probe 1";

std::string stamp(const struct timespec& t) {
  return std::to_string(t.tv_sec) + "." + std::to_string(t.tv_nsec);
}

// The value may hold anything but a newline (a probe's `why` is a log tail).
std::string one_line(const std::string& s) {
  std::string out;
  for (char c : s) out += (c == '\n' || c == '\r') ? ' ' : c;
  return out;
}

}  // namespace

Result<KvmProbeKey> kvm_probe_key(const std::string& qemu, const std::string& boot_id_file,
                                  const std::string& kvm_dev) {
  KvmProbeKey key;
  auto id = read_file(boot_id_file);
  if (!id) return tl::unexpected(id.error());
  key.boot_id = id->substr(0, id->find('\n'));
  if (key.boot_id.empty()) return fail(boot_id_file + " is empty");
  key.qemu = qemu;
  struct stat st {};
  key.qemu_mtime = ::stat(qemu.c_str(), &st) == 0 ? stamp(st.st_mtim) : "missing";
  key.kvm_dev = ::stat(kvm_dev.c_str(), &st) == 0 ? stamp(st.st_ctim) : "absent";
  return key;
}

std::string format_kvm_probe_cache(const KvmProbeKey& key, const KvmProbe& p) {
  std::string t = std::string(kMagic) + "\n";
  t += "boot_id=" + one_line(key.boot_id) + "\n";
  t += "qemu=" + one_line(key.qemu) + "\n";
  t += "qemu_mtime=" + one_line(key.qemu_mtime) + "\n";
  t += "kvm_dev=" + one_line(key.kvm_dev) + "\n";
  t += std::string("works=") + (p.works ? "yes" : "no") + "\n";
  t += "why=" + one_line(p.why) + "\n";
  return t;
}

std::optional<KvmProbe> parse_kvm_probe_cache(const std::string& text,
                                              const KvmProbeKey& key) {
  std::istringstream in(text);
  std::string line;
  if (!std::getline(in, line) || line != kMagic) return std::nullopt;
  KvmProbeKey got;
  std::optional<bool> works;
  std::string why;
  while (std::getline(in, line)) {
    auto eq = line.find('=');
    if (eq == std::string::npos) return std::nullopt;
    std::string k = line.substr(0, eq), v = line.substr(eq + 1);
    if (k == "boot_id") got.boot_id = v;
    else if (k == "qemu") got.qemu = v;
    else if (k == "qemu_mtime") got.qemu_mtime = v;
    else if (k == "kvm_dev") got.kvm_dev = v;
    else if (k == "works" && (v == "yes" || v == "no")) works = v == "yes";
    else if (k == "why") why = v;
    else return std::nullopt;
  }
  // A key field that no longer round-trips (a newline in a path) never matches.
  KvmProbeKey want{one_line(key.boot_id), one_line(key.qemu), one_line(key.qemu_mtime),
                   one_line(key.kvm_dev)};
  if (!works || got.boot_id.empty() || !(got == want)) return std::nullopt;
  KvmProbe p;
  p.works = *works;
  p.why = p.works ? "" : why;
  p.settled = true;
  p.cached = true;
  return p;
}

std::optional<KvmProbe> read_kvm_probe_cache(const std::string& path,
                                             const KvmProbeKey& key) {
  auto text = read_file(path);
  if (!text) return std::nullopt;
  return parse_kvm_probe_cache(*text, key);
}

Status write_kvm_probe_cache(const std::string& path, const KvmProbeKey& key,
                             const KvmProbe& p) {
  auto slash = path.rfind('/');
  if (slash != std::string::npos && slash > 0)
    if (auto s = mkdir_p(path.substr(0, slash), 0755); !s) return s;
  // Two starts may probe at once: each writes its own file and renames it into place.
  std::string tmp = path + ".tmp." + std::to_string(::getpid());
  if (auto s = write_file(tmp, format_kvm_probe_cache(key, p), 0644); !s) return s;
  if (std::rename(tmp.c_str(), path.c_str()) != 0) {
    auto e = fail_errno("cannot rename " + tmp + " to " + path);
    ::unlink(tmp.c_str());
    return e;
  }
  return {};
}

std::string default_kvm_probe_cache() {
  if (const char* c = std::getenv("VNET_KVM_PROBE_CACHE"); c && *c) return c;
  if (::geteuid() == 0) return "/run/vnet/kvm-probe";
  if (const char* x = std::getenv("XDG_RUNTIME_DIR"); x && *x)
    return std::string(x) + "/vnet/kvm-probe";
  std::string kernels = default_kernel_cache();  // .../vnet/kernels
  return kernels.substr(0, kernels.rfind('/')) + "/kvm-probe";
}

KvmProbe probe_kvm_cached(const KernelImage& k, const std::string& qemu,
                          const std::string& path, bool fresh) {
  std::string file = path.empty() ? default_kvm_probe_cache() : path;
  auto key = kvm_probe_key(qemu);
  if (key && !fresh)
    if (auto hit = read_kvm_probe_cache(file, *key)) return *hit;
  KvmProbe p = probe_kvm(k, qemu);
  // A cache we cannot write only costs the next start another probe.
  if (key && p.settled) (void)write_kvm_probe_cache(file, *key, p);
  return p;
}

}  // namespace vnet::vmrun
