// moga: the command-line tool. Each subcommand lives in its own cmd_<name>.cpp (commands.h).
// Every error ends here and leaves with one exit code per class (validate.h, docs/model.md).
#include <fmt/format.h>

#include <exception>
#include <new>
#include <vector>

#include "runtime/model/run.h"
#include "tools/moga/commands.h"
#include "tools/moga/validate.h"

namespace {

// CLI11's own codes (105 for a validation error, 106 for a missing option, ...) are not ours: a
// parse error is a usage error (2); --help and --version are successes (CLI11 reports them as
// exceptions with exit code 0).
int parse_error_exit(CLI::App& app, const CLI::ParseError& e) {
  if (e.get_exit_code() == static_cast<int>(CLI::ExitCodes::Success)) return app.exit(e);  // prints help / version
  fmt::print(stderr, "moga: error: {}\n", e.what());
  fmt::print(stderr, "run 'moga --help' (or 'moga <command> --help') for the options\n");
  return moga::cli::kExitUsage;
}

}  // namespace

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
  // An unknown command is named (CLI11 would only say "A subcommand is required").
  if (argc > 1 && argv[1][0] != '-') {
    std::string names;
    bool known = false;
    for (const auto& c : commands) {
      known |= c.app->get_name() == argv[1];
      names += (names.empty() ? "" : ", ") + c.app->get_name();
    }
    if (!known) {
      fmt::print(stderr, "moga: error: unknown command '{}' (commands: {}; see moga --help)\n", argv[1], names);
      return moga::cli::kExitUsage;
    }
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return parse_error_exit(app, e);
  }
  try {
    for (const auto& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const CLI::ParseError& e) {  // a subcommand's own late check of its options
    return parse_error_exit(app, e);
  } catch (const moga::model::OptionError& e) {
    fmt::print(stderr, "moga: error: {}\n", e.what());
    return moga::cli::kExitUsage;
  } catch (const std::bad_alloc&) {
    fmt::print(stderr, "moga: error: out of memory\n");
    return moga::cli::kExitError;
  } catch (const std::exception& e) {
    fmt::print(stderr, "moga: error: {}\n", e.what());
    return moga::cli::kExitError;
  }
  return moga::cli::kExitError;  // unreachable: CLI11 requires a subcommand
}
