// players: where a request carries its player's identity (one header, cookie or query parameter)
// and how many players a host's roster holds. Without it the plugin knows streams, not players.
import { Validator } from "./config_validator";
import { JsonValue } from "./json";

export enum IdentityFrom {
  None,
  Header,
  Cookie,
  Query,
}

/** The most entries a roster (players.ts) or a drain's remembered players may hold. */
export const MAX_PLAYERS_PER_HOST: i32 = 16384;

export class PlayersConfig {
  from: IdentityFrom = IdentityFrom.None;
  /** The header (lower case), cookie or query parameter name. */
  name: string = "";
  /** Its bytes, for the per-stream lookup. */
  nameBytes: ArrayBuffer = new ArrayBuffer(0);
  /** Distinct (player, worker) entries a host's roster keeps; more are counted, not named. */
  maxPerHost: i32 = 1024;

  get enabled(): bool {
    return this.from != IdentityFrom.None;
  }
}

export function readPlayers(v: Validator, value: JsonValue, players: PlayersConfig): void {
  if (!v.object("players", value)) return;
  for (let i = 0; i < value.keys.length && v.ok; i++) {
    const key = unchecked(value.keys[i]);
    const item = unchecked(value.items[i]);
    const path = "players." + key;
    if (key == "header" || key == "cookie" || key == "query") {
      if (players.enabled) {
        v.fail(path, "give one of players.header, players.cookie or players.query, not two");
        return;
      }
      const s = v.str(path, item, 1, 128);
      if (s === null) return;
      const problem = key == "query" ? queryNameProblem(s) : tokenProblem(s);
      if (problem !== null) {
        v.fail(path, problem + ", got " + v.got(item));
        return;
      }
      players.from =
        key == "header"
          ? IdentityFrom.Header
          : key == "cookie"
            ? IdentityFrom.Cookie
            : IdentityFrom.Query;
      // Envoy looks headers up by their lower-case name.
      players.name = key == "header" ? s.toLowerCase() : s;
      players.nameBytes = String.UTF8.encode(players.name);
    } else if (key == "maxPerHost") {
      players.maxPerHost = v.int(path, item, 1, MAX_PLAYERS_PER_HOST);
    } else {
      v.fail(path, "unknown field");
    }
  }
  if (v.ok && !players.enabled) {
    v.fail("players", "needs one of header, cookie or query (where a player's identity is found)");
  }
}

/** RFC 9110 token characters: what a header or cookie name may be made of. */
function tokenProblem(s: string): string | null {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const alnum = (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
    if (!alnum && "!#$%&'*+-.^_`|~".indexOf(String.fromCharCode(c)) < 0) {
      return "expected a name of letters, digits and !#$%&'*+-.^_`|~";
    }
  }
  return null;
}

function queryNameProblem(s: string): string | null {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c == 0x26 || c == 0x3d || c == 0x23 || c == 0x3f) {
      return "expected printable ASCII without spaces, &, =, # or ?";
    }
  }
  return null;
}
