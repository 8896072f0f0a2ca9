//===- moga-opt.cpp - MlirOptMain over the attn dialect -------------------===//
//
// The lit suite's driver: parses attn IR, runs passes and prints the result.
//
#include "attn/AttnDialect.h"
#include "attn/AttnParseLimits.h"
#include "attn/AttnPasses.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/IR/DialectRegistry.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"
#include "mlir/Support/FileUtilities.h"
#include "mlir/Transforms/Passes.h"
#include "llvm/Support/InitLLVM.h"
#include "llvm/Support/SourceMgr.h"
#include "llvm/Support/ToolOutputFile.h"

int main(int argc, char** argv) {
  mlir::registerCanonicalizerPass();
  mlir::registerCSEPass();
  mlir::attn::registerAttnPasses();
  mlir::attn::registerAttnPipelines();

  mlir::DialectRegistry registry;
  registry.insert<mlir::attn::AttnDialect, mlir::arith::ArithDialect, mlir::math::MathDialect>();
  llvm::InitLLVM init(argc, argv);
  auto [input, output] =
      mlir::registerAndParseCLIOptions(argc, argv, "moga attn dialect optimizer\n", registry);
  mlir::MlirOptMainConfig config = mlir::MlirOptMainConfig::createFromCLOptions();
  std::string error;
  std::unique_ptr<llvm::MemoryBuffer> file = mlir::openInputFile(input, &error);
  if (!file) {
    llvm::errs() << error << "\n";
    return 1;
  }
  // MLIR's parser has no depth limit: input nested deep enough to overflow the stack is refused
  // before it is parsed (scanned on a copy: stdin can be read only once).
  {
    llvm::SourceMgr sourceMgr;
    sourceMgr.AddNewSourceBuffer(
        llvm::MemoryBuffer::getMemBufferCopy(file->getBuffer(), file->getBufferIdentifier()),
        llvm::SMLoc());
    if (mlir::failed(mlir::attn::checkBeforeParsing(sourceMgr))) return 1;
  }
  std::unique_ptr<llvm::ToolOutputFile> out = mlir::openOutputFile(output, &error);
  if (!out) {
    llvm::errs() << error << "\n";
    return 1;
  }
  if (mlir::failed(mlir::MlirOptMain(out->os(), std::move(file), registry, config))) return 1;
  out->keep();
  return 0;
}
