"""Exports of counterexamples: device replay bundles for the real runtime, and Perfetto traces."""
