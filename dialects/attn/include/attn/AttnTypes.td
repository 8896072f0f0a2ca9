//===- AttnTypes.td - attn dialect types -------------------*- tablegen -*-===//
#ifndef ATTN_TYPES
#define ATTN_TYPES

include "mlir/IR/AttrTypeBase.td"
include "attn/AttnDialect.td"

class Attn_Type<string name, string typeMnemonic> : TypeDef<Attn_Dialect, name> {
  let mnemonic = typeMnemonic;
}

def Attn_TokenType : Attn_Type<"Token", "token"> {
  let summary = "a token of the sequence (block argument of mask, key, bias and gate regions)";
  let description = [{ Coordinates of a token are read with `attn.coord`. }];
}

def Attn_RoutingType : Attn_Type<"Routing", "routing"> {
  let summary = "the per-token routing decision of a linear router (top-k groups and their probabilities)";
}

def Attn_StreamType : Attn_Type<"Stream", "stream"> {
  let summary = "an attention output, one row per token and head ([B, N, H, D])";
}

#endif // ATTN_TYPES
