// GpuRunner: tuner.h's TrialRunner over rt::PatternAttention (gpu_runner.h says what it guarantees).
#include "runtime/tune/gpu_runner.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>

#include "runtime/jit/check.h"
#include "runtime/jit/driver.h"
#include "runtime/jit/jit.h"
#include "runtime/jit/module.h"

namespace moga::tune {

using nlohmann::json;

namespace {

// Errors after which the context is unusable: every later call would fail too.
bool sticky(CUresult r) {
  switch (r) {
    case CUDA_ERROR_ILLEGAL_ADDRESS:
    case CUDA_ERROR_LAUNCH_TIMEOUT:
    case CUDA_ERROR_ASSERT:
    case CUDA_ERROR_HARDWARE_STACK_ERROR:
    case CUDA_ERROR_ILLEGAL_INSTRUCTION:
    case CUDA_ERROR_MISALIGNED_ADDRESS:
    case CUDA_ERROR_INVALID_ADDRESS_SPACE:
    case CUDA_ERROR_INVALID_PC:
    case CUDA_ERROR_LAUNCH_FAILED:
    case CUDA_ERROR_ECC_UNCORRECTABLE:
    case CUDA_ERROR_CONTEXT_IS_DESTROYED:
      return true;
    default:
      return false;
  }
}

std::optional<std::string> slurp(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return std::nullopt;
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

float bf16_to_float(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

// Uniform in [-1, 1), rounded to bf16 (truncation: the distribution does not matter, determinism does).
void fill_random(std::vector<uint16_t>& v, uint64_t seed) {
  uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
  for (uint16_t& x : v) {
    s ^= s << 13;
    s ^= s >> 7;
    s ^= s << 17;
    const float f = static_cast<float>(static_cast<int64_t>(s >> 40) - (1 << 23)) / static_cast<float>(1 << 23);
    uint32_t u;
    std::memcpy(&u, &f, 4);
    x = static_cast<uint16_t>(u >> 16);
  }
}

std::string first_lines(const std::string& s, int n) {
  size_t pos = 0;
  for (int i = 0; i < n && pos != std::string::npos; ++i) {
    pos = s.find('\n', pos);
    if (pos != std::string::npos) ++pos;
  }
  std::string out = pos == std::string::npos ? s : s.substr(0, pos);
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

}  // namespace

DeviceLimits device_limits() {
  jit::Device& d = jit::Device::get();
  DeviceLimits l;
  l.arch = d.arch();
  l.name = d.name();
  l.smem_optin_bytes = d.attribute(CU_DEVICE_ATTRIBUTE_MAX_SHARED_MEMORY_PER_BLOCK_OPTIN);
  l.regs_per_block = d.attribute(CU_DEVICE_ATTRIBUTE_MAX_REGISTERS_PER_BLOCK);
  l.max_threads_per_block = d.attribute(CU_DEVICE_ATTRIBUTE_MAX_THREADS_PER_BLOCK);
  l.queried = true;
  return l;
}

rt::LoadedPattern single_kernel_pattern(const rt::LoadedPattern& p, const std::string& kernel) {
  json m = json::parse(p.manifest_json);
  json keep;
  for (const json& k : m.at("kernels"))
    if (k.value("name", "") == kernel) keep = k;
  if (keep.is_null()) throw std::invalid_argument(fmt::format("pattern '{}' has no kernel '{}'", p.name, kernel));
  keep["accumulate"] = false;  // alone, it writes the output
  m["kernels"] = json::array({keep});
  return rt::load_from_text(p.cuda, m.dump(2), p.origin + "#" + kernel);
}

struct GpuRunner::State {
  jit::Device* dev = nullptr;
  DeviceLimits lim;
  CUstream stream = nullptr;
  std::vector<CUevent> ev0, ev1;
  int sets = 2;
  std::vector<jit::DeviceBuffer> q, k, v, out;
  std::unique_ptr<jit::DeviceBuffer> x, w;
  rt::RouterInputs router;
  bool routed = false;
  size_t tensor_bytes = 0;
  std::vector<uint16_t> ref;  // the reference config's output (empty: no check)
  std::string ref_note;
  double flops = 0;

  ~State() {
    const jit::Driver* d = jit::try_driver();
    if (!d) return;
    for (CUevent e : ev0) d->cuEventDestroy(e);
    for (CUevent e : ev1) d->cuEventDestroy(e);
    if (stream) d->cuStreamDestroy(stream);
  }
};

GpuRunner::GpuRunner(const rt::LoadedPattern& pattern, const std::string& kernel, const Shape& shape,
                     GpuRunnerOptions options)
    : single_(single_kernel_pattern(pattern, kernel)), kernel_(kernel), shape_(shape), opt_(std::move(options)) {
  opt_.runs = std::max(opt_.runs, 10);
  opt_.warmup = std::max(opt_.warmup, 1);
  rt::PatternAttention probe(single_);  // raises NotSupportedError now, not once per config
}

GpuRunner::~GpuRunner() = default;

rt::AttentionShape GpuRunner::rt_shape() const {
  if (shape_.video) {
    std::vector<int> shots = shape_.shot_starts;
    if (!shots.empty() && shots[0] != 0) shots.insert(shots.begin(), 0);
    return rt::AttentionShape::make_video(shape_.B, shape_.F, shape_.Hgt, shape_.Wid, shape_.H, shape_.D, shots);
  }
  return rt::AttentionShape::seq(shape_.B, shape_.N, shape_.H, shape_.D);
}

rt::AttentionOptions GpuRunner::options_for(const Config& c) const {
  rt::AttentionOptions o;
  o.engine = c.wgmma() ? rt::Engine::Wgmma : rt::Engine::MmaSync;
  o.variant = c.variant;
  o.tiles[kernel_] = rt::TileConfig{c.block_m, c.block_n, c.warps, c.stages};
  o.nvrtc_flags = opt_.nvrtc_flags;
  return o;
}

std::string GpuRunner::device() const { return st_ ? st_->lim.name : ""; }

std::string GpuRunner::exclusive_resource() {
  jit::Device& d = jit::Device::get();
  return fmt::format("gpu-{:04x}-{:02x}-{:02x}", d.attribute(CU_DEVICE_ATTRIBUTE_PCI_DOMAIN_ID),
                     d.attribute(CU_DEVICE_ATTRIBUTE_PCI_BUS_ID), d.attribute(CU_DEVICE_ATTRIBUTE_PCI_DEVICE_ID));
}

CompileResult GpuRunner::compile(const Config& c) {
  CompileResult r;
  try {
    rt::PatternAttention attn(single_, options_for(c));
    rt::ModuleInfo info = attn.compile(shape_.D);
    r.ok = true;
    r.note = info.cache_hit ? "cache hit" : fmt::format("compiled in {:.0f} ms", info.compile_ms);
    std::lock_guard<std::mutex> g(mu_);
    modules_[c.id()] = std::move(info);
  } catch (const jit::CompileError& e) {
    r.ok = false;
    r.note = "NVRTC: " + first_lines(e.log().empty() ? std::string(e.what()) : e.log(), 6);
  } catch (const rt::ArgumentError& e) {  // tiles the runtime refuses (check_tiles)
    r.ok = false;
    r.note = e.what();
  }
  return r;
}

void GpuRunner::ensure_state() {
  if (st_) return;
  auto st = std::make_unique<State>();
  st->dev = &jit::Device::get();
  st->dev->make_current();
  st->lim = device_limits();
  const jit::Driver& d = jit::driver();
  CU_CHECK(d.cuStreamCreate(&st->stream, CU_STREAM_NON_BLOCKING));
  st->ev0.resize(opt_.runs);
  st->ev1.resize(opt_.runs);
  for (int i = 0; i < opt_.runs; ++i) {
    CU_CHECK(d.cuEventCreate(&st->ev0[i], CU_EVENT_DEFAULT));
    CU_CHECK(d.cuEventCreate(&st->ev1[i], CU_EVENT_DEFAULT));
  }

  // Input sets: enough that one pass over them does not fit in twice the L2.
  const size_t elems = static_cast<size_t>(shape_.B) * shape_.N * shape_.H * shape_.D;
  st->tensor_bytes = elems * 2;
  const size_t l2 = static_cast<size_t>(st->dev->attribute(CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE));
  st->sets = opt_.input_sets > 0
                 ? opt_.input_sets
                 : static_cast<int>(std::clamp<size_t>((2 * l2 + 4 * st->tensor_bytes - 1) / (4 * st->tensor_bytes),
                                                       2, 8));
  std::vector<uint16_t> host(elems);
  for (int s = 0; s < st->sets; ++s) {
    for (auto* vec : {&st->q, &st->k, &st->v}) {
      fill_random(host, 1000 * s + vec->size() * 7 + (vec == &st->q ? 1 : vec == &st->k ? 2 : 3));
      vec->emplace_back(st->tensor_bytes);
      vec->back().upload(host.data(), st->tensor_bytes);
    }
    st->out.emplace_back(st->tensor_bytes);
  }

  // Router inputs (routed kernels): one x and one W_r; the router's output does not depend on tiles.
  const ref::KernelSpec& ks = single_.spec.kernels.at(0);
  if (ks.route) {
    st->routed = true;
    const int M = ks.route->groups;
    std::vector<uint16_t> hx(static_cast<size_t>(shape_.B) * shape_.N * opt_.d_model);
    fill_random(hx, 77);
    st->x = std::make_unique<jit::DeviceBuffer>(hx.size() * 2);
    st->x->upload(hx.data(), hx.size() * 2);
    std::vector<uint16_t> hw(static_cast<size_t>(opt_.d_model) * M);
    fill_random(hw, 78);
    st->w = std::make_unique<jit::DeviceBuffer>(hw.size() * 2);
    st->w->upload(hw.data(), hw.size() * 2);
    st->router.x = rt::TensorView::contiguous(st->x->ptr(), rt::DType::BF16,
                                              {shape_.B, shape_.N, static_cast<int64_t>(opt_.d_model)});
    st->router.weights = {rt::TensorView::contiguous(st->w->ptr(), rt::DType::BF16,
                                                     {static_cast<int64_t>(opt_.d_model), M})};
  }
  st_ = std::move(st);

  // The reference: the manifest's tiles (the configuration the attention tests validate against the
  // CPU reference), run once into a poisoned buffer.
  const Config ref_cfg{ks.tiles.block_m, ks.tiles.block_n, ks.tiles.warps, ks.tiles.stages};
  const std::string why = static_check(ref_cfg, shape_.D, st_->lim);
  if (!why.empty()) {
    st_->ref_note = fmt::format("no reference: the manifest's tiles {} cannot run here ({})", ref_cfg.id(), why);
    return;
  }
  try {
    rt::PatternAttention ref(single_, options_for(ref_cfg));
    const rt::AttentionShape s = rt_shape();
    auto view = [&](jit::DeviceBuffer& b) {
      return rt::TensorView::contiguous(b.ptr(), rt::DType::BF16, {shape_.B, shape_.N, shape_.H, shape_.D});
    };
    st_->out[0].fill_bytes(0xFF);
    ref.run(view(st_->q[0]), view(st_->k[0]), view(st_->v[0]), view(st_->out[0]), s,
            st_->routed ? &st_->router : nullptr, st_->stream);
    CU_CHECK(jit::driver().cuStreamSynchronize(st_->stream));
    st_->ref = st_->out[0].download<uint16_t>();
    st_->ref.resize(elems);
    const rt::PatternAttention::MapStats ms = ref.last_block_map(0, st_->stream);
    st_->flops = 4.0 * shape_.H * shape_.D * ref_cfg.block_m * ref_cfg.block_n *
                 static_cast<double>(ms.full + ms.partial);
    for (uint16_t h : st_->ref)
      if (std::isnan(bf16_to_float(h))) {
        st_->ref.clear();
        st_->ref_note = "no reference: the manifest's tiles left NaN in the output";
        break;
      }
  } catch (const jit::CudaError& e) {
    if (sticky(e.code())) throw;
    st_->ref_note = fmt::format("no reference: {}", e.what());
  } catch (const rt::ArgumentError& e) {
    st_->ref_note = fmt::format("no reference: {}", e.what());
  }
}

Timing GpuRunner::time(const Config& c) {
  ensure_state();
  State& st = *st_;
  const jit::Driver& d = jit::driver();
  Timing t;
  try {
    // ---- inspect the compiled module: registers, spills, shared memory -----------------------------
    rt::ModuleInfo info;
    {
      std::lock_guard<std::mutex> g(mu_);
      auto it = modules_.find(c.id());
      if (it != modules_.end()) info = it->second;
    }
    if (!info.cache_path.empty()) {
      std::string rec_path = info.cache_path;
      rec_path.replace(rec_path.size() - 6, 6, ".json");  // <stem>.cubin -> <stem>.json
      const std::optional<std::string> cubin = slurp(info.cache_path), rec_text = slurp(rec_path);
      if (cubin && rec_text) {
        const json rec = json::parse(*rec_text, nullptr, false);
        std::string attn_sym, smem_sym;
        if (rec.is_object() && rec.contains("lowered") && rec["lowered"].is_object())
          for (const auto& [expr, sym] : rec["lowered"].items()) {
            // either family (sm80.mma: attention_fwd, the sm90.ws rows: attention_fwd_ws)
            if (expr.rfind("moga::attention_fwd<", 0) == 0 || expr.rfind("moga::attention_fwd_ws<", 0) == 0)
              attn_sym = sym.get<std::string>();
            if (expr.rfind("&moga::attn_fwd_smem_bytes<", 0) == 0 || expr.rfind("&moga::attn_fwd_ws_smem_bytes<", 0) == 0)
              smem_sym = sym.get<std::string>();
          }
        if (!attn_sym.empty()) {
          jit::Module mod(cubin->data(), st.lim.arch, *st.dev);
          CUfunction f = mod.function(attn_sym.c_str());
          CU_CHECK(d.cuFuncGetAttribute(&t.regs, CU_FUNC_ATTRIBUTE_NUM_REGS, f));
          int local = 0;
          CU_CHECK(d.cuFuncGetAttribute(&local, CU_FUNC_ATTRIBUTE_LOCAL_SIZE_BYTES, f));
          if (!smem_sym.empty()) {
            CUdeviceptr g = 0;
            size_t gb = 0;
            CU_CHECK(jit::driver().cuModuleGetGlobal(&g, &gb, mod.handle(), smem_sym.c_str()));
            CU_CHECK(d.cuMemcpyDtoH(&t.smem_bytes, g, sizeof(int)));
          }
          const std::string why = resource_check(c, t.regs, t.smem_bytes, st.lim);
          if (!why.empty()) throw TrialError("resources: " + why);
        }
      }
    }
    if (!t.smem_bytes) t.smem_bytes = attn_fwd_smem_bytes(shape_.D, c);

    rt::PatternAttention attn(single_, options_for(c));
    // Declared after attn, so destroyed before it: whatever way time() leaves, the queued work is
    // finished before attn frees its workspaces.
    struct SyncOnExit {
      CUstream s;
      ~SyncOnExit() { jit::driver().cuStreamSynchronize(s); }
    } sync_on_exit{st.stream};
    const rt::AttentionShape s = rt_shape();
    auto view = [&](jit::DeviceBuffer& b) {
      return rt::TensorView::contiguous(b.ptr(), rt::DType::BF16, {shape_.B, shape_.N, shape_.H, shape_.D});
    };
    const rt::RouterInputs* router = st.routed ? &st.router : nullptr;

    // ---- fresh, poisoned outputs; one full call (prep included) checked -------------------------------
    for (auto& o : st.out) o.fill_bytes(0xFF);
    attn.run(view(st.q[0]), view(st.k[0]), view(st.v[0]), view(st.out[0]), s, router, st.stream);
    CU_CHECK(d.cuStreamSynchronize(st.stream));
    if (opt_.check) {
      std::vector<uint16_t> got = st.out[0].download<uint16_t>();
      size_t nan = 0;
      double max_diff = 0, max_ref = 0;
      for (size_t i = 0; i < got.size() && i < st.tensor_bytes / 2; ++i) {
        const float g = bf16_to_float(got[i]);
        if (std::isnan(g)) {
          ++nan;
          continue;
        }
        if (!st.ref.empty()) {
          const float r = bf16_to_float(st.ref[i]);
          max_diff = std::max(max_diff, static_cast<double>(std::fabs(g - r)));
          max_ref = std::max(max_ref, static_cast<double>(std::fabs(r)));
        }
      }
      if (nan) throw TrialError(fmt::format("wrong result: {} output elements left unwritten or NaN", nan));
      if (!st.ref.empty() && max_diff > opt_.tolerance * std::max(1.0, max_ref))
        throw TrialError(fmt::format("wrong result: max |out - reference| = {:.4g} (tolerance {:.3g})", max_diff,
                                     opt_.tolerance * std::max(1.0, max_ref)));
    }

    // ---- warm-up, then timed calls rotating over the input sets ---------------------------------------
    const rt::RunOptions only_attention{/*prep=*/false, /*attention=*/true};
    int set = 1 % st.sets;
    auto call = [&] {
      attn.run(view(st.q[set]), view(st.k[set]), view(st.v[set]), view(st.out[set]), s, router, st.stream,
               only_attention);
      set = (set + 1) % st.sets;
    };
    for (int i = 0; i < opt_.warmup; ++i) call();
    for (int i = 0; i < opt_.runs; ++i) {
      CU_CHECK(d.cuEventRecord(st.ev0[i], st.stream));
      call();
      CU_CHECK(d.cuEventRecord(st.ev1[i], st.stream));
    }
    CU_CHECK(d.cuStreamSynchronize(st.stream));
    std::vector<double> ms(opt_.runs);
    for (int i = 0; i < opt_.runs; ++i) {
      float e = 0;
      CU_CHECK(d.cuEventElapsedTime(&e, st.ev0[i], st.ev1[i]));
      ms[i] = e;
    }
    std::sort(ms.begin(), ms.end());
    const size_t n = ms.size();
    t.median_ms = n % 2 ? ms[n / 2] : 0.5 * (ms[n / 2 - 1] + ms[n / 2]);
    t.min_ms = ms.front();
    t.max_ms = ms.back();
    t.runs = static_cast<int>(n);
    t.flops = st.flops;
    return t;
  } catch (const jit::CudaError& e) {
    throw TrialError(e.what(), sticky(e.code()));
  } catch (const rt::ArgumentError& e) {
    throw TrialError(e.what());
  } catch (const jit::CompileError& e) {
    throw TrialError("NVRTC: " + first_lines(e.log(), 6));
  }
}

}  // namespace moga::tune
