#include "runtime/model/preview.h"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#include <stb/stb_image_write.h>

#include "runtime/jit/atomic_file.h"

namespace moga::model {

Image preview_image(const float* lat, int C, int F, int H, int W) {
  if (C < 1 || F < 1 || H < 1 || W < 1) throw std::invalid_argument("preview: empty latent");
  const int scale = std::max(1, (64 + H - 1) / H);
  const int cols = std::min(F, 8), rows = (F + cols - 1) / cols, gap = 2;
  const int fw = W * scale, fh = H * scale;
  Image im;
  im.width = cols * fw + (cols - 1) * gap;
  im.height = rows * fh + (rows - 1) * gap;
  im.rgb.assign((size_t)im.width * im.height * 3, 32);  // dark grey gaps
  const long long FHW = (long long)F * H * W;
  float lo[3] = {0, 0, 0}, hi[3] = {0, 0, 0};
  for (int ch = 0; ch < 3 && ch < C; ++ch) {
    lo[ch] = INFINITY, hi[ch] = -INFINITY;
    for (long long i = 0; i < FHW; ++i) {
      const float v = lat[ch * FHW + i];
      if (std::isfinite(v)) lo[ch] = std::min(lo[ch], v), hi[ch] = std::max(hi[ch], v);
    }
  }
  for (int f = 0; f < F; ++f) {
    const int ox = (f % cols) * (fw + gap), oy = (f / cols) * (fh + gap);
    for (int y = 0; y < fh; ++y)
      for (int x = 0; x < fw; ++x) {
        uint8_t* px = &im.rgb[((size_t)(oy + y) * im.width + (ox + x)) * 3];
        for (int ch = 0; ch < 3; ++ch) {
          const int src = std::min(ch, C - 1);  // fewer than 3 channels: grey
          const float v = lat[src * FHW + ((long long)f * H + y / scale) * W + x / scale];
          const float l = lo[std::min(src, 2)], h = hi[std::min(src, 2)];
          const float n = (std::isfinite(v) && h > l) ? (v - l) / (h - l) : 0.5f;
          px[ch] = (uint8_t)std::lround(std::clamp(n, 0.f, 1.f) * 255.f);
        }
      }
  }
  return im;
}

std::vector<uint8_t> encode_png(const Image& im) {
  std::vector<uint8_t> out;
  auto sink = [](void* ctx, void* data, int size) {
    auto* o = static_cast<std::vector<uint8_t>*>(ctx);
    o->insert(o->end(), (uint8_t*)data, (uint8_t*)data + size);
  };
  if (!stbi_write_png_to_func(sink, &out, im.width, im.height, 3, im.rgb.data(), im.width * 3))
    throw std::runtime_error("PNG encoding failed");
  return out;
}

void write_png_atomic(const std::string& path, const Image& im) {
  const std::vector<uint8_t> png = encode_png(im);
  jit::write_file_atomic(path, png.data(), png.size());
}

}  // namespace moga::model
