// moga: the command-line tool. Each subcommand lives in its own cmd_<name>.cpp (commands.h).
#include <fmt/format.h>

#include <exception>
#include <vector>

#include "tools/moga/commands.h"

int main(int argc, char** argv) {
  CLI::App app{"moga: attention-pattern compiler and runtime"};
  app.require_subcommand(1);  // --version is handled before this is checked
  moga::cli::register_version(app);
  const std::vector<moga::cli::Command> commands = {
      moga::cli::register_smoke(app),
      moga::cli::register_compile(app),
      moga::cli::register_tune(app),
      moga::cli::register_run(app),
      moga::cli::register_init_weights(app),
      moga::cli::register_check(app),
      moga::cli::register_bench(app),
  };
  CLI11_PARSE(app, argc, argv);
  try {
    for (const auto& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const std::exception& e) {
    fmt::print(stderr, "moga: error: {}\n", e.what());
    return 1;
  }
  return 1;  // unreachable: CLI11 requires a subcommand
}
