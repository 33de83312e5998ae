"""The data oracle's runtime side: numpy kernels (`kernels`), byte memory with poisoning (`memory`),
the task -> kernel binding (`binding`) and the TRB port's data path (`trb_path`, built by
`TrbSystem(scenario, data=True)`). Imported lazily by the port, so data-free runs load none of it."""
