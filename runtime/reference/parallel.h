// A small fork-join helper of the CPU reference (internal).
#pragma once

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace moga::ref::detail {

inline int resolve_threads(int threads) {
  return threads > 0 ? threads : (int)std::max(1u, std::thread::hardware_concurrency());
}

// Runs body(item, worker) for item in [0, n), in chunks of `chunk` items, on `threads` workers
// (worker < threads); rethrows the first exception after every worker has stopped.
template <class Body>
void parallel_for(long long n, int threads, int chunk, Body&& body) {
  threads = resolve_threads(threads);
  const long long chunks = (n + chunk - 1) / chunk;
  threads = (int)std::min<long long>(threads, std::max<long long>(1, chunks));
  std::atomic<long long> next{0};
  std::atomic<bool> stop{false};
  std::exception_ptr err;
  std::mutex err_mu;
  auto work = [&](int w) {
    try {
      for (;;) {
        const long long c = next.fetch_add(1);
        if (c >= chunks || stop.load()) return;
        const long long e = std::min(n, (c + 1) * chunk);
        for (long long i = c * chunk; i < e; ++i) body(i, w);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lk(err_mu);
      if (!err) err = std::current_exception();
      stop = true;
    }
  };
  if (threads == 1) {
    work(0);
  } else {
    std::vector<std::thread> pool;
    pool.reserve(threads);
    for (int w = 0; w < threads; ++w) pool.emplace_back(work, w);
    for (auto& t : pool) t.join();
  }
  if (err) std::rethrow_exception(err);
}

}  // namespace moga::ref::detail
