"""The Hypothesis state machines of properties/state_machines.py, on the gate's budget (ci profile)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings

from properties.state_machines import ModelMachine, PortRefinementMachine
from tests.conftest import hypothesis_examples

# Hypothesis picks the interleaving of the port's threads; a port run of a small scenario takes a few
# hundred steps, so 150 rules cover admission, dispatch, completion and release of the first tasks.
TestPortRefinesModel = PortRefinementMachine.TestCase
TestPortRefinesModel.settings = settings(
    max_examples=hypothesis_examples(12),
    stateful_step_count=150,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

TestModelMachine = ModelMachine.TestCase
TestModelMachine.settings = settings(
    max_examples=hypothesis_examples(25),
    stateful_step_count=60,
    suppress_health_check=[HealthCheck.too_slow],
)
