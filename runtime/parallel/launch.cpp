#include "runtime/parallel/launch.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace moga::parallel {

namespace {

bool parse_int(const char* s, int* v) {
  if (!s || !*s) return false;
  char* end = nullptr;
  errno = 0;
  const long x = std::strtol(s, &end, 10);
  if (errno || *end || x < INT32_MIN || x > INT32_MAX) return false;
  *v = (int)x;
  return true;
}

std::string describe_status(int st) {
  if (WIFEXITED(st)) return fmt::format("exit status {}", WEXITSTATUS(st));
  if (WIFSIGNALED(st)) return fmt::format("killed by signal {} ({})", WTERMSIG(st), strsignal(WTERMSIG(st)));
  return fmt::format("wait status {}", st);
}

bool failed(int st) { return !(WIFEXITED(st) && WEXITSTATUS(st) == 0); }

}  // namespace

RankEnv rank_from_env() {
  RankEnv e;
  const char* r = std::getenv("MOGA_RANK");
  const char* w = std::getenv("MOGA_WORLD");
  const char* id = std::getenv("MOGA_NCCL_ID");
  if (!r) {
    if (w || id) throw std::invalid_argument("MOGA_WORLD / MOGA_NCCL_ID are set without MOGA_RANK");
    return e;
  }
  e.present = true;
  if (!parse_int(r, &e.rank)) throw std::invalid_argument(fmt::format("MOGA_RANK='{}' is not an integer", r));
  if (!w || !parse_int(w, &e.world) || e.world < 1)
    throw std::invalid_argument(fmt::format("MOGA_WORLD='{}' must be a positive integer when MOGA_RANK is set", w ? w : ""));
  if (e.rank < 0 || e.rank >= e.world)
    throw std::invalid_argument(fmt::format("MOGA_RANK={} is outside 0 .. MOGA_WORLD-1 = {}", e.rank, e.world - 1));
  if (!id || !*id) throw std::invalid_argument("MOGA_NCCL_ID is not set (rank 0 passes the NCCL unique id)");
  e.id_hex = id;
  return e;
}

std::string rotated_devices(const std::string& parent, int count, int rank) {
  std::vector<std::string> list;
  if (parent.empty()) {
    for (int i = 0; i < count; ++i) list.push_back(std::to_string(i));
  } else {
    std::stringstream ss(parent);
    std::string item;
    while (std::getline(ss, item, ','))
      if (!item.empty()) list.push_back(item);
  }
  if (list.empty() || rank < 0 || rank >= (int)list.size())
    throw std::invalid_argument(fmt::format("rank {} has no GPU: {} device(s) visible{}", rank, list.size(),
                                            parent.empty() ? "" : " (CUDA_VISIBLE_DEVICES=" + parent + ")"));
  std::string out;
  for (size_t i = 0; i < list.size(); ++i) out += (i ? "," : "") + list[(rank + i) % list.size()];
  return out;
}

std::vector<std::string> child_environment(const std::vector<std::string>& parent, int rank, int world,
                                           const std::string& id_hex, int device_count) {
  static const char* ours[] = {"MOGA_RANK", "MOGA_WORLD", "MOGA_NCCL_ID", "NCCL_NVLS_ENABLE", "CUDA_VISIBLE_DEVICES"};
  std::string visible;
  std::vector<std::string> env;
  for (const auto& kv : parent) {
    const std::string key = kv.substr(0, kv.find('='));
    bool skip = false;
    for (const char* o : ours) skip |= key == o;
    if (key == "CUDA_VISIBLE_DEVICES") visible = kv.substr(kv.find('=') + 1);
    if (!skip) env.push_back(kv);
  }
  env.push_back(fmt::format("MOGA_RANK={}", rank));
  env.push_back(fmt::format("MOGA_WORLD={}", world));
  env.push_back("MOGA_NCCL_ID=" + id_hex);
  env.push_back("NCCL_NVLS_ENABLE=0");
  env.push_back("CUDA_VISIBLE_DEVICES=" + rotated_devices(visible, device_count, rank));
  return env;
}

void check_gpu_count(int requested, int available, const std::string& why) {
  if (requested < 1) throw std::runtime_error(fmt::format("--gpus {}: must be at least 1", requested));
  if (available < 0)
    throw std::runtime_error(fmt::format("--gpus {}: no CUDA device{}", requested, why.empty() ? "" : ": " + why));
  if (requested > available)
    throw std::runtime_error(fmt::format("--gpus {}: only {} CUDA device{} visible{}", requested, available,
                                         available == 1 ? " is" : "s are", why.empty() ? "" : " (" + why + ")"));
}

// ---- children -----------------------------------------------------------------------------------------

std::unique_ptr<Ranks> Ranks::start(int world, const std::string& id_hex, int device_count, const std::string& tag) {
  std::unique_ptr<Ranks> R(new Ranks());
  R->tag_ = tag;
  // The command line of this process, and its executable.
  std::vector<std::string> args;
  {
    std::ifstream f("/proc/self/cmdline", std::ios::binary);
    std::string a;
    while (std::getline(f, a, '\0')) args.push_back(a);
  }
  char exe[4096];
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (n <= 0 || args.empty()) throw std::runtime_error("--gpus: cannot read this process's command line from /proc/self");
  exe[n] = 0;
  args[0] = exe;
  std::vector<std::string> parent_env;
  for (char** e = environ; e && *e; ++e) parent_env.push_back(*e);
  const pid_t parent = ::getpid();
  std::fflush(nullptr);  // nothing buffered is written twice
  for (int r = 1; r < world; ++r) {
    // Everything the child needs is built before fork: between fork and exec only async-signal-safe calls.
    const std::vector<std::string> env = child_environment(parent_env, r, world, id_hex, device_count);
    std::vector<char*> argv, envp;
    for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
    envp.push_back(nullptr);
    const pid_t pid = ::fork();
    if (pid < 0) {
      R->kill_all();
      throw std::runtime_error(fmt::format("--gpus {}: fork for rank {} failed: {}", world, r, std::strerror(errno)));
    }
    if (pid == 0) {
      ::prctl(PR_SET_PDEATHSIG, SIGTERM);
      if (::getppid() != parent) ::_exit(1);  // the parent died before prctl
      const int devnull = ::open("/dev/null", O_RDONLY);
      if (devnull >= 0) ::dup2(devnull, 0);
      ::execve(exe, argv.data(), envp.data());
      ::_exit(127);
    }
    R->pids_.push_back(pid);
    R->status_.push_back(-1);
  }
  R->watchdog_ = std::thread([p = R.get()] { p->watch(); });
  return R;
}

void Ranks::watch() {
  while (!stop_.load()) {
    for (size_t i = 0; i < pids_.size(); ++i) {
      if (status_[i] != -1) continue;
      int st = 0;
      const pid_t r = ::waitpid(pids_[i], &st, WNOHANG);
      if (r != pids_[i]) continue;
      status_[i] = st;
      if (failed(st)) {
        std::fprintf(stderr, "%s: rank %zu (pid %d) failed (%s); stopping the other ranks\n", tag_.c_str(), i + 1,
                     (int)pids_[i], describe_status(st).c_str());
        for (size_t j = 0; j < pids_.size(); ++j)
          if (status_[j] == -1) ::kill(pids_[j], SIGTERM);
        std::fflush(nullptr);
        ::_exit(1);  // rank 0 may be blocked in a collective that can no longer complete
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

void Ranks::wait() {
  stop_ = true;
  if (watchdog_.joinable()) watchdog_.join();
  std::string bad;
  for (size_t i = 0; i < pids_.size(); ++i) {
    if (status_[i] == -1) {
      int st = 0;
      while (::waitpid(pids_[i], &st, 0) < 0 && errno == EINTR) {
      }
      status_[i] = st;
    }
    if (failed(status_[i])) bad += fmt::format("{}rank {} (pid {}): {}", bad.empty() ? "" : "; ", i + 1, pids_[i],
                                               describe_status(status_[i]));
  }
  if (!bad.empty()) throw std::runtime_error(tag_ + ": " + bad);
}

void Ranks::kill_all() {
  stop_ = true;  // the watchdog reads and writes status_: stop it first
  if (watchdog_.joinable() && watchdog_.get_id() != std::this_thread::get_id()) watchdog_.join();
  for (size_t i = 0; i < pids_.size(); ++i)
    if (status_[i] == -1) ::kill(pids_[i], SIGTERM);
}

Ranks::~Ranks() {
  stop_ = true;
  if (watchdog_.joinable()) watchdog_.join();
  kill_all();
  for (size_t i = 0; i < pids_.size(); ++i)
    if (status_[i] == -1) ::waitpid(pids_[i], nullptr, 0);
}

}  // namespace moga::parallel
