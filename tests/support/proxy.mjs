// Signs media-proxy URLs the way the worker checks them, written
// independently of media-core (node's own HMAC and base64url).
import { createHmac } from "node:crypto";
import { PROXY_SECRET } from "./stack.mjs";

/** The room tests sign links for unless they say otherwise. */
export const TEST_ROOM = "TestRoomTestRoomTestRo";

const b64 = (s) => Buffer.from(s).toString("base64url");

/** The signature of `prefix` (for scope `t`: `dir\npattern`). */
export function sign(prefix, expires, { room = TEST_ROOM, scope = "f", secret = PROXY_SECRET } = {}) {
  return createHmac("sha256", secret).update(`wt-proxy-v2\n${room}\n${expires}\n${scope}\n${prefix}`).digest("base64url");
}

/** `/proxy/<sig>/<room>/<expires>/<scope>/<b64url(prefix)>/<rest>`: scope `f`
 * (a whole URL) unless a `rest` is given, then `d` (a directory). */
export function proxyPath(prefix, { rest = "", room = TEST_ROOM, scope, expires = Math.floor(Date.now() / 1000) + 3600, secret = PROXY_SECRET, sig } = {}) {
  const s = scope ?? (rest ? "d" : "f");
  return `/proxy/${sig ?? sign(prefix, expires, { room, scope: s, secret })}/${room}/${expires}/${s}/${b64(prefix)}/${rest}`;
}
