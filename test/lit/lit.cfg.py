# -*- Python -*-
# The lit suite: dialect round-trips and verifier diagnostics, one test per pass, the front end
# and the CUDA codegen (FileCheck on the emitted source).
import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "MOGA"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".moga", ".test"]
config.excludes = ["CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "Inputs"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.moga_obj_root, "test", "lit")
config.substitutions.append(("%moga_src", config.moga_src_root))
config.environment["MOGA_CACHE_DIR"] = os.path.join(config.test_exec_root, "cache")

llvm_config.use_default_substitutions()
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
tools = [ToolSubst("moga-opt", unresolved="fatal")]
if os.path.exists(os.path.join(config.moga_tools_dir, "moga")):
    tools.append(ToolSubst("moga", unresolved="fatal"))
    config.available_features.add("moga-cli")
llvm_config.add_tool_substitutions(tools, [config.moga_tools_dir, config.llvm_tools_dir])
