// 300 nested attn.pattern ops: deeper than moga-opt accepts (dialect/parse-limits.mlir).
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
