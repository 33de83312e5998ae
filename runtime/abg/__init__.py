"""Step-level ports of aicpu_build_graph: v1 (`runtime.abg.v1`) and its ring-buffer rewrite v2 (`runtime.abg.v2`)."""
