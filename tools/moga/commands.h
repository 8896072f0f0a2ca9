// The CLI's subcommands: one cmd_<name>.cpp each, with a register_<name>() that adds its options to
// the app and returns how to run it. main.cpp lists them; adding a subcommand is one line there.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace moga::cli {

struct Command {
  CLI::App* app;             // the subcommand, to ask whether it was given
  std::function<int()> run;  // its exit code; may throw (main reports the message, exits 1)
};

void register_version(CLI::App& app);  // the --version flag (not a subcommand)
Command register_smoke(CLI::App& app);
Command register_compile(CLI::App& app);  // needs the compiler (MLIR, linked statically)
Command register_tune(CLI::App& app);     // autotuning (runtime/tune, docs/autotune.md)
Command register_run(CLI::App& app);           // the DiT runtime (runtime/model)
Command register_init_weights(CLI::App& app);  // synthetic DiT checkpoints
Command register_check(CLI::App& app);         // a .moga pattern on the GPU vs the CPU reference
Command register_bench(CLI::App& app);         // a .moga pattern's speed vs FlexAttention / cuDNN

}  // namespace moga::cli
