// `vnet guest start --unit`: the guest as a transient systemd unit, started through
// sd-bus (StartTransientUnit) with the settings `vnet render units` writes into
// vnet-guest-NAME.service (units::guest_properties), so both supervise a guest alike.
#include "cli/guest_unit.h"

#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <memory>
#include <thread>

#include "cli/verbs.h"

namespace vnet::cli {
namespace {

struct BusDeleter {
  void operator()(sd_bus* b) const { sd_bus_flush_close_unref(b); }
};
struct MessageDeleter {
  void operator()(sd_bus_message* m) const { sd_bus_message_unref(m); }
};

// One (sv) entry of StartTransientUnit's property array.
int append_property(sd_bus_message* m, const units::BusProperty& p) {
  int r = sd_bus_message_open_container(m, 'r', "sv");
  if (r < 0) return r;
  if ((r = sd_bus_message_append(m, "s", p.name.c_str())) < 0) return r;
  if ((r = sd_bus_message_open_container(m, 'v', p.signature.c_str())) < 0) return r;
  if (p.signature == "s") {
    r = sd_bus_message_append(m, "s", p.text.c_str());
  } else if (p.signature == "t") {
    r = sd_bus_message_append(m, "t", p.number);
  } else if (p.signature == "as") {
    std::vector<char*> v;
    for (const std::string& s : p.list) v.push_back(const_cast<char*>(s.c_str()));
    v.push_back(nullptr);
    r = sd_bus_message_append_strv(m, v.data());
  } else {  // a(sasb): one command, its argv, not ignoring failure
    std::vector<char*> v;
    for (const std::string& s : p.list) v.push_back(const_cast<char*>(s.c_str()));
    v.push_back(nullptr);
    if ((r = sd_bus_message_open_container(m, 'a', "(sasb)")) < 0) return r;
    if ((r = sd_bus_message_open_container(m, 'r', "sasb")) < 0) return r;
    if ((r = sd_bus_message_append(m, "s", p.list.front().c_str())) < 0) return r;
    if ((r = sd_bus_message_append_strv(m, v.data())) < 0) return r;
    if ((r = sd_bus_message_append(m, "b", 0)) < 0) return r;
    if ((r = sd_bus_message_close_container(m)) < 0) return r;
    r = sd_bus_message_close_container(m);
  }
  if (r < 0) return r;
  if ((r = sd_bus_message_close_container(m)) < 0) return r;
  return sd_bus_message_close_container(m);
}

// As root, PID 1's private socket, as systemctl does: it needs no D-Bus daemon, which
// a minimal host (or a boot that has not started dbus yet) lacks. Otherwise, or when
// that fails, the system bus.
int open_systemd_bus(sd_bus** out) {
  if (::geteuid() == 0) {
    sd_bus* b = nullptr;
    int r = sd_bus_new(&b);
    if (r >= 0) r = sd_bus_set_address(b, "unix:path=/run/systemd/private");
    if (r >= 0) r = sd_bus_start(b);
    if (r >= 0) {
      *out = b;
      return r;
    }
    sd_bus_unref(b);
  }
  return sd_bus_open_system(out);
}

std::string bus_error(int r, const sd_bus_error& e) {
  return e.message ? e.message : std::strerror(-r);
}

}  // namespace

bool systemd_is_init() { return sd_booted() > 0; }

int start_guest_unit(const topology::Topology& topo, const topology::Guest& g,
                     const std::string& file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  units::Paths paths{fs::read_symlink("/proc/self/exe", ec).string(),
                     fs::absolute(file).lexically_normal().string()};
  if (ec) return report(3, "guest " + g.name + ": cannot find this vnet's path: " + ec.message());
  std::string unit = "vnet-guest-" + units::escape_name(g.name) + ".service";
  auto props = units::bus_properties(units::guest_properties(topo, g, paths));

  sd_bus* raw = nullptr;
  int r = open_systemd_bus(&raw);
  if (r < 0) return report(3, "guest " + g.name + ": cannot reach systemd: " + std::strerror(-r));
  std::unique_ptr<sd_bus, BusDeleter> bus(raw);
  sd_bus_message* mraw = nullptr;
  r = sd_bus_message_new_method_call(bus.get(), &mraw, "org.freedesktop.systemd1",
                                     "/org/freedesktop/systemd1",
                                     "org.freedesktop.systemd1.Manager", "StartTransientUnit");
  std::unique_ptr<sd_bus_message, MessageDeleter> m(mraw);
  if (r >= 0) r = sd_bus_message_append(m.get(), "ss", unit.c_str(), "fail");
  if (r >= 0) r = sd_bus_message_open_container(m.get(), 'a', "(sv)");
  for (const units::BusProperty& p : props)
    if (r >= 0) r = append_property(m.get(), p);
  if (r >= 0) r = sd_bus_message_close_container(m.get());
  if (r >= 0) r = sd_bus_message_append(m.get(), "a(sa(sv))", 0);
  if (r < 0) return report(1, "guest " + g.name + ": cannot build the D-Bus call: " + std::strerror(-r));
  sd_bus_error err = SD_BUS_ERROR_NULL;
  sd_bus_message* reply = nullptr;
  r = sd_bus_call(bus.get(), m.get(), 0, &err, &reply);
  sd_bus_message_unref(reply);
  if (r < 0) {
    std::string why = bus_error(r, err);
    sd_bus_error_free(&err);
    return report(r == -EACCES || r == -EPERM ? 3 : 1,
                  "guest " + g.name + ": systemd refused " + unit + ": " + why);
  }
  // Type=forking: active once `vnet guest start` inside has seen QEMU running.
  std::string path = "/org/freedesktop/systemd1/unit/";
  for (char c : unit) {
    if (std::isalnum(static_cast<unsigned char>(c))) path += c;
    else {
      char buf[4];
      std::snprintf(buf, sizeof buf, "_%02x", static_cast<unsigned char>(c));
      path += buf;
    }
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(150);
  std::string state;
  bool began = false;  // "inactive" before the job ran is not an outcome yet
  while (std::chrono::steady_clock::now() < deadline) {
    char* s = nullptr;
    if (sd_bus_get_property_string(bus.get(), "org.freedesktop.systemd1", path.c_str(),
                                   "org.freedesktop.systemd1.Unit", "ActiveState", nullptr,
                                   &s) >= 0) {
      state = s;
      std::free(s);
    }
    if (state == "active") {
      std::cout << "guest " << g.name << ": started as " << unit << "\n";
      return 0;
    }
    began = began || state == "activating";
    if (state == "failed" || (state == "inactive" && began))
      return report(1, "guest " + g.name + ": " + unit + " is " + state +
                           " (journalctl -u " + unit + ")");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return report(1, "guest " + g.name + ": " + unit + " still '" + state + "' after 150 s");
}

}  // namespace vnet::cli
