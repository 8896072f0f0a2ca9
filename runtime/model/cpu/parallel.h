// Fork-join over std::thread for the CPU backend: body(begin, end) on contiguous ranges of [0, n),
// one range per worker (static split; the layers' work is uniform). Exceptions are rethrown.
#pragma once

#include <algorithm>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace moga::model::cpu {

int default_threads();  // hardware_concurrency (>= 1), or $MOGA_THREADS

template <class Body>
void parallel_ranges(long long n, int threads, long long min_per_thread, Body&& body) {
  if (n <= 0) return;
  threads = std::max(1, threads > 0 ? threads : default_threads());
  threads = (int)std::min<long long>(threads, std::max<long long>(1, n / std::max<long long>(1, min_per_thread)));
  if (threads == 1) {
    body(0LL, n);
    return;
  }
  std::exception_ptr err;
  std::mutex mu;
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  auto run = [&](int w) {
    const long long b = n * w / threads, e = n * (w + 1) / threads;
    try {
      body(b, e);
    } catch (...) {
      std::lock_guard<std::mutex> lk(mu);
      if (!err) err = std::current_exception();
    }
  };
  for (int w = 1; w < threads; ++w) pool.emplace_back(run, w);
  run(0);
  for (auto& t : pool) t.join();
  if (err) std::rethrow_exception(err);
}

}  // namespace moga::model::cpu
