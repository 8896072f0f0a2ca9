#include "runtime/parallel/nccl_comm.h"

#include <dlfcn.h>
#include <fmt/format.h>
#include <nccl.h>  // types and prototypes only: nothing is linked, every entry point comes from dlsym

#include <cstdlib>
#include <cstring>
#include <vector>

#include "runtime/jit/driver.h"

namespace moga::parallel {

#define MOGA_NCCL_FUNCS(X)                                                                                     \
  X(ncclGetVersion) X(ncclGetUniqueId) X(ncclCommInitRank) X(ncclCommDestroy) X(ncclCommAbort)                \
  X(ncclCommGetAsyncError) X(ncclGetErrorString) X(ncclGetLastError) X(ncclGroupStart) X(ncclGroupEnd)         \
  X(ncclSend) X(ncclRecv)

struct NcclApi {
#define MOGA_NCCL_MEMBER(fn) decltype(&::fn) fn = nullptr;
  MOGA_NCCL_FUNCS(MOGA_NCCL_MEMBER)
#undef MOGA_NCCL_MEMBER
  decltype(&::ncclCommSplit) ncclCommSplit = nullptr;  // NCCL >= 2.18, optional: only ring attention needs it
};

namespace {

struct Loaded {
  NcclApi api;
  bool lib_ok = false;     // library and every entry point
  bool ok = false;         // and a CUDA device
  std::string lib_why, why, path;
};

Loaded load() {
  Loaded l;
  // NVLink multicast off for this process, whatever the environment said (nccl_comm.h).
  ::setenv("NCCL_NVLS_ENABLE", "0", 1);
  std::vector<std::string> candidates;
  if (const char* p = std::getenv("MOGA_NCCL_LIBRARY"); p && *p) {
    candidates.push_back(p);
  } else {
    candidates = {"libnccl.so.2", "/usr/local/cuda/lib64/libnccl.so.2", "/usr/local/cuda/lib/libnccl.so.2"};
  }
  void* lib = nullptr;
  std::string errors;
  for (const auto& c : candidates) {
    lib = dlopen(c.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib) {
      l.path = c;
      break;
    }
    const char* e = dlerror();
    errors += fmt::format("{}{}", errors.empty() ? "" : "; ", e ? e : c + ": unknown error");
  }
  if (!lib) {
    l.lib_why = fmt::format("cannot load libnccl.so.2 ({}); install NCCL or set MOGA_NCCL_LIBRARY to its path "
                            "(pip's nvidia-nccl-cu13: site-packages/nvidia/nccl/lib/libnccl.so.2)",
                            errors);
    l.why = l.lib_why;
    return l;
  }
  std::string missing;
#define MOGA_NCCL_LOAD(fn)                                    \
  if (void* p = dlsym(lib, #fn))                              \
    l.api.fn = reinterpret_cast<decltype(l.api.fn)>(p);       \
  else                                                        \
    missing += std::string(missing.empty() ? "" : ", ") + #fn;
  MOGA_NCCL_FUNCS(MOGA_NCCL_LOAD)
#undef MOGA_NCCL_LOAD
  if (!missing.empty()) {
    l.lib_why = fmt::format("{} lacks {} (NCCL >= 2.13 needed)", l.path, missing);
    l.why = l.lib_why;
    return l;
  }
  l.api.ncclCommSplit = reinterpret_cast<decltype(l.api.ncclCommSplit)>(dlsym(lib, "ncclCommSplit"));
  l.lib_ok = true;
  std::string dev_why;
  if (!jit::try_driver(&dev_why)) {
    l.why = "no CUDA device: " + dev_why;
    return l;
  }
  l.ok = true;
  return l;
}

const Loaded& loaded() {
  static const Loaded l = load();
  return l;
}

const char* result_text(const NcclApi* api, int r) {
  if (api && api->ncclGetErrorString) return api->ncclGetErrorString(static_cast<ncclResult_t>(r));
  return "unknown NCCL error";
}

}  // namespace

const NcclApi* try_nccl(std::string* why) {
  const Loaded& l = loaded();
  if (!l.ok) {
    if (why) *why = "NCCL not available: " + l.why;
    return nullptr;
  }
  return &l.api;
}

const NcclApi& nccl() {
  std::string why;
  const NcclApi* a = try_nccl(&why);
  if (!a) throw NcclError(why);
  return *a;
}

std::string nccl_version() {
  const Loaded& l = loaded();
  if (!l.lib_ok) throw NcclError("NCCL not available: " + l.lib_why);
  int v = 0;
  if (const ncclResult_t r = l.api.ncclGetVersion(&v); r != ncclSuccess)
    throw NcclError(fmt::format("ncclGetVersion: {}", result_text(&l.api, r)));
  // NCCL_VERSION(X,Y,Z): X*10000 + Y*100 + Z since 2.9 (X*1000 + Y*100 + Z before)
  return v >= 20900 ? fmt::format("{}.{}.{}", v / 10000, v / 100 % 100, v % 100)
                    : fmt::format("{}.{}.{}", v / 1000, v / 100 % 10, v % 100);
}

std::string unique_id_to_hex(const UniqueId& id) {
  static const char* digits = "0123456789abcdef";
  std::string s(2 * id.size(), '0');
  for (size_t i = 0; i < id.size(); ++i) {
    s[2 * i] = digits[id[i] >> 4];
    s[2 * i + 1] = digits[id[i] & 15];
  }
  return s;
}

UniqueId unique_id_from_hex(const std::string& hex) {
  if (hex.size() != 2 * kUniqueIdBytes)
    throw std::invalid_argument(fmt::format("MOGA_NCCL_ID: expected {} hex digits (an ncclUniqueId), got {} characters",
                                            2 * kUniqueIdBytes, hex.size()));
  auto val = [&](char c, size_t at) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    throw std::invalid_argument(fmt::format("MOGA_NCCL_ID: '{}' at position {} is not a hex digit", c, at));
  };
  UniqueId id{};
  for (size_t i = 0; i < id.size(); ++i) id[i] = (unsigned char)(val(hex[2 * i], 2 * i) * 16 + val(hex[2 * i + 1], 2 * i + 1));
  return id;
}

UniqueId new_unique_id() {
  const NcclApi& a = nccl();
  ncclUniqueId raw;
  if (const ncclResult_t r = a.ncclGetUniqueId(&raw); r != ncclSuccess)
    throw NcclError(fmt::format("ncclGetUniqueId: {}", result_text(&a, r)));
  static_assert(sizeof(raw) == kUniqueIdBytes, "ncclUniqueId size");
  UniqueId id;
  std::memcpy(id.data(), &raw, kUniqueIdBytes);
  return id;
}

// ---- communicator -------------------------------------------------------------------------------------

Communicator::Communicator(int rank, int world, const UniqueId& id) : rank_(rank), world_(world) {
  if (world < 1 || rank < 0 || rank >= world)
    throw std::invalid_argument(fmt::format("NCCL communicator: rank {} of {} is out of range", rank, world));
  api_ = &nccl();
  ncclUniqueId raw;
  std::memcpy(&raw, id.data(), kUniqueIdBytes);
  ncclComm_t c = nullptr;
  if (const ncclResult_t r = api_->ncclCommInitRank(&c, world, raw, rank); r != ncclSuccess)
    throw NcclError(fmt::format("ncclCommInitRank(rank {} of {}): {}{}", rank, world, result_text(api_, r),
                                r == ncclUnhandledCudaError || r == ncclSystemError
                                    ? " (set NCCL_DEBUG=INFO for NCCL's own log)"
                                    : ""));
  comm_ = c;
}

Communicator::Communicator(const NcclApi* api, void* comm, int rank, int world)
    : api_(api), comm_(comm), rank_(rank), world_(world) {}

std::unique_ptr<Communicator> Communicator::split() {
  if (!api_->ncclCommSplit)
    throw NcclError(fmt::format("NCCL {} lacks ncclCommSplit (NCCL >= 2.18 needed for ring attention)", nccl_version()));
  ncclComm_t c = nullptr;
  // color 0, key = rank: the same ranks in the same order, a communicator of its own
  if (const ncclResult_t r = api_->ncclCommSplit(static_cast<ncclComm_t>(comm_), 0, rank_, &c, nullptr); r != ncclSuccess)
    fail("ncclCommSplit", r);
  return std::unique_ptr<Communicator>(new Communicator(api_, c, rank_, world_));
}

Communicator::~Communicator() {
  if (comm_ && api_) api_->ncclCommDestroy(static_cast<ncclComm_t>(comm_));
}

void Communicator::abort() {
  if (comm_ && api_) api_->ncclCommAbort(static_cast<ncclComm_t>(comm_));
  comm_ = nullptr;
}

void Communicator::fail(const std::string& call, int r) const {
  const char* last = comm_ && api_->ncclGetLastError ? api_->ncclGetLastError(static_cast<ncclComm_t>(comm_)) : nullptr;
  throw NcclError(fmt::format("{} (rank {} of {}): {}{}{}", call, rank_, world_, result_text(api_, r),
                              last && *last ? ": " : "", last ? last : ""));
}

void Communicator::group_start() {
  if (const ncclResult_t r = api_->ncclGroupStart(); r != ncclSuccess) fail("ncclGroupStart", r);
}

void Communicator::group_end() {
  if (const ncclResult_t r = api_->ncclGroupEnd(); r != ncclSuccess) fail("ncclGroupEnd", r);
}

void Communicator::send(CUdeviceptr buf, size_t bytes, int peer, CUstream stream) {
  if (!bytes) return;
  const ncclResult_t r = api_->ncclSend(reinterpret_cast<const void*>(buf), bytes, ncclUint8, peer,
                                        static_cast<ncclComm_t>(comm_), reinterpret_cast<cudaStream_t>(stream));
  if (r != ncclSuccess) fail(fmt::format("ncclSend(peer {}, {} bytes)", peer, bytes), r);
}

void Communicator::recv(CUdeviceptr buf, size_t bytes, int peer, CUstream stream) {
  if (!bytes) return;
  const ncclResult_t r = api_->ncclRecv(reinterpret_cast<void*>(buf), bytes, ncclUint8, peer,
                                        static_cast<ncclComm_t>(comm_), reinterpret_cast<cudaStream_t>(stream));
  if (r != ncclSuccess) fail(fmt::format("ncclRecv(peer {}, {} bytes)", peer, bytes), r);
}

void Communicator::check_async() {
  ncclResult_t async = ncclSuccess;
  if (const ncclResult_t r = api_->ncclCommGetAsyncError(static_cast<ncclComm_t>(comm_), &async); r != ncclSuccess)
    fail("ncclCommGetAsyncError", r);
  if (async != ncclSuccess) fail("asynchronous NCCL error", async);
}

}  // namespace moga::parallel
