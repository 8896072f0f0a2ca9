// The processes of `moga run --gpus N` (docs/distributed.md). Rank 0 is the process the user started:
// it creates the NCCL unique id and starts ranks 1 .. N-1 as child processes running the same command
// line (/proc/self/exe with /proc/self/cmdline), with the parent's environment plus
//
//   MOGA_RANK=r  MOGA_WORLD=N  MOGA_NCCL_ID=<ncclUniqueId, 256 hex digits>  NCCL_NVLS_ENABLE=0
//   CUDA_VISIBLE_DEVICES=<the parent's device list rotated by r>
//
// so that device 0 of rank r (jit::Device::get(), which the whole runtime uses) is the parent's device
// r, while every GPU stays visible: NCCL's P2P/NVLink transport needs the peers' GPUs visible in each
// process (restricting each rank to its own GPU makes NCCL fall back to shared memory through the host,
// NVIDIA/nccl#1066). Children die with the parent (PR_SET_PDEATHSIG); while rank 0 runs, a watchdog
// thread reaps the children and, when one fails, stops the others and exits with status 1 instead of
// leaving rank 0 blocked in a collective that will never complete.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace moga::parallel {

// This process's place, from MOGA_RANK / MOGA_WORLD / MOGA_NCCL_ID.
struct RankEnv {
  bool present = false;  // MOGA_RANK is set: a child started by `moga run --gpus N`
  int rank = 0, world = 1;
  std::string id_hex;
};
// Throws std::invalid_argument naming the variable when one is set but malformed or inconsistent.
RankEnv rank_from_env();

// The device list of rank r: the parent's CUDA_VISIBLE_DEVICES (empty: 0 .. device_count-1) rotated
// left by r ("2,3,5" at r = 1: "3,5,2").
std::string rotated_devices(const std::string& parent_visible, int device_count, int rank);

// The environment of child rank r: `parent` (KEY=VALUE entries) without the variables set here, plus them.
std::vector<std::string> child_environment(const std::vector<std::string>& parent, int rank, int world,
                                           const std::string& id_hex, int device_count);

// `requested` GPUs when `available` are visible (available < 0: no device, `why` says why).
// Throws std::runtime_error with a clear message when they do not fit.
void check_gpu_count(int requested, int available, const std::string& why = "");

// Rank 0's children.
class Ranks {
 public:
  // Starts ranks 1 .. world-1 and the watchdog. `tag` prefixes the watchdog's messages.
  static std::unique_ptr<Ranks> start(int world, const std::string& id_hex, int device_count,
                                      const std::string& tag = "moga run");
  ~Ranks();  // stops the watchdog; children still running get SIGTERM
  Ranks(const Ranks&) = delete;
  Ranks& operator=(const Ranks&) = delete;

  // Waits for every child; throws std::runtime_error naming the ranks that failed.
  void wait();
  // SIGTERM to every child still running (rank 0 failed: the others would wait for it forever).
  void kill_all();
  const std::vector<pid_t>& pids() const { return pids_; }

 private:
  Ranks() = default;
  void watch();
  std::vector<pid_t> pids_;
  std::vector<int> status_;  // -1: running; else the wait status
  std::string tag_;
  std::atomic<bool> stop_{false};
  std::thread watchdog_;
};

}  // namespace moga::parallel
