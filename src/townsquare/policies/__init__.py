"""Policies that drive roles: scripted (designed) now, learned ones in later modules."""

from .scripted import (
    SCRIPTED,
    ScriptedCandidate,
    ScriptedCitizen,
    ScriptedInfluencer,
    ScriptedSocialbot,
)

__all__ = [
    "SCRIPTED",
    "ScriptedCandidate",
    "ScriptedCitizen",
    "ScriptedInfluencer",
    "ScriptedSocialbot",
]
