/** Request ids: one per request, echoed in the response, its log lines and its error body; and who asked. */
import type { Context } from "hono";
import type { Actor, AppEnv } from "./types.ts";
const VALID_ID = /^[A-Za-z0-9._:@-]{1,128}$/;

/** Keeps a valid incoming `x-request-id`, or makes a new one. */
export function requestIdFrom(incoming: string | null | undefined): string {
  return incoming && VALID_ID.test(incoming) ? incoming : crypto.randomUUID();
}

/** The request's actor for audit logs: its id and the id of the key that authenticated it. */
export function actorOf(c: Context<AppEnv>): Actor {
  return { reqId: c.get("requestId"), keyId: c.get("keyId") ?? null };
}
