//===- AttnEnums.td - attn dialect enums -------------------*- tablegen -*-===//
#ifndef ATTN_ENUMS
#define ATTN_ENUMS

include "mlir/IR/EnumAttr.td"

def Attn_Layout : I32EnumAttr<"Layout", "token layout of the sequence", [
    I32EnumAttrCase<"seq", 0>,    // 1-D: coordinate pos
    I32EnumAttrCase<"video", 1>   // frame-major F x H x W grid with shots
  ]> {
  let cppNamespace = "::mlir::attn";
}

def Attn_Coord : I32EnumAttr<"Coord", "a coordinate of a token", [
    I32EnumAttrCase<"pos", 0>, I32EnumAttrCase<"frame", 1>, I32EnumAttrCase<"row", 2>,
    I32EnumAttrCase<"col", 3>, I32EnumAttrCase<"shot", 4>, I32EnumAttrCase<"shot_start", 5>,
    I32EnumAttrCase<"shot_end", 6>
  ]> {
  let cppNamespace = "::mlir::attn";
}

def Attn_Dim : I32EnumAttr<"Dim", "a runtime shape constant", [
    I32EnumAttrCase<"N", 0>, I32EnumAttrCase<"F", 1>, I32EnumAttrCase<"H", 2>, I32EnumAttrCase<"W", 3>
  ]> {
  let cppNamespace = "::mlir::attn";
}

#endif // ATTN_ENUMS
