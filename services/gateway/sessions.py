"""Browser sessions for the Tavern: a token exchanged once for an HttpOnly, SameSite=Strict cookie.

The session keeps the token's role (the gateway calls services with that same token). Every cookie-authenticated
write must carry the session's CSRF token in `X-CSRF-Token` (synchronizer token) and, when the browser sends an
Origin, come from this same host. Sessions live in the gateway's memory: a restart signs everyone out.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from services.gateway.config import GatewayConfig
from services.gateway.edge import CALLER_KEY
from services.gateway.errors import HttpError

COOKIE = "realm_session"
CSRF_HEADER = "X-CSRF-Token"


@dataclass
class Session:
    token: str
    role: str
    csrf: str
    expires_at: float


class SessionStore:
    def __init__(self, config: GatewayConfig) -> None:
        self.config = config
        self._sessions: dict[str, Session] = {}

    def create(self, token: str, role: str) -> tuple[str, Session]:
        self._expire()
        session_id = secrets.token_urlsafe(32)
        session = Session(token, role, secrets.token_urlsafe(32), time.monotonic() + self.config.session_ttl_seconds)
        self._sessions[session_id] = session
        return session_id, session

    def from_request(self, request: web.Request) -> Session | None:
        session_id = request.cookies.get(COOKIE)
        if not session_id:
            return None
        session = self._sessions.get(session_id)
        if session is None or session.expires_at < time.monotonic():
            self._sessions.pop(session_id, None)
            return None
        return session

    def drop(self, request: web.Request) -> None:
        self._sessions.pop(request.cookies.get(COOKIE, ""), None)

    def check_csrf(self, request: web.Request) -> None:
        session = self.from_request(request)
        sent = request.headers.get(CSRF_HEADER, "")
        if session is None or not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise HttpError(403, f"a signed-in write needs the session's CSRF token in the {CSRF_HEADER} header "
                                 "(GET /api/session returns it)", close=True)
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc.lower() != request.headers.get("Host", "").lower():
            raise HttpError(403, f"cross-origin write from {origin!r} refused", close=True)

    def _expire(self) -> None:
        now = time.monotonic()
        for session_id in [k for k, s in self._sessions.items() if s.expires_at < now]:
            del self._sessions[session_id]

    # -- handlers -------------------------------------------------------------------------------------------------
    async def sign_in(self, request: web.Request) -> web.Response:
        """POST /api/session with `Authorization: Bearer <token>`: sets the session cookie, returns role + CSRF."""
        caller = request[CALLER_KEY]
        if caller.via_cookie:
            raise HttpError(400, "sign in with 'Authorization: Bearer <token>', not with a session cookie")
        session_id, session = self.create(caller.token, caller.role)
        response = web.json_response({"role": session.role, "csrf_token": session.csrf})
        response.set_cookie(COOKIE, session_id, httponly=True, samesite="Strict", path="/",
                            secure=self.config.secure_cookies, max_age=int(self.config.session_ttl_seconds))
        response.headers["Cache-Control"] = "no-store"
        return response

    async def describe(self, request: web.Request) -> web.Response:
        """GET /api/session: who is signed in (the role) and the CSRF token for writes."""
        session = self.from_request(request)
        if session is None:
            raise HttpError(401, "not signed in")
        response = web.json_response({"role": session.role, "csrf_token": session.csrf})
        response.headers["Cache-Control"] = "no-store"
        return response

    async def sign_out(self, request: web.Request) -> web.Response:
        """DELETE /api/session: forgets the session and clears the cookie."""
        self.drop(request)
        response = web.json_response({})
        response.del_cookie(COOKIE, path="/")
        return response
