"""The agents: intake classifier, routing, policy retrieval, disposal planner, human approval,
wired as a LangGraph graph in ``agents.graph``."""
