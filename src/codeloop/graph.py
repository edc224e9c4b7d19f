"""The workflow: generate -> execute -> review -> (generate again | finalize).

Wiring only; each node lives in `codeloop.nodes`. `graph` is what langgraph.json serves;
`build_graph` compiles it again with a checkpointer for code that wants durable runs.
"""

from __future__ import annotations

from typing import Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime

from codeloop.context import Context, context_of
from codeloop.nodes import execute, finalize, generate, review
from codeloop.state import InputState, OutputState, State


def route(state: State, runtime: Runtime[Context]) -> Literal["generate", "finalize"]:
    """Approved, or out of budget: finalize. Otherwise another round with the findings."""
    current = state["current"]
    if current.get("approved"):
        return "finalize"
    if state.get("iteration", 0) >= context_of(runtime.context).max_iterations:
        return "finalize"
    return "generate"


def build_graph(**compile_options: Any) -> Any:
    """Compile the workflow; options (checkpointer, interrupts) go to `compile`."""
    builder = StateGraph(
        State, context_schema=Context, input_schema=InputState, output_schema=OutputState
    )
    builder.add_node(generate)
    builder.add_node(execute)
    builder.add_node(review)
    builder.add_node(finalize)
    builder.add_edge(START, "generate")
    builder.add_edge("generate", "execute")
    builder.add_edge("execute", "review")
    builder.add_conditional_edges("review", route)
    builder.add_edge("finalize", END)
    return builder.compile(name="codeloop", **compile_options)


graph = build_graph()
