"""The process engine of casehub: the criminal process declared as data (:mod:`workflows.definition`),
the engine that runs it (:mod:`workflows.engine`), its guards, clocks, effects, signed packages and
the diagram drawn from it. See docs/workflow.md."""
