//===- AssignTiles.cpp - default tiles and the tunable space --------------===//
#include "attn/AttnOps.h"
#include "attn/AttnPasses.h"
#include "KeyOrder.h"
#include "runtime/attention/registry.h"

namespace mlir::attn {
#define GEN_PASS_DEF_ATTNASSIGNTILES
#include "attn/AttnPasses.h.inc"
}  // namespace mlir::attn

using namespace mlir;
using namespace mlir::attn;

namespace {

struct AttnAssignTiles : mlir::attn::impl::AttnAssignTilesBase<AttnAssignTiles> {
  using AttnAssignTilesBase::AttnAssignTilesBase;

  void runOnOperation() override {
    if (headDim != 64 && headDim != 128) {
      getOperation().emitError() << "head dimension " << static_cast<int64_t>(headDim) << " has no kernel (64 or 128)";
      return signalPassFailure();
    }
    getOperation().walk([&](KernelOp k) {
      OpBuilder b(k.getContext());
      auto i64 = [&](int64_t v) { return b.getI64IntegerAttr(v); };
      auto list = [&](std::initializer_list<int64_t> vs) {
        SmallVector<Attribute> out;
        for (int64_t v : vs) out.push_back(i64(v));
        return b.getArrayAttr(out);
      };
      // Tiles chosen by the user (or by an earlier run) are kept.
      if (!k.getTilesAttr()) {
        // The heuristic default (docs/performance.md): 128-row query tiles, 4 warps, and key tiles
        // that keep the K/V stages of the larger head dimension within shared memory.
        k.setTilesAttr(b.getDictionaryAttr({
            b.getNamedAttr("head_dim", i64(headDim)),
            b.getNamedAttr("block_m", i64(128)),
            b.getNamedAttr("block_n", i64(headDim == 128 ? 64 : 128)),
            b.getNamedAttr("warps", i64(4)),
            b.getNamedAttr("stages", i64(2)),
        }));
      }
      k.setTunableAttr(b.getDictionaryAttr({
          b.getNamedAttr("block_m", list({64, 128})),
          b.getNamedAttr("block_n", list({32, 64, 128})),
          b.getNamedAttr("warps", list({4, 8})),
          b.getNamedAttr("stages", list({2, 3})),
      }));
      // The Hopper plan: the registry's rule on what the kernel is (its row, that row's tiles, the head
      // dims it runs at). The runtime launches it as written; the manifest carries it as "plan".
      moga::rt::KernelTraits traits;
      traits.gathers = !k.getKey().empty() || k.getRouting();
      traits.masked = !k.getMask().empty();
      traits.bias = !k.getBias().empty();
      traits.key_in_order = !k.getKey().empty() && !k.getRouting() && keyInTokenOrder(k.getKey());
      if (Value r = k.getRouting())
        if (auto route = r.getDefiningOp<RouteOp>()) {
          traits.route_groups = static_cast<int>(route.getGroups());
          traits.route_topk = static_cast<int>(route.getTopk());
        }
      const moga::rt::HopperPlan hp = moga::rt::default_hopper_plan(traits);
      SmallVector<Attribute> dims;
      for (int d : hp.head_dims) dims.push_back(i64(d));
      k.setPlanAttr(b.getDictionaryAttr({b.getNamedAttr(
          "sm_90", b.getDictionaryAttr({
                       b.getNamedAttr("variant", b.getStringAttr(hp.variant)),
                       b.getNamedAttr("block_m", i64(hp.tiles.block_m)),
                       b.getNamedAttr("block_n", i64(hp.tiles.block_n)),
                       b.getNamedAttr("warps", i64(hp.tiles.warps)),
                       b.getNamedAttr("stages", i64(hp.tiles.stages)),
                       b.getNamedAttr("head_dims", b.getArrayAttr(dims)),
                   }))}));
    });
  }
};

}  // namespace
