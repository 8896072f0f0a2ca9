#include "runtime/model/router_calibration.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "runtime/model/cpu/parallel.h"

namespace moga::model {

namespace {

void check_shape(size_t numel, int M, int d, const char* what) {
  if (M <= 0 || d <= 0 || numel != (size_t)M * d)
    throw std::invalid_argument(fmt::format("router calibration: {} has {} values, expected M x d = {} x {}", what, numel, M, d));
}

long long chunk_count(long long N) { return (N + kCalibrationRowChunk - 1) / kCalibrationRowChunk; }

// part[c][0..width) = per-chunk sums from body(row, slot); chunks over threads, then added in chunk
// order: the result does not depend on the thread count.
template <class Body>
std::vector<double> chunked_sums(long long N, int width, int threads, Body&& body) {
  const long long C = chunk_count(N);
  std::vector<double> part((size_t)C * width, 0.0);
  cpu::parallel_ranges(C, threads, 1, [&](long long c0, long long c1) {
    for (long long c = c0; c < c1; ++c) {
      double* slot = &part[(size_t)c * width];
      const long long r1 = std::min(N, (c + 1) * kCalibrationRowChunk);
      for (long long r = c * kCalibrationRowChunk; r < r1; ++r) body(r, slot);
    }
  });
  std::vector<double> sum(width, 0.0);
  for (long long c = 0; c < C; ++c)
    for (int j = 0; j < width; ++j) sum[j] += part[(size_t)c * width + j];
  return sum;
}

}  // namespace

const char* router_calibration_name(RouterCalibration m) {
  switch (m) {
    case RouterCalibration::Off: return "off";
    case RouterCalibration::First: return "first";
    case RouterCalibration::Step: return "step";
  }
  return "?";
}

RouterCalibration parse_router_calibration(const std::string& s) {
  for (RouterCalibration m : {RouterCalibration::Step, RouterCalibration::First, RouterCalibration::Off})
    if (s == router_calibration_name(m)) return m;
  throw std::invalid_argument(fmt::format("router calibration mode '{}': expected step, first or off", s));
}

std::vector<float> router_project_mean(const std::vector<float>& W, int M, int d, const std::vector<double>& hsum) {
  check_shape(W.size(), M, d, "the router weight");
  if ((int)hsum.size() != d) throw std::invalid_argument(fmt::format("router calibration: hsum has {} values, d = {}", hsum.size(), d));
  double n2 = 0;
  for (double v : hsum) n2 += v * v;
  const double norm = std::sqrt(n2);
  if (!(norm > 0) || !std::isfinite(norm)) return W;
  std::vector<double> u(d);
  for (int j = 0; j < d; ++j) u[j] = hsum[j] / norm;
  std::vector<float> Wp(W.size());
  for (int m = 0; m < M; ++m) {
    const float* w = &W[(size_t)m * d];
    double wu = 0;
    for (int j = 0; j < d; ++j) wu += (double)w[j] * u[j];
    for (int j = 0; j < d; ++j) Wp[(size_t)m * d + j] = (float)((double)w[j] - wu * u[j]);
  }
  return Wp;
}

std::vector<double> router_logit_std(const std::vector<double>& lsum, const std::vector<double>& lsq, long long tokens) {
  if (lsum.size() != lsq.size()) throw std::invalid_argument("router calibration: lsum and lsq differ in length");
  std::vector<double> s(lsum.size(), 0.0);
  if (tokens <= 0) return s;
  for (size_t m = 0; m < s.size(); ++m) {
    const double mean = lsum[m] / tokens, var = lsq[m] / tokens - mean * mean;
    s[m] = var > 0 ? std::sqrt(var) : 0.0;
  }
  return s;
}

std::vector<float> router_equalize_spread(const std::vector<float>& Wp, int M, int d, const std::vector<double>& lsum,
                                          const std::vector<double>& lsq, long long tokens) {
  check_shape(Wp.size(), M, d, "W'");
  if ((int)lsum.size() != M || (int)lsq.size() != M)
    throw std::invalid_argument(fmt::format("router calibration: {} / {} logit sums for M = {} groups", lsum.size(), lsq.size(), M));
  const std::vector<double> s = router_logit_std(lsum, lsq, tokens);
  double total = 0;
  int live = 0;
  for (double v : s)
    if (v > 0 && std::isfinite(v)) total += v, ++live;
  if (!live) return Wp;
  const double mean = total / live;
  std::vector<float> out(Wp);
  for (int m = 0; m < M; ++m) {
    if (!(s[m] > 0) || !std::isfinite(s[m])) continue;
    const double k = mean / s[m];
    for (int j = 0; j < d; ++j) out[(size_t)m * d + j] = (float)((double)Wp[(size_t)m * d + j] * k);
  }
  return out;
}

std::vector<double> router_input_sum(const float* h, long long N, int d, int threads) {
  return chunked_sums(N, d, threads, [&](long long r, double* slot) {
    const float* row = h + (size_t)r * d;
    for (int j = 0; j < d; ++j) slot[j] += row[j];
  });
}

void router_logit_sums(const std::vector<float>& W, int M, int d, const float* h, long long N, int threads,
                       std::vector<double>* lsum, std::vector<double>* lsq) {
  check_shape(W.size(), M, d, "the router weight");
  const std::vector<double> s = chunked_sums(N, 2 * M, threads, [&](long long r, double* slot) {
    const float* row = h + (size_t)r * d;
    for (int m = 0; m < M; ++m) {
      const float* w = &W[(size_t)m * d];
      double l = 0;
      for (int j = 0; j < d; ++j) l += (double)w[j] * row[j];
      slot[m] += l;
      slot[M + m] += l * l;
    }
  });
  lsum->assign(s.begin(), s.begin() + M);
  lsq->assign(s.begin() + M, s.end());
}

std::vector<float> calibrate_router(const std::vector<float>& W, int M, int d, const float* h, long long N, int threads) {
  const std::vector<float> Wp = router_project_mean(W, M, d, router_input_sum(h, N, d, threads));
  std::vector<double> lsum, lsq;
  router_logit_sums(Wp, M, d, h, N, threads, &lsum, &lsq);
  return router_equalize_spread(Wp, M, d, lsum, lsq, N);
}

}  // namespace moga::model
