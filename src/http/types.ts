/** Typed Hono environment shared by every middleware and route. */
import type { Logger } from "pino";

/** What Bun.serve passes as the second argument of fetch (tests may pass a stand-in). */
export interface ServerBindings {
  requestIP?(req: Request): { address: string; family?: string; port?: number } | null;
  timeout?(req: Request, seconds: number): void;
  upgrade?(req: Request, options?: { headers?: HeadersInit; data?: unknown }): boolean;
}

export interface AppVariables {
  /** Request id: echoed in the x-request-id header, every log line and every error body. */
  requestId: string;
  /** The logger; every line about a request includes `reqId`. */
  logger: Logger;
  /** The client's address (socket peer, or X-Forwarded-For from a trusted proxy). */
  clientIp: string;
  /** Short, non-secret id of the API key that authenticated the request (for audit logs). */
  keyId: string;
}

export type AppEnv = { Bindings: ServerBindings; Variables: AppVariables };

/** Who asks, for audit logs: the request and the id of its API key (never the key). */
export interface Actor {
  reqId: string;
  keyId: string | null;
}
