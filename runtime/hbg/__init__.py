"""Step-level port of host_build_graph (`runtime.hbg.system`) and its host-side graph build (`runtime.hbg.host_build`)."""
