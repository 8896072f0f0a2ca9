//===- AttnOps.h - attn dialect types and operations --------------*- C++ -*-===//
#pragma once

#include "attn/AttnDialect.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/RegionKindInterface.h"
#include "mlir/IR/SymbolTable.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#include "attn/AttnEnums.h.inc"

#define GET_TYPEDEF_CLASSES
#include "attn/AttnOpsTypes.h.inc"

#define GET_OP_CLASSES
#include "attn/AttnOps.h.inc"
