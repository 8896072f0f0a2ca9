// Hostile checkpoints (issues #14 and #17): every malformed safetensors file is refused naming the
// file and the tensor (a header length a few bytes short, NUL or newline padding, duplicate keys,
// gaps and trailing bytes, a FIFO, a device), NaN / inf weights are refused at load, index files
// cannot point outside their folder, mixed Wan / diffusers names are refused, missing keys are named
// as the file spells them. Loader only (no run.h): .ci/sanitize runs it under ASan + UBSan.
// model_robust_cli_test.cpp has the run options and the CLI.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include <nlohmann/json.hpp>

#include "runtime/model/config.h"
#include "runtime/model/safetensors.h"
#include "runtime/model/weights.h"
#include "test/unit/model_test_util.h"

using namespace moga::model;
using modeltest::make_safetensors;
using modeltest::read_bytes;
using modeltest::scratch_dir;
using modeltest::write_bytes;
namespace fs = std::filesystem;

#include "test/unit/model_robust_util.h"

using namespace modelrobust;  // has, open_error, write_and_open, kTwo, twelve_bytes, load_error, write_tiny, to_diffusers

// ---- safetensors ------------------------------------------------------------------------------------

TEST(ModelRobust, HeaderLengthShortOrLongIsRefusedNotShifted) {
  const std::string dir = scratch_dir();
  const std::string header = std::string(kTwo) + "      ";  // 6 spaces of padding
  // Exact: loads, and the bytes are the ones written.
  ASSERT_EQ(write_and_open(dir, make_safetensors(header, twelve_bytes()), "ok.safetensors"), "");
  SafetensorsFile ok(dir + "/ok.safetensors");
  EXPECT_EQ(ok.to_f32("b"), std::vector<float>{3.25f});
  // Two bytes short: the JSON still parses (padding), and every tensor would shift by 2 bytes.
  std::string e = write_and_open(dir, make_safetensors(header, twelve_bytes(), (long long)header.size() - 2), "short.safetensors");
  EXPECT_TRUE(has(e, "short.safetensors") && has(e, "2 byte(s) after the end of the last tensor ('b')") &&
              has(e, "header length")) << e;
  // Four bytes long: the header swallows data bytes.
  e = write_and_open(dir, make_safetensors(header, twelve_bytes(), (long long)header.size() + 4), "long.safetensors");
  EXPECT_TRUE(has(e, "long.safetensors") && (has(e, "header") || has(e, "out of range"))) << e;
}

TEST(ModelRobust, PaddingIsSpacesOnly) {
  const std::string dir = scratch_dir();
  std::string e = write_and_open(dir, make_safetensors(std::string(kTwo) + std::string(4, '\0'), twelve_bytes()), "nul.safetensors");
  EXPECT_TRUE(has(e, "nul.safetensors") && has(e, "NUL")) << e;
  e = write_and_open(dir, make_safetensors(std::string(kTwo) + "\n", twelve_bytes()), "nl.safetensors");
  EXPECT_TRUE(has(e, "nl.safetensors") && has(e, "spaces")) << e;
  e = write_and_open(dir, make_safetensors(std::string(" ") + kTwo, twelve_bytes()), "lead.safetensors");
  EXPECT_TRUE(has(e, "lead.safetensors") && has(e, "does not start with '{'")) << e;
  EXPECT_EQ(write_and_open(dir, make_safetensors(std::string(kTwo) + "  ", twelve_bytes()), "sp.safetensors"), "");
}

TEST(ModelRobust, DuplicateKeysAreRefused) {
  const std::string dir = scratch_dir();
  const std::string dup = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"a":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  std::string e = write_and_open(dir, make_safetensors(dup, twelve_bytes()), "dup.safetensors");
  EXPECT_TRUE(has(e, "dup.safetensors") && has(e, "key 'a' appears twice")) << e;
  const std::string dup_field =
      R"({"a":{"dtype":"F32","dtype":"F16","shape":[3],"data_offsets":[0,12]}})";
  e = write_and_open(dir, make_safetensors(dup_field, twelve_bytes()), "dupf.safetensors");
  EXPECT_TRUE(has(e, "key 'dtype' appears twice in 'a'")) << e;
}

TEST(ModelRobust, DataSectionIsTiledExactly) {
  const std::string dir = scratch_dir();
  // Trailing bytes after the last tensor.
  std::string e = write_and_open(dir, make_safetensors(kTwo, twelve_bytes() + "xyz"), "trail.safetensors");
  EXPECT_TRUE(has(e, "trail.safetensors") && has(e, "3 byte(s) after the end of the last tensor ('b')")) << e;
  // A gap between a and b.
  const std::string gap = R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})";
  e = write_and_open(dir, make_safetensors(gap, twelve_bytes()), "gap.safetensors");
  EXPECT_TRUE(has(e, "bytes 4-8") && has(e, "tensor 'a'") && has(e, "tensor 'b'")) << e;
  // A gap before the first tensor.
  const std::string head = R"({"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})";
  e = write_and_open(dir, make_safetensors(head, twelve_bytes()), "head.safetensors");
  EXPECT_TRUE(has(e, "bytes 0-4") && has(e, "before tensor 'b'")) << e;
  // A zero-size tensor inside another one overlaps it.
  const std::string inside =
      R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"z":{"dtype":"F32","shape":[0],"data_offsets":[4,4]}})";
  e = write_and_open(dir, make_safetensors(inside, twelve_bytes()), "inside.safetensors");
  EXPECT_TRUE(has(e, "overlap") && has(e, "'a'") && has(e, "'z'")) << e;
  // A zero-size tensor at the end is fine; an empty data section with no tensors too.
  const std::string zend =
      R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},"z":{"dtype":"F32","shape":[2,0],"data_offsets":[12,12]}})";
  EXPECT_EQ(write_and_open(dir, make_safetensors(zend, twelve_bytes()), "zend.safetensors"), "");
  EXPECT_EQ(write_and_open(dir, make_safetensors("{}", ""), "empty.safetensors"), "");
  // A shape whose byte size overflows 64 bits.
  const std::string huge = R"({"a":{"dtype":"F32","shape":[4294967296,4294967296,4],"data_offsets":[0,12]}})";
  e = write_and_open(dir, make_safetensors(huge, twelve_bytes()), "huge.safetensors");
  EXPECT_TRUE(has(e, "tensor 'a'") && has(e, "too large")) << e;
  // Unknown fields in a tensor entry.
  const std::string extra = R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12],"offset":7}})";
  e = write_and_open(dir, make_safetensors(extra, twelve_bytes()), "extra.safetensors");
  EXPECT_TRUE(has(e, "tensor 'a'") && has(e, "unknown field 'offset'")) << e;
}

TEST(ModelRobust, OnlyRegularFilesAreOpened) {
  const std::string dir = scratch_dir();
  const std::string fifo = dir + "/fifo.safetensors";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const auto t0 = std::chrono::steady_clock::now();
  std::string e = open_error(fifo);  // used to block forever in open()
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
  EXPECT_TRUE(has(e, "fifo.safetensors") && has(e, "FIFO")) << e;
  fs::create_symlink("/dev/zero", dir + "/zero.safetensors");
  e = open_error(dir + "/zero.safetensors");
  EXPECT_TRUE(has(e, "zero.safetensors") && has(e, "character device")) << e;
  e = open_error(dir);
  EXPECT_TRUE(has(e, "directory")) << e;
  e = open_error(dir + "/nope.safetensors");
  EXPECT_TRUE(has(e, "nope.safetensors") && has(e, "no such file")) << e;
  // Through the checkpoint loader and its directory scan as well.
  e = load_error(fifo);
  EXPECT_TRUE(has(e, "FIFO")) << e;
}

// ---- checkpoints ------------------------------------------------------------------------------------

TEST(ModelRobust, NonFiniteWeightsAreRefusedAtLoadNamingTheTensor) {
  const std::string dir = scratch_dir();
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  std::string e = load_error(write_tiny(dir + "/nan.safetensors", nullptr, "blocks.1.ffn.2.weight", nan));
  EXPECT_TRUE(has(e, "nan.safetensors") && has(e, "tensor 'blocks.1.ffn.2.weight'") && has(e, "is NaN")) << e;
  e = load_error(write_tiny(dir + "/inf.safetensors", nullptr, "head.modulation", -inf));
  EXPECT_TRUE(has(e, "tensor 'head.modulation'") && has(e, "-inf")) << e;
  // In a diffusers file the tensor is named as the file spells it.
  e = load_error(write_tiny(dir + "/dnan.safetensors", to_diffusers, "blocks.0.norm3.bias", nan));
  EXPECT_TRUE(has(e, "tensor 'blocks.0.norm2.bias'") && has(e, "Wan2.1 'blocks.0.norm3.bias'")) << e;
}

TEST(ModelRobust, DiffusersMissingKeyIsNamedAsTheFileSpellsIt) {
  const std::string dir = scratch_dir();
  const std::string e = load_error(write_tiny(dir + "/d.safetensors", to_diffusers, "", 0, "blocks.0.norm3.bias"));
  EXPECT_TRUE(has(e, "diffusers layout") && has(e, "blocks.0.norm2.bias (Wan2.1 'blocks.0.norm3.bias')")) << e;
  // ComfyUI-prefixed diffusers names keep their prefix.
  auto comfy = [](const std::string& k) { return "model.diffusion_model." + to_diffusers(k); };
  const std::string c = load_error(write_tiny(dir + "/c.safetensors", +comfy, "", 0, "head.head.bias"));
  EXPECT_TRUE(has(c, "model.diffusion_model.proj_out.bias (Wan2.1 'head.head.bias')")) << c;
}

TEST(ModelRobust, MixedWanAndDiffusersNamesAreRefused) {
  const std::string dir = scratch_dir();
  // Blocks in Wan names, the top level in diffusers names.
  auto half = [](const std::string& k) { return k.rfind("blocks.", 0) == 0 ? k : to_diffusers(k); };
  const std::string e = load_error(write_tiny(dir + "/mixed.safetensors", +half));
  EXPECT_TRUE(has(e, "mixed.safetensors") && has(e, "mixes Wan2.1 and diffusers key names") &&
              has(e, "blocks.0.") && has(e, "condition_embedder.")) << e;
  EXPECT_FALSE(has(e, "no Wan2.1 name")) << e;
}

TEST(ModelRobust, IndexPathsStayInTheIndexFolder) {
  const std::string dir = scratch_dir();
  const std::string sd = dir + "/sharded";
  fs::create_directories(sd);
  write_tiny(sd + "/m.safetensors");
  auto index_error = [&](const nlohmann::json& wm) {
    nlohmann::json j;
    j["weight_map"] = wm;
    std::ofstream(sd + "/m.safetensors.index.json") << j.dump();
    return load_error(sd + "/m.safetensors.index.json");
  };
  std::string e = index_error({{"head.head.bias", "../../etc/passwd"}});
  EXPECT_TRUE(has(e, "weight_map['head.head.bias']") && has(e, "'..'") && has(e, "inside the index's folder")) << e;
  e = index_error({{"head.head.bias", "/etc/passwd"}});
  EXPECT_TRUE(has(e, "absolute path")) << e;
  e = index_error({{"head.head.bias", "sub/../../x.safetensors"}});
  EXPECT_TRUE(has(e, "'..'")) << e;
  EXPECT_FALSE(has(e, "root:")) << "the file was opened: " << e;
  // An index that names the right file for some tensors but not all of them.
  nlohmann::json wm;
  for (const auto& p : param_list(config_by_name("tiny"), 0)) wm[p.name] = "m.safetensors";
  wm.erase("head.head.bias");
  e = index_error(wm);
  EXPECT_TRUE(has(e, "tensor 'head.head.bias' is not listed in the index")) << e;
  wm["head.head.bias"] = "m.safetensors";
  wm["blocks.9.ffn.0.weight"] = "m.safetensors";
  e = index_error(wm);
  EXPECT_TRUE(has(e, "weight_map puts tensor 'blocks.9.ffn.0.weight'")) << e;
  wm.erase("blocks.9.ffn.0.weight");
  EXPECT_EQ(index_error(wm), "");
  // Duplicate keys in the index, and an index that is a FIFO.
  std::ofstream(sd + "/m.safetensors.index.json") << R"({"weight_map": {"a": "m.safetensors", "a": "m.safetensors"}})";
  e = load_error(sd + "/m.safetensors.index.json");
  EXPECT_TRUE(has(e, "key 'a' appears twice")) << e;
  fs::remove(sd + "/m.safetensors.index.json");
  ASSERT_EQ(::mkfifo((sd + "/f.safetensors.index.json").c_str(), 0600), 0);
  e = load_error(sd);
  EXPECT_TRUE(has(e, "FIFO")) << e;
}

