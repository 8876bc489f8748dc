"""The API's errors: one body shape (`Error`) for every status, with bad fields named by their path."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from bot.api.models import Error, FieldError


class ApiError(Exception):
    """An answer other than success: its status, the `Error` body and any headers (Retry-After, ...)."""

    def __init__(self, status: int, error: str, *, headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        self.body = Error(error=error, **extra)
        self.headers = headers or {}


def field_path(location: tuple[Any, ...] | list[Any]) -> str:
    """`("body", "action", "name")` -> `action.name`: the path as the agent wrote it."""
    parts = [str(p) for p in location]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts) or "(body)"


def fields_of(errors: Any) -> list[FieldError]:
    """Each pydantic error as a path and a message."""
    return [FieldError(path=field_path(e.get("loc", ())), message=str(e.get("msg", "invalid"))) for e in errors]


def install(app: FastAPI) -> None:
    """Answer every error with the `Error` body."""

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(exc.body.model_dump(), status_code=exc.status, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = fields_of(exc.errors())
        summary = "; ".join(f"{f.path}: {f.message}" for f in fields)
        body = Error(error=f"invalid request: {summary}; fix these fields and send again", fields=fields)
        return JSONResponse(body.model_dump(), status_code=422)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        body = Error(error=str(exc.detail))
        return JSONResponse(body.model_dump(), status_code=exc.status_code, headers=exc.headers)
