"""Dependency aliases for routers: what the lifespan put on ``app.state``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from agents.dispatch import Dispatcher
from knowledge import Knowledge
from knowledge.retrieval import RegulationIndex
from settings import Settings
from store import EventStore


def _store(request: Request) -> EventStore:
    return request.app.state.store


def _knowledge(request: Request) -> Knowledge:
    return request.app.state.knowledge


def _index(request: Request) -> RegulationIndex:
    return request.app.state.index


def _settings(request: Request) -> Settings:
    return request.app.state.settings


StoreDep = Annotated[EventStore, Depends(_store)]
KnowledgeDep = Annotated[Knowledge, Depends(_knowledge)]
SettingsDep = Annotated[Settings, Depends(_settings)]
IndexDep = Annotated[RegulationIndex, Depends(_index)]


def _dispatcher(request: Request) -> Dispatcher:
    return request.app.state.dispatcher


DispatcherDep = Annotated[Dispatcher, Depends(_dispatcher)]
