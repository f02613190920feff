"""Sessions in Redis, for ``RedisBlocklist`` (``config.track_sessions``).

One hash per identity, ``{prefix}sess:<identity>``, maps each session id to a small JSON
record; it shares the store's hash tag, so on a cluster it lives in the one slot of every
other key. Its TTL follows its longest-lived record, and each write drops the records whose
refresh token has expired: memory follows the live sessions, at most ``cap`` per identity.

Ending a session is one script: the record goes and the family is revoked with its event,
exactly as ``revoke_family`` writes it, so every mirror learns it within ``mirror_max_lag``.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from .base import SessionRecord
from .mirror import encode_event

__all__ = ("RedisSessions",)

# KEYS[1]: the identity's hash. Drops expired records, sets the hash's expiry to its
# longest-lived record's, and returns the live records as {id, created} pairs.
_LIVE = """
local function live_sessions(now)
  local all = redis.call('HGETALL', KEYS[1])
  local live, latest, forever = {}, 0, false
  for i = 1, #all, 2 do
    local record = cjson.decode(all[i + 1])
    local x = record['x']
    if type(x) == 'number' and x * 1000 <= now then
      redis.call('HDEL', KEYS[1], all[i])
    else
      live[#live + 1] = {all[i], record['c']}
      if type(x) ~= 'number' then forever = true elseif x > latest then latest = x end
    end
  end
  if #live > 0 then
    if forever then
      redis.call('PERSIST', KEYS[1])
    else
      redis.call('PEXPIREAT', KEYS[1], string.format('%.0f', math.ceil(latest * 1000)))
    end
  end
  return live
end
"""

# ARGV: session id, record JSON, cap, now (ms). Returns the ids beyond the cap, oldest
# first; the caller ends each one (a declared-key script per session, cluster-safe).
_ADD = (
    _LIVE
    + """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local live = live_sessions(tonumber(ARGV[4]))
table.sort(live, function(a, b) return a[2] < b[2] end)
local victims = {}
for i = 1, #live - tonumber(ARGV[3]) do
  if live[i][1] ~= ARGV[1] then victims[#victims + 1] = live[i][1] end
end
return victims
"""
)

# ARGV: session id, last used (s), until (s) or '', now (ms).
_TOUCH = (
    _LIVE
    + """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local record = cjson.decode(raw)
record['u'] = tonumber(ARGV[2])
if ARGV[3] == '' then record['x'] = cjson.null else record['x'] = tonumber(ARGV[3]) end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(record))
live_sessions(tonumber(ARGV[4]))
return 1
"""
)

# KEYS: the family key, the stream, the event counter, the identity's hash. ARGV as the
# store's _SET script (value, PXAT ms or '', table, name, MAXLEN, channel, message), then
# the session id. Nothing is written for a session the identity does not have.
_END_HEAD = """
if redis.call('HDEL', KEYS[4], ARGV[8]) == 0 then return 0 end
local value = ARGV[1]
if ARGV[2] ~= '' then redis.call('SET', KEYS[1], value, 'PXAT', ARGV[2]) else redis.call('SET', KEYS[1], value) end
"""


def _record_json(record: SessionRecord) -> str:
    data: dict[str, Any] = {"c": record.created, "u": record.last_used, "x": record.until}
    data.update(ua=record.user_agent, ip=record.ip, l=record.label)
    return json.dumps(data, separators=(",", ":"))


def _parse(session_id: Any, raw: Any) -> SessionRecord | None:
    try:
        data = json.loads(raw)
        until = data.get("x")
        return SessionRecord(
            session_id.decode() if isinstance(session_id, bytes) else str(session_id),
            float(data["c"]),
            float(data["u"]),
            None if until is None else float(until),
            data.get("ua"),
            data.get("ip"),
            data.get("l"),
        )
    except (ValueError, KeyError, TypeError, AttributeError):
        return None  # not ours (another tool wrote the key): skipped, never a 500


class RedisSessions:
    """The ``SessionStore`` methods of ``RedisBlocklist``."""

    if TYPE_CHECKING:
        _stream: str
        _seq: str
        _maxlen: str
        _channel: str
        _EVENT_SCRIPT: str

        def client(self) -> Any: ...
        async def _run(self, operation: Any) -> Any: ...
        async def _eval(self, script: str, keys: tuple[str, ...], args: tuple[str, ...]) -> Any: ...
        def _key(self, kind: str, name: str) -> str: ...
        def _published(self, table: str, name: str, value: str, until: float | None) -> None: ...

    async def add_session(self, identity: str, record: SessionRecord, cap: int, end_until: float | None) -> list[str]:
        now_ms = str(int(time.time() * 1000))
        args = (record.id, _record_json(record), str(cap), now_ms)
        victims = await self._run(self.client().eval(_ADD, 1, self._key("sess", identity), *args))
        evicted = [victim.decode() if isinstance(victim, bytes) else str(victim) for victim in victims or ()]
        for session_id in evicted:
            await self.end_session(identity, session_id, end_until)
        return evicted

    async def touch_session(self, identity: str, session_id: str, last_used: float, until: float | None) -> bool:
        args = (session_id, repr(last_used), "" if until is None else repr(until), str(int(time.time() * 1000)))
        return bool(await self._run(self.client().eval(_TOUCH, 1, self._key("sess", identity), *args)))

    async def end_session(self, identity: str, session_id: str, end_until: float | None) -> bool:
        expire = "" if end_until is None else str(int(end_until * 1000))
        legacy = encode_event("fam", session_id, True, end_until)
        keys = (self._key("fam", session_id), self._stream, self._seq, self._key("sess", identity))
        args = ("1", expire, "fam", session_id, self._maxlen, self._channel, legacy, session_id)
        done = await self._eval(_END_HEAD + self._EVENT_SCRIPT, keys, args)
        if done:
            self._published("fam", session_id, "1", end_until)
        return bool(done)

    async def list_sessions(self, identity: str) -> list[SessionRecord]:
        raw = await self._run(self.client().hgetall(self._key("sess", identity)))
        now = time.time()
        records = [_parse(session_id, value) for session_id, value in (raw or {}).items()]
        live = [r for r in records if r is not None and (r.until is None or r.until > now)]
        return sorted(live, key=lambda record: record.created)

    async def drop_sessions(self, identity: str) -> None:
        await self._run(self.client().delete(self._key("sess", identity)))
