"""The JSON schemas of ``hnn serve``'s answers and request bodies, as they appear in the
generated OpenAPI document (``/openapi.json``). The verdict is the object of ``hnn index check
--json`` (:func:`hnnframe.index.report.verdict_dict`)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorAnswer(BaseModel):
    detail: str = Field(description="one line saying what was wrong")


class Record(BaseModel):
    """An indexed model (``hnn index list --json``)."""

    model_config = ConfigDict(extra="allow")
    id: int
    name: str
    path: str
    sha256: str | None
    code: str = Field(description="the structural code in hex")
    bits: int
    fingerprint: str
    category: str
    label: str | None
    meta: dict[str, Any]
    added_at: str
    structure: str | None = None
    weights: dict[str, Any] | None = None


class Verdict(BaseModel):
    """One upload's verdict: the object of ``hnn index check --json``."""

    model_config = ConfigDict(extra="allow")
    upload: str
    clean: bool
    tier: str = Field(
        description="exact file, exact tensors, weight match, same architecture, structure only or none"
    )
    suspect: bool = Field(description="whether the upload fails the fail_on policy")
    fail_on: str
    radius: int
    weights: dict[str, Any] | None
    threshold: dict[str, Any] | None
    matches: list[dict[str, Any]]
    candidates: list[dict[str, Any]]
    nearest: dict[str, Any] | None
    explain: dict[str, Any] | None = Field(
        None, description="with explain=true: operator counts of the upload and the candidates"
    )


class Added(BaseModel):
    added: bool
    record: Record


class Exists(BaseModel):
    detail: str
    record: Record


class Removed(BaseModel):
    removed: list[int]


class SearchRequest(BaseModel):
    """A search by stored record (``id``) or by code (``code``, hex); an upload is searched by
    sending it as multipart ``file`` instead."""

    model_config = ConfigDict(extra="forbid")
    id: int | None = None
    code: str | None = None
    k: int = Field(10, ge=0, le=1000)
    radius: int | None = Field(None, ge=0)


class SearchAnswer(BaseModel):
    query: dict[str, Any]
    matches: list[dict[str, Any]]
    same_architecture: list[dict[str, Any]] = Field(
        default_factory=list,
        description="the indexed models with the query's canonical-graph or config digest",
    )


class Job(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    action: str
    upload: str
    state: str = Field(description="queued, running, done or failed")
    stage: str
    status_code: int | None = Field(description="the status the synchronous call would give")
    result: Any = None
    detail: str | None = None


_FIELDS: dict[str, Any] = {
    "label": {"type": "string", "description": "add: a label for the record"},
    "meta": {"description": "add: a JSON object of metadata (a form field holds its text)"},
    "radius": {"type": "integer", "description": "check: largest structural distance"},
    "fail_on": {"type": "string", "enum": ["auto", "exact", "weights", "structure", "none"]},
    "weight_threshold": {"type": "integer"},
    "explain": {"type": "boolean", "description": "check: operator counts for the page"},
}


def upload_body(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The OpenAPI ``requestBody`` of an endpoint that takes an upload in either form."""
    props = {**_FIELDS, **(extra or {})}
    return {
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {
                                "type": "string",
                                "format": "binary",
                                "description": "a model file, or a tar or zip archive",
                            },
                            **props,
                        },
                    }
                },
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["path"],
                        "properties": {
                            "path": {
                                "type": "string",
                                "description": "a file under the storage root",
                            },
                            **props,
                        },
                    }
                },
            },
        }
    }


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` of the 4xx answers an endpoint gives."""
    return {c: {"model": ErrorAnswer} for c in codes}
