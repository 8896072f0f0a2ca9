// Helpers shared by the model_*_test.cpp suites: a scratch folder per test, raw file writing.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace modeltest {

inline std::string scratch_dir() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const auto dir = std::filesystem::temp_directory_path() /
                   ("moga_model_test_" + std::to_string(::getpid()) + "_" + info->test_suite_name() + "_" + info->name());
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  return dir.string();
}

inline void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream f(path, std::ios::binary);
  f.write(bytes.data(), (std::streamsize)bytes.size());
}

inline std::string read_bytes(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
}

// A safetensors file from a header string and a data section.
inline std::string make_safetensors(const std::string& header, const std::string& data, long long len_override = -1) {
  std::string s(8, '\0');
  const uint64_t n = len_override >= 0 ? (uint64_t)len_override : header.size();
  for (int i = 0; i < 8; ++i) s[i] = (char)((n >> (8 * i)) & 0xff);
  return s + header + data;
}

// Files left in a folder (to check that nothing half-written stays behind).
inline std::vector<std::string> list_dir(const std::string& dir) {
  std::vector<std::string> r;
  for (const auto& e : std::filesystem::directory_iterator(dir)) r.push_back(e.path().filename().string());
  return r;
}

}  // namespace modeltest
