// Exit codes and option validators shared by the subcommands.
//
// Exit codes (docs/model.md, "Exit codes"; one per class of error):
//   0  success (also --help, --version)
//   1  an input or the run failed: a file named on the command line cannot be used (missing, not a
//      regular file, malformed, wrong keys or shapes, NaN), a pattern does not compile, no device,
//      not enough memory, an output cannot be written
//   2  usage: the command line itself is wrong (unknown option or subcommand, a missing argument, a
//      value of the wrong form or out of range, options that exclude each other); nothing was done
//   128+N  killed by signal N (SIGINT 130, SIGTERM 143): temp files removed, the signal re-raised
#pragma once

#include <CLI/CLI.hpp>

#include <cctype>
#include <cmath>
#include <stdexcept>
#include <string>

namespace moga::cli {

constexpr int kExitOk = 0;
constexpr int kExitError = 1;
constexpr int kExitUsage = 2;

// A non-negative decimal integer (for unsigned options: CLI11 reads "-1" into a uint64_t as 2^64 - 1,
// so `--seed -1` silently became 18446744073709551615).
inline CLI::Validator non_negative_integer() {
  return CLI::Validator(
      [](std::string& s) -> std::string {
        if (s.empty() || s.size() > 20) return "expects a non-negative integer, got '" + s + "'";
        for (char c : s)
          if (!std::isdigit(static_cast<unsigned char>(c))) return "expects a non-negative integer, got '" + s + "'";
        return "";
      },
      "UINT");
}

// An integer in [lo, hi] (a count: --steps, --frames, ...), with the range in the message.
inline CLI::Validator int_range(long long lo, long long hi) {
  return CLI::Validator(
      [lo, hi](std::string& s) -> std::string {
        size_t used = 0;
        long long v = 0;
        try {
          v = std::stoll(s, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != s.size()) return "expects an integer, got '" + s + "'";
        if (v < lo || v > hi) return "expects an integer from " + std::to_string(lo) + " to " + std::to_string(hi) + ", got " + s;
        return "";
      },
      "INT in [" + std::to_string(lo) + " - " + std::to_string(hi) + "]");
}

// A finite number (no nan / inf), optionally > 0.
inline CLI::Validator finite_number(bool positive) {
  return CLI::Validator(
      [positive](std::string& s) -> std::string {
        size_t used = 0;
        double v = 0;
        try {
          v = std::stod(s, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used == 0 || used != s.size() || !std::isfinite(v)) return "expects a finite number, got '" + s + "'";
        if (positive && !(v > 0)) return "expects a positive number, got " + s;
        return "";
      },
      positive ? "FLOAT > 0" : "FLOAT");
}

}  // namespace moga::cli
