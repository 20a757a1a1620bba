"""Browser sessions for the Tavern: a token exchanged once for an HttpOnly, SameSite=Strict cookie.

The cookie is self-validating, so a gateway restart signs nobody out: it names the realm.yaml token it was made
from (its name and a keyed fingerprint of its value, never the value), the role, a random session id and an
absolute expiry, all signed with HMAC-SHA256 under a key kept in the data dir (session_state.py). A cookie is
honoured only while its token is still configured with the same value and role, so changing or removing a token
in realm.yaml ends its sessions. Sign-out adds the session id to a persisted revocation list.

Every cookie-authenticated write must carry the session's CSRF token in `X-CSRF-Token` (derived from the session
id with the same key, so it is bound to that session and also survives a restart) and, when the browser sends an
Origin, come from this same host.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

from aiohttp import web

from services.gateway.config import GatewayConfig
from services.gateway.edge import CALLER_KEY
from services.gateway.errors import HttpError
from services.gateway.session_state import (
    KEY_BYTES,
    KEY_FILE,
    REVOCATIONS_FILE,
    Revocations,
    load_or_create_key,
)

COOKIE = "realm_session"
CSRF_HEADER = "X-CSRF-Token"
VERSION = "v1"


@dataclass(frozen=True)
class Session:
    token: str
    role: str
    csrf: str
    expires_at: float  # unix time
    session_id: str


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionStore:
    def __init__(self, config: GatewayConfig, *, clock=time.time) -> None:
        self.config = config
        self.clock = clock  # unix time (expiries must mean the same after a restart)
        state = config.state_dir
        self._key_path = state / KEY_FILE if state is not None else None
        self._key = b"" if state is not None else secrets.token_bytes(KEY_BYTES)  # no data dir: this process only
        self.revocations = Revocations(state / REVOCATIONS_FILE if state is not None else None, clock)

    def open(self) -> None:
        """Load (or mint) the signing key and the revocation list: blocking, run it off the event loop at start."""
        if self._key_path is not None:
            self._key = load_or_create_key(self._key_path)
        self.revocations.open()

    def close(self) -> None:
        self.revocations.close()

    # -- the cookie -----------------------------------------------------------------------------------------------
    def _mac(self, purpose: str, data: str) -> bytes:
        if not self._key:
            raise RuntimeError("SessionStore.open() was not called")
        return hmac.new(self._key, f"{purpose}:{data}".encode(), hashlib.sha256).digest()

    def _fingerprint(self, token: str) -> str:
        return _b64(self._mac("token", token)[:12])

    def _csrf(self, session_id: str) -> str:
        return _b64(self._mac("csrf", session_id)[:24])

    def create(self, token: str, role: str) -> tuple[str, Session]:
        name = next((t.name for t in self.config.tokens if hmac.compare_digest(t.value.encode(), token.encode())),
                    None)
        if name is None:
            raise HttpError(401, "unknown bearer token", close=True)
        session_id = _b64(secrets.token_bytes(18))
        expires_at = int(self.clock() + self.config.session_ttl_seconds)
        payload = _b64(json.dumps({"sid": session_id, "tok": name, "fp": self._fingerprint(token), "role": role,
                                   "exp": expires_at}, separators=(",", ":")).encode())
        cookie = f"{VERSION}.{payload}.{_b64(self._mac('cookie', f'{VERSION}.{payload}'))}"
        return cookie, Session(token, role, self._csrf(session_id), float(expires_at), session_id)

    def from_cookie(self, cookie: str) -> Session | None:
        """The session a cookie stands for, or None: bad signature, expired, signed out, or its token changed."""
        version, _, rest = cookie.partition(".")
        payload, _, signature = rest.partition(".")
        if version != VERSION or not payload or not signature:
            return None
        try:
            sent = _unb64(signature)
            if not hmac.compare_digest(sent, self._mac("cookie", f"{VERSION}.{payload}")):
                return None
            claims = json.loads(_unb64(payload))
            session_id, name, fingerprint = str(claims["sid"]), str(claims["tok"]), str(claims["fp"])
            role, expires_at = str(claims["role"]), float(claims["exp"])
        except (ValueError, KeyError, TypeError):
            return None
        if expires_at <= self.clock() or self.revocations.is_revoked(session_id):
            return None
        token = next((t for t in self.config.tokens if t.name == name), None)
        if token is None or token.role != role or not hmac.compare_digest(self._fingerprint(token.value), fingerprint):
            return None
        return Session(token.value, role, self._csrf(session_id), expires_at, session_id)

    def from_request(self, request: web.Request) -> Session | None:
        cookie = request.cookies.get(COOKIE)
        return self.from_cookie(cookie) if cookie else None

    def check_csrf(self, request: web.Request) -> None:
        session = self.from_request(request)
        sent = request.headers.get(CSRF_HEADER, "")
        if session is None or not sent or not hmac.compare_digest(sent.encode(), session.csrf.encode()):
            raise HttpError(403, f"a signed-in write needs the session's CSRF token in the {CSRF_HEADER} header "
                                 "(GET /api/session returns it)", close=True)
        origin = request.headers.get("Origin")
        if origin and urlsplit(origin).netloc.lower() != request.headers.get("Host", "").lower():
            raise HttpError(403, f"cross-origin write from {origin!r} refused", close=True)

    # -- handlers -------------------------------------------------------------------------------------------------
    async def sign_in(self, request: web.Request) -> web.Response:
        """POST /api/session with `Authorization: Bearer <token>`: sets the session cookie, returns role + CSRF."""
        caller = request[CALLER_KEY]
        if caller.via_cookie:
            raise HttpError(400, "sign in with 'Authorization: Bearer <token>', not with a session cookie")
        cookie, session = self.create(caller.token, caller.role)
        response = web.json_response({"role": session.role, "csrf_token": session.csrf})
        response.set_cookie(COOKIE, cookie, httponly=True, samesite="Strict", path="/",
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
        """DELETE /api/session: revokes the session (for good: the revocation is persisted) and clears the cookie."""
        session = self.from_request(request)
        if session is not None:
            await asyncio.to_thread(self.revocations.revoke, session.session_id, session.expires_at)
        response = web.json_response({})
        response.del_cookie(COOKIE, path="/")
        return response
