// Lab tier: `vnet guest ssh NAME -- CMD` against a real TCG guest. The guest (the cached
// Debian kernel through PVH + a busybox initramfs built here) has no key of its own: its
// /init mounts the cloud-init seed CD-ROM that `vnet guest start` attached (IDE, volume id
// cidata), copies the ssh_authorized_keys of its user-data — this start's ephemeral
// ed25519 key — to root's authorized_keys and runs Debian's dropbear on port 22, reached
// through a user-mode NIC's loopback forward. So a command that runs proves the whole
// path: key pair made at start, put into the seed, read by the guest, used by ssh.
//
// Started without root (as uid 65534 when the test runs as root), like
// lifecycle_lab_test. The kernel is the one vm-run cached (never downloaded here) and must
// hold the IDE CD-ROM modules (ata_piix, sr_mod, isofs; kept since vmrun/kernel.cc
// keeps them); dropbear comes from the host (package dropbear-bin) with its libraries.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include "base/unique_fd.h"
#include "tests/common/process.h"
#include "tests/guests/guest_lab.h"
#include "vmrun/initramfs.h"
#include "vmrun/kernel.h"
#include "vmrun/sys.h"

namespace vnet::guests {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

const char* kDropbear = "/usr/sbin/dropbear";
const char* kDropbearKey = "/usr/bin/dropbearkey";

const std::string kInit = std::string(vmrun::kInitPreamble) + R"INIT(ip link set lo up
ip link set eth0 up
ip addr add 10.0.2.15/24 dev eth0
ip route add default via 10.0.2.2
# The seed, found by its volume id as cloud-init finds it; the CD-ROM appears once the
# ATA scan is done, so wait for it (at most 30 s).
i=0
while [ $i -lt 30 ]; do
  dev=$(findfs LABEL=cidata 2>/dev/null) && break
  sleep 1; i=$((i+1))
done
mkdir -p /seed
mount -t iso9660 -o ro "$dev" /seed && echo "vnet-test: seed $dev mounted"
# The keys of cloud-init's default user; vnet writes each as a double-quoted list item.
mkdir -p -m 700 /root/.ssh
sed -n 's/^ *- "\(ssh-[^"]*\)"$/\1/p' /seed/user-data > /root/.ssh/authorized_keys
chmod 600 /root/.ssh/authorized_keys
echo "vnet-test: $(wc -l < /root/.ssh/authorized_keys) key(s) from the seed"
mkdir -p /etc/dropbear /var/run /var/log
/usr/bin/dropbearkey -t ed25519 -f /etc/dropbear/host_key >/dev/null 2>&1
# Keys only (-s), in the foreground of its own job (-F) logging to the console (-E).
/usr/sbin/dropbear -F -E -s -r /etc/dropbear/host_key -p 22 &
echo "vnet-test: dropbear started"
while :; do sleep 3600; done
)INIT";

// The absolute paths `ldd` names for `binary` (its libraries and the loader).
std::set<std::string> shared_libraries(const std::string& binary) {
  std::set<std::string> libs;
  auto r = testing::run({"ldd", binary});
  std::istringstream in(r.out);
  for (std::string word; in >> word;)
    if (word.starts_with("/")) libs.insert(word);
  return libs;
}

class SshLab : public GuestLabBase {
 protected:
  void SetUp() override {
    if (::access(kDropbear, X_OK) != 0 || ::access(kDropbearKey, X_OK) != 0)
      GTEST_SKIP() << "dropbear is not installed (package dropbear-bin)";
    auto k = guest_kernel();
    if (!k) GTEST_SKIP() << k.error();
    const std::vector<std::string> modules = {"virtio_pci", "virtio_net", "ata_piix", "sr_mod",
                                              "isofs"};
    if (auto m = vmrun::module_load_order(*k, modules); !m)
      GTEST_SKIP() << "the cached kernel " << k->dir << " lacks the seed CD-ROM's modules ("
                   << m.error().str() << "); it predates their caching: remove it and run "
                   << "`vnet vm-run -- true`";

    ASSERT_NO_FATAL_FAILURE(make_folders("/tmp/vnet-ssh-lab-XXXXXX"));

    std::map<std::string, std::string> files = {
        {"etc/passwd", "root:*:0:0:root:/root:/bin/sh\n"},
        {"etc/group", "root:x:0:\n"},
        {"etc/shells", "/bin/sh\n"}};
    std::set<std::string> libs = shared_libraries(kDropbear);
    ASSERT_FALSE(libs.empty()) << "ldd " << kDropbear << " named no libraries";
    libs.merge(shared_libraries(kDropbearKey));
    libs.insert(kDropbear);
    libs.insert(kDropbearKey);
    for (const auto& path : libs) {
      auto bytes = vmrun::read_file(path);  // follows the symlinks ldd names
      ASSERT_TRUE(bytes) << bytes.error().str();
      files[path.substr(1)] = *bytes;
    }
    auto img = vmrun::build_initramfs(*k, {kInit, modules, files, ""});
    ASSERT_TRUE(img) << img.error().str();
    ASSERT_TRUE(vmrun::write_file(dir_ + "/initrd.cpio", *img));
    ASSERT_NO_FATAL_FAILURE(write_user_nic_guest("sshlab", k->vmlinux));
  }
  // `vnet guest VERB tiny [OPTIONS] -c FILE [-- COMMAND]` as the unprivileged user with
  // HOME in the test's folder, under `timeout` (an ssh that hangs must not hang the test).
  testing::RunResult vnet(const std::string& verb, std::vector<std::string> options,
                          std::vector<std::string> command = {}) {
    std::vector<std::string> argv = {"timeout", "-k", "5", "60"};
    for (std::string& a : vnet_guest_argv()) argv.push_back(std::move(a));
    argv.insert(argv.end(), {verb, "tiny"});
    argv.insert(argv.end(), options.begin(), options.end());
    argv.insert(argv.end(), {"-c", dir_ + "/host.toml"});
    if (!command.empty()) {
      argv.push_back("--");
      argv.insert(argv.end(), command.begin(), command.end());
    }
    return testing::run(argv);
  }
  testing::RunResult ssh(std::vector<std::string> command) {
    return vnet("ssh", {"--user", "root"}, std::move(command));
  }
  std::string logs() {
    return "\nconsole:\n" + slurp(state_ + "/console.log") + "\nqemu.log:\n" +
           slurp(state_ + "/qemu.log");
  }

};

TEST_F(SshLab, SshRunsACommandWithTheSeedsEphemeralKeyAndStopRemovesTheKey) {
  auto t0 = Clock::now();
  auto r = vnet("start", {"--accel", "tcg"});
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  ASSERT_TRUE(fs::exists(state_ + "/id_ed25519")) << "the ephemeral key";
  std::string pub = slurp(state_ + "/id_ed25519.pub");
  ASSERT_NE(pub.find("ssh-ed25519 "), std::string::npos) << pub;

  // Until the guest has booted and dropbear answers: at most 180 s and 60 tries.
  bool answered = false;
  for (int i = 0; i < 60 && Clock::now() - t0 < 180s; ++i) {
    r = ssh({"echo", "hello-from-ssh"});
    if (r.exit_code == 0) {
      answered = true;
      break;
    }
    std::this_thread::sleep_for(2s);
  }
  ASSERT_TRUE(answered) << "last try: exit " << r.exit_code << "\n" << r.out << r.err << logs();
  EXPECT_EQ(r.out, "hello-from-ssh\n") << r.err;
  std::cout << "[ssh answered " << std::chrono::duration<double>(Clock::now() - t0).count()
            << " s after start]\n";

  // The remote command's exit status is vnet's (ssh's own, through exec).
  r = ssh({"exit", "7"});
  EXPECT_EQ(r.exit_code, 7) << r.out << r.err;
  // The key the guest accepted is the one this start made, read from the seed.
  r = ssh({"cat", "/root/.ssh/authorized_keys"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, pub) << logs();
  EXPECT_NE(slurp(state_ + "/console.log").find("vnet-test: 1 key(s) from the seed"),
            std::string::npos)
      << logs();
  EXPECT_TRUE(fs::exists(state_ + "/known_hosts")) << "ssh learnt the guest's host key";

  r = vnet("stop", {"--timeout", "1"});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_FALSE(fs::exists(state_ + "/pid"));
  EXPECT_FALSE(fs::exists(state_ + "/id_ed25519")) << "the private key outlived the stop";
  EXPECT_FALSE(fs::exists(state_ + "/id_ed25519.pub"));
  EXPECT_TRUE(fs::exists(state_ + "/known_hosts")) << "kept after stop (docs/guests.md)";

  // No key, no ssh: the error says why instead of a password prompt.
  r = ssh({"true"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_NE(r.err.find("no ephemeral key"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace vnet::guests
