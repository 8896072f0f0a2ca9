attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
attn.pattern @p layout seq {
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
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
}
