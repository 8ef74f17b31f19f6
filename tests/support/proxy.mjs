// Signs media-proxy URLs the way the worker checks them, written
// independently of media-core (node's own HMAC and base64url).
import { createHmac } from "node:crypto";
import { PROXY_SECRET } from "./stack.mjs";

export function sign(prefix, expires, secret = PROXY_SECRET) {
  return createHmac("sha256", secret).update(`wt-proxy-v1\n${expires}\n${prefix}`).digest("base64url");
}

/** `/proxy/<sig>/<expires>/<b64url(prefix)>/<rest>` */
export function proxyPath(prefix, { rest = "", expires = Math.floor(Date.now() / 1000) + 3600, secret = PROXY_SECRET, sig } = {}) {
  return `/proxy/${sig ?? sign(prefix, expires, secret)}/${expires}/${Buffer.from(prefix).toString("base64url")}/${rest}`;
}
