#include "vmrun/kernel.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <ctime>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include "base/unique_fd.h"
#include "vmrun/sys.h"
#include "vmrun/vmlinux.h"

namespace vnet::vmrun {
namespace {

// Folders of the module tree kept in the cache (relative to lib/modules/<release>/),
// plus whatever their modules depend on. Everything a network test may autoload
// (netfilter, qdiscs, tunnels) without the 300 MB of hardware drivers.
const char* const kKeepPrefixes[] = {
    "kernel/net/802/",       "kernel/net/8021q/",        "kernel/net/llc/",
    "kernel/net/bridge/",    "kernel/net/core/",         "kernel/net/ipv4/",
    "kernel/net/ipv6/",      "kernel/net/netfilter/",    "kernel/net/sched/",
    "kernel/net/9p/",        "kernel/net/packet/",       "kernel/net/xfrm/",
    "kernel/net/key/",       "kernel/net/openvswitch/",  "kernel/net/vmw_vsock/",
    "kernel/net/sctp/",      "kernel/net/mpls/",         "kernel/net/nsh/",
    "kernel/drivers/net/vxlan/", "kernel/drivers/net/ipvlan/", "kernel/drivers/net/bonding/",
    "kernel/drivers/net/team/",  "kernel/drivers/virtio/",    "kernel/drivers/char/virtio",
    "kernel/drivers/block/virtio", "kernel/fs/9p/",      "kernel/fs/netfs/",
    "kernel/fs/fscache/",    "kernel/fs/overlayfs/",     "kernel/lib/",
    "kernel/crypto/",
    // The IDE CD-ROM a QEMU guest's cloud-init seed sits on (qemu/argv.cc), so lab
    // guests can read it (tests/guests/ssh_lab_test.cc); libata, scsi and cdrom follow.
    // An entry cached before these were kept still serves vm-run: not a format change.
    "kernel/drivers/ata/ata_piix", "kernel/drivers/scsi/sr_mod", "kernel/fs/isofs/",
};

// Every module directly in kernel/drivers/net/ (veth, tun, tap, macvlan, macvtap,
// dummy, ifb, geneve, vrf, nlmon...) is kept too; see keep_module().
bool keep_module(const std::string& rel) {
  for (const char* p : kKeepPrefixes)
    if (rel.rfind(p, 0) == 0) return true;
  const std::string net = "kernel/drivers/net/";
  return rel.rfind(net, 0) == 0 && rel.find('/', net.size()) == std::string::npos;
}

// Bumped when what an entry holds changes; an entry of another format is rebuilt.
constexpr const char* kCacheFormat = "2";

const char* const kKeepFiles[] = {"modules.builtin", "modules.builtin.modinfo",
                                  "modules.order"};

std::string normalize(std::string name) {
  for (char& c : name)
    if (c == '-') c = '_';
  return name;
}

bool ends_with(const std::string& s, std::string_view suf) {
  return s.size() >= suf.size() && s.compare(s.size() - suf.size(), suf.size(), suf) == 0;
}

// Module name of a file name: "9pnet_virtio.ko.xz" -> "9pnet_virtio".
std::string module_name(const std::string& file) {
  size_t slash = file.rfind('/');
  std::string base = slash == std::string::npos ? file : file.substr(slash + 1);
  size_t ko = base.find(".ko");
  return normalize(base.substr(0, ko));
}

bool is_module_file(const std::string& f) {
  return ends_with(f, ".ko") || ends_with(f, ".ko.xz");
}

Result<std::string> read_module(const std::string& path) {
  auto bytes = read_file(path);
  if (!bytes) return bytes;
  if (ends_with(path, ".xz")) {
    auto plain = xz_decompress(*bytes);
    if (!plain) return fail("cannot decompress " + path);
    return plain;
  }
  return bytes;
}

// All module files under `dir` (relative paths), recursively.
Status walk_modules(const std::string& root, const std::string& rel,
                    std::vector<std::string>& out) {
  auto names = list_dir(root + "/" + rel);
  if (!names) return tl::unexpected(names.error());
  for (const auto& n : *names) {
    std::string r = rel.empty() ? n : rel + "/" + n;
    if (is_dir(root + "/" + r)) {
      if (auto s = walk_modules(root, r, out); !s) return s;
    } else if (is_module_file(n)) {
      out.push_back(r);
    }
  }
  return {};
}

// name -> relative path, for every module of the tree.
Result<std::map<std::string, std::string>> index_modules(const std::string& moddir) {
  std::vector<std::string> files;
  if (auto s = walk_modules(moddir, "", files); !s) return tl::unexpected(s.error());
  std::map<std::string, std::string> idx;
  for (const auto& f : files) idx.emplace(module_name(f), f);
  return idx;
}

Status copy_file(const std::string& from, const std::string& to) {
  auto data = read_file(from);
  if (!data) return tl::unexpected(data.error());
  size_t slash = to.rfind('/');
  if (auto s = mkdir_p(to.substr(0, slash)); !s) return s;
  return write_file(to, *data, 0644);
}

std::string hex_hash(const std::string& s) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016zx", std::hash<std::string>{}(s));
  return buf;
}

struct SourceTree {
  std::string kernel;   // bzImage / vmlinuz
  std::string moddir;   // .../lib/modules/<release>; may be empty
  std::string release;
};

Result<SourceTree> find_source(const std::string& root) {
  SourceTree t;
  for (std::string sub : {"lib/modules", "usr/lib/modules", "modules"}) {
    std::string d = root + "/" + sub;
    if (!is_dir(d)) continue;
    auto names = list_dir(d);
    if (!names) continue;
    for (const auto& n : *names)
      if (is_dir(d + "/" + n)) {
        t.moddir = d + "/" + n;
        t.release = n;
        break;
      }
    if (!t.moddir.empty()) break;
  }
  if (is_dir(root + "/boot")) {
    auto names = list_dir(root + "/boot");
    if (names)
      for (const auto& n : *names)
        if (n.rfind("vmlinuz-", 0) == 0) {
          t.kernel = root + "/boot/" + n;
          if (t.release.empty()) t.release = n.substr(8);
          if (n.substr(8) == t.release) break;
        }
  }
  for (std::string cand : {"vmlinuz", "bzImage", "arch/x86/boot/bzImage", "boot/bzImage"})
    if (t.kernel.empty() && exists(root + "/" + cand)) t.kernel = root + "/" + cand;
  if (t.kernel.empty())
    return fail("no kernel in " + root + " (looked for boot/vmlinuz-*, vmlinuz, bzImage)",
                0, ExitCode::kBadInput);
  if (t.release.empty()) t.release = "unknown";
  return t;
}

using Clock = std::chrono::steady_clock;

void say(const KernelOptions& o, const std::string& s) {
  if (o.log) o.log(s);
}

// Builds a cache entry in `out` from an unpacked kernel tree at `root`.
Status prepare_entry(const std::string& root, const std::string& out, const KernelOptions& o) {
  auto src = find_source(root);
  if (!src) return tl::unexpected(src.error());
  if (auto s = mkdir_p(out); !s) return s;
  if (auto s = copy_file(src->kernel, out + "/bzImage"); !s) return s;

  auto t0 = Clock::now();
  auto image = read_file(src->kernel);
  if (!image) return tl::unexpected(image.error());
  if (has_pvh_note(*image)) {
    if (auto s = copy_file(src->kernel, out + "/vmlinux"); !s) return s;
  } else if (auto elf = extract_vmlinux(*image); elf && has_pvh_note(*elf)) {
    if (auto s = write_file(out + "/vmlinux", *elf, 0644); !s) return s;
    say(o, "extracted the PVH vmlinux (" + std::to_string(elf->size() >> 20) + " MiB) in " +
               seconds_since(t0));
  } else {
    say(o, "no PVH vmlinux (" + (elf ? std::string("ELF without a PVH note")
                                     : elf.error().str()) +
               "); booting the bzImage");
  }

  if (!src->moddir.empty()) {
    t0 = Clock::now();
    auto idx = index_modules(src->moddir);
    if (!idx) return tl::unexpected(idx.error());
    std::set<std::string> keep;  // relative paths
    std::vector<std::string> todo;
    for (const auto& [name, rel] : *idx)
      if (keep_module(rel)) todo.push_back(name);
    for (const auto& n : boot_modules()) todo.push_back(normalize(n));
    while (!todo.empty()) {
      std::string name = todo.back();
      todo.pop_back();
      auto it = idx->find(name);
      if (it == idx->end() || !keep.insert(it->second).second) continue;
      auto bytes = read_module(src->moddir + "/" + it->second);
      if (!bytes) return tl::unexpected(bytes.error());
      auto deps = module_depends(*bytes);
      if (!deps) return tl::unexpected(deps.error().context(it->second));
      for (const auto& d : *deps) todo.push_back(normalize(d));
    }
    std::string dst = out + "/modules/lib/modules/" + src->release;
    for (const auto& rel : keep)
      if (auto s = copy_file(src->moddir + "/" + rel, dst + "/" + rel); !s) return s;
    for (const char* f : kKeepFiles)
      if (exists(src->moddir + "/" + f))
        if (auto s = copy_file(src->moddir + "/" + f, dst + "/" + f); !s) return s;
    std::string depmod = find_program("depmod");
    if (depmod.empty()) {
      say(o, "depmod not found (Debian package kmod): modprobe inside the guest will not "
             "find modules; the boot modules are still loaded");
    } else {
      auto c = run_capture({depmod, "-b", out + "/modules", src->release});
      if (!c) return tl::unexpected(c.error());
      if (c->status != 0) return fail(describe_failure("depmod", *c));
    }
    say(o, "kept " + std::to_string(keep.size()) + " of " + std::to_string(idx->size()) +
               " modules in " + seconds_since(t0));
  }
  if (auto s = write_file(out + "/format", std::string(kCacheFormat) + "\n"); !s) return s;
  return write_file(out + "/release", src->release + "\n");
}

// A complete entry of the current format.
bool entry_ok(const std::string& dir) {
  auto f = read_file(dir + "/format");
  return f && *f == std::string(kCacheFormat) + "\n" && exists(dir + "/release");
}

Result<KernelImage> load_entry(const std::string& dir) {
  auto rel = read_file(dir + "/release");
  if (!rel) return tl::unexpected(rel.error());
  KernelImage k;
  k.dir = dir;
  k.release = rel->substr(0, rel->find('\n'));
  k.bzimage = dir + "/bzImage";
  if (exists(dir + "/vmlinux")) k.vmlinux = dir + "/vmlinux";
  k.modules_root = dir + "/modules";
  return k;
}

// Debian's current kernel package name, from `apt-cache depends linux-image-amd64`.
Result<std::string> debian_kernel_package() {
  auto c = run_capture({"apt-cache", "depends", "linux-image-amd64"});
  if (!c) return tl::unexpected(c.error().context("cannot ask apt which kernel is current"));
  if (c->status != 0) return fail(describe_failure("apt-cache depends linux-image-amd64", *c));
  size_t pos = 0;
  while ((pos = c->out.find("Depends: ", pos)) != std::string::npos) {
    pos += 9;
    std::string name = c->out.substr(pos, c->out.find('\n', pos) - pos);
    if (name.rfind("linux-image-", 0) == 0) return name;
  }
  return fail("apt-cache depends linux-image-amd64 names no linux-image-* package");
}

// Holds an flock on the cache while an entry is built.
Result<UniqueFd> lock_cache(const std::string& cache) {
  UniqueFd fd(::open((cache + "/.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
  if (!fd) return fail_errno("cannot open the cache lock " + cache + "/.lock");
  while (::flock(fd.get(), LOCK_EX) != 0)
    if (errno != EINTR) return fail_errno("cannot lock " + cache + "/.lock");
  return fd;
}

}  // namespace

const std::vector<std::string>& boot_modules() {
  static const std::vector<std::string> mods = {
      "virtio_pci", "9pnet_virtio", "9p",    "8021q", "bridge",
      "veth",       "tun",          "macvlan"};
  return mods;
}

Result<std::vector<std::string>> module_depends(std::string_view ko) {
  if (ko.size() < sizeof(Elf64_Ehdr) || std::memcmp(ko.data(), ELFMAG, SELFMAG) != 0 ||
      ko[EI_CLASS] != ELFCLASS64)
    return fail("not a 64-bit ELF module");
  Elf64_Ehdr eh;
  std::memcpy(&eh, ko.data(), sizeof eh);
  auto shdr = [&](size_t i) -> std::optional<Elf64_Shdr> {
    size_t off = eh.e_shoff + i * eh.e_shentsize;
    if (off + sizeof(Elf64_Shdr) > ko.size()) return std::nullopt;
    Elf64_Shdr sh;
    std::memcpy(&sh, ko.data() + off, sizeof sh);
    if (sh.sh_type != SHT_NOBITS && sh.sh_offset + sh.sh_size > ko.size()) return std::nullopt;
    return sh;
  };
  auto strtab = shdr(eh.e_shstrndx);
  if (!strtab) return fail("bad ELF section table");
  std::vector<std::string> deps;
  for (size_t i = 0; i < eh.e_shnum; ++i) {
    auto sh = shdr(i);
    if (!sh) return fail("bad ELF section table");
    if (sh->sh_name >= strtab->sh_size) continue;
    const char* name = ko.data() + strtab->sh_offset + sh->sh_name;
    if (std::strcmp(name, ".modinfo") != 0) continue;
    std::string_view info = ko.substr(sh->sh_offset, sh->sh_size);
    size_t p = 0;
    while (p < info.size()) {
      size_t e = info.find('\0', p);
      if (e == std::string_view::npos) e = info.size();
      std::string_view field = info.substr(p, e - p);
      if (field.rfind("depends=", 0) == 0) {
        field.remove_prefix(8);
        while (!field.empty()) {
          size_t c = field.find(',');
          std::string_view d = field.substr(0, c);
          if (!d.empty()) deps.emplace_back(d);
          if (c == std::string_view::npos) break;
          field.remove_prefix(c + 1);
        }
      }
      p = e + 1;
    }
  }
  return deps;
}

std::string default_kernel_cache() {
  if (const char* c = std::getenv("VNET_KERNEL_CACHE"); c && *c) return c;
  if (::geteuid() == 0) return "/var/cache/vnet/kernels";
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x)
    return std::string(x) + "/vnet/kernels";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/tmp") + "/.cache/vnet/kernels";
}

Result<KernelImage> ensure_kernel(const std::string& spec, const KernelOptions& o) {
  std::string cache = o.cache_dir.empty() ? default_kernel_cache() : o.cache_dir;
  std::string key, package, deb, folder;
  if (spec.empty()) {
    // Which package is current is asked of apt at most once a day (apt-cache takes
    // a second or two): the answer is kept in CACHE/current.
    std::string current = cache + "/current";
    struct stat cst {};
    if (::stat(current.c_str(), &cst) == 0 && ::time(nullptr) - cst.st_mtime < 24 * 3600) {
      auto name = read_file(current);
      if (name && !name->empty()) {
        std::string n = name->substr(0, name->find('\n'));
        if (entry_ok(cache + "/" + n)) return load_entry(cache + "/" + n);
      }
    }
    auto name = debian_kernel_package();
    if (!name) {
      // Offline: any kernel already cached will do.
      auto names = list_dir(cache);
      if (names)
        for (auto it = names->rbegin(); it != names->rend(); ++it)
          if (it->rfind("linux-image-", 0) == 0 && entry_ok(cache + "/" + *it)) {
            say(o, name.error().str() + "; using the cached " + *it);
            return load_entry(cache + "/" + *it);
          }
      return tl::unexpected(name.error());
    }
    package = key = *name;
  } else {
    char* real = ::realpath(spec.c_str(), nullptr);
    if (!real) return fail_errno("kernel " + spec);
    std::string path = real;
    std::free(real);
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) return fail_errno("kernel " + spec);
    std::string stamp = path + ":" + std::to_string(st.st_size) + ":" +
                        std::to_string(st.st_mtim.tv_sec) + "." +
                        std::to_string(st.st_mtim.tv_nsec);
    std::string base = path.substr(path.rfind('/') + 1);
    if (S_ISDIR(st.st_mode)) {
      folder = path;
      auto src = find_source(path);  // fail early, and key on the kernel's own stamp
      if (!src) return tl::unexpected(src.error());
      struct stat kst {};
      ::stat(src->kernel.c_str(), &kst);
      stamp += ":" + std::to_string(kst.st_mtim.tv_sec) + ":" + std::to_string(kst.st_size);
      key = "dir-" + base + "-" + hex_hash(stamp);
    } else if (ends_with(path, ".deb")) {
      deb = path;
      key = "deb-" + base.substr(0, base.size() - 4) + "-" + hex_hash(stamp);
    } else {
      return fail("kernel " + spec + ": not a .deb package or a folder", 0,
                  ExitCode::kBadInput);
    }
  }
  std::string entry = cache + "/" + key;
  // Remembers the current Debian kernel (written atomically: rename).
  auto remember = [&](Result<KernelImage> k) -> Result<KernelImage> {
    if (k && !package.empty()) {
      std::string tmp = cache + "/.current-" + std::to_string(::getpid());
      if (write_file(tmp, package + "\n")) ::rename(tmp.c_str(), (cache + "/current").c_str());
    }
    return k;
  };
  if (entry_ok(entry)) return remember(load_entry(entry));

  if (auto s = mkdir_p(cache); !s) return tl::unexpected(s.error().context("kernel cache"));
  auto lock = lock_cache(cache);
  if (!lock) return tl::unexpected(lock.error());
  if (entry_ok(entry)) return remember(load_entry(entry));  // built meanwhile
  // Nobody else builds while we hold the lock: leftovers are from killed runs.
  if (auto names = list_dir(cache))
    for (const auto& n : *names)
      if (n.rfind(".build-", 0) == 0 || n.rfind(".old-", 0) == 0)
        (void)remove_tree(cache + "/" + n);

  std::string tmp = cache + "/.build-" + key + "-" + std::to_string(::getpid());
  if (auto s = mkdir_p(tmp); !s) return tl::unexpected(s.error());
  auto cleanup = [&] { (void)remove_tree(tmp); };
  auto failed = [&](Error e) -> Result<KernelImage> {
    cleanup();
    return tl::unexpected(std::move(e));
  };
  auto t0 = Clock::now();
  if (!package.empty()) {
    say(o, "downloading " + package + " with apt-get download into " + cache);
    std::vector<std::string> argv = {"apt-get", "download", "-q"};
    if (::geteuid() == 0) {
      argv.push_back("-o");  // the _apt sandbox user cannot write into our cache
      argv.push_back("APT::Sandbox::User=root");
    }
    argv.push_back(package);
    auto c = run_capture(argv, tmp);
    if (!c) return failed(c.error());
    if (c->status != 0)
      return failed(fail(describe_failure("apt-get download " + package, *c) +
                                 " (is `apt-get update` done, and the network up?)").value());
    auto names = list_dir(tmp);
    if (!names) return failed(names.error());
    for (const auto& n : *names)
      if (ends_with(n, ".deb")) deb = tmp + "/" + n;
    if (deb.empty()) return failed(fail("apt-get download " + package + " left no .deb").value());
    say(o, "downloaded in " + seconds_since(t0));
  }
  std::string root = folder;
  if (!deb.empty()) {
    t0 = Clock::now();
    root = tmp + "/unpacked";
    auto c = run_capture({"dpkg-deb", "-x", deb, root});
    if (!c) return failed(c.error());
    if (c->status != 0) return failed(fail(describe_failure("dpkg-deb -x " + deb, *c)).value());
    say(o, "unpacked in " + seconds_since(t0));
  }
  if (auto s = prepare_entry(root, tmp + "/entry", o); !s)
    return failed(s.error().context("preparing the kernel from " + (spec.empty() ? package : spec)));
  if (exists(entry)) {  // an entry of an older format: out of the way first
    std::string old = cache + "/.old-" + key + "-" + std::to_string(::getpid());
    if (::rename(entry.c_str(), old.c_str()) == 0) (void)remove_tree(old);
  }
  if (::rename((tmp + "/entry").c_str(), entry.c_str()) != 0) {
    Error e = fail_errno("cannot move the kernel into " + entry).value();
    return failed(e);
  }
  cleanup();
  return remember(load_entry(entry));
}

Result<KernelImage> cached_kernel(const std::string& cache_dir) {
  std::string cache = cache_dir.empty() ? default_kernel_cache() : cache_dir;
  auto cur = read_file(cache + "/current");
  if (!cur || cur->empty())
    return fail("no Debian kernel cached in " + cache + " (run `vnet vm-run -- true` once)",
                ENOENT, ExitCode::kEnvironment);
  return load_entry(cache + "/" + cur->substr(0, cur->find('\n')));
}

Result<std::vector<std::string>> module_load_order(const KernelImage& k,
                                                   const std::vector<std::string>& names) {
  std::string moddir = k.modules_dir();
  std::map<std::string, std::string> idx;
  if (is_dir(moddir)) {
    auto i = index_modules(moddir);
    if (!i) return tl::unexpected(i.error());
    idx = std::move(*i);
  }
  std::set<std::string> builtin;
  if (auto b = read_file(moddir + "/modules.builtin")) {
    size_t p = 0;
    while (p < b->size()) {
      size_t e = b->find('\n', p);
      if (e == std::string::npos) e = b->size();
      builtin.insert(module_name(b->substr(p, e - p)));
      p = e + 1;
    }
  }
  std::vector<std::string> order;
  std::set<std::string> done, active;
  std::function<Status(const std::string&)> visit = [&](const std::string& raw) -> Status {
    std::string n = normalize(raw);
    if (done.count(n)) return {};
    auto it = idx.find(n);
    if (it == idx.end()) {
      if (builtin.count(n) || idx.empty()) return {};  // built in (or no modules at all)
      return fail("kernel " + k.release + " has no module " + n, 0, ExitCode::kEnvironment);
    }
    if (!active.insert(n).second) return fail("module dependency cycle at " + n);
    auto bytes = read_module(moddir + "/" + it->second);
    if (!bytes) return tl::unexpected(bytes.error());
    auto deps = module_depends(*bytes);
    if (!deps) return tl::unexpected(deps.error().context(it->second));
    for (const auto& d : *deps)
      if (auto s = visit(d); !s) return s;
    active.erase(n);
    done.insert(n);
    order.push_back(moddir + "/" + it->second);
    return {};
  };
  for (const auto& n : names)
    if (auto s = visit(n); !s) return tl::unexpected(s.error());
  return order;
}

}  // namespace vnet::vmrun
