/** What goes wrong talking to a ComfyUI backend, and how it is told: the errors and their messages. */
import { ApiError } from "../http/errors.ts";
import type { BackendName } from "./backend.ts";

/** A 400 from POST /prompt: ComfyUI's own validation verdict. */
export class ComfyValidationError extends Error {
  constructor(readonly body: { error?: { type?: string; message?: string; details?: string }; node_errors?: Record<string, unknown> }) {
    super(body.error?.message ?? "ComfyUI rejected the prompt");
  }
}

/** ComfyUI could not be reached (connection refused, timeout, 5xx, or a gateway's 408/429). */
export class ComfyUnavailableError extends Error {
  /** How long the answer's Retry-After asked us to wait (a gateway's 429 or 503), if it did. */
  constructor(message: string, readonly retryAfterMs?: number) {
    super(message);
  }
}

/** `request`, whose unreachable backend is the client's 503 with Retry-After: try again later. */
export async function orRetryLater<T>(request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (err) {
    if (err instanceof ComfyUnavailableError) {
      const seconds = err.retryAfterMs === undefined ? 10 : Math.ceil(err.retryAfterMs / 1000);
      throw new ApiError(503, err.message, { headers: { "Retry-After": String(seconds) } });
    }
    throw err;
  }
}

/** The setting that names each backend's URL, for messages that send the operator to it. */
export const URL_SETTING: Record<BackendName, string> = { local: "COMFYUI_URL", salad: "SALAD_COMFYUI_URL" };

/**
 * ComfyUI (or a gateway in front of it) refused a request with a 4xx that retrying will not fix: a
 * wrong key (401/403), a wrong URL (404). A 502 for our client, naming the backend's answer.
 */
export class ComfyRefusedError extends ApiError {
  /** `hint` follows the answer, e.g. " with text/html, not JSON: ..." or a credentialsHint. */
  constructor(backend: BackendName, status: number, request: string, hint = "") {
    super(502, `ComfyUI (${backend}) answered ${status} to ${request}${hint}`);
  }
}

/**
 * What to check when a backend answers 401 or 403 ("" for any other status). `withCredentials`:
 * whether its URL carries a user and password (a proxy's basic authentication).
 */
export function credentialsHint(backend: BackendName, status: number, withCredentials: boolean): string {
  if (status !== 401 && status !== 403) return "";
  const inUrl = `the user and password in ${URL_SETTING[backend]}`;
  if (backend === "salad") return `: check SALAD_API_KEY${withCredentials ? ` and ${inUrl}` : ""}`;
  if (withCredentials) return `: check ${inUrl}`;
  return `: ${URL_SETTING[backend]} asks for credentials; for basic authentication give them in it (http://user:password@host:port)`;
}
