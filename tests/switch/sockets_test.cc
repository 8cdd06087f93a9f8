// Unit tier (no root): the switch's socket folder and sockets on the filesystem. Each
// case runs the real `vnet switch` against something already sitting at `socket =`, or
// calls the socket helpers directly, in a scratch folder of its own.
#include "switch/sockets.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "switch/config.h"
#include "tests/switch/harness.h"

namespace vnet::sw::test {
namespace {

using ::testing::HasSubstr;

uint32_t mode_of(const std::string& path) {
  struct stat st{};
  ::lstat(path.c_str(), &st);
  return st.st_mode & 07777;
}

TEST(SwitchSocketFolder, RegularFileAtSocketPathIsRefusedAndLeftAlone) {
  ScratchDir s;
  std::string file = s.path + "/lab";
  std::ofstream(file) << "not a folder\n";
  ::chmod(file.c_str(), 0600);
  SwitchProcess proc(switch_toml(file), "lab", file);
  EXPECT_FALSE(proc.running());
  EXPECT_EQ(proc.exit_code(), 2) << proc.log();
  EXPECT_THAT(proc.log(), HasSubstr("is not a folder"));
  EXPECT_EQ(mode_of(file), 0600u) << "the switch changed a file it was refusing";
}

TEST(SwitchSocketFolder, SymlinkAtSocketPathIsRefusedAndItsTargetLeftAlone) {
  ScratchDir s;
  std::string target = s.path + "/target", link = s.path + "/lab";
  ASSERT_EQ(::mkdir(target.c_str(), 0700), 0);
  ASSERT_EQ(::symlink(target.c_str(), link.c_str()), 0);
  SwitchProcess proc(switch_toml(link, "socket_mode = \"0666\"\n"), "lab", link);
  EXPECT_FALSE(proc.running());
  EXPECT_THAT(proc.log(), HasSubstr("is a symbolic link"));
  EXPECT_EQ(mode_of(target), 0700u) << "the switch opened up the symlink's target";
  EXPECT_TRUE(std::filesystem::is_empty(target)) << "sockets were made in the target";
}

TEST(SwitchSocketFolder, SymlinkAboveTheFolderIsRefused) {
  ScratchDir s;
  std::string real = s.path + "/real", link = s.path + "/link";
  ASSERT_EQ(::mkdir(real.c_str(), 0755), 0);
  ASSERT_EQ(::symlink(real.c_str(), link.c_str()), 0);
  SwitchProcess proc(switch_toml(link + "/lab"), "lab", link + "/lab");
  EXPECT_FALSE(proc.running());
  EXPECT_THAT(proc.log(), HasSubstr(link + " is a symbolic link"));
  EXPECT_TRUE(std::filesystem::is_empty(real));
}

// Whoever may write a folder above DIR without the sticky bit can move DIR away and put
// their own in its place, with a fake DIR/ctl for the switch's clients.
TEST(SwitchSocketFolder, FolderAboveThatOthersMayRewriteIsRefused) {
  ScratchDir s;
  std::string open = s.path + "/open";
  ASSERT_EQ(::mkdir(open.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(open.c_str(), 0777), 0);
  SwitchProcess refused(switch_toml(open + "/lab"), "lab", open + "/lab");
  EXPECT_FALSE(refused.running());
  EXPECT_THAT(refused.log(), HasSubstr(open + " is writable by group or others and not sticky"));
  EXPECT_FALSE(std::filesystem::exists(open + "/lab"));
  // Sticky, as /tmp: others may add entries but not move ours.
  ASSERT_EQ(::chmod(open.c_str(), 01777), 0);
  SwitchProcess served(switch_toml(open + "/lab"), "lab", open + "/lab");
  EXPECT_TRUE(served.running()) << served.log();
}

TEST(SwitchSocketFolder, WorldWritableSocketsGetAStickyFolder) {
  ScratchDir s;
  std::string dir = s.path + "/lab";
  SwitchProcess proc(switch_toml(dir, "socket_mode = \"0666\"\n"), "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  EXPECT_EQ(mode_of(dir), 01777u);
  EXPECT_EQ(mode_of(dir + "/ctl"), 0666u);
}

TEST(SwitchSocketFolder, ExistingFolderOfTheSwitchsUserIsTakenWithTheDeclaredMode) {
  ScratchDir s;
  std::string dir = s.path + "/lab";
  ASSERT_EQ(::mkdir(dir.c_str(), 0700), 0);
  ASSERT_EQ(::chmod(dir.c_str(), 0777), 0);  // as an older switch or a careless user left it
  SwitchProcess proc(switch_toml(dir), "lab", dir);
  ASSERT_TRUE(proc.running()) << proc.log();
  EXPECT_EQ(mode_of(dir), 01770u);
  EXPECT_EQ(mode_of(dir + "/ctl"), 0660u);
}

TEST(SwitchSocketFolder, FolderModeFollowsTheSocketMode) {
  EXPECT_EQ(socket_dir_mode(0660), 01770u);
  EXPECT_EQ(socket_dir_mode(0666), 01777u);
  EXPECT_EQ(socket_dir_mode(0600), 0700u);
  EXPECT_EQ(socket_dir_mode(0644), 0755u);
}

TEST(SwitchSockets, SocketIsBornWithItsModeWhateverTheUmask) {
  ScratchDir s;
  mode_t old = ::umask(0);
  auto fd = bind_unix(s.path + "/a.sock", SOCK_DGRAM, 0640, -1);
  ::umask(077);
  auto fd2 = bind_unix(s.path + "/b.sock", SOCK_STREAM, 0666, -1);
  ::umask(old);
  ASSERT_TRUE(fd && fd2);
  EXPECT_EQ(mode_of(s.path + "/a.sock"), 0640u);
  EXPECT_EQ(mode_of(s.path + "/b.sock"), 0666u);
}

TEST(SwitchSockets, BindRefusesWhatIsNotAStaleSocket) {
  ScratchDir s;
  std::string file = s.path + "/x.sock";
  std::ofstream(file) << "data\n";
  auto fd = bind_unix(file, SOCK_STREAM, 0660, -1);
  ASSERT_FALSE(fd);
  EXPECT_THAT(fd.error().str(), HasSubstr("exists and is not a socket"));
  EXPECT_TRUE(std::filesystem::is_regular_file(file));
  // A live listener keeps its path; a dead one's file is replaced.
  auto live = listen_unix(s.path + "/live.sock", SOCK_STREAM, 0600, -1);
  ASSERT_TRUE(live);
  EXPECT_FALSE(bind_unix(s.path + "/live.sock", SOCK_STREAM, 0600, -1));
  live->reset();
  EXPECT_TRUE(bind_unix(s.path + "/live.sock", SOCK_STREAM, 0600, -1));
}

sockaddr_un named(const std::string& path) {
  sockaddr_un sa{};
  sa.sun_family = AF_UNIX;
  std::memcpy(sa.sun_path, path.data(), std::min(path.size(), sizeof sa.sun_path));
  return sa;
}

TEST(SwitchClientAddress, AbstractAndRelativeNamesAreRefused) {
  auto abstract = named(std::string("\0vnet-victim", 12));
  auto r = check_client_address(abstract, sizeof abstract, ::geteuid());
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().str(), HasSubstr("abstract"));
  auto relative = named("client.sock");
  EXPECT_FALSE(check_client_address(relative, sizeof relative, ::geteuid()));
  sockaddr_un unnamed{};
  unnamed.sun_family = AF_UNIX;
  EXPECT_FALSE(check_client_address(unnamed, sizeof(sa_family_t), ::geteuid()));
}

TEST(SwitchClientAddress, ASocketOfAnotherUserOrASymlinkIsRefused) {
  ScratchDir s;
  std::string mine = s.path + "/mine.sock", link = s.path + "/link.sock";
  auto fd = bind_unix(mine, SOCK_DGRAM, 0600, -1);
  ASSERT_TRUE(fd);
  ASSERT_EQ(::symlink(mine.c_str(), link.c_str()), 0);
  uid_t other = ::geteuid() + 1;
  // This process owns `mine`; a client running as `other` may not name it.
  auto r = check_client_address(named(mine), sizeof(sockaddr_un), other);
  ASSERT_FALSE(r);
  EXPECT_THAT(r.error().str(), HasSubstr("not the client's uid " + std::to_string(other)));
  EXPECT_FALSE(check_client_address(named(link), sizeof(sockaddr_un), other));
  // The switch's own user could write to it anyway: the path is used as it is.
  auto own = check_client_address(named(mine), sizeof(sockaddr_un), ::geteuid());
  ASSERT_TRUE(own);
  EXPECT_EQ(std::string(own->addr.sun_path), mine);
  EXPECT_FALSE(own->pin);
}

}  // namespace
}  // namespace vnet::sw::test
