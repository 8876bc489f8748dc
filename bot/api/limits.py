"""The API's body cap, enforced before the body is read: by Content-Length, then by counting the stream."""

from __future__ import annotations

import json

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from bot.api.models import Error


class BodyLimit:
    """ASGI middleware: requests under `prefix` with a body over `limit` bytes get 413, unread."""

    def __init__(self, app: ASGIApp, *, limit: int, prefix: str = "/v1/") -> None:
        self.app = app
        self.limit = limit
        self.prefix = prefix

    @property
    def error(self) -> str:
        return f"request body is over the {self.limit / 1e6:g} MB limit; pass large material by reference"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith(self.prefix):
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        read = 0

        async def counting_receive() -> Message:
            nonlocal read
            message = await receive()
            read += len(message.get("body", b""))
            if read > self.limit:  # a chunked body that lied by omission; the error handler answers 413
                raise HTTPException(status_code=413, detail=self.error)
            return message

        await self.app(scope, counting_receive, send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(Error(error=self.error).model_dump()).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})
