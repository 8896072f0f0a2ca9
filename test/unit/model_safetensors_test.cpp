// safetensors reader and writer (runtime/model/safetensors.h): round trips in F32 / F16 / BF16, the
// scalar conversions, and every malformed-file error (each message names the file and the tensor).
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "runtime/model/safetensors.h"
#include "test/unit/model_test_util.h"

using namespace moga::model;
using modeltest::make_safetensors;
using modeltest::scratch_dir;
using modeltest::write_bytes;

namespace {

std::vector<float> ramp(size_t n, float scale = 0.37f) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = scale * ((float)i - (float)n / 3) + 0.001f * (float)(i * i % 7);
  return v;
}

// The error message of constructing a reader on `bytes`.
std::string open_error(const std::string& dir, const std::string& bytes, const std::string& name = "bad.safetensors") {
  const std::string p = dir + "/" + name;
  write_bytes(p, bytes);
  try {
    SafetensorsFile f(p);
  } catch (const SafetensorsError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST(ModelSafetensors, RoundTripEveryDtype) {
  const std::string dir = scratch_dir();
  const std::vector<float> a = ramp(2 * 3 * 4), b = ramp(7, -1.5f), c = ramp(5 * 2, 100.f);
  std::vector<TensorWrite> t(3);
  t[0] = {"blocks.0.a", DType::F32, {2, 3, 4}, {}, a.data()};
  t[1] = {"b", DType::BF16, {7}, {}, b.data()};
  t[2].name = "c";
  t[2].dtype = DType::F16;
  t[2].shape = {5, 2};
  t[2].fill = [&](float* d) { std::copy(c.begin(), c.end(), d); };
  write_safetensors(dir + "/x.safetensors", t, {{"format", "pt"}});
  SafetensorsFile f(dir + "/x.safetensors");
  ASSERT_EQ(f.tensors().size(), 3u);
  EXPECT_EQ(f.metadata().at("format"), "pt");
  EXPECT_EQ(f.info("blocks.0.a").shape, (std::vector<long long>{2, 3, 4}));
  EXPECT_EQ(f.info("b").dtype, DType::BF16);
  EXPECT_EQ(f.info("c").dtype, DType::F16);
  EXPECT_EQ(f.to_f32("blocks.0.a"), a);  // exact
  const auto rb = f.to_f32("b"), rc = f.to_f32("c");
  for (size_t i = 0; i < b.size(); ++i) EXPECT_NEAR(rb[i], b[i], std::abs(b[i]) * (1.0 / 256) + 1e-30) << i;
  for (size_t i = 0; i < c.size(); ++i) EXPECT_NEAR(rc[i], c[i], std::abs(c[i]) * (1.0 / 2048) + 1e-7) << i;
  // the data section is 8-byte aligned, as the reference implementation writes it
  const std::string bytes = modeltest::read_bytes(dir + "/x.safetensors");
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | (uint8_t)bytes[i];
  EXPECT_EQ((8 + n) % 8, 0u);
  // nothing but the file itself in the folder (the temp file was renamed)
  EXPECT_EQ(modeltest::list_dir(dir), std::vector<std::string>{"x.safetensors"});
}

TEST(ModelSafetensors, ScalarConversions) {
  // bf16: exact for values with 8 significant bits, round to nearest even otherwise
  EXPECT_EQ(bf16_to_f32(f32_to_bf16(1.5f)), 1.5f);
  EXPECT_EQ(f32_to_bf16(1.0f), 0x3f80);
  EXPECT_EQ(f32_to_bf16(1.0f + 1.0f / 256), 0x3f80);          // tie -> even
  EXPECT_EQ(f32_to_bf16(1.0f + 3.0f / 256), 0x3f82);          // tie -> even (up)
  EXPECT_TRUE(std::isnan(bf16_to_f32(f32_to_bf16(std::numeric_limits<float>::quiet_NaN()))));
  EXPECT_TRUE(std::isinf(bf16_to_f32(f32_to_bf16(INFINITY))));
  // f16: normals, subnormals, overflow, NaN
  EXPECT_EQ(f32_to_f16(1.0f), 0x3c00);
  EXPECT_EQ(f32_to_f16(-2.0f), 0xc000);
  EXPECT_EQ(f32_to_f16(65504.f), 0x7bff);
  EXPECT_EQ(f32_to_f16(65520.f), 0x7c00);  // rounds to inf
  EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -24)), 0x0001);  // smallest subnormal
  EXPECT_EQ(f32_to_f16(std::ldexp(1.f, -25)), 0x0000);  // tie -> even (0)
  EXPECT_EQ(f32_to_f16(std::ldexp(1.5f, -25)), 0x0001);
  EXPECT_EQ(f16_to_f32(0x0001), std::ldexp(1.f, -24));
  EXPECT_EQ(f16_to_f32(0x03ff), std::ldexp(1023.f, -24));
  EXPECT_EQ(f16_to_f32(0x7bff), 65504.f);
  EXPECT_TRUE(std::isnan(f16_to_f32(f32_to_f16(NAN))));
  // every f16 value survives f16 -> f32 -> f16
  for (uint32_t h = 0; h < 0x10000; ++h) {
    const float f = f16_to_f32((uint16_t)h);
    if (std::isnan(f)) continue;
    ASSERT_EQ(f32_to_f16(f), h) << std::hex << h;
  }
}

TEST(ModelSafetensors, MalformedFilesNameFileAndTensor) {
  const std::string dir = scratch_dir();
  auto has = [](const std::string& msg, const std::string& what) {
    return msg.find(what) != std::string::npos;
  };
  const std::string data8(8, '\0');
  std::string e;

  e = open_error(dir, "abc", "short.safetensors");
  EXPECT_TRUE(has(e, "short.safetensors") && has(e, "truncated")) << e;

  e = open_error(dir, make_safetensors("{}", "", 1000), "len.safetensors");
  EXPECT_TRUE(has(e, "len.safetensors") && has(e, "bad header length 1000")) << e;

  e = open_error(dir, make_safetensors("{}", "", 1LL << 40));
  EXPECT_TRUE(has(e, "bad header length") && has(e, "100 MB")) << e;

  // Cut JSON: it cannot end in '}' (only spaces may pad a header), so it is refused before parsing.
  e = open_error(dir, make_safetensors("{\"a\": ", ""));
  EXPECT_TRUE(has(e, "bad.safetensors") && has(e, "does not end with '}'")) << e;
  e = open_error(dir, make_safetensors("{\"a\": }", ""));
  EXPECT_TRUE(has(e, "bad.safetensors") && has(e, "not valid JSON")) << e;

  e = open_error(dir, make_safetensors("[1, 2]", ""));
  EXPECT_TRUE(has(e, "does not start with '{'")) << e;

  e = open_error(dir, make_safetensors(R"({"w": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]}})", data8));
  EXPECT_TRUE(has(e, "tensor 'w'") && has(e, "unsupported dtype 'F64'")) << e;

  e = open_error(dir, make_safetensors(R"({"w": {"dtype": "float32", "shape": [2], "data_offsets": [0, 8]}})", data8));
  EXPECT_TRUE(has(e, "tensor 'w'") && has(e, "unsupported dtype 'float32'")) << e;

  e = open_error(dir, make_safetensors(R"({"w": {"shape": [2], "data_offsets": [0, 8]}})", data8));
  EXPECT_TRUE(has(e, "tensor 'w'") && has(e, "dtype")) << e;

  e = open_error(dir, make_safetensors(R"({"w": {"dtype": "F32", "shape": [2, -1], "data_offsets": [0, 8]}})", data8));
  EXPECT_TRUE(has(e, "tensor 'w'") && has(e, "shape")) << e;

  e = open_error(dir, make_safetensors(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 16]}})", data8));
  EXPECT_TRUE(has(e, "tensor 'w'") && has(e, "out of range")) << e;

  e = open_error(dir, make_safetensors(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", data8));
  EXPECT_TRUE(has(e, "tensor 'w'") && has(e, "begin after end")) << e;

  e = open_error(dir, make_safetensors(R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}})", data8));
  EXPECT_TRUE(has(e, "tensor 'w'") && has(e, "needs 12")) << e;

  e = open_error(dir, make_safetensors(R"({"w": {"dtype": "F32", "shape": [2]}})", data8));
  EXPECT_TRUE(has(e, "tensor 'w'") && has(e, "data_offsets")) << e;

  e = open_error(dir, make_safetensors(R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, -8]}})", data8));
  EXPECT_TRUE(has(e, "tensor 'w'") && has(e, "data_offsets")) << e;

  e = open_error(dir, make_safetensors(R"({"a": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]},
                                         "b": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})", data8));
  EXPECT_TRUE(has(e, "'a'") && has(e, "'b'") && has(e, "overlap")) << e;

  e = open_error(dir, make_safetensors(R"({"__metadata__": {"x": 1}})", ""));
  EXPECT_TRUE(has(e, "__metadata__")) << e;

  // A good file cut short: the data section no longer holds the tensor.
  std::vector<float> v = ramp(16);
  write_safetensors(dir + "/good.safetensors", {{"w", DType::F32, {16}, {}, v.data()}});
  std::string bytes = modeltest::read_bytes(dir + "/good.safetensors");
  e = open_error(dir, bytes.substr(0, bytes.size() - 5), "cut.safetensors");
  EXPECT_TRUE(has(e, "cut.safetensors") && has(e, "tensor 'w'") && has(e, "truncated")) << e;

  // Not there / a directory.
  try {
    SafetensorsFile f(dir + "/nope.safetensors");
    ADD_FAILURE();
  } catch (const SafetensorsError& x) {
    EXPECT_TRUE(has(x.what(), "nope.safetensors") && has(x.what(), "cannot open")) << x.what();
  }
  try {
    SafetensorsFile f(dir);
    ADD_FAILURE();
  } catch (const SafetensorsError& x) {
    EXPECT_TRUE(has(x.what(), "directory")) << x.what();
  }
  // Asking for a tensor the file lacks names both.
  SafetensorsFile good(dir + "/good.safetensors");
  try {
    good.info("missing.weight");
    ADD_FAILURE();
  } catch (const SafetensorsError& x) {
    EXPECT_TRUE(has(x.what(), "good.safetensors") && has(x.what(), "missing.weight")) << x.what();
  }
}

TEST(ModelSafetensors, WriterLeavesNothingHalfWritten) {
  const std::string dir = scratch_dir();
  const std::vector<float> v = ramp(4);
  write_safetensors(dir + "/w.safetensors", {{"w", DType::F32, {4}, {}, v.data()}});
  const std::string before = modeltest::read_bytes(dir + "/w.safetensors");
  // A producer that fails mid-way: the old file stays as it was, no temp file remains.
  TensorWrite bad;
  bad.name = "x";
  bad.shape = {4};
  bad.fill = [](float*) { throw std::runtime_error("producer failed"); };
  EXPECT_THROW(write_safetensors(dir + "/w.safetensors", {{"w", DType::F32, {4}, {}, v.data()}, bad}), std::runtime_error);
  EXPECT_EQ(modeltest::read_bytes(dir + "/w.safetensors"), before);
  EXPECT_EQ(modeltest::list_dir(dir), std::vector<std::string>{"w.safetensors"});
  // Duplicate names are refused before anything is written.
  EXPECT_THROW(write_safetensors(dir + "/d.safetensors", {{"w", DType::F32, {4}, {}, v.data()}, {"w", DType::F32, {4}, {}, v.data()}}),
               SafetensorsError);
  EXPECT_FALSE(std::filesystem::exists(dir + "/d.safetensors"));
}
