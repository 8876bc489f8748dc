"""A local stand-in for Slack's Web API over real HTTP: it records calls and validates like Slack.

Point `slack_sdk.WebClient(token=standin.token, base_url=standin.url)` (or `SLACK_API_URL`) at it.
Run `python -m bot.sandbox.slack_api --port N` to serve one by hand.
"""

from __future__ import annotations

import argparse
import copy
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any, TypeVar

from bot.sandbox.slack_http import StandInServer
from bot.sandbox.slack_records import ApiError, Fault, RecordedCall, Rejection
from bot.sandbox.slack_views import apply_view_ack, close_view
from bot.sandbox.slack_workspace import Workspace

T = TypeVar("T")
RECHECK_SECONDS = 0.05
SANDBOX_TOKEN = "xoxb-sandbox-token"  # noqa: S105 -- not a secret: the sandbox's published default


class SlackStandIn:
    """One sandbox Slack workspace served on a free local port; use as a context manager or start/stop."""

    def __init__(
        self,
        *,
        token: str = SANDBOX_TOKEN,
        bot_user_id: str = "U0HANDOFFBOT",
        team_id: str = "T0SANDBOX",
        clock: Callable[[], float] = time.monotonic,
        port: int = 0,
    ) -> None:
        self._ws = Workspace(token=token, bot_user_id=bot_user_id, team_id=team_id, clock=clock)
        self._port = port
        self._server: StandInServer | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Serve on 127.0.0.1 (a free port unless one was given) from a daemon thread."""
        if self._server is not None:
            return
        self._server = StandInServer(self._ws, self._port)
        serve = self._server.serve_forever
        self._thread = threading.Thread(target=serve, args=(RECHECK_SECONDS,), name="slack-stand-in", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and release the port; the recorded state stays readable."""
        if self._server is None or self._thread is None:
            return
        with self._ws.cond:
            self._ws.holds.clear()
            self._ws.changed()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        self._server = self._thread = None

    def __enter__(self) -> SlackStandIn:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The Web API base with its trailing slash, e.g. `http://127.0.0.1:54321/api/`."""
        if self._server is None:
            raise RuntimeError("the Slack stand-in is not running; call start() or use it in a `with` block")
        return f"http://127.0.0.1:{self._server.server_address[1]}/api/"

    @property
    def token(self) -> str:
        """The bot token the stand-in accepts."""
        return self._ws.token

    @property
    def team_id(self) -> str:
        """The sandbox workspace's team id."""
        return self._ws.team_id

    @property
    def bot_user_id(self) -> str:
        """The bot's user id, as auth.test reports it and messages carry it."""
        return self._ws.bot_user_id

    @property
    def app_id(self) -> str:
        """The app id interaction payloads carry as `api_app_id`."""
        return self._ws.app_id

    @property
    def calls(self) -> list[RecordedCall]:
        """Every Web API call so far, in order, failed ones marked."""
        with self._ws.cond:
            return list(self._ws.calls)

    @property
    def rejections(self) -> list[Rejection]:
        """Every call the stand-in refused as Slack would (invalid blocks, bad auth, spent triggers ...)."""
        with self._ws.cond:
            return list(self._ws.rejections)

    @property
    def warnings(self) -> list[str]:
        """Accepted but dubious calls, such as blocks sent without a `text` fallback."""
        with self._ws.cond:
            return list(self._ws.warnings)

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Posted messages in their current revision (oldest first), each with its `history` of revisions.

        `channel` may be an id or a name; messages carry the channel id, as Slack's answers do.
        """
        with self._ws.cond:
            wanted = None if channel is None else self._ws.channel_id(channel)
            found = [m for m in self._ws.messages.values() if not m.get("deleted")]
            return copy.deepcopy([m for m in found if wanted is None or m["channel"] == wanted])

    def channel_name(self, channel_id: str) -> str:
        """`#name` of a channel handoff posted to by name (Slack answers with ids), else the id."""
        with self._ws.cond:
            return self._ws.channel_name(channel_id)

    def ephemerals(self, user: str | None = None) -> list[dict[str, Any]]:
        """Ephemeral messages (chat.postEphemeral and response_url replies), optionally only `user`'s."""
        with self._ws.cond:
            return copy.deepcopy([e for e in self._ws.ephemerals if user is None or e["user"] == user])

    def views(self) -> list[dict[str, Any]]:
        """Opened modals: `id`, `trigger_id`, `user`, `view` (as Slack returned it), `closed`, `history`."""
        with self._ws.cond:
            return copy.deepcopy(list(self._ws.views.values()))

    def home(self, user_id: str) -> dict[str, Any] | None:
        """The App Home view last published for `user_id` (views.publish), or None."""
        with self._ws.cond:
            return copy.deepcopy(self._ws.homes.get(user_id))

    def wait_for(self, predicate: Callable[[SlackStandIn], T], timeout: float = 5.0) -> T:
        """Block until `predicate(self)` is truthy and return its value; TimeoutError after `timeout` s.

        The predicate runs without the stand-in's lock (it may call handoff, which calls the stand-in).
        It is re-checked on every change here, and every 0.05 s in case it also reads outside state.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._ws.cond:
                seen = self._ws.version
            result = predicate(self)
            if result:
                return result
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(self._timeout_message(predicate, timeout))
            self._wait_for_change(seen, min(remaining, RECHECK_SECONDS))

    def issue_trigger_id(self, user_id: str) -> str:
        """A fresh trigger_id for `user_id`, as Slack puts in each interaction: single use, valid 3 s."""
        with self._ws.cond:
            return self._ws.issue_trigger(user_id)

    def issue_response_url(self, channel: str, message_ts: str, user_id: str) -> str:
        """A response_url for an interaction with the message at (channel, message_ts) by `user_id`."""
        with self._ws.cond:
            url_id = f"{self.team_id}/{self._ws.next_serial()}/{secrets.token_urlsafe(18)}"
            self._ws.response_urls[url_id] = {"channel": channel, "ts": message_ts, "user": user_id}
        return self.url.removesuffix("/api/") + f"/actions/{url_id}"

    def set_usergroup(self, group_id: str, user_ids: Sequence[str]) -> None:
        """Make `usergroups.users.list` answer `user_ids` for `group_id`."""
        with self._ws.cond:
            self._ws.usergroups[group_id] = list(user_ids)
            self._ws.changed()

    def set_user(self, user_id: str, **fields: Any) -> None:
        """Override fields of the users.info profile of `user_id` (e.g. `deleted=True`, `tz=...`)."""
        with self._ws.cond:
            self._ws.users.setdefault(user_id, {}).update(fields)
            self._ws.changed()

    def user_info(self, user_id: str) -> dict[str, Any]:
        """The users.info `user` object of `user_id`; LookupError for ids that cannot be users."""
        with self._ws.cond:
            try:
                return self._ws.user_info(user_id)
            except ApiError as exc:
                raise LookupError(f"Slack stand-in: {exc}") from None

    def fail_next(
        self, method: str, *, status: int = 429, retry_after: int = 1, error: str | None = None, times: int = 1
    ) -> None:
        """Make the next `times` calls of `method` fail: 429 with Retry-After, another HTTP status, or `error`."""
        with self._ws.cond:
            fault = Fault(status=status, retry_after=retry_after, error=error, times=times)
            self._ws.faults.setdefault(method, []).append(fault)

    @contextmanager
    def hold(self, method: str) -> Iterator[None]:
        """Keep calls of `method` unanswered, as a stalled Slack would, until the `with` block exits."""
        with self._ws.cond:
            self._ws.holds.add(method)
        try:
            yield
        finally:
            with self._ws.cond:
                self._ws.holds.discard(method)
                self._ws.changed()

    def held(self, method: str) -> int:
        """How many calls of `method` are waiting in a `hold` right now."""
        with self._ws.cond:
            return self._ws.waiting.get(method, 0)

    def attach_socket_mode(self, app_token: str | None, open_url: Callable[[], str] | None) -> None:
        """Let `apps.connections.open` with `app_token` answer `open_url()` (see `bot.sandbox.slack_socket`)."""
        with self._ws.cond:
            self._ws.app_token, self._ws.socket_url = app_token, open_url

    def apply_view_ack(self, view_id: str, ack: Any) -> None:
        """Do what Slack does with an app's view_submission answer (close, clear, errors, update, push)."""
        apply_view_ack(self._ws, view_id, ack)

    def close_view(self, view_id: str, *, whole_stack: bool = False) -> None:
        """Mark a modal closed by its user, with the views under it when `whole_stack`."""
        close_view(self._ws, view_id, whole_stack=whole_stack)

    def _wait_for_change(self, seen: int, timeout: float) -> None:
        with self._ws.cond:
            self._ws.cond.wait_for(lambda: self._ws.version != seen, timeout)

    def _timeout_message(self, predicate: Callable[..., Any], timeout: float) -> str:
        name = getattr(predicate, "__qualname__", repr(predicate))
        with self._ws.cond:
            calls, rejections = list(self._ws.calls), len(self._ws.rejections)
        recent = ", ".join(f"{c.method}{' (failed)' if c.failed else ''}" for c in calls[-5:])
        return (
            f"Slack stand-in: {name} still false after {timeout}s; {len(calls)} calls so far"
            f" (last: {recent or 'none'}), {rejections} rejections"
        )


def main(argv: Sequence[str] | None = None) -> None:
    """Serve a stand-in until interrupted, printing the URL and token to configure handoff with."""
    parser = argparse.ArgumentParser(description="A local stand-in for Slack's Web API.")
    parser.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--token", default=SANDBOX_TOKEN, help="bot token to accept")
    args = parser.parse_args(argv)
    standin = SlackStandIn(token=args.token, port=args.port)
    with standin:
        sys.stdout.write(f"SLACK_API_URL={standin.url}\nSLACK_BOT_TOKEN={standin.token}\n")
        sys.stdout.flush()
        try:
            threading.Event().wait()
        except KeyboardInterrupt:
            return


if __name__ == "__main__":
    main()
