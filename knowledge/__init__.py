"""Domain knowledge as data (``knowledge/data/*.yaml``) and the code that reads it."""

from knowledge.base import Knowledge, default_knowledge, load_knowledge
from knowledge.errors import KnowledgeError

__all__ = ["Knowledge", "KnowledgeError", "default_knowledge", "load_knowledge"]
