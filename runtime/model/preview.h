// The preview image of a latent: its frames side by side in a grid (up to 8 per row, 2-pixel gaps),
// channels 0, 1, 2 as R, G, B, each normalised by its min/max over the whole latent to 0..255, upscaled
// by an integer factor so a frame is at least 64 pixels tall. PNG through stb_image_write.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace moga::model {

struct Image {
  int width = 0, height = 0;
  std::vector<uint8_t> rgb;  // height x width x 3
};
Image preview_image(const float* latent, int C, int F, int H, int W);
std::vector<uint8_t> encode_png(const Image& im);
void write_png_atomic(const std::string& path, const Image& im);

}  // namespace moga::model
