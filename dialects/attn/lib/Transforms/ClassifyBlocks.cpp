//===- ClassifyBlocks.cpp - block-sparsity structure from the mask --------===//
#include "attn/AttnOps.h"
#include "attn/AttnPasses.h"

#include <set>

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNCLASSIFYBLOCKS
#include "attn/AttnPasses.h.inc"
}  // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

struct AttnClassifyBlocks : mlir::attn::impl::AttnClassifyBlocksBase<AttnClassifyBlocks> {
  void runOnOperation() override {
    getOperation().walk([](KernelOp k) {
      // The tile summaries the classifier needs: every coordinate the mask or the key reads
      // (a key adds the equality of keys, which is evaluated on the key's interval per tile).
      std::set<int> coords;
      for (Region* r : {&k.getMask(), &k.getKey()})
        r->walk([&](CoordOp c) { coords.insert(static_cast<int>(c.getCoord())); });
      SmallVector<StringRef> names;
      for (int c : coords) names.push_back(stringifyCoord(static_cast<Coord>(c)));
      // The key token's coordinates the mask reads on partial tiles (the second block argument): the
      // wgmma kernel stages exactly these per key column (codegen: Variant::kKeyUses). The bias stages
      // its own column terms (attn-plan-score), so it adds none.
      std::set<int> key_coords;
      if (Region* r = &k.getMask(); !r->empty() && r->front().getNumArguments() >= 2) {
        Value kv = r->front().getArgument(1);
        r->walk([&](CoordOp c) {
          if (c.getToken() == kv) key_coords.insert(static_cast<int>(c.getCoord()));
        });
      }
      SmallVector<StringRef> key_names;
      for (int c : key_coords) key_names.push_back(stringifyCoord(static_cast<Coord>(c)));

      bool grouped = k.getRouting() || !k.getKey().empty();
      bool masked = !k.getMask().empty();
      StringRef structure = grouped ? (masked ? "grouped_masked" : "grouped")
                                    : (masked ? "masked" : "dense");
      OpBuilder b(k.getContext());
      k.setUsesAttr(b.getStrArrayAttr(names));
      k.setKeyUsesAttr(b.getStrArrayAttr(key_names));
      k.setStructureAttr(b.getStringAttr(structure));
    });
  }
};

}  // namespace
