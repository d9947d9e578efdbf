#include "emulator/radio/egress.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <sstream>
#include <vector>

extern char** environ;

namespace hil::radio {
namespace {

// Marks our local routes, so that a sweep never touches anyone else's.
constexpr const char* kRouteProto = "183";
constexpr const char* kTablePrefix = "hil_egress_";
// Serializes set-up and tear-down between processes: the route is shared,
// and the last process out removes it. The kernel drops the lock with its
// holder, so a killed process never blocks the next.
constexpr const char* kLockPath = "/run/lwm2m-hil-egress.lock";
constexpr const char* kHowToChange =
    "choose another with --egress-prefix (Python: Emulator(egress_prefix=...))";

struct Output {
  int status = -1;   // the exit status; -1: could not run
  std::string text;  // stdout and stderr
};

// Runs `argv` (found on PATH), feeding it `input`. posix_spawn, not fork:
// the emulator's loop threads are running.
Output run(const std::vector<std::string>& argv, const std::string& input = "") {
  int in[2], out[2];
  if (pipe2(in, O_CLOEXEC) != 0) return {};
  if (pipe2(out, O_CLOEXEC) != 0) {
    close(in[0]);
    close(in[1]);
    return {};
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, in[0], 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, out[1], 2);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  close(in[0]);
  close(out[1]);
  Output result;
  if (rc == 0) {
    // Small inputs: a pipe holds them whole, so writing first cannot block.
    (void)!write(in[1], input.data(), input.size());
  }
  close(in[1]);
  // A signal (Ctrl-C) interrupts these calls; the command must still end
  // and be reaped, so that the egress is set up or removed whole.
  char buf[4096];
  for (ssize_t n; (n = read(out[0], buf, sizeof(buf))) != 0;) {
    if (n > 0) result.text.append(buf, n);
    if (n < 0 && errno != EINTR) break;
  }
  close(out[0]);
  int status = 0;
  pid_t waited = -1;
  while (rc == 0 && (waited = waitpid(pid, &status, 0)) < 0 && errno == EINTR) {
  }
  if (waited == pid && WIFEXITED(status)) result.status = WEXITSTATUS(status);
  return result;
}

bool has_net_admin() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2]{};
  if (syscall(SYS_capget, &header, data) != 0) return false;
  return (data[CAP_NET_ADMIN / 32].effective & (1u << (CAP_NET_ADMIN % 32))) != 0;
}

bool alive(int pid) { return kill(pid, 0) == 0 || errno == EPERM; }

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    line.erase(line.find_last_not_of(" \t") + 1);
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// "A.B.C.D" or "A.B.C.D/N" at the start of `word`; false if it is not one.
bool parse_net(const std::string& word, uint32_t* base, int* length) {
  auto slash = word.find('/');
  in_addr a{};
  if (inet_pton(AF_INET, word.substr(0, slash).c_str(), &a) != 1) return false;
  *base = ntohl(a.s_addr);
  *length = slash == std::string::npos ? 32 : std::atoi(word.c_str() + slash + 1);
  return *length >= 0 && *length <= 32;
}

uint32_t mask_of(int length) { return length == 0 ? 0 : ~uint32_t{0} << (32 - length); }

bool overlaps(uint32_t a, int alen, uint32_t b, int blen) {
  uint32_t m = mask_of(alen < blen ? alen : blen);
  return (a & m) == (b & m);
}

// Holds kLockPath while it lives.
class Lock {
 public:
  Lock() : fd_(::open(kLockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) {
    while (fd_ >= 0 && flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
  }
  ~Lock() {
    if (fd_ >= 0) close(fd_);
  }

 private:
  int fd_;
};

// The prefixes of the live processes' tables; the tables of dead ones are
// deleted.
std::set<std::string> live_prefixes() {
  std::set<std::string> live;
  for (const auto& line : lines(run({"nft", "list", "tables", "ip"}).text)) {
    auto at = line.find(kTablePrefix);
    if (at == std::string::npos) continue;
    std::string name = line.substr(at);
    if (!alive(std::atoi(name.c_str() + std::strlen(kTablePrefix)))) {
      run({"nft", "delete", "table", "ip", name});
      continue;
    }
    for (const auto& rule : lines(run({"nft", "list", "table", "ip", name}).text)) {
      auto saddr = rule.find("ip saddr ");
      if (saddr == std::string::npos || rule.find("masquerade") == std::string::npos) continue;
      std::istringstream words(rule.substr(saddr + 9));
      std::string prefix;
      words >> prefix;
      live.insert(prefix);
    }
  }
  return live;
}

// Our local routes (kRouteProto) whose prefix no live process uses are
// removed; returns the prefixes of those that stay.
std::set<std::string> sweep_routes(const std::set<std::string>& live) {
  std::set<std::string> kept;
  for (const auto& line :
       lines(run({"ip", "-4", "route", "show", "table", "local", "proto", kRouteProto}).text)) {
    std::istringstream words(line);
    std::string type, prefix;
    words >> type >> prefix;
    if (type != "local") continue;
    if (live.count(prefix) != 0) {
      kept.insert(prefix);
      continue;
    }
    run({"ip", "route", "del", "local", prefix, "dev", "lo", "table", "local", "proto",
         kRouteProto});
  }
  return kept;
}

// A route of the host's (any table, not ours) that the prefix would shadow.
Status check_free(const EgressPrefix& p) {
  Output routes = run({"ip", "-4", "route", "show", "table", "all"});
  if (routes.status != 0)
    return Error{ErrorCode::kIo, "egress: `ip route show` failed (" + routes.text +
                                     "): apt-get install iproute2 (scripts/run installs it)"};
  for (const auto& line : lines(routes.text)) {
    if (line.find(std::string("proto ") + kRouteProto) != std::string::npos) continue;
    std::istringstream words(line);
    std::string word;
    uint32_t base = 0;
    int length = 0;
    while (words >> word && !parse_net(word, &base, &length)) {
      if (word == "default" || word == "dev" || word == "via") break;
    }
    if (!parse_net(word, &base, &length) || length == 0) continue;
    if (overlaps(base, length, p.base, p.length))
      return Error{ErrorCode::kInvalidArgument, "egress_prefix: " + p.text +
                                                    " overlaps this host's route '" + line + "'; " +
                                                    kHowToChange};
  }
  return ok_status();
}

}  // namespace

Result<EgressPrefix> parse_egress_prefix(const std::string& text) {
  const std::string hint = " (e.g. " + std::string(kDefaultEgressPrefix) + ")";
  uint32_t base = 0;
  int length = 0;
  if (text.find('/') == std::string::npos || !parse_net(text, &base, &length))
    return Error{ErrorCode::kInvalidArgument,
                 "egress_prefix: '" + text + "' is not an IPv4 prefix A.B.C.D/N" + hint};
  if (length < 8 || length > 16)
    return Error{ErrorCode::kInvalidArgument,
                 "egress_prefix: '" + text +
                     "' must be /8 to /16: one address per device, up to 65,535 devices" + hint};
  if ((base & ~mask_of(length)) != 0)
    return Error{ErrorCode::kInvalidArgument, "egress_prefix: '" + text +
                                                  "' has host bits set; did you mean '" +
                                                  [&] {
                                                    in_addr a{htonl(base & mask_of(length))};
                                                    char buf[INET_ADDRSTRLEN];
                                                    inet_ntop(AF_INET, &a, buf, sizeof(buf));
                                                    return std::string(buf);
                                                  }() +
                                                  "/" + std::to_string(length) + "'?"};
  uint32_t first = base >> 24;
  if (first == 0 || first == 127 || first >= 224)
    return Error{ErrorCode::kInvalidArgument,
                 "egress_prefix: '" + text +
                     "' is not usable (0/8, 127/8, multicast and reserved are not)" + hint};
  return EgressPrefix{base, length, text};
}

Status check_route(Ipv4SocketAddress server) {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0)
    return Error{ErrorCode::kIo,
                 std::string("egress: cannot create a socket: ") + std::strerror(errno)};
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_addr.s_addr = htonl(server.ip);
  to.sin_port = htons(server.port);
  // connect() on UDP sends nothing; it asks the kernel for a route.
  int rc = connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to));
  int err = errno;
  close(fd);
  if (rc == 0) return ok_status();
  char host[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &to.sin_addr, host, sizeof(host));
  return Error{ErrorCode::kUnavailable,
               "no route from this host to " + std::string(host) + " (" + std::strerror(err) +
                   "): check the address, or add a route to it (`ip route add " + host +
                   " via GATEWAY`); `ip route get " + host + "` shows what the kernel would do"};
}

Egress::Egress(EgressPrefix prefix)
    : prefix_(std::move(prefix)), table_(kTablePrefix + std::to_string(getpid())) {}

Result<std::unique_ptr<Egress>> Egress::open(const std::string& prefix) {
  HIL_TRY_ASSIGN(EgressPrefix p, parse_egress_prefix(prefix));
  if (!has_net_admin())
    return Error{
        ErrorCode::kFailedPrecondition,
        "egress: devices reach a server off this host through a masquerading nftables table, "
        "which needs CAP_NET_ADMIN: run as root (sudo scripts/run ...), or run the server on "
        "127.0.0.1"};
  if (run({"nft", "--version"}).status != 0)
    return Error{ErrorCode::kFailedPrecondition,
                 "egress: the `nft` command is missing: apt-get install nftables (scripts/run "
                 "installs it)"};
  std::unique_ptr<Egress> e(new Egress(std::move(p)));
  if (auto s = e->install(); !s) return s.error();  // the destructor undoes what was done
  return e;
}

Status Egress::install() {
  Lock lock;
  std::set<std::string> kept = sweep_routes(live_prefixes());
  if (kept.count(prefix_.text) == 0) {
    if (auto free = check_free(prefix_); !free) return free;
  }
  // Masquerade only what leaves through a real interface: a server on one
  // of this host's own addresses sees the device's egress address itself.
  // A NAT table makes the kernel track every flow of the host; the devices'
  // loopback traffic (127.1/16, only emulators use it) is left untracked,
  // so that a large fleet on loopback does not fill the conntrack table.
  std::string rules = "table ip " + table_ +
                      " {\n"
                      "  chain postrouting {\n"
                      "    type nat hook postrouting priority srcnat; policy accept;\n"
                      "    ip saddr " +
                      prefix_.text +
                      " oifname != \"lo\" masquerade\n"
                      "  }\n"
                      "  chain untracked {\n"
                      "    type filter hook output priority raw; policy accept;\n"
                      "    ip saddr 127.1.0.0/16 notrack\n"
                      "    ip daddr 127.1.0.0/16 notrack\n"
                      "  }\n"
                      "}\n";
  Output nft = run({"nft", "-f", "-"}, rules);
  if (nft.status != 0)
    return Error{ErrorCode::kIo, "egress: nft refused the masquerading table " + table_ + ": " +
                                     nft.text +
                                     "(the kernel needs nf_tables with NAT and masquerade)"};
  table_added_ = true;
  if (kept.count(prefix_.text) != 0) return ok_status();
  Output route = run({"ip", "route", "add", "local", prefix_.text, "dev", "lo", "table", "local",
                      "proto", kRouteProto});
  if (route.status != 0)
    return Error{ErrorCode::kIo,
                 "egress: cannot add the local route for " + prefix_.text + ": " + route.text};
  return ok_status();
}

void Egress::remove() {
  if (!table_added_) return;
  Lock lock;
  run({"nft", "delete", "table", "ip", table_});
  table_added_ = false;
  sweep_routes(live_prefixes());
}

Egress::~Egress() { remove(); }

}  // namespace hil::radio
