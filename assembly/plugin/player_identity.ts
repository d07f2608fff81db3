// Who a request's player is: the value of the configured header, cookie or query parameter,
// read in place in on_request_headers and kept only as its keyed hash (player_key.ts). A request
// without it, or with an empty value, is a stranger (0). Client bytes are only ever scanned
// within the bounds the host gave: nothing a client sends can make this trap.
import { HeaderMap, WasmResult } from "../abi/enums";
import { getHeaderRaw, rawPtr, rawSize, releaseRaw } from "../abi/hostcalls";
import { PlayerKey } from "./player_key";
import { IdentityFrom, PlayersConfig } from "./players_config";

const COOKIE = String.UTF8.encode("cookie");

/**
 * The hashed identity of the current request's player from its header or cookie, or 0 for a
 * stranger. A query-parameter identity comes from the :path the stream reads anyway
 * (playerInPath), so that :path is read once.
 */
export function playerOf(players: PlayersConfig, key: PlayerKey): u64 {
  const from = players.from;
  if ((from != IdentityFrom.Header && from != IdentityFrom.Cookie) || !key.loaded) return 0;
  const header = from == IdentityFrom.Header ? players.nameBytes : COOKIE;
  if (getHeaderRaw(HeaderMap.RequestHeaders, header) != WasmResult.Ok) return 0;
  const p = rawPtr();
  const size = rawSize();
  let found: u64 = 0;
  if (from == IdentityFrom.Header) found = size > 0 ? key.hash(p, size) : 0;
  else found = hashCookie(p, size, players.nameBytes, key);
  releaseRaw(p);
  return found;
}

/** The hashed query-parameter identity in the request's :path (`size` bytes at `p`), or 0. */
export function playerInPath(players: PlayersConfig, key: PlayerKey, p: usize, size: usize): u64 {
  if (players.from != IdentityFrom.Query || !key.loaded) return 0;
  return hashQueryParam(p, size, players.nameBytes, key);
}

/**
 * The cookie `name` in a Cookie header (`a=1; b=2`, RFC 6265 section 5.4; Envoy joins an HTTP/2
 * request's cookie headers into one), its value without surrounding quotes; the first wins.
 */
function hashCookie(p: usize, size: usize, name: ArrayBuffer, key: PlayerKey): u64 {
  const end = p + size;
  let at = p;
  while (at < end) {
    while (at < end && (load<u8>(at) == 0x20 || load<u8>(at) == 0x09)) at++;
    let stop = at;
    while (stop < end && load<u8>(stop) != 0x3b) stop++; // ';'
    const value = valueIfNamed(at, stop, name);
    if (value != 0) {
      let from = value;
      let to = stop;
      while (to > from && (load<u8>(to - 1) == 0x20 || load<u8>(to - 1) == 0x09)) to--;
      if (to - from >= 2 && load<u8>(from) == 0x22 && load<u8>(to - 1) == 0x22) {
        from++;
        to--;
      }
      return to > from ? key.hash(from, to - from) : 0;
    }
    at = stop + 1;
  }
  return 0;
}

/** The query parameter `name` of a :path (`/ws?room=1&pid=abc`), as sent; the first wins. */
function hashQueryParam(p: usize, size: usize, name: ArrayBuffer, key: PlayerKey): u64 {
  const end = p + size;
  let at = p;
  while (at < end && load<u8>(at) != 0x3f) at++; // '?'
  at++;
  while (at < end) {
    let stop = at;
    while (stop < end && load<u8>(stop) != 0x26 && load<u8>(stop) != 0x23) stop++; // '&' '#'
    const value = valueIfNamed(at, stop, name);
    if (value != 0) return stop > value ? key.hash(value, stop - value) : 0;
    if (stop < end && load<u8>(stop) == 0x23) break; // the fragment is not the query
    at = stop + 1;
  }
  return 0;
}

/** If the bytes [at, stop) are `name=…`, where the value starts; else 0. */
function valueIfNamed(at: usize, stop: usize, name: ArrayBuffer): usize {
  const n = <usize>name.byteLength;
  if (stop - at < n + 1 || load<u8>(at + n) != 0x3d) return 0; // '='
  const q = changetype<usize>(name);
  for (let i: usize = 0; i < n; i++) if (load<u8>(at + i) != load<u8>(q + i)) return 0;
  return at + n + 1;
}
