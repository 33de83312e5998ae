"""Static program facts the model derives: views of regions that reinterpret their buffer's dtype."""

from __future__ import annotations

from model.program import ProgramInfo
from model.scenario import Arg, Buffer, Config, Region, Scenario, Submit, Tag

CFG = Config(task_window=(4, 4, 4, 4), heap_bytes=(4096,) * 4, dep_pool=(16,) * 4, scheduler_threads=1, clusters=1)


def test_view_element_count_is_in_the_view_dtype() -> None:
    # 8 float32 elements = 32 bytes = 16 bfloat16 elements: check_overlap's L2 reference uses this count.
    buf = Buffer("ext", "FLOAT32", 8, True)
    scenario = Scenario(
        name="reinterpret",
        config=CFG,
        buffers=(buf,),
        program=(
            Submit("A", (0, -1, -1), (Arg(Tag.INPUT, Region("ext", (16,), (1,), dtype="BFLOAT16")),)),
            Submit("B", (0, -1, -1), (Arg(Tag.INPUT, Region("ext", (8,), (1,))),)),
        ),
    )
    info = ProgramInfo(scenario)
    view_a, view_b = (t.args[0].view for t in info.tasks)
    assert view_a is not None and view_b is not None
    assert view_a.buffer_numel == 16
    assert view_b.buffer_numel == 8
